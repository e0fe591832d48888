//! Flows and integrations as entities: listing, creating, changing and deleting them,
//! their settings, priority and (integrations) configuration, and how the API shows them.
//! [`Services::add_automation`] and [`Services::edit_automation`] are the whole create and
//! update as the API and the dashboard do them (checks in the API's order, nothing left
//! behind by a refused configuration).

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;
use zapini_shared::time::format_secs;

use crate::db::TenantScoped;
use crate::db::entities::{automation_flow, automation_integration, instance};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;

mod input;

pub use input::{
    AutomationChange, AutomationExtras, AutomationInput, INTEGRATION_TYPES, IntegrationType,
    NewAutomation, automation_name, flow_definition,
};

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

impl Services {
    /// Creates a flow or integration on `instance` (a numeric id or UUID; an `sk_` token's own
    /// when absent) with its settings, priority and configuration. Checked in this order: the
    /// definition, the instance, the name, the extras, the integration type. A configuration
    /// refused when stored removes what was created.
    pub async fn add_automation(
        &self,
        caller: &Caller,
        kind: AutomationKind,
        instance: Option<String>,
        input: AutomationInput,
    ) -> AppResult<AutomationEntity> {
        let definition = flow_definition(input.definition)?;
        let instance = match (instance, caller) {
            (Some(r), _) => r,
            (None, Caller::Instance { instance_uuid, .. }) => instance_uuid.to_string(),
            (None, Caller::User { .. }) => {
                return Err(AppError::validation(
                    "instance_id",
                    "The instance_id field is required.",
                ));
            }
        };
        let name = automation_name(input.name, true)?.unwrap_or_default();
        let extras = AutomationExtras::parse(kind, input.settings, input.priority, input.config)?;
        let integration_type = match (kind, input.integration_type) {
            (AutomationKind::Integration, Some(t)) => {
                let t = t.trim().to_ascii_lowercase();
                if !INTEGRATION_TYPES.contains(&t.as_str()) {
                    return Err(AppError::validation(
                        "integration_type",
                        "The integration_type must be one of: webhook, api, ai_agent.",
                    ));
                }
                Some(t)
            }
            (AutomationKind::Flow, Some(_)) => {
                return Err(AppError::validation(
                    "integration_type",
                    "The integration_type field is for integrations only.",
                ));
            }
            (_, None) => None,
        };
        let e = self
            .create_automation(
                caller,
                kind,
                &instance,
                NewAutomation {
                    name,
                    integration_type,
                    is_active: input.is_active.unwrap_or(true),
                    definition,
                },
            )
            .await?;
        if extras.is_empty() {
            return Ok(e);
        }
        match self.set_automation_extras(caller, kind, e.id, extras).await {
            Ok(e) => Ok(e),
            Err(err) => {
                // Refused (a config that does not validate): nothing is left behind.
                let _ = self
                    .change_automation(
                        caller,
                        kind,
                        &e.id.to_string(),
                        AutomationChange::default(),
                        true,
                    )
                    .await;
                Err(err)
            }
        }
    }

    /// Updates a flow or integration: the fields given change. Checked in this order: a
    /// definition for an integration, the extras, the name, the definition.
    pub async fn edit_automation(
        &self,
        caller: &Caller,
        kind: AutomationKind,
        reference: &str,
        input: AutomationInput,
    ) -> AppResult<AutomationEntity> {
        if kind == AutomationKind::Integration && input.definition.is_some() {
            return Err(AppError::validation(
                "definition",
                "The definition field is for flows only.",
            ));
        }
        let extras = AutomationExtras::parse(kind, input.settings, input.priority, input.config)?;
        let change = AutomationChange {
            name: automation_name(input.name, false)?,
            is_active: input.is_active,
            definition: flow_definition(input.definition)?,
        };
        let e = self
            .change_automation(caller, kind, reference, change, false)
            .await?
            .ok_or_else(|| AppError::internal("an updated automation has a view"))?;
        if extras.is_empty() {
            return Ok(e);
        }
        self.set_automation_extras(caller, kind, e.id, extras).await
    }

    /// One flow or integration of the caller's scope (404 otherwise).
    pub async fn get_automation(
        &self,
        caller: &Caller,
        kind: AutomationKind,
        reference: &str,
    ) -> AppResult<AutomationEntity> {
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
        self.list_automations(caller, kind, None)
            .await?
            .into_iter()
            .find(|e| e.id == uuid)
            .ok_or_else(not_found)
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

    /// The UUIDs of the caller's tenant's instances, by id.
    pub(crate) async fn instance_uuids(
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
