//! A session's life: opened by the automation that takes a conversation (with the flow's
//! definition as its snapshot), moved to another automation (a flow handing over to an AI
//! agent), closed, paused with its conversation (and the node told), and what a sent plan
//! does to it.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;
use uuid::Uuid;

use crate::automation::active::ActiveAutomation;
use crate::automation::plan::{After, Plan};
use crate::db::entities::{automation_session, conversation, instance};
use crate::error::AppResult;
use crate::service::Services;

impl Services {
    pub(crate) async fn open_session(
        &self,
        inst: &instance::Model,
        conv: &conversation::Model,
        a: &ActiveAutomation,
    ) -> AppResult<automation_session::Model> {
        let now = Utc::now();
        let snapshot = if a.kind == "flow" {
            crate::db::entities::automation_flow::Entity::find_by_id(a.id)
                .one(&self.db)
                .await?
                .and_then(|f| f.definition)
        } else {
            None
        };
        let _permit = self.write_gate.enter().await;
        Ok(automation_session::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(inst.tenant_id),
            instance_id: Set(inst.id),
            conversation_id: Set(conv.id),
            automation_kind: Set(a.kind.to_owned()),
            automation_id: Set(a.id),
            status: Set("active".into()),
            state: Set(json!({})),
            snapshot: Set(snapshot),
            turn_count: Set(0),
            reply_count: Set(0),
            prompt_tokens: Set(0),
            completion_tokens: Set(0),
            last_message_at: Set(now),
            expires_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&self.db)
        .await?)
    }

    pub(crate) async fn switch_session(
        &self,
        s: &automation_session::Model,
        to: &ActiveAutomation,
    ) -> AppResult<()> {
        let _permit = self.write_gate.enter().await;
        automation_session::Entity::update_many()
            .col_expr(
                automation_session::Column::AutomationKind,
                Expr::value(to.kind),
            )
            .col_expr(automation_session::Column::AutomationId, Expr::value(to.id))
            .col_expr(automation_session::Column::State, Expr::value(json!({})))
            .col_expr(
                automation_session::Column::UpdatedAt,
                Expr::value(Utc::now()),
            )
            .filter(automation_session::Column::Id.eq(s.id))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    pub(crate) async fn close_session(&self, id: i64, reason: &str) -> AppResult<()> {
        let now = Utc::now();
        let _permit = self.write_gate.enter().await;
        automation_session::Entity::update_many()
            .col_expr(automation_session::Column::Status, Expr::value("closed"))
            .col_expr(automation_session::Column::CloseReason, Expr::value(reason))
            .col_expr(automation_session::Column::ClosedAt, Expr::value(now))
            .col_expr(automation_session::Column::UpdatedAt, Expr::value(now))
            .filter(automation_session::Column::Id.eq(id))
            .filter(automation_session::Column::Status.ne("closed"))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Pauses a session and its conversation (hand-off, loop guard), and tells the node.
    pub(crate) async fn pause_session(
        &self,
        s: &automation_session::Model,
        conv: &conversation::Model,
        reason: &str,
        by: &str,
    ) -> AppResult<()> {
        let now = Utc::now();
        {
            let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
            crate::automation::intake::mark_paused(&txn, s.id, conv.id, reason, by, reason, now)
                .await?;
            txn.commit().await?;
        }
        if let Some(inst) = instance::Entity::find_by_id(conv.instance_id)
            .one(&self.db)
            .await?
        {
            self.hub.push(
                inst.uuid,
                crate::service::nodes::NodePush::ChatPolicy {
                    chat_jid: conv.chat_jid.clone(),
                    paused: true,
                },
            );
        }
        Ok(())
    }

    /// After a planned turn is sent: the session closes or pauses as planned.
    pub(crate) async fn finish_session_turn(
        &self,
        s: &automation_session::Model,
        conv: &conversation::Model,
        plan: &Plan,
    ) -> AppResult<()> {
        match &plan.after {
            After::Continue => Ok(()),
            After::Close { reason } => self.close_session(s.id, reason).await,
            After::Pause { reason } => self.pause_session(s, conv, reason, "automation").await,
        }
    }
}
