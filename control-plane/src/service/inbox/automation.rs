//! Automation control: whether an instance is automated (an active flow or integration),
//! pausing and resuming it per conversation (resume only after archiving; resuming
//! unarchives), bulk pause/resume, the `AUTOMATION_ACTIVE` guard of manual sends, the
//! policy pushed to nodes, and the flow and integration entities (a flow's definition is
//! parsed by `automation::flow`; its database checks and test runs are in `service::flows`).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::time::format_secs;

use super::automation_status;
use crate::automation::flow::Flow;
use crate::db::TenantScoped;
use crate::db::entities::{
    automation_flow, automation_integration, automation_session, conversation, instance,
    instance_token, user,
};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;
use crate::service::nodes::NodePush;

/// A conversation's automation state.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ConversationAutomation)]
pub struct AutomationView {
    pub conversation_id: Uuid,
    #[schema(value_type = super::AutomationStatus)]
    pub automation_status: &'static str,
    /// `automation_status` is `active`: manual sends are refused with `AUTOMATION_ACTIVE`.
    pub is_automation_active: bool,
    pub can_send_manual_message: bool,
    /// A person took over (paused); stays true until resumed.
    pub automation_paused: bool,
    #[schema(format = DateTime)]
    pub paused_at: Option<String>,
    /// The user's name, or `API token <name>` for an `sk_` token.
    pub paused_by: Option<String>,
    pub pause_reason: Option<String>,
}

/// Counts of a bulk pause or resume.
#[derive(Debug, Clone, Default, Serialize)]
pub struct BulkOutcome {
    pub done: usize,
    pub skipped: usize,
    pub errors: usize,
}

/// Which automation entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutomationKind {
    Flow,
    Integration,
}

/// A flow or an integration as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AutomationEntity {
    pub id: Uuid,
    /// The instance's UUID.
    pub instance_id: Uuid,
    pub name: String,
    /// Integrations only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = IntegrationType, nullable = false)]
    pub integration_type: Option<String>,
    /// An active flow or integration puts its instance's conversations under automation.
    pub is_active: bool,
    /// Flows only: the graph of steps (absent until one is saved; a flow without one does
    /// not answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = crate::automation::flow::Definition, nullable = false)]
    pub definition: Option<serde_json::Value>,
    /// Flows only: bumped on every change of `definition` (sessions keep the one they began
    /// with).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = 1)]
    pub version: Option<i32>,
    /// When and how it answers (every field, defaults filled in).
    pub settings: crate::automation::settings::Settings,
    /// Among the instance's automations, the highest priority is asked first.
    pub priority: i32,
    /// Integrations: the configuration, secrets masked; `null` until configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<serde_json::Value>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// Settings, priority and configuration given with a create or update (validated, except the
/// configuration, which depends on the integration's type).
#[derive(Debug, Default)]
pub struct AutomationExtras {
    pub settings: Option<crate::automation::settings::Settings>,
    pub priority: Option<i32>,
    pub config: Option<serde_json::Value>,
}

impl AutomationExtras {
    pub fn is_empty(&self) -> bool {
        self.settings.is_none() && self.priority.is_none() && self.config.is_none()
    }
}

/// The kinds of integration ([`INTEGRATION_TYPES`]).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum IntegrationType {
    Webhook,
    Api,
    AiAgent,
}

pub const INTEGRATION_TYPES: [&str; 3] = ["webhook", "api", "ai_agent"];

/// A new flow or integration.
pub struct NewAutomation {
    pub name: String,
    /// Integrations only.
    pub integration_type: Option<String>,
    pub is_active: bool,
    /// Flows only.
    pub definition: Option<Flow>,
}

/// A change of a flow or integration: absent fields stay as they are.
#[derive(Default)]
pub struct AutomationChange {
    pub name: Option<String>,
    pub is_active: Option<bool>,
    /// Flows only; a different definition bumps `version`.
    pub definition: Option<Flow>,
}

pub const MAX_BULK: usize = 100;

impl Services {
    /// The instances among `ids` that have an active flow or integration.
    pub(crate) async fn automated_instances(&self, ids: &[i64]) -> AppResult<HashSet<i64>> {
        if ids.is_empty() {
            return Ok(HashSet::new());
        }
        let mut out: HashSet<i64> = automation_flow::Entity::find()
            .select_only()
            .column(automation_flow::Column::InstanceId)
            .filter(automation_flow::Column::InstanceId.is_in(ids.to_vec()))
            .filter(automation_flow::Column::IsActive.eq(true))
            .into_tuple::<i64>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        out.extend(
            automation_integration::Entity::find()
                .select_only()
                .column(automation_integration::Column::InstanceId)
                .filter(automation_integration::Column::InstanceId.is_in(ids.to_vec()))
                .filter(automation_integration::Column::IsActive.eq(true))
                .into_tuple::<i64>()
                .all(&self.db)
                .await?,
        );
        Ok(out)
    }

    pub(crate) async fn instance_automated(&self, instance_id: i64) -> AppResult<bool> {
        Ok(self
            .automated_instances(&[instance_id])
            .await?
            .contains(&instance_id))
    }

    /// What a node needs for its automation guard: whether the instance is automated and
    /// the chats whose automation is paused.
    pub(crate) async fn automation_policy(
        &self,
        instance_id: i64,
    ) -> AppResult<(bool, Vec<String>)> {
        let active = self.instance_automated(instance_id).await?;
        let paused = if active {
            conversation::Entity::find()
                .select_only()
                .column(conversation::Column::ChatJid)
                .filter(conversation::Column::InstanceId.eq(instance_id))
                .filter(conversation::Column::AutomationPaused.eq(true))
                .into_tuple::<String>()
                .all(&self.db)
                .await?
        } else {
            Vec::new()
        };
        Ok((active, paused))
    }

    /// Pushes the instance's whole policy to its node (after a flow or integration changed).
    async fn push_policy(&self, instance_id: i64) -> AppResult<()> {
        if let Some(inst) = instance::Entity::find_by_id(instance_id)
            .one(&self.db)
            .await?
        {
            let policy = self.policy_for(&inst).await?;
            self.hub.push(inst.uuid, NodePush::Policy(policy));
        }
        Ok(())
    }

    /// The `AUTOMATION_ACTIVE` guard of a manual send through the control plane.
    pub(crate) async fn check_manual_send(
        &self,
        inst: &instance::Model,
        chat_jid: &str,
    ) -> AppResult<()> {
        if !self.instance_automated(inst.id).await? {
            return Ok(());
        }
        let conv = conversation::Entity::find()
            .filter(conversation::Column::InstanceId.eq(inst.id))
            .filter(conversation::Column::ChatJid.eq(chat_jid))
            .one(&self.db)
            .await?;
        if conv.as_ref().is_some_and(|c| c.automation_paused) {
            return Ok(());
        }
        Err(automation_active(conv.map(|c| c.uuid), chat_jid))
    }

    fn automation_view(c: &conversation::Model, instance_active: bool) -> AutomationView {
        let status = automation_status(instance_active, c.automation_paused);
        AutomationView {
            conversation_id: c.uuid,
            automation_status: status,
            is_automation_active: status == "active",
            can_send_manual_message: status != "active",
            automation_paused: c.automation_paused,
            paused_at: c.automation_paused_at.map(format_secs),
            paused_by: c.automation_paused_by.clone(),
            pause_reason: c.automation_pause_reason.clone(),
        }
    }

    pub async fn automation_of(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<AutomationView> {
        let c = self.find_conversation(caller, reference).await?;
        let active = self.instance_automated(c.instance_id).await?;
        Ok(Self::automation_view(&c, active))
    }

    /// Who is pausing: the user's name, or the `sk_` token's name.
    async fn caller_name(&self, caller: &Caller) -> AppResult<String> {
        Ok(match caller {
            Caller::User { user, .. } => user::Entity::find_by_id(user.0)
                .one(&self.db)
                .await?
                .map_or_else(|| "user".to_owned(), |u| u.name),
            Caller::Instance { token_id, .. } => instance_token::Entity::find_by_id(*token_id)
                .one(&self.db)
                .await?
                .map_or_else(
                    || "API token".to_owned(),
                    |t| format!("API token {}", t.name),
                ),
        })
    }

    async fn set_paused(
        &self,
        c: &conversation::Model,
        paused: Option<(&str, Option<&str>, DateTime<Utc>)>,
        unarchive: bool,
    ) -> AppResult<()> {
        let now = Utc::now();
        let mut update = conversation::Entity::update_many()
            .col_expr(
                conversation::Column::AutomationPaused,
                Expr::value(paused.is_some()),
            )
            .col_expr(
                conversation::Column::AutomationPausedAt,
                Expr::value(paused.map(|p| p.2)),
            )
            .col_expr(
                conversation::Column::AutomationPausedBy,
                Expr::value(paused.map(|p| p.0.to_owned())),
            )
            .col_expr(
                conversation::Column::AutomationPauseReason,
                Expr::value(paused.and_then(|p| p.1.map(str::to_owned))),
            )
            .col_expr(conversation::Column::UpdatedAt, Expr::value(now));
        if unarchive {
            update = update
                .col_expr(conversation::Column::IsArchived, Expr::value(false))
                .col_expr(
                    conversation::Column::ArchivedAt,
                    Expr::value(Option::<DateTime<Utc>>::None),
                );
        }
        {
            let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
            update
                .filter(conversation::Column::Id.eq(c.id))
                .exec(&txn)
                .await?;
            // The conversation's automation session follows: paused with it, active again
            // when it resumes.
            let (from, to) = if paused.is_some() {
                ("active", "paused")
            } else {
                ("paused", "active")
            };
            automation_session::Entity::update_many()
                .col_expr(automation_session::Column::Status, Expr::value(to))
                .col_expr(
                    automation_session::Column::PauseReason,
                    Expr::value(paused.and_then(|p| p.1.map(str::to_owned))),
                )
                .col_expr(automation_session::Column::UpdatedAt, Expr::value(now))
                .filter(automation_session::Column::ConversationId.eq(c.id))
                .filter(automation_session::Column::Status.eq(from))
                .exec(&txn)
                .await?;
            txn.commit().await?;
        }
        if let Some(inst) = instance::Entity::find_by_id(c.instance_id)
            .one(&self.db)
            .await?
        {
            self.hub.push(
                inst.uuid,
                NodePush::ChatPolicy {
                    chat_jid: c.chat_jid.clone(),
                    paused: paused.is_some(),
                },
            );
        }
        Ok(())
    }

    /// Pauses automation for a conversation (a person takes over). Pausing a paused one
    /// keeps its original time, author and reason.
    pub async fn pause_automation(
        &self,
        caller: &Caller,
        reference: &str,
        reason: Option<String>,
    ) -> AppResult<AutomationView> {
        let c = self.find_conversation(caller, reference).await?;
        if !c.automation_paused {
            let by = self.caller_name(caller).await?;
            self.set_paused(&c, Some((&by, reason.as_deref(), Utc::now())), false)
                .await?;
        }
        self.automation_of(caller, reference).await
    }

    /// Resumes automation: only for an archived conversation, which is unarchived.
    pub async fn resume_automation(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<AutomationView> {
        let c = self.find_conversation(caller, reference).await?;
        if !c.is_archived {
            return Err(AppError::Client(
                ErrorBody::new(
                    ErrorCode::Conflict,
                    "Archive the conversation before resuming automation: this closes the manual session. Resuming unarchives it.",
                )
                .with_details(serde_json::json!({"conversation_id": c.uuid, "is_archived": false})),
            ));
        }
        self.set_paused(&c, None, true).await?;
        self.automation_of(caller, reference).await
    }

    /// Bulk pause (`pause = true`) or resume. Unknown or foreign ids count as errors;
    /// conversations already in the wanted state, or without an active automation, are
    /// skipped; a resume of a conversation that is not archived is an error.
    pub async fn bulk_automation(
        &self,
        caller: &Caller,
        ids: &[String],
        pause: bool,
        reason: Option<String>,
    ) -> AppResult<BulkOutcome> {
        let mut out = BulkOutcome::default();
        let by = if pause {
            self.caller_name(caller).await?
        } else {
            String::new()
        };
        let now = Utc::now();
        for id in ids {
            let c = match self.find_conversation(caller, id).await {
                Ok(c) => c,
                Err(AppError::Client(_)) => {
                    out.errors += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            let automated = self.instance_automated(c.instance_id).await?;
            if !automated || c.automation_paused == pause {
                out.skipped += 1;
                continue;
            }
            if pause {
                self.set_paused(&c, Some((&by, reason.as_deref(), now)), false)
                    .await?;
            } else if c.is_archived {
                self.set_paused(&c, None, true).await?;
            } else {
                out.errors += 1;
                continue;
            }
            out.done += 1;
        }
        Ok(out)
    }

    // ---- flows and integrations ----

    pub async fn list_automations(
        &self,
        caller: &Caller,
        kind: AutomationKind,
        instance: Option<&str>,
    ) -> AppResult<Vec<AutomationEntity>> {
        let instance_id = match (instance, caller.bound_instance()) {
            (Some(r), _) => Some(self.find_instance(caller, r).await?.id),
            (None, bound) => bound.map(|b| b.0),
        };
        let uuids = self.instance_uuids(caller).await?;
        Ok(match kind {
            AutomationKind::Flow => {
                let mut q = automation_flow::Entity::scoped(caller.tenant());
                if let Some(i) = instance_id {
                    q = q.filter(automation_flow::Column::InstanceId.eq(i));
                }
                q.order_by_asc(automation_flow::Column::Id)
                    .all(&self.db)
                    .await?
                    .iter()
                    .map(|f| flow_view(f, &uuids))
                    .collect()
            }
            AutomationKind::Integration => {
                let mut q = automation_integration::Entity::scoped(caller.tenant());
                if let Some(i) = instance_id {
                    q = q.filter(automation_integration::Column::InstanceId.eq(i));
                }
                q.order_by_asc(automation_integration::Column::Id)
                    .all(&self.db)
                    .await?
                    .iter()
                    .map(|f| integration_view(f, &uuids, &self.secrets))
                    .collect()
            }
        })
    }

    async fn instance_uuids(
        &self,
        caller: &Caller,
    ) -> AppResult<std::collections::HashMap<i64, Uuid>> {
        Ok(instance::Entity::scoped(caller.tenant())
            .all(&self.db)
            .await?
            .into_iter()
            .map(|i| (i.id, i.uuid))
            .collect())
    }

    pub async fn create_automation(
        &self,
        caller: &Caller,
        kind: AutomationKind,
        instance_ref: &str,
        new: NewAutomation,
    ) -> AppResult<AutomationEntity> {
        let NewAutomation {
            name,
            integration_type,
            is_active,
            definition,
        } = new;
        let inst = self.find_instance(caller, instance_ref).await?;
        if let Some(flow) = &definition {
            self.check_flow(flow, inst.id).await?;
        }
        let now = Utc::now();
        let uuids = std::collections::HashMap::from([(inst.id, inst.uuid)]);
        let view = match kind {
            AutomationKind::Flow => {
                let m = automation_flow::ActiveModel {
                    uuid: Set(Uuid::new_v4()),
                    tenant_id: Set(inst.tenant_id),
                    instance_id: Set(inst.id),
                    name: Set(name),
                    is_active: Set(is_active),
                    definition: Set(definition.map(|f| self.definition_to_store(f))),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(&self.db)
                .await?;
                flow_view(&m, &uuids)
            }
            AutomationKind::Integration => {
                let m = automation_integration::ActiveModel {
                    uuid: Set(Uuid::new_v4()),
                    tenant_id: Set(inst.tenant_id),
                    instance_id: Set(inst.id),
                    name: Set(name),
                    integration_type: Set(integration_type.unwrap_or_else(|| "webhook".into())),
                    is_active: Set(is_active),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(&self.db)
                .await?;
                integration_view(&m, &uuids, &self.secrets)
            }
        };
        self.push_policy(inst.id).await?;
        Ok(view)
    }

    /// Updates a flow or integration (`name`, `is_active`, a flow's `definition`); `delete`
    /// removes it instead.
    pub async fn change_automation(
        &self,
        caller: &Caller,
        kind: AutomationKind,
        reference: &str,
        change: AutomationChange,
        delete: bool,
    ) -> AppResult<Option<AutomationEntity>> {
        let AutomationChange {
            name,
            is_active,
            definition,
        } = change;
        let not_found = || {
            AppError::not_found(
                ErrorCode::NotFound,
                match kind {
                    AutomationKind::Flow => "Flow",
                    AutomationKind::Integration => "Integration",
                },
            )
        };
        let uuid = Uuid::parse_str(reference.trim()).map_err(|_| not_found())?;
        let uuids = self.instance_uuids(caller).await?;
        let bound = caller.bound_instance().map(|b| b.0);
        let now = Utc::now();
        let (instance_id, view) = match kind {
            AutomationKind::Flow => {
                let m = automation_flow::Entity::scoped(caller.tenant())
                    .filter(automation_flow::Column::Uuid.eq(uuid))
                    .one(&self.db)
                    .await?
                    .filter(|m| bound.is_none_or(|b| b == m.instance_id))
                    .ok_or_else(not_found)?;
                let instance_id = m.instance_id;
                if delete {
                    automation_flow::Entity::delete_by_id(m.id)
                        .exec(&self.db)
                        .await?;
                    (instance_id, None)
                } else {
                    let new_definition = match definition {
                        Some(flow) => {
                            self.check_flow(&flow, m.instance_id).await?;
                            self.changed_definition(m.definition.as_ref(), flow)
                        }
                        None => None,
                    };
                    let version = m.version;
                    let mut a: automation_flow::ActiveModel = m.into();
                    if let Some(d) = new_definition {
                        a.definition = Set(Some(d));
                        a.version = Set(version + 1);
                    }
                    if let Some(n) = name {
                        a.name = Set(n);
                    }
                    if let Some(v) = is_active {
                        a.is_active = Set(v);
                    }
                    a.updated_at = Set(now);
                    (
                        instance_id,
                        Some(flow_view(&a.update(&self.db).await?, &uuids)),
                    )
                }
            }
            AutomationKind::Integration => {
                let m = automation_integration::Entity::scoped(caller.tenant())
                    .filter(automation_integration::Column::Uuid.eq(uuid))
                    .one(&self.db)
                    .await?
                    .filter(|m| bound.is_none_or(|b| b == m.instance_id))
                    .ok_or_else(not_found)?;
                let instance_id = m.instance_id;
                if delete {
                    automation_integration::Entity::delete_by_id(m.id)
                        .exec(&self.db)
                        .await?;
                    (instance_id, None)
                } else {
                    let mut a: automation_integration::ActiveModel = m.into();
                    if let Some(n) = name {
                        a.name = Set(n);
                    }
                    if let Some(v) = is_active {
                        a.is_active = Set(v);
                    }
                    a.updated_at = Set(now);
                    (
                        instance_id,
                        Some(integration_view(
                            &a.update(&self.db).await?,
                            &uuids,
                            &self.secrets,
                        )),
                    )
                }
            }
        };
        self.push_policy(instance_id).await?;
        Ok(view)
    }
}

impl Services {
    /// Stores validated settings and priority, and (integrations) a configuration checked
    /// against the integration's type with its secrets sealed.
    pub async fn set_automation_extras(
        &self,
        caller: &Caller,
        kind: AutomationKind,
        uuid: Uuid,
        extras: AutomationExtras,
    ) -> AppResult<AutomationEntity> {
        let uuids = self.instance_uuids(caller).await?;
        let now = Utc::now();
        let settings = extras
            .settings
            .map(|s| serde_json::to_value(s).unwrap_or_default());
        let _permit = self.write_gate.enter().await;
        match kind {
            AutomationKind::Flow => {
                let m = automation_flow::Entity::scoped(caller.tenant())
                    .filter(automation_flow::Column::Uuid.eq(uuid))
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "Flow"))?;
                let mut a: automation_flow::ActiveModel = m.into();
                if let Some(s) = settings {
                    a.settings = Set(Some(s));
                }
                if let Some(p) = extras.priority {
                    a.priority = Set(p);
                }
                a.updated_at = Set(now);
                Ok(flow_view(&a.update(&self.db).await?, &uuids))
            }
            AutomationKind::Integration => {
                let m = automation_integration::Entity::scoped(caller.tenant())
                    .filter(automation_integration::Column::Uuid.eq(uuid))
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "Integration"))?;
                let config = match &extras.config {
                    Some(raw) => Some(crate::automation::config::prepare(
                        &m.integration_type,
                        raw,
                        m.config.as_ref(),
                        &self.secrets,
                        |u| self.outbound.check(u).is_ok(),
                    )?),
                    None => None,
                };
                let mut a: automation_integration::ActiveModel = m.into();
                if let Some(s) = settings {
                    a.settings = Set(Some(s));
                }
                if let Some(p) = extras.priority {
                    a.priority = Set(p);
                }
                if let Some(c) = config {
                    a.config = Set(Some(c));
                }
                a.updated_at = Set(now);
                Ok(integration_view(
                    &a.update(&self.db).await?,
                    &uuids,
                    &self.secrets,
                ))
            }
        }
    }
}

/// The reference's `AUTOMATION_ACTIVE` error.
pub fn automation_active(conversation: Option<Uuid>, chat_jid: &str) -> AppError {
    AppError::Client(
        ErrorBody::from_code(ErrorCode::AutomationActive).with_details(serde_json::json!({
            "conversation_id": conversation,
            "chat_jid": chat_jid,
        })),
    )
}

fn flow_view(
    m: &automation_flow::Model,
    uuids: &std::collections::HashMap<i64, Uuid>,
) -> AutomationEntity {
    AutomationEntity {
        id: m.uuid,
        instance_id: uuids.get(&m.instance_id).copied().unwrap_or_default(),
        name: m.name.clone(),
        integration_type: None,
        is_active: m.is_active,
        definition: m.definition.clone(),
        version: Some(m.version),
        settings: crate::automation::settings::Settings::from_stored(m.settings.as_ref()),
        priority: m.priority,
        config: None,
        created_at: format_secs(m.created_at),
        updated_at: format_secs(m.updated_at),
    }
}

fn integration_view(
    m: &automation_integration::Model,
    uuids: &std::collections::HashMap<i64, Uuid>,
    secrets: &crate::crypto::SecretBox,
) -> AutomationEntity {
    AutomationEntity {
        id: m.uuid,
        instance_id: uuids.get(&m.instance_id).copied().unwrap_or_default(),
        name: m.name.clone(),
        integration_type: Some(m.integration_type.clone()),
        is_active: m.is_active,
        definition: None,
        version: None,
        settings: crate::automation::settings::Settings::from_stored(m.settings.as_ref()),
        priority: m.priority,
        config: m
            .config
            .as_ref()
            .map(|c| crate::automation::config::public_view(c, secrets)),
        created_at: format_secs(m.created_at),
        updated_at: format_secs(m.updated_at),
    }
}
