//! Leads: create (the API's and every other part's entry point), list a board's with filters,
//! show with notes, custom fields and AI analysis, update field by field (each change on the
//! timeline with its old and new value), soft delete.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::Value;
use uuid::Uuid;

use super::body::LeadInput;
use super::events::{FieldChange, LeadEvent, queue};
use super::model::{Actor, LeadPatch, LeadStatus, MAX_NAME, NewLead, Priority};
use super::money::{cents_to_string, decimal_to_cents};
use super::store::{Entry, boards_of, leads_of, record};
use super::views::{LeadDetail, LeadView, NoteView};
use super::{Page, Scope, offset};
use crate::db::TenantScoped;
use crate::db::entities::{
    conversation, kanban_board, kanban_column, kanban_lead, kanban_lead_activity,
};
use crate::domain::{Caller, InstanceId, TenantId};
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// The filters of a board's lead list.
#[derive(Debug, Clone, Default)]
pub struct LeadFilter {
    /// `None`: every status.
    pub status: Option<LeadStatus>,
    pub priority: Option<Priority>,
    pub column_uuid: Option<Uuid>,
    pub search: Option<String>,
    pub page: u64,
    pub per_page: u64,
}

fn title_of(title: &str) -> AppResult<String> {
    let t = title.trim();
    if t.is_empty() {
        return Err(AppError::validation(
            "title",
            "The title field is required.",
        ));
    }
    if t.chars().count() > MAX_NAME {
        return Err(AppError::validation(
            "title",
            format!("The title may not be greater than {MAX_NAME} characters."),
        ));
    }
    Ok(t.to_owned())
}

/// A number as digits with country code (any caller's input is checked again here).
fn phone_of(p: &str) -> AppResult<String> {
    zapini_shared::phone::PhoneNumber::parse(p)
        .map(|n| n.into_string())
        .map_err(|e| {
            AppError::validation(
                "phone_number",
                format!("The phone_number field is invalid: {e}."),
            )
        })
}

fn email_of(e: &str) -> AppResult<String> {
    let e = e.trim();
    if zapini_shared::email::looks_like_email(e) && e.chars().count() <= MAX_NAME {
        Ok(e.to_owned())
    } else {
        Err(AppError::validation(
            "email",
            "The email must be a valid email address.",
        ))
    }
}

fn json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

impl Services {
    /// Creates a lead for another part of the platform (the calendar, external functions,
    /// the AI agent) in the whole tenant: `input.board_uuid`, else the default board of
    /// `input.instance_id`. With an `appointment_id` that already has a lead, answers that
    /// lead.
    pub async fn create_lead(&self, tenant: TenantId, input: NewLead) -> AppResult<LeadView> {
        self.create_lead_in(Scope::tenant(tenant), input).await
    }

    /// The lead of an appointment, if any (deleted ones are not).
    pub async fn lead_for_appointment(
        &self,
        tenant: TenantId,
        appointment_id: i64,
    ) -> AppResult<Option<LeadView>> {
        let scope = Scope::tenant(tenant);
        let money = self.kanban_gate(scope).await?;
        let Some(lead) = leads_of(scope)
            .filter(kanban_lead::Column::AppointmentId.eq(appointment_id))
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(self.lead_view(&self.db, &lead, &money).await?))
    }

    /// Changes a lead for another part of the platform (whole tenant).
    pub async fn update_lead(
        &self,
        tenant: TenantId,
        lead_uuid: Uuid,
        patch: LeadPatch,
    ) -> AppResult<LeadView> {
        self.update_lead_in(Scope::tenant(tenant), &lead_uuid.to_string(), patch)
            .await
    }

    /// Changes a lead of one instance's boards (an external function acting as its
    /// instance: a lead of another instance is 404).
    pub async fn update_instance_lead(
        &self,
        tenant: TenantId,
        instance: InstanceId,
        lead_uuid: Uuid,
        patch: LeadPatch,
    ) -> AppResult<LeadView> {
        let scope = Scope {
            tenant,
            instance: Some(instance),
        };
        self.update_lead_in(scope, &lead_uuid.to_string(), patch)
            .await
    }

    /// `POST /kanban/leads`.
    pub async fn create_lead_api(&self, caller: &Caller, input: LeadInput) -> AppResult<LeadView> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let instance_id = match &input.instance {
            Some(r) => Some(InstanceId(self.find_instance(caller, r).await?.id)),
            None => None,
        };
        let mut lead = NewLead::titled(input.title, "api", self.actor_of(caller).await?);
        lead.board_uuid = input.board_uuid;
        lead.instance_id = instance_id;
        lead.column_uuid = input.column_uuid;
        lead.phone_number = input.phone_number;
        lead.email = input.email;
        lead.value = input.value_cents.map(|c| rust_decimal::Decimal::new(c, 2));
        lead.priority = input.priority;
        lead.notes = input.notes;
        lead.custom_fields = input.custom_fields;
        self.create_lead_in(scope, lead).await
    }

    pub(super) async fn create_lead_in(&self, scope: Scope, input: NewLead) -> AppResult<LeadView> {
        let money = self.kanban_gate(scope).await?;
        let title = title_of(&input.title)?;
        let mut input = input;
        input.phone_number = input.phone_number.as_deref().map(phone_of).transpose()?;
        input.email = input.email.as_deref().map(email_of).transpose()?;
        let value_cents = input
            .value
            .map(|d| decimal_to_cents("value", d))
            .transpose()
            .map_err(|m| AppError::validation("value", m))?;
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        if let Some(appointment) = input.appointment_id
            && let Some(existing) = kanban_lead::Entity::scoped(scope.tenant)
                .filter(kanban_lead::Column::AppointmentId.eq(appointment))
                .one(&txn)
                .await?
        {
            if existing.deleted_at.is_none() {
                return self.lead_view(&txn, &existing, &money).await;
            }
            // A deleted lead gives its appointment up to the new one.
            let mut a: kanban_lead::ActiveModel = existing.into();
            a.appointment_id = Set(None);
            a.update(&txn).await?;
        }
        let board = match input.board_uuid {
            Some(u) => boards_of(scope)
                .filter(kanban_board::Column::Uuid.eq(u))
                .one(&txn)
                .await?
                .ok_or_else(super::store::board_not_found)?,
            None => {
                let Some(instance) = input.instance_id.or(scope.instance) else {
                    return Err(AppError::validation(
                        "board_uuid",
                        "The board_uuid field is required (or instance_id, for the instance's default board).",
                    ));
                };
                self.default_board(&txn, scope.tenant.0, instance).await?
            }
        };
        if let Some(i) = input.instance_id
            && i.0 != board.instance_id
        {
            return Err(AppError::validation(
                "board_uuid",
                "The board belongs to another instance than instance_id.",
            ));
        }
        let columns = self.columns_of(&txn, board.id).await?;
        let column = match input.column_uuid {
            Some(u) => columns.iter().find(|c| c.uuid == u).ok_or_else(|| {
                AppError::validation(
                    "column_uuid",
                    "The column_uuid is not a column of the board.",
                )
            })?,
            None => columns
                .first()
                .ok_or_else(|| AppError::validation("board_uuid", "The board has no column."))?,
        }
        .clone();
        let (contact_id, conversation_id) = match input.conversation_id {
            Some(id) => match conversation::Entity::find_by_id(id).one(&txn).await? {
                Some(c) if c.instance_id == board.instance_id => (c.contact_id, Some(c.id)),
                _ => {
                    self.link_ids(&txn, board.instance_id, input.phone_number.as_deref())
                        .await?
                }
            },
            None => {
                self.link_ids(&txn, board.instance_id, input.phone_number.as_deref())
                    .await?
            }
        };
        let position = count_in_column(&txn, column.id, None).await?;
        let now = Utc::now();
        let lead = kanban_lead::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(board.tenant_id),
            instance_id: Set(board.instance_id),
            board_id: Set(board.id),
            column_id: Set(column.id),
            position: Set(position),
            title: Set(title),
            phone_number: Set(input.phone_number),
            email: Set(input.email),
            value_cents: Set(value_cents),
            priority: Set(input
                .priority
                .unwrap_or(Priority::Medium)
                .as_str()
                .to_owned()),
            status: Set(LeadStatus::Open.as_str().to_owned()),
            source: Set(input.source),
            custom_fields: Set(input.custom_fields.map(Value::Object)),
            contact_id: Set(contact_id),
            conversation_id: Set(conversation_id),
            appointment_id: Set(input.appointment_id),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        record(
            &txn,
            &lead,
            &input.actor,
            Entry::new("created").values(None, Some(column.name.clone())),
            now,
        )
        .await?;
        if let Some(n) = input.notes.filter(|n| !n.trim().is_empty()) {
            record(
                &txn,
                &lead,
                &input.actor,
                Entry::new("note").content(Some(n)),
                now,
            )
            .await?;
        }
        let view = self.lead_view(&txn, &lead, &money).await?;
        let queued = queue(
            &txn,
            lead.instance_id,
            vec![LeadEvent::new("created", view.clone(), now)],
            now,
        )
        .await?;
        txn.commit().await?;
        drop(permit);
        if queued {
            self.webhook_signal.notify();
        }
        self.live_news(
            lead.tenant_id,
            lead.instance_id,
            crate::service::live::Topic::Crm,
        )
        .await;
        Ok(view)
    }

    /// `GET /kanban/boards/{uuid}/leads`: with a column, in the column's order; otherwise
    /// newest first.
    pub async fn list_leads(
        &self,
        caller: &Caller,
        board: &str,
        filter: LeadFilter,
    ) -> AppResult<Page<LeadView>> {
        let scope = Scope::of(caller);
        let money = self.kanban_gate(scope).await?;
        let board = self.find_board(&self.db, scope, board).await?;
        // A column's leads are found by the column alone (it is the board's, checked below),
        // so its index serves the list and the count.
        let column = match filter.column_uuid {
            Some(u) => Some(
                kanban_column::Entity::find()
                    .filter(kanban_column::Column::BoardId.eq(board.id))
                    .filter(kanban_column::Column::Uuid.eq(u))
                    .one(&self.db)
                    .await?
                    .ok_or_else(|| {
                        AppError::validation(
                            "column_uuid",
                            "The column_uuid is not a column of the board.",
                        )
                    })?,
            ),
            None => None,
        };
        let by_column = column.is_some();
        let mut q = match &column {
            Some(c) => kanban_lead::Entity::find().filter(kanban_lead::Column::ColumnId.eq(c.id)),
            None => kanban_lead::Entity::find().filter(kanban_lead::Column::BoardId.eq(board.id)),
        }
        .filter(kanban_lead::Column::DeletedAt.is_null());
        if let Some(s) = filter.status {
            q = q.filter(kanban_lead::Column::Status.eq(s.as_str()));
        }
        if let Some(p) = filter.priority {
            q = q.filter(kanban_lead::Column::Priority.eq(p.as_str()));
        }
        if let Some(s) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            q = q.filter(crate::db::listing::contains_any(
                s,
                &[
                    kanban_lead::Column::Title,
                    kanban_lead::Column::Email,
                    kanban_lead::Column::PhoneNumber,
                ],
            ));
        }
        let total = q.clone().count(&self.db).await?;
        let q = if by_column {
            q.order_by_asc(kanban_lead::Column::Position)
                .order_by_asc(kanban_lead::Column::Id)
        } else {
            q.order_by_desc(kanban_lead::Column::Id)
        };
        let rows = q
            .offset(offset(filter.page, filter.per_page))
            .limit(filter.per_page)
            .all(&self.db)
            .await?;
        Ok(Page {
            items: self.lead_views(&self.db, &rows, &money).await?,
            total,
        })
    }

    /// `GET /kanban/leads/{uuid}`.
    pub async fn get_lead(&self, caller: &Caller, reference: &str) -> AppResult<LeadDetail> {
        let scope = Scope::of(caller);
        let money = self.kanban_gate(scope).await?;
        let lead = self.find_lead(&self.db, scope, reference).await?;
        self.lead_detail(&lead, &money).await
    }

    pub(super) async fn lead_detail(
        &self,
        lead: &kanban_lead::Model,
        money: &super::views::MoneyFormat,
    ) -> AppResult<LeadDetail> {
        let view = self.lead_view(&self.db, lead, money).await?;
        let notes = kanban_lead_activity::Entity::find()
            .filter(kanban_lead_activity::Column::LeadId.eq(lead.id))
            .filter(kanban_lead_activity::Column::Kind.eq("note"))
            .order_by_desc(kanban_lead_activity::Column::Id)
            .limit(100)
            .all(&self.db)
            .await?;
        Ok(LeadDetail::new(
            view,
            lead,
            notes.iter().map(NoteView::new).collect(),
        ))
    }

    /// `PUT /kanban/leads/{uuid}`.
    pub async fn update_lead_api(
        &self,
        caller: &Caller,
        reference: &str,
        mut patch: LeadPatch,
    ) -> AppResult<LeadView> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        patch.actor = Some(self.actor_of(caller).await?);
        self.update_lead_in(scope, reference, patch).await
    }

    pub(super) async fn update_lead_in(
        &self,
        scope: Scope,
        reference: &str,
        patch: LeadPatch,
    ) -> AppResult<LeadView> {
        let money = self.kanban_gate(scope).await?;
        let actor = patch.actor.clone().unwrap_or_else(Actor::system);
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let lead = self.find_lead(&txn, scope, reference).await?;
        let mut a: kanban_lead::ActiveModel = lead.clone().into();
        let mut changes: Vec<FieldChange> = Vec::new();
        let mut change = |field: &str, old: Option<String>, new: Option<String>| {
            if old != new {
                changes.push(FieldChange {
                    field: field.to_owned(),
                    old_value: old,
                    new_value: new,
                });
                true
            } else {
                false
            }
        };
        if let Some(t) = patch.title {
            let t = title_of(&t)?;
            if change("title", Some(lead.title.clone()), Some(t.clone())) {
                a.title = Set(t);
            }
        }
        let phone = patch
            .phone_number
            .map(|p| p.as_deref().map(phone_of).transpose())
            .transpose()?;
        let email = patch
            .email
            .map(|e| e.as_deref().map(email_of).transpose())
            .transpose()?;
        if let Some(p) = phone
            && change("phone_number", lead.phone_number.clone(), p.clone())
        {
            let (contact, conv) = self.link_ids(&txn, lead.instance_id, p.as_deref()).await?;
            a.contact_id = Set(contact);
            a.conversation_id = Set(conv);
            a.phone_number = Set(p);
        }
        if let Some(e) = email
            && change("email", lead.email.clone(), e.clone())
        {
            a.email = Set(e);
        }
        if let Some(v) = patch.value {
            let cents = v
                .map(|d| decimal_to_cents("value", d))
                .transpose()
                .map_err(|m| AppError::validation("value", m))?;
            if change(
                "value",
                lead.value_cents.map(cents_to_string),
                cents.map(cents_to_string),
            ) {
                a.value_cents = Set(cents);
            }
        }
        if let Some(p) = patch.priority
            && change(
                "priority",
                Some(lead.priority.clone()),
                Some(p.as_str().to_owned()),
            )
        {
            a.priority = Set(p.as_str().to_owned());
        }
        if let Some(c) = patch.custom_fields {
            let new = c.map(Value::Object);
            if change(
                "custom_fields",
                json_text(&lead.custom_fields),
                json_text(&new),
            ) {
                a.custom_fields = Set(new);
            }
        }
        let now = Utc::now();
        let mut events = Vec::new();
        let mut saved = lead.clone();
        if !changes.is_empty() {
            a.updated_at = Set(now);
            saved = a.update(&txn).await?;
            for c in &changes {
                let field: &str = &c.field;
                record(
                    &txn,
                    &saved,
                    &actor,
                    Entry::change(field, c.old_value.clone(), c.new_value.clone()),
                    now,
                )
                .await?;
            }
        }
        if let Some(n) = patch.note.filter(|n| !n.trim().is_empty()) {
            record(
                &txn,
                &saved,
                &actor,
                Entry::new("note").content(Some(n)),
                now,
            )
            .await?;
        }
        let mut moved = None;
        if let Some(col) = patch.column_uuid {
            let (m, from, to) = self.relocate(&txn, &saved, col, None, &actor).await?;
            if from.id != to.id {
                moved = Some((from, to));
            }
            saved = m;
        }
        let view = self.lead_view(&txn, &saved, &money).await?;
        if !changes.is_empty() {
            let mut e = LeadEvent::new("updated", view.clone(), now);
            e.changes = changes;
            events.push(e);
        }
        if let Some((from, to)) = moved {
            let mut e = LeadEvent::new("moved", view.clone(), now);
            e.from_column = Some((&from).into());
            e.to_column = Some((&to).into());
            events.push(e);
        }
        let queued = queue(&txn, saved.instance_id, events, now).await?;
        txn.commit().await?;
        drop(permit);
        if queued {
            self.webhook_signal.notify();
        }
        self.live_news(
            saved.tenant_id,
            saved.instance_id,
            crate::service::live::Topic::Crm,
        )
        .await;
        Ok(view)
    }

    /// `DELETE /kanban/leads/{uuid}`: hidden from every route from then on; the timeline
    /// keeps a `deleted` entry.
    pub async fn delete_lead(&self, caller: &Caller, reference: &str) -> AppResult<()> {
        let scope = Scope::of(caller);
        self.kanban_gate(scope).await?;
        let actor = self.actor_of(caller).await?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let lead = self.find_lead(&txn, scope, reference).await?;
        close_gap(&txn, lead.column_id, lead.position, lead.id).await?;
        let now = Utc::now();
        let mut a: kanban_lead::ActiveModel = lead.clone().into();
        a.deleted_at = Set(Some(now));
        a.updated_at = Set(now);
        let saved = a.update(&txn).await?;
        record(&txn, &saved, &actor, Entry::new("deleted"), now).await?;
        txn.commit().await?;
        self.live_news(
            saved.tenant_id,
            saved.instance_id,
            crate::service::live::Topic::Crm,
        )
        .await;
        Ok(())
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
