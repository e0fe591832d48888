//! Columns: listed by position, inserted at a position, reordered with the board's complete
//! list, updated, deleted with their leads moved to another column of the board.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use super::Scope;
use super::body::ColumnInput;
use super::model::{DEFAULT_COLOR, MAX_COLUMNS};
use super::views::ColumnView;
use crate::db::entities::{kanban_column, kanban_lead, kanban_lead_activity};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;

impl Services {
    // ---- columns ----

    /// `GET /kanban/boards/{uuid}/columns`.
    pub async fn list_columns(&self, caller: &Caller, board: &str) -> AppResult<Vec<ColumnView>> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let board = self.find_board(&self.db, scope, board).await?;
        self.column_views(&board).await
    }

    /// `POST /kanban/boards/{uuid}/columns`: inserted at `position` (default last).
    pub async fn create_column(
        &self,
        caller: &Caller,
        board: &str,
        input: ColumnInput,
    ) -> AppResult<ColumnView> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let board = self.find_board(&txn, scope, board).await?;
        let columns = self.columns_of(&txn, board.id).await?;
        if columns.len() >= MAX_COLUMNS {
            return Err(AppError::validation(
                "name",
                format!("A board has at most {MAX_COLUMNS} columns."),
            ));
        }
        let at = input.position.map_or(columns.len(), |p| {
            usize::try_from(p).unwrap_or(usize::MAX).min(columns.len())
        });
        let now = Utc::now();
        renumber(
            &txn,
            columns.iter().map(|c| c.id).collect::<Vec<_>>(),
            Some(at),
        )
        .await?;
        let column = kanban_column::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(board.tenant_id),
            board_id: Set(board.id),
            name: Set(input.name.unwrap_or_default()),
            color: Set(input.color.unwrap_or_else(|| DEFAULT_COLOR.to_owned())),
            position: Set(at as i32),
            settings: Set(input.settings.flatten().map(Value::Object)),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        drop(permit);
        Ok(ColumnView::new(&column, board.uuid, 0))
    }

    /// `POST /kanban/boards/{uuid}/columns/reorder`: `order` must list every column of the
    /// board exactly once.
    pub async fn reorder_columns(
        &self,
        caller: &Caller,
        board: &str,
        order: Vec<Uuid>,
    ) -> AppResult<Vec<ColumnView>> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let board = self.find_board(&txn, scope, board).await?;
        let columns = self.columns_of(&txn, board.id).await?;
        let by_uuid: HashMap<Uuid, i64> = columns.iter().map(|c| (c.uuid, c.id)).collect();
        let mut seen = std::collections::HashSet::new();
        let complete = order.len() == columns.len()
            && order
                .iter()
                .all(|u| by_uuid.contains_key(u) && seen.insert(*u));
        if !complete {
            return Err(AppError::validation(
                "order",
                format!(
                    "The order must list each of the board's {} columns exactly once.",
                    columns.len()
                ),
            ));
        }
        let ids: Vec<i64> = order.iter().map(|u| by_uuid[u]).collect();
        renumber(&txn, ids, None).await?;
        txn.commit().await?;
        drop(permit);
        self.column_views(&board).await
    }

    /// `PUT /kanban/columns/{uuid}`.
    pub async fn update_column(
        &self,
        caller: &Caller,
        reference: &str,
        input: ColumnInput,
    ) -> AppResult<ColumnView> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let (column, board) = self.find_column(&txn, scope, reference).await?;
        let mut a: kanban_column::ActiveModel = column.into();
        if let Some(n) = input.name {
            a.name = Set(n);
        }
        if let Some(c) = input.color {
            a.color = Set(c);
        }
        if let Some(s) = input.settings {
            a.settings = Set(s.map(Value::Object));
        }
        a.updated_at = Set(Utc::now());
        let saved = a.update(&txn).await?;
        txn.commit().await?;
        drop(permit);
        let count = open_in_column(&self.db, saved.id).await?;
        Ok(ColumnView::new(&saved, board.uuid, count))
    }

    /// `DELETE /kanban/columns/{uuid}`: a column with leads needs `move_to`, another column
    /// of the board, which takes them after its own; a board keeps at least one column.
    pub async fn delete_column(
        &self,
        caller: &Caller,
        reference: &str,
        move_to: Option<Uuid>,
    ) -> AppResult<()> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let (column, board) = self.find_column(&txn, scope, reference).await?;
        let columns = self.columns_of(&txn, board.id).await?;
        if columns.len() <= 1 {
            return Err(AppError::validation(
                "column",
                "A board keeps at least one column.",
            ));
        }
        let leads = kanban_lead::Entity::find()
            .filter(kanban_lead::Column::ColumnId.eq(column.id))
            .filter(kanban_lead::Column::DeletedAt.is_null())
            .count(&txn)
            .await?;
        if let Some(target) = move_to {
            let Some(dest) = columns
                .iter()
                .find(|c| c.uuid == target && c.id != column.id)
            else {
                return Err(AppError::validation(
                    "move_to",
                    "The move_to must be another column of the same board.",
                ));
            };
            let base = kanban_lead::Entity::find()
                .filter(kanban_lead::Column::ColumnId.eq(dest.id))
                .filter(kanban_lead::Column::DeletedAt.is_null())
                .count(&txn)
                .await? as i64;
            kanban_lead::Entity::update_many()
                .col_expr(kanban_lead::Column::ColumnId, Expr::value(dest.id))
                .col_expr(
                    kanban_lead::Column::Position,
                    Expr::col(kanban_lead::Column::Position).add(base),
                )
                .col_expr(kanban_lead::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(kanban_lead::Column::ColumnId.eq(column.id))
                .filter(kanban_lead::Column::DeletedAt.is_null())
                .exec(&txn)
                .await?;
        } else if leads > 0 {
            return Err(AppError::validation(
                "move_to",
                format!(
                    "The column has {leads} leads: give move_to, another column of the board to move them to."
                ),
            ));
        }
        // What is left in it (deleted leads) goes with it.
        let gone = kanban_lead::Entity::find()
            .select_only()
            .column(kanban_lead::Column::Id)
            .filter(kanban_lead::Column::ColumnId.eq(column.id));
        kanban_lead_activity::Entity::delete_many()
            .filter(
                kanban_lead_activity::Column::LeadId
                    .in_subquery(sea_orm::QueryTrait::into_query(gone)),
            )
            .exec(&txn)
            .await?;
        kanban_lead::Entity::delete_many()
            .filter(kanban_lead::Column::ColumnId.eq(column.id))
            .exec(&txn)
            .await?;
        kanban_column::Entity::delete_by_id(column.id)
            .exec(&txn)
            .await?;
        let rest: Vec<i64> = columns
            .iter()
            .filter(|c| c.id != column.id)
            .map(|c| c.id)
            .collect();
        renumber(&txn, rest, None).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Gives `ids` the positions 0, 1, …, leaving `gap` free when given.
async fn renumber<C: ConnectionTrait>(
    conn: &C,
    ids: Vec<i64>,
    gap: Option<usize>,
) -> AppResult<()> {
    for (i, id) in ids.into_iter().enumerate() {
        let position = match gap {
            Some(g) if i >= g => i + 1,
            _ => i,
        };
        kanban_column::Entity::update_many()
            .col_expr(
                kanban_column::Column::Position,
                Expr::value(position as i32),
            )
            .filter(kanban_column::Column::Id.eq(id))
            .exec(conn)
            .await?;
    }
    Ok(())
}

async fn open_in_column<C: ConnectionTrait>(conn: &C, column_id: i64) -> AppResult<u64> {
    Ok(kanban_lead::Entity::find()
        .filter(kanban_lead::Column::ColumnId.eq(column_id))
        .filter(kanban_lead::Column::DeletedAt.is_null())
        .filter(kanban_lead::Column::Status.eq("open"))
        .count(conn)
        .await?)
}
