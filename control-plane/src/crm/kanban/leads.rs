//! Leads: create and update (the API's and every other part's entry points; the writes
//! themselves are in `lead_writes`), list a board's with filters, show with notes, custom
//! fields and AI analysis, soft delete.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::body::LeadInput;
use super::model::{LeadPatch, LeadStatus, NewLead, Priority};
use super::moves::close_gap;
use super::store::{Entry, leads_of, record};
use super::views::{LeadDetail, LeadView, NoteView};
use super::{Page, Scope};
use crate::db::entities::{kanban_column, kanban_lead, kanban_lead_activity};
use crate::db::listing::page_of;
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
        if let Some(c) = crate::db::listing::search(
            filter.search.as_deref(),
            &[
                kanban_lead::Column::Title,
                kanban_lead::Column::Email,
                kanban_lead::Column::PhoneNumber,
            ],
        ) {
            q = q.filter(c);
        }
        let q = if by_column {
            q.order_by_asc(kanban_lead::Column::Position)
                .order_by_asc(kanban_lead::Column::Id)
        } else {
            q.order_by_desc(kanban_lead::Column::Id)
        };
        let (rows, total) = page_of(&self.db, q, filter.page, filter.per_page).await?;
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
        self.live_news(saved.tenant_id, saved.instance_id, crate::live::Topic::Crm)
            .await;
        Ok(())
    }
}
