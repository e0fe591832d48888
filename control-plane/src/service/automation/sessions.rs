//! Automation sessions as the API shows them: list (instance, automation, status filters,
//! paginated), one session, and changing its status (`paused` pauses the conversation too;
//! `active` resumes it under the reference's rule: the conversation must be archived first and
//! is unarchived; `closed` ends it, and the next message starts a new one).

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;
use zapini_shared::envelope::{PageRequest, Pagination};
use zapini_shared::error::ErrorCode;
use zapini_shared::time::format_secs;

use crate::db::TenantScoped;
use crate::db::entities::{
    automation_flow, automation_integration, automation_session, conversation,
};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// One automation session.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AutomationSession)]
pub struct SessionView {
    pub id: Uuid,
    /// The instance's UUID.
    pub instance_id: Uuid,
    pub conversation_id: Uuid,
    pub chat_jid: String,
    /// `flow` or `integration`.
    pub automation_type: String,
    /// The flow's or integration's UUID.
    pub automation_id: Uuid,
    /// `active`, `paused` or `closed`.
    pub status: String,
    pub pause_reason: Option<String>,
    /// `expired`, `finish_keyword`, `ended`, `manual`, `automation_inactive`, …
    pub close_reason: Option<String>,
    /// A flow's position and variables, a bot's variables, loop-guard counters.
    #[schema(value_type = Object)]
    pub state: serde_json::Value,
    pub turns: i32,
    pub replies: i32,
    /// AI agent usage over the session.
    pub usage: Usage,
    #[schema(format = DateTime)]
    pub last_message_at: String,
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(format = DateTime)]
    pub closed_at: Option<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Usage {
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
}

/// Filters of the session list.
#[derive(Debug, Default)]
pub struct SessionFilter {
    pub instance: Option<String>,
    pub automation: Option<Uuid>,
    pub status: Option<String>,
}

impl Services {
    pub async fn list_sessions(
        &self,
        caller: &Caller,
        filter: SessionFilter,
        page: PageRequest,
    ) -> AppResult<(Vec<SessionView>, Pagination)> {
        let mut q = automation_session::Entity::scoped(caller.tenant());
        let instance_id = match (filter.instance.as_deref(), caller.bound_instance()) {
            (Some(r), _) => Some(self.find_instance(caller, r).await?.id),
            (None, bound) => bound.map(|b| b.0),
        };
        if let Some(i) = instance_id {
            q = q.filter(automation_session::Column::InstanceId.eq(i));
        }
        if let Some(u) = filter.automation {
            let flow = automation_flow::Entity::scoped(caller.tenant())
                .filter(automation_flow::Column::Uuid.eq(u))
                .one(&self.db)
                .await?;
            let (kind, id) = match flow {
                Some(f) => ("flow", f.id),
                None => match automation_integration::Entity::scoped(caller.tenant())
                    .filter(automation_integration::Column::Uuid.eq(u))
                    .one(&self.db)
                    .await?
                {
                    Some(i) => ("integration", i.id),
                    None => ("none", -1),
                },
            };
            q = q
                .filter(automation_session::Column::AutomationKind.eq(kind))
                .filter(automation_session::Column::AutomationId.eq(id));
        }
        if let Some(s) = filter.status {
            q = q.filter(automation_session::Column::Status.eq(s));
        }
        let (rows, total) = crate::db::listing::page_of(
            &self.db,
            q.order_by_desc(automation_session::Column::Id),
            page.page,
            page.limit(),
        )
        .await?;
        Ok((
            self.session_views(caller, rows).await?,
            page.pagination(total),
        ))
    }

    async fn find_session(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<automation_session::Model> {
        let not_found = || AppError::not_found(ErrorCode::NotFound, "Session");
        let uuid = Uuid::parse_str(reference.trim()).map_err(|_| not_found())?;
        automation_session::Entity::scoped(caller.tenant())
            .filter(automation_session::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
            .filter(|s| caller.bound_instance().is_none_or(|b| b.0 == s.instance_id))
            .ok_or_else(not_found)
    }

    pub async fn get_session(&self, caller: &Caller, reference: &str) -> AppResult<SessionView> {
        let s = self.find_session(caller, reference).await?;
        Ok(self.session_views(caller, vec![s]).await?.remove(0))
    }

    /// Changes a session's status (see the module's rules).
    pub async fn set_session_status(
        &self,
        caller: &Caller,
        reference: &str,
        status: &str,
        reason: Option<String>,
    ) -> AppResult<SessionView> {
        let s = self.find_session(caller, reference).await?;
        let conv_uuid = conversation::Entity::find_by_id(s.conversation_id)
            .one(&self.db)
            .await?
            .map(|c| c.uuid.to_string())
            .unwrap_or_default();
        match (s.status.as_str(), status) {
            (from, to) if from == to => {}
            ("closed", _) => {
                return Err(AppError::new(
                    ErrorCode::Conflict,
                    "The session is closed; the next message starts a new one.",
                ));
            }
            (_, "closed") => {
                self.close_session(s.id, "manual").await?;
            }
            ("active", "paused") => {
                self.pause_automation(caller, &conv_uuid, reason).await?;
            }
            ("paused", "active") => {
                self.resume_automation(caller, &conv_uuid).await?;
            }
            _ => {
                return Err(AppError::validation(
                    "status",
                    "The status must be one of: active, paused, closed.",
                ));
            }
        }
        self.live_news(s.tenant_id, s.instance_id, crate::live::Topic::Session)
            .await;
        self.get_session(caller, reference).await
    }

    async fn session_views(
        &self,
        caller: &Caller,
        rows: Vec<automation_session::Model>,
    ) -> AppResult<Vec<SessionView>> {
        let instances = self.instance_uuids(caller).await?;
        let conv_ids: Vec<i64> = rows.iter().map(|r| r.conversation_id).collect();
        let convs: HashMap<i64, (Uuid, String)> = conversation::Entity::find()
            .filter(conversation::Column::Id.is_in(conv_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|c| (c.id, (c.uuid, c.chat_jid)))
            .collect();
        let flows: HashMap<i64, Uuid> = automation_flow::Entity::scoped(caller.tenant())
            .all(&self.db)
            .await?
            .into_iter()
            .map(|f| (f.id, f.uuid))
            .collect();
        let integrations: HashMap<i64, Uuid> =
            automation_integration::Entity::scoped(caller.tenant())
                .all(&self.db)
                .await?
                .into_iter()
                .map(|i| (i.id, i.uuid))
                .collect();
        Ok(rows
            .into_iter()
            .map(|s| {
                let (conversation_id, chat_jid) =
                    convs.get(&s.conversation_id).cloned().unwrap_or_default();
                let automation_id = if s.automation_kind == "flow" {
                    flows.get(&s.automation_id)
                } else {
                    integrations.get(&s.automation_id)
                }
                .copied()
                .unwrap_or_default();
                SessionView {
                    id: s.uuid,
                    instance_id: instances.get(&s.instance_id).copied().unwrap_or_default(),
                    conversation_id,
                    chat_jid,
                    automation_type: s.automation_kind,
                    automation_id,
                    status: s.status,
                    pause_reason: s.pause_reason,
                    close_reason: s.close_reason,
                    state: s.state,
                    turns: s.turn_count,
                    replies: s.reply_count,
                    usage: Usage {
                        prompt_tokens: s.prompt_tokens,
                        completion_tokens: s.completion_tokens,
                    },
                    last_message_at: format_secs(s.last_message_at),
                    expires_at: s.expires_at.map(format_secs),
                    created_at: format_secs(s.created_at),
                    updated_at: format_secs(s.updated_at),
                    closed_at: s.closed_at.map(format_secs),
                }
            })
            .collect())
    }
}
