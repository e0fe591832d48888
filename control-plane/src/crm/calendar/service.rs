//! The Calendar API's use-cases. Appointments are the tenant's, and for an `sk_` token its
//! instance's; anything else is 404. Every write runs in one transaction with its reminder
//! job (scheduled, moved or cancelled) and its `appointment.*` webhook.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, Select,
};
use serde_json::{Map, Value};
use uuid::Uuid;
use zapini_shared::error::ErrorCode;

use super::body::{self, AppointmentInput};
use super::model::{self, DEFAULT_COLOR, Status};
use super::views::{AppointmentEvent, AppointmentView};
use crate::automation::lookup::uuids_by_id;
use crate::db::entities::{appointment, instance};
use crate::domain::{Caller, TenantId};
use crate::error::{AppError, AppResult};
use crate::jobs;
use crate::service::Services;
use crate::webhooks::events::{Kind, Occurrence};
use crate::webhooks::outbox::Outbox;

/// The list's filters (the range already resolved).
#[derive(Debug, Clone)]
pub struct AppointmentFilter {
    /// An instance's numeric id or UUID.
    pub instance: Option<String>,
    pub start: Option<String>,
    pub end: Option<String>,
    pub status: Option<Status>,
    pub page: u64,
    pub per_page: u64,
}

/// A page of appointments, how many match, and the range listed.
pub struct AppointmentPage {
    pub items: Vec<AppointmentView>,
    pub total: u64,
    pub start: String,
    pub end: String,
}

fn not_found() -> AppError {
    AppError::not_found(ErrorCode::NotFound, "Appointment")
}

use crate::db::listing::page_of;

/// The `appointment.*` occurrence: `sub` picks the name (`created`, `updated`,
/// `reminder_sent`).
pub(super) fn occurrence(sub: &str, event: &AppointmentEvent) -> Occurrence {
    Occurrence {
        kind: Kind::Appointment,
        connection: Some(sub.to_owned()),
        ordering_key: format!("appointment:{}", event.appointment.uuid),
        data: serde_json::to_value(event).unwrap_or_default(),
        at: Utc::now(),
    }
}

impl Services {
    /// The tenant's time zone.
    pub(crate) async fn tenant_tz(&self, tenant: TenantId) -> AppResult<Tz> {
        Ok(self.tenant_features(tenant).await?.tz())
    }

    fn appointments_of(caller: &Caller) -> Select<appointment::Entity> {
        let mut q =
            appointment::Entity::find().filter(appointment::Column::TenantId.eq(caller.tenant().0));
        if let Some(bound) = caller.bound_instance() {
            q = q.filter(appointment::Column::InstanceId.eq(bound.0));
        }
        q
    }

    pub(super) async fn find_appointment(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<appointment::Model> {
        let uuid = Uuid::parse_str(reference.trim()).map_err(|_| not_found())?;
        Self::appointments_of(caller)
            .filter(appointment::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
            .ok_or_else(not_found)
    }

    async fn appointment_instance_uuids(&self, ids: Vec<i64>) -> AppResult<HashMap<i64, Uuid>> {
        uuids_by_id(&self.db, instance::Column::Id, instance::Column::Uuid, ids).await
    }

    pub(super) async fn appointment_view(
        &self,
        m: &appointment::Model,
        tz: Tz,
    ) -> AppResult<AppointmentView> {
        let uuids = self.appointment_instance_uuids(vec![m.instance_id]).await?;
        Ok(AppointmentView::new(
            m,
            uuids.get(&m.instance_id).copied().unwrap_or_default(),
            tz,
        ))
    }

    /// The instance of a new appointment: `instance_id`, else an `sk_` token's own; a user
    /// token must name one.
    async fn appointment_instance(
        &self,
        caller: &Caller,
        reference: Option<&str>,
    ) -> AppResult<instance::Model> {
        match (reference, caller) {
            (None, Caller::User { .. }) => Err(AppError::validation(
                "instance_id",
                "The instance_id field is required with a user token (the instance whose WhatsApp sends the reminders).",
            )),
            _ => self.send_target(caller, reference).await,
        }
    }

    pub async fn list_appointments(
        &self,
        caller: &Caller,
        filter: AppointmentFilter,
    ) -> AppResult<AppointmentPage> {
        let tz = self.tenant_tz(caller.tenant()).await?;
        let (from, to) = model::range(
            filter.start.as_deref(),
            filter.end.as_deref(),
            tz,
            Utc::now(),
        )?;
        // One instance (the token's, or the filter's: both the tenant's) is read by the
        // instance index alone, the tenant's by the tenant index: the count is then answered
        // from the index without reading rows.
        let instance = match &filter.instance {
            Some(reference) => Some(self.find_instance(caller, reference).await?.id),
            None => caller.bound_instance().map(|i| i.0),
        };
        let mut q = match instance {
            Some(id) => appointment::Entity::find().filter(appointment::Column::InstanceId.eq(id)),
            None => appointment::Entity::find()
                .filter(appointment::Column::TenantId.eq(caller.tenant().0)),
        };
        if let Some(s) = filter.status {
            q = q.filter(appointment::Column::Status.eq(s.as_str()));
        }
        q = q
            .filter(appointment::Column::StartsAt.gte(from))
            .filter(appointment::Column::StartsAt.lt(to));
        let (rows, total) = page_of(
            &self.db,
            q.order_by_asc(appointment::Column::StartsAt)
                .order_by_asc(appointment::Column::Id),
            filter.page,
            filter.per_page,
        )
        .await?;
        let uuids = self
            .appointment_instance_uuids(rows.iter().map(|r| r.instance_id).collect())
            .await?;
        Ok(AppointmentPage {
            items: rows
                .iter()
                .map(|m| {
                    AppointmentView::new(
                        m,
                        uuids.get(&m.instance_id).copied().unwrap_or_default(),
                        tz,
                    )
                })
                .collect(),
            total,
            start: model::show(from, tz),
            end: model::show(to, tz),
        })
    }

    pub async fn get_appointment(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<AppointmentView> {
        let tz = self.tenant_tz(caller.tenant()).await?;
        let m = self.find_appointment(caller, reference).await?;
        self.appointment_view(&m, tz).await
    }

    pub async fn create_appointment(
        &self,
        caller: &Caller,
        body: Map<String, Value>,
    ) -> AppResult<AppointmentView> {
        let tz = self.tenant_tz(caller.tenant()).await?;
        let input = body::parse_body(body, tz, true)?;
        let (starts_at, ends_at) = body::span(&input, None)?;
        let inst = self
            .appointment_instance(caller, input.instance_id.as_deref())
            .await?;
        let now = Utc::now();
        let row = appointment::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(inst.tenant_id),
            instance_id: Set(inst.id),
            title: Set(input.title.clone().unwrap_or_default()),
            description: Set(input.description.clone().flatten()),
            client_name: Set(input.client_name.clone().flatten()),
            client_phone: Set(input.client_phone.clone().flatten()),
            client_email: Set(input.client_email.clone().flatten()),
            starts_at: Set(starts_at),
            ends_at: Set(ends_at),
            status: Set(Status::Scheduled.as_str().into()),
            color: Set(input.color.clone().unwrap_or_else(|| DEFAULT_COLOR.into())),
            reminder_minutes: Set(input.reminder_minutes.flatten()),
            location: Set(input.location.clone().flatten()),
            notes: Set(input.notes.clone().flatten()),
            reminder_sent_at: Set(None),
            confirmed_at: Set(None),
            completed_at: Set(None),
            cancelled_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let mut outbox = Outbox::load(&txn, inst.id).await?;
        let saved = row.insert(&txn).await?;
        sync_reminder(&txn, &saved).await?;
        let view = AppointmentView::new(&saved, inst.uuid, tz);
        let event = AppointmentEvent {
            action: "created",
            previous_status: None,
            appointment: view.clone(),
            reminder: None,
        };
        outbox.push(occurrence("created", &event));
        let queued = outbox.flush(&txn, &inst).await?;
        txn.commit().await?;
        if queued > 0 {
            self.webhook_signal.notify();
        }
        self.live_news(saved.tenant_id, saved.instance_id, crate::live::Topic::Crm)
            .await;
        Ok(view)
    }

    /// `PUT`: the fields given replace the stored ones; `status` follows the transitions.
    pub async fn update_appointment(
        &self,
        caller: &Caller,
        reference: &str,
        body: Map<String, Value>,
    ) -> AppResult<AppointmentView> {
        let tz = self.tenant_tz(caller.tenant()).await?;
        let input = body::parse_body(body, tz, false)?;
        let current = self.find_appointment(caller, reference).await?;
        let inst = match &input.instance_id {
            Some(r) => Some(self.appointment_instance(caller, Some(r)).await?),
            None => None,
        };
        self.write_appointment(caller, current, tz, |m| {
            apply_update(m, &input, inst.as_ref())
        })
        .await
    }

    /// `confirm`, `complete`, `cancel`.
    pub async fn transition_appointment(
        &self,
        caller: &Caller,
        reference: &str,
        to: Status,
    ) -> AppResult<AppointmentView> {
        let tz = self.tenant_tz(caller.tenant()).await?;
        let current = self.find_appointment(caller, reference).await?;
        self.write_appointment(caller, current, tz, |m| {
            let input = AppointmentInput {
                status: Some(to),
                ..AppointmentInput::default()
            };
            apply_update(m, &input, None)
        })
        .await
    }

    /// Re-reads the appointment inside the write, changes it with `change` (which answers
    /// the webhook's action and the previous status), saves it with its reminder and event.
    async fn write_appointment(
        &self,
        caller: &Caller,
        current: appointment::Model,
        tz: Tz,
        change: impl FnOnce(&mut appointment::Model) -> AppResult<(&'static str, Option<String>)>,
    ) -> AppResult<AppointmentView> {
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        // The row as it is now (a concurrent transition may have committed meanwhile).
        let mut m = Self::appointments_of(caller)
            .filter(appointment::Column::Id.eq(current.id))
            .one(&txn)
            .await?
            .ok_or_else(not_found)?;
        let before = m.clone();
        let (action, previous_status) = change(&mut m)?;
        m.updated_at = Utc::now();
        let mut active: appointment::ActiveModel = before.clone().into();
        set_all(&mut active, &m);
        let saved = active.update(&txn).await?;
        let inst = instance::Entity::find_by_id(saved.instance_id)
            .one(&txn)
            .await?
            .ok_or_else(not_found)?;
        // The instance it is on now (an update may have moved it).
        let mut outbox = Outbox::load(&txn, inst.id).await?;
        sync_reminder(&txn, &saved).await?;
        let view = AppointmentView::new(&saved, inst.uuid, tz);
        let event = AppointmentEvent {
            action,
            previous_status,
            appointment: view.clone(),
            reminder: None,
        };
        outbox.push(occurrence("updated", &event));
        let queued = outbox.flush(&txn, &inst).await?;
        txn.commit().await?;
        if queued > 0 {
            self.webhook_signal.notify();
        }
        self.live_news(saved.tenant_id, saved.instance_id, crate::live::Topic::Crm)
            .await;
        Ok(view)
    }

    pub async fn delete_appointment(&self, caller: &Caller, reference: &str) -> AppResult<()> {
        let tz = self.tenant_tz(caller.tenant()).await?;
        let m = self.find_appointment(caller, reference).await?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let deleted = appointment::Entity::delete_many()
            .filter(appointment::Column::Id.eq(m.id))
            .exec(&txn)
            .await?
            .rows_affected;
        if deleted == 0 {
            return Err(not_found());
        }
        jobs::remove(&txn, jobs::APPOINTMENT_REMINDER, &m.uuid.to_string()).await?;
        let inst = instance::Entity::find_by_id(m.instance_id)
            .one(&txn)
            .await?;
        let mut queued = 0;
        if let Some(inst) = inst {
            let mut outbox = Outbox::load(&txn, inst.id).await?;
            let event = AppointmentEvent {
                action: "deleted",
                previous_status: None,
                appointment: AppointmentView::new(&m, inst.uuid, tz),
                reminder: None,
            };
            outbox.push(occurrence("updated", &event));
            queued = outbox.flush(&txn, &inst).await?;
        }
        txn.commit().await?;
        if queued > 0 {
            self.webhook_signal.notify();
        }
        self.live_news(m.tenant_id, m.instance_id, crate::live::Topic::Crm)
            .await;
        Ok(())
    }
}

/// Applies an update's fields to `m`; answers the webhook's action and the previous status.
fn apply_update(
    m: &mut appointment::Model,
    input: &AppointmentInput,
    inst: Option<&instance::Model>,
) -> AppResult<(&'static str, Option<String>)> {
    let (starts_at, ends_at) = body::span(input, Some((m.starts_at, m.ends_at)))?;
    let current = Status::parse(&m.status).unwrap_or(Status::Scheduled);
    let mut action = "updated";
    let mut previous = None;
    if let Some(to) = input.status
        && to != current
    {
        model::check_transition(current, to)?;
        let now = Utc::now();
        match to {
            Status::Confirmed => m.confirmed_at = Some(now),
            Status::Completed => m.completed_at = Some(now),
            Status::Cancelled => m.cancelled_at = Some(now),
            Status::Scheduled | Status::NoShow => {}
        }
        action = match to {
            Status::Confirmed => "confirmed",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::NoShow => "no_show",
            Status::Scheduled => "updated",
        };
        previous = Some(current.as_str().to_owned());
        m.status = to.as_str().to_owned();
    } else if let Some(to) = input.status
        && input_is_only_status(input)
    {
        // A transition route asking for the status it already has.
        model::check_transition(current, to)?;
    }
    if let Some(inst) = inst {
        m.instance_id = inst.id;
    }
    if let Some(v) = &input.title {
        m.title = v.clone();
    }
    let set = |slot: &mut Option<String>, v: &Option<Option<String>>| {
        if let Some(v) = v {
            *slot = v.clone();
        }
    };
    set(&mut m.description, &input.description);
    set(&mut m.client_name, &input.client_name);
    set(&mut m.client_phone, &input.client_phone);
    set(&mut m.client_email, &input.client_email);
    set(&mut m.location, &input.location);
    set(&mut m.notes, &input.notes);
    m.starts_at = starts_at;
    m.ends_at = ends_at;
    if let Some(c) = &input.color {
        m.color = c.clone();
    }
    if let Some(r) = input.reminder_minutes {
        m.reminder_minutes = r;
    }
    Ok((action, previous))
}

/// A body with nothing but `status` (the transition routes).
fn input_is_only_status(input: &AppointmentInput) -> bool {
    let AppointmentInput {
        instance_id,
        title,
        description,
        client_name,
        client_phone,
        client_email,
        starts_at,
        ends_at,
        duration_minutes,
        status: _,
        color,
        reminder_minutes,
        location,
        notes,
    } = input;
    instance_id.is_none()
        && title.is_none()
        && description.is_none()
        && client_name.is_none()
        && client_phone.is_none()
        && client_email.is_none()
        && starts_at.is_none()
        && ends_at.is_none()
        && duration_minutes.is_none()
        && color.is_none()
        && reminder_minutes.is_none()
        && location.is_none()
        && notes.is_none()
}

/// Marks every changed column of `m` as set on `a`.
fn set_all(a: &mut appointment::ActiveModel, m: &appointment::Model) {
    a.instance_id = Set(m.instance_id);
    a.title = Set(m.title.clone());
    a.description = Set(m.description.clone());
    a.client_name = Set(m.client_name.clone());
    a.client_phone = Set(m.client_phone.clone());
    a.client_email = Set(m.client_email.clone());
    a.starts_at = Set(m.starts_at);
    a.ends_at = Set(m.ends_at);
    a.status = Set(m.status.clone());
    a.color = Set(m.color.clone());
    a.reminder_minutes = Set(m.reminder_minutes);
    a.location = Set(m.location.clone());
    a.notes = Set(m.notes.clone());
    a.confirmed_at = Set(m.confirmed_at);
    a.completed_at = Set(m.completed_at);
    a.cancelled_at = Set(m.cancelled_at);
    a.updated_at = Set(m.updated_at);
}

/// When the appointment's reminder is due: open, with `reminder_minutes` and a phone.
pub(super) fn reminder_due(m: &appointment::Model) -> Option<DateTime<Utc>> {
    let open = Status::parse(&m.status).is_some_and(Status::is_open);
    match (open, m.reminder_minutes, &m.client_phone) {
        (true, Some(minutes), Some(_)) => {
            Some(m.starts_at - chrono::Duration::minutes(i64::from(minutes)))
        }
        _ => None,
    }
}

/// Keeps the reminder job in step with the appointment: scheduled (or moved) to its due time,
/// left alone when already there or already sent for that time, cancelled when none is due.
async fn sync_reminder(txn: &DatabaseTransaction, m: &appointment::Model) -> AppResult<()> {
    let subject = m.uuid.to_string();
    let Some(due) = reminder_due(m) else {
        return jobs::cancel(txn, jobs::APPOINTMENT_REMINDER, &subject).await;
    };
    if m.reminder_sent_at.is_some_and(|at| at >= due) {
        return Ok(());
    }
    match jobs::find(txn, jobs::APPOINTMENT_REMINDER, &subject).await? {
        Some(job) if !job.done && job.due_at == due => Ok(()),
        _ => {
            jobs::schedule(
                txn,
                jobs::APPOINTMENT_REMINDER,
                &subject,
                Some(m.tenant_id),
                due,
            )
            .await
        }
    }
}
