//! Automation control: whether an instance is automated (an active flow or integration),
//! pausing and resuming it per conversation (resume only after archiving; resuming
//! unarchives), bulk pause/resume, the `AUTOMATION_ACTIVE` guard of manual sends, the
//! policy pushed to nodes, and the conversation's session following its pause and resume. The
//! flow and integration entities are in `automation_entities` (re-exported here).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::time::format_secs;

use super::automation_status;
use crate::db::entities::{
    automation_flow, automation_integration, automation_session, conversation, instance,
    instance_token, user,
};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;
use crate::service::nodes::NodePush;

pub use super::automation_entities::{
    AutomationChange, AutomationEntity, AutomationExtras, AutomationKind, INTEGRATION_TYPES,
    IntegrationType, NewAutomation,
};

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
    pub(super) async fn push_policy(&self, instance_id: i64) -> AppResult<()> {
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
        self.conversation_news(c).await;
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
        let by = self.caller_name(caller).await?;
        self.pause_conversation_as(&c, &by, reason.as_deref()).await
    }

    /// [`Services::pause_automation`] of a conversation already found, on behalf of `by`
    /// (who is recorded as having paused it).
    pub(crate) async fn pause_conversation_as(
        &self,
        c: &conversation::Model,
        by: &str,
        reason: Option<&str>,
    ) -> AppResult<AutomationView> {
        if !c.automation_paused {
            self.set_paused(c, Some((by, reason, Utc::now())), false)
                .await?;
        }
        self.automation_now(c.id).await
    }

    /// A conversation's automation state as it is now.
    async fn automation_now(&self, conversation_id: i64) -> AppResult<AutomationView> {
        let c = conversation::Entity::find_by_id(conversation_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "Conversation"))?;
        let active = self.instance_automated(c.instance_id).await?;
        Ok(Self::automation_view(&c, active))
    }

    /// Resumes automation: only for an archived conversation, which is unarchived.
    pub async fn resume_automation(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<AutomationView> {
        let c = self.find_conversation(caller, reference).await?;
        self.resume_conversation(&c).await
    }

    /// [`Services::resume_automation`] of a conversation already found.
    pub(crate) async fn resume_conversation(
        &self,
        c: &conversation::Model,
    ) -> AppResult<AutomationView> {
        if !c.is_archived {
            return Err(AppError::Client(
                ErrorBody::new(
                    ErrorCode::Conflict,
                    "Archive the conversation before resuming automation: this closes the manual session. Resuming unarchives it.",
                )
                .with_details(serde_json::json!({"conversation_id": c.uuid, "is_archived": false})),
            ));
        }
        self.set_paused(c, None, true).await?;
        self.automation_now(c.id).await
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
