//! Boards: list, create (with the default pipeline), show with statistics and columns,
//! update, delete (with everything on the board); the instance's default board.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::{Alias, Expr, Func};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use super::Scope;
use super::body::BoardInput;
use super::model::{DEFAULT_COLUMNS, MAX_BOARDS_PER_INSTANCE};
use super::store::boards_of;
use super::views::{BoardDetail, BoardStats, BoardView, ColumnView, StatusTotals};
use crate::automation::lookup::uuids_by_id;
use crate::db::entities::{
    instance, kanban_board, kanban_column, kanban_lead, kanban_lead_activity,
};
use crate::domain::{Caller, InstanceId};
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// A board to insert.
pub(super) struct NewBoard {
    pub instance: InstanceId,
    pub tenant_id: i64,
    pub name: String,
    pub description: Option<String>,
    /// Make it the instance's default (its first board is the default anyway).
    pub make_default: bool,
    pub settings: Option<Value>,
}

impl Services {
    async fn board_views(&self, boards: &[kanban_board::Model]) -> AppResult<Vec<BoardView>> {
        let ids: Vec<i64> = boards.iter().map(|b| b.instance_id).collect();
        let uuids =
            uuids_by_id(&self.db, instance::Column::Id, instance::Column::Uuid, ids).await?;
        Ok(boards
            .iter()
            .map(|b| BoardView::new(b, uuids.get(&b.instance_id).copied().unwrap_or_default()))
            .collect())
    }

    /// `GET /kanban/boards`: the boards of the caller's instances (or of `instance`).
    pub async fn list_boards(
        &self,
        caller: &Caller,
        instance: Option<&str>,
    ) -> AppResult<Vec<BoardView>> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let mut q = boards_of(scope);
        if let Some(r) = instance {
            let inst = self.find_instance(caller, r).await?;
            q = q.filter(kanban_board::Column::InstanceId.eq(inst.id));
        }
        let boards = q
            .order_by_asc(kanban_board::Column::InstanceId)
            .order_by_asc(kanban_board::Column::Id)
            .limit(1000)
            .all(&self.db)
            .await?;
        self.board_views(&boards).await
    }

    /// `POST /kanban/boards`.
    pub async fn create_board(&self, caller: &Caller, input: BoardInput) -> AppResult<BoardDetail> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let inst = match (&input.instance, caller.bound_instance()) {
            (Some(r), _) => self.find_instance(caller, r).await?,
            (None, Some(bound)) => self.find_instance(caller, &bound.0.to_string()).await?,
            (None, None) => {
                return Err(AppError::validation(
                    "instance_id",
                    "The instance_id field is required with a user token.",
                ));
            }
        };
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let board = self
            .insert_board(
                &txn,
                NewBoard {
                    instance: InstanceId(inst.id),
                    tenant_id: inst.tenant_id,
                    name: input.name.unwrap_or_default(),
                    description: input.description.flatten(),
                    make_default: input.is_default.unwrap_or(false),
                    settings: input.settings.flatten().map(Value::Object),
                },
            )
            .await?;
        txn.commit().await?;
        drop(permit);
        self.board_detail(&board).await
    }

    /// Inserts a board with the default columns in `conn`'s transaction; the instance's
    /// first board, or one asked to be, becomes its default.
    pub(super) async fn insert_board<C: ConnectionTrait>(
        &self,
        conn: &C,
        new: NewBoard,
    ) -> AppResult<kanban_board::Model> {
        let NewBoard {
            instance,
            tenant_id,
            name,
            description,
            make_default,
            settings,
        } = new;
        let existing = kanban_board::Entity::find()
            .filter(kanban_board::Column::InstanceId.eq(instance.0))
            .count(conn)
            .await?;
        if existing >= MAX_BOARDS_PER_INSTANCE {
            return Err(AppError::validation(
                "name",
                format!("An instance has at most {MAX_BOARDS_PER_INSTANCE} boards."),
            ));
        }
        let has_default = kanban_board::Entity::find()
            .filter(kanban_board::Column::DefaultInstanceId.eq(instance.0))
            .count(conn)
            .await?
            > 0;
        let is_default = make_default || !has_default;
        if is_default {
            clear_default(conn, instance.0).await?;
        }
        let now = Utc::now();
        let board = kanban_board::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(tenant_id),
            instance_id: Set(instance.0),
            name: Set(name),
            description: Set(description),
            is_default: Set(is_default),
            default_instance_id: Set(is_default.then_some(instance.0)),
            settings: Set(settings),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        for (position, (name, color)) in DEFAULT_COLUMNS.iter().enumerate() {
            kanban_column::ActiveModel {
                uuid: Set(Uuid::new_v4()),
                tenant_id: Set(tenant_id),
                board_id: Set(board.id),
                name: Set((*name).to_owned()),
                color: Set((*color).to_owned()),
                position: Set(position as i32),
                settings: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(conn)
            .await?;
        }
        Ok(board)
    }

    /// The instance's default board (else its oldest; a board named "Sales Pipeline" is
    /// created when it has none).
    pub(super) async fn default_board<C: ConnectionTrait>(
        &self,
        conn: &C,
        tenant_id: i64,
        instance: InstanceId,
    ) -> AppResult<kanban_board::Model> {
        let found = kanban_board::Entity::find()
            .filter(kanban_board::Column::TenantId.eq(tenant_id))
            .filter(kanban_board::Column::InstanceId.eq(instance.0))
            .order_by_desc(kanban_board::Column::IsDefault)
            .order_by_asc(kanban_board::Column::Id)
            .one(conn)
            .await?;
        match found {
            Some(b) => Ok(b),
            None => {
                self.insert_board(
                    conn,
                    NewBoard {
                        instance,
                        tenant_id,
                        name: "Sales Pipeline".into(),
                        description: None,
                        make_default: true,
                        settings: None,
                    },
                )
                .await
            }
        }
    }

    /// The stats and columns of a board.
    pub(super) async fn board_detail(&self, board: &kanban_board::Model) -> AppResult<BoardDetail> {
        let view = self
            .board_views(std::slice::from_ref(board))
            .await?
            .remove(0);
        let rows: Vec<(String, i64, Option<i64>, Option<i64>)> = kanban_lead::Entity::find()
            .select_only()
            .column(kanban_lead::Column::Status)
            .column_as(
                Expr::expr(Func::count(Expr::col(kanban_lead::Column::Id))),
                "n",
            )
            // PostgreSQL sums BIGINT as NUMERIC: the sums are cast back.
            .column_as(
                Expr::expr(Func::cast_as(
                    Func::sum(Expr::col(kanban_lead::Column::ValueCents)),
                    Alias::new("BIGINT"),
                )),
                "v",
            )
            .column_as(
                Expr::expr(Func::cast_as(
                    Func::sum(Expr::col(kanban_lead::Column::CloseSeconds)),
                    Alias::new("BIGINT"),
                )),
                "s",
            )
            .filter(kanban_lead::Column::BoardId.eq(board.id))
            .filter(kanban_lead::Column::DeletedAt.is_null())
            .group_by(kanban_lead::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut totals: HashMap<String, StatusTotals> = HashMap::new();
        for (status, n, v, s) in rows {
            totals.insert(
                status,
                StatusTotals {
                    count: u64::try_from(n).unwrap_or(0),
                    value_cents: v.unwrap_or(0),
                    close_seconds: s.unwrap_or(0),
                },
            );
        }
        let get = |s: &str| totals.get(s).copied().unwrap_or_default();
        let stats = BoardStats::compute(get("open"), get("won"), get("lost"));
        Ok(BoardDetail {
            board: view,
            stats,
            columns: self.column_views(board).await?,
        })
    }

    pub(super) async fn column_views(
        &self,
        board: &kanban_board::Model,
    ) -> AppResult<Vec<ColumnView>> {
        let columns = self.columns_of(&self.db, board.id).await?;
        let counts: HashMap<i64, i64> = kanban_lead::Entity::find()
            .select_only()
            .column(kanban_lead::Column::ColumnId)
            .column_as(
                Expr::expr(Func::count(Expr::col(kanban_lead::Column::Id))),
                "n",
            )
            .filter(kanban_lead::Column::BoardId.eq(board.id))
            .filter(kanban_lead::Column::DeletedAt.is_null())
            .filter(kanban_lead::Column::Status.eq("open"))
            .group_by(kanban_lead::Column::ColumnId)
            .into_tuple::<(i64, i64)>()
            .all(&self.db)
            .await?
            .into_iter()
            .collect();
        Ok(columns
            .iter()
            .map(|c| {
                ColumnView::new(
                    c,
                    board.uuid,
                    u64::try_from(counts.get(&c.id).copied().unwrap_or(0)).unwrap_or(0),
                )
            })
            .collect())
    }

    /// `GET /kanban/boards/{uuid}`.
    pub async fn get_board(&self, caller: &Caller, reference: &str) -> AppResult<BoardDetail> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let board = self.find_board(&self.db, scope, reference).await?;
        self.board_detail(&board).await
    }

    /// `PUT /kanban/boards/{uuid}`.
    pub async fn update_board(
        &self,
        caller: &Caller,
        reference: &str,
        input: BoardInput,
    ) -> AppResult<BoardDetail> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let board = self.find_board(&txn, scope, reference).await?;
        let mut a: kanban_board::ActiveModel = board.clone().into();
        if let Some(n) = input.name {
            a.name = Set(n);
        }
        if let Some(d) = input.description {
            a.description = Set(d);
        }
        if let Some(s) = input.settings {
            a.settings = Set(s.map(Value::Object));
        }
        match input.is_default {
            Some(true) if !board.is_default => {
                clear_default(&txn, board.instance_id).await?;
                a.is_default = Set(true);
                a.default_instance_id = Set(Some(board.instance_id));
            }
            Some(false) if board.is_default => {
                return Err(AppError::validation(
                    "is_default",
                    "An instance keeps one default board: make another board the default instead.",
                ));
            }
            _ => {}
        }
        a.updated_at = Set(Utc::now());
        let saved = a.update(&txn).await?;
        txn.commit().await?;
        drop(permit);
        self.board_detail(&saved).await
    }

    /// `DELETE /kanban/boards/{uuid}`: the board, its columns, leads and their timelines.
    /// When it was the default, the instance's oldest remaining board becomes the default.
    pub async fn delete_board(&self, caller: &Caller, reference: &str) -> AppResult<()> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let board = self.find_board(&txn, scope, reference).await?;
        let lead_ids = kanban_lead::Entity::find()
            .select_only()
            .column(kanban_lead::Column::Id)
            .filter(kanban_lead::Column::BoardId.eq(board.id));
        kanban_lead_activity::Entity::delete_many()
            .filter(
                kanban_lead_activity::Column::LeadId
                    .in_subquery(sea_orm::QueryTrait::into_query(lead_ids)),
            )
            .exec(&txn)
            .await?;
        kanban_lead::Entity::delete_many()
            .filter(kanban_lead::Column::BoardId.eq(board.id))
            .exec(&txn)
            .await?;
        kanban_column::Entity::delete_many()
            .filter(kanban_column::Column::BoardId.eq(board.id))
            .exec(&txn)
            .await?;
        kanban_board::Entity::delete_by_id(board.id)
            .exec(&txn)
            .await?;
        if board.is_default
            && let Some(next) = kanban_board::Entity::find()
                .filter(kanban_board::Column::InstanceId.eq(board.instance_id))
                .order_by_asc(kanban_board::Column::Id)
                .one(&txn)
                .await?
        {
            let mut a: kanban_board::ActiveModel = next.into();
            a.is_default = Set(true);
            a.default_instance_id = Set(Some(board.instance_id));
            a.update(&txn).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}

/// Makes no board of the instance its default.
pub(super) async fn clear_default<C: ConnectionTrait>(conn: &C, instance_id: i64) -> AppResult<()> {
    kanban_board::Entity::update_many()
        .col_expr(kanban_board::Column::IsDefault, Expr::value(false))
        .col_expr(
            kanban_board::Column::DefaultInstanceId,
            Expr::value(Option::<i64>::None),
        )
        .filter(kanban_board::Column::InstanceId.eq(instance_id))
        .filter(kanban_board::Column::IsDefault.eq(true))
        .exec(conn)
        .await?;
    Ok(())
}
