//! A lead's life on the board: moved between columns (and within one), won, lost with a
//! reason, annotated; and its timeline.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::events::{LeadEvent, queue};
use super::model::{Actor, LeadStatus};
use super::store::{Entry, record};
use super::views::{ActivityView, LeadView, NoteView};
use super::{Page, Scope};
use crate::db::entities::{kanban_column, kanban_lead, kanban_lead_activity};
use crate::db::listing::page_of;
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;

impl Services {
    /// Puts `lead` in column `to` (of its board) at `position` (default last), renumbering
    /// both columns, with a `moved` timeline entry when the column changes. Answers the
    /// lead and the columns it left and entered.
    pub(super) async fn relocate<C: ConnectionTrait>(
        &self,
        conn: &C,
        lead: &kanban_lead::Model,
        to: Uuid,
        position: Option<i64>,
        actor: &Actor,
    ) -> AppResult<(
        kanban_lead::Model,
        kanban_column::Model,
        kanban_column::Model,
    )> {
        let columns = self.columns_of(conn, lead.board_id).await?;
        let dest = columns
            .iter()
            .find(|c| c.uuid == to)
            .cloned()
            .ok_or_else(|| {
                AppError::validation(
                    "column_uuid",
                    "The column_uuid is not a column of the lead's board.",
                )
            })?;
        let from = columns
            .iter()
            .find(|c| c.id == lead.column_id)
            .cloned()
            .unwrap_or_else(|| dest.clone());
        close_gap(conn, lead.column_id, lead.position, lead.id).await?;
        let count = count_in_column(conn, dest.id, Some(lead.id)).await?;
        let at = position.unwrap_or(count).clamp(0, count);
        kanban_lead::Entity::update_many()
            .col_expr(
                kanban_lead::Column::Position,
                Expr::col(kanban_lead::Column::Position).add(1),
            )
            .filter(kanban_lead::Column::ColumnId.eq(dest.id))
            .filter(kanban_lead::Column::DeletedAt.is_null())
            .filter(kanban_lead::Column::Position.gte(at))
            .filter(kanban_lead::Column::Id.ne(lead.id))
            .exec(conn)
            .await?;
        let now = Utc::now();
        let mut a: kanban_lead::ActiveModel = lead.clone().into();
        a.column_id = Set(dest.id);
        a.position = Set(at);
        a.updated_at = Set(now);
        let saved = a.update(conn).await?;
        if from.id != dest.id {
            record(
                conn,
                &saved,
                actor,
                Entry::new("moved").values(Some(from.name.clone()), Some(dest.name.clone())),
                now,
            )
            .await?;
        }
        Ok((saved, from, dest))
    }

    /// `POST /kanban/leads/{uuid}/move`.
    pub async fn move_lead(
        &self,
        caller: &Caller,
        reference: &str,
        column: Uuid,
        position: Option<i64>,
    ) -> AppResult<LeadView> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let actor = self.actor_of(caller).await?;
        self.move_lead_in(scope, reference, column, position, &actor)
            .await
    }

    pub(super) async fn move_lead_in(
        &self,
        scope: Scope,
        reference: &str,
        column: Uuid,
        position: Option<i64>,
        actor: &Actor,
    ) -> AppResult<LeadView> {
        let money = self.kanban_gate(scope).await?;
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let lead = self.find_lead(&txn, scope, reference).await?;
        let (saved, from, to) = self.relocate(&txn, &lead, column, position, actor).await?;
        let view = self.lead_view(&txn, &saved, &money).await?;
        let now = Utc::now();
        let mut e = LeadEvent::new("moved", view.clone(), now);
        e.from_column = Some((&from).into());
        e.to_column = Some((&to).into());
        let queued = queue(&txn, saved.instance_id, vec![e], now).await?;
        txn.commit().await?;
        drop(permit);
        if queued {
            self.webhook_signal.notify();
        }
        self.live_news(saved.tenant_id, saved.instance_id, crate::live::Topic::Crm)
            .await;
        Ok(view)
    }

    /// `POST /kanban/leads/{uuid}/won` and `/lost`: closes the lead (a won lead can still be
    /// lost and the other way round). Marking it again as it is changes nothing.
    pub async fn close_lead(
        &self,
        caller: &Caller,
        reference: &str,
        status: LeadStatus,
        reason: Option<String>,
    ) -> AppResult<LeadView> {
        let scope = Scope::of(caller);
        let money = self.kanban_gate(scope).await?;
        let actor = self.actor_of(caller).await?;
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let lead = self.find_lead(&txn, scope, reference).await?;
        let reason = match status {
            LeadStatus::Lost => reason,
            _ => None,
        };
        if lead.status == status.as_str() && lead.lost_reason == reason {
            return self.lead_view(&txn, &lead, &money).await;
        }
        let now = Utc::now();
        let mut a: kanban_lead::ActiveModel = lead.clone().into();
        a.status = Set(status.as_str().to_owned());
        match status {
            LeadStatus::Open => {
                a.closed_at = Set(None);
                a.close_seconds = Set(None);
                a.lost_reason = Set(None);
            }
            LeadStatus::Won | LeadStatus::Lost => {
                a.closed_at = Set(Some(now));
                a.close_seconds = Set(Some(std::cmp::max(
                    (now - lead.created_at).num_seconds(),
                    0,
                )));
                a.lost_reason = Set(reason.clone());
            }
        }
        a.updated_at = Set(now);
        let saved = a.update(&txn).await?;
        let kind = match status {
            LeadStatus::Open => "reopened",
            LeadStatus::Won => "won",
            LeadStatus::Lost => "lost",
        };
        record(
            &txn,
            &saved,
            &actor,
            Entry::new(kind)
                .values(Some(lead.status.clone()), Some(status.as_str().to_owned()))
                .content(reason),
            now,
        )
        .await?;
        let view = self.lead_view(&txn, &saved, &money).await?;
        let events = match status {
            LeadStatus::Open => Vec::new(),
            _ => vec![LeadEvent::new(kind, view.clone(), now)],
        };
        let queued = queue(&txn, saved.instance_id, events, now).await?;
        txn.commit().await?;
        drop(permit);
        if queued {
            self.webhook_signal.notify();
        }
        self.live_news(saved.tenant_id, saved.instance_id, crate::live::Topic::Crm)
            .await;
        Ok(view)
    }

    /// `POST /kanban/leads/{uuid}/note`.
    pub async fn add_note(
        &self,
        caller: &Caller,
        reference: &str,
        content: String,
    ) -> AppResult<NoteView> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let actor = self.actor_of(caller).await?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let lead = self.find_lead(&txn, scope, reference).await?;
        let now = Utc::now();
        let note = record(
            &txn,
            &lead,
            &actor,
            Entry::new("note").content(Some(content)),
            now,
        )
        .await?;
        let at = (lead.tenant_id, lead.instance_id);
        let mut a: kanban_lead::ActiveModel = lead.into();
        a.updated_at = Set(now);
        a.update(&txn).await?;
        txn.commit().await?;
        self.live_news(at.0, at.1, crate::live::Topic::Crm).await;
        Ok(NoteView::new(&note))
    }

    /// `GET /kanban/leads/{uuid}/activities`: newest first.
    pub async fn lead_activities(
        &self,
        caller: &Caller,
        reference: &str,
        page: u64,
        per_page: u64,
    ) -> AppResult<Page<ActivityView>> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let lead = self.find_lead(&self.db, scope, reference).await?;
        let q = kanban_lead_activity::Entity::find()
            .filter(kanban_lead_activity::Column::LeadId.eq(lead.id));
        let (rows, total) = page_of(
            &self.db,
            q.order_by_desc(kanban_lead_activity::Column::Id),
            page,
            per_page,
        )
        .await?;
        Ok(Page {
            items: rows.iter().map(ActivityView::new).collect(),
            total,
        })
    }
}

/// Non-deleted leads in a column (but `except`).
pub(super) async fn count_in_column<C: ConnectionTrait>(
    conn: &C,
    column_id: i64,
    except: Option<i64>,
) -> AppResult<i64> {
    let mut q = kanban_lead::Entity::find()
        .filter(kanban_lead::Column::ColumnId.eq(column_id))
        .filter(kanban_lead::Column::DeletedAt.is_null());
    if let Some(id) = except {
        q = q.filter(kanban_lead::Column::Id.ne(id));
    }
    Ok(q.count(conn).await? as i64)
}

/// Moves the leads after `position` in a column up by one (a lead left it).
pub(super) async fn close_gap<C: ConnectionTrait>(
    conn: &C,
    column_id: i64,
    position: i64,
    lead_id: i64,
) -> AppResult<()> {
    kanban_lead::Entity::update_many()
        .col_expr(
            kanban_lead::Column::Position,
            Expr::col(kanban_lead::Column::Position).sub(1),
        )
        .filter(kanban_lead::Column::ColumnId.eq(column_id))
        .filter(kanban_lead::Column::DeletedAt.is_null())
        .filter(kanban_lead::Column::Position.gt(position))
        .filter(kanban_lead::Column::Id.ne(lead_id))
        .exec(conn)
        .await?;
    Ok(())
}
