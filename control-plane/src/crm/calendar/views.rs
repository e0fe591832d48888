//! How appointments are shown (the API's `data` and the `appointment.*` webhooks' `data`):
//! every time in the tenant's time zone with its offset, as the reference shows them.

use chrono_tz::Tz;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{Status, show};
use crate::db::entities::appointment;

/// An appointment.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Appointment)]
pub struct AppointmentView {
    pub uuid: Uuid,
    /// The instance it belongs to (UUID); reminders go out through it.
    pub instance_id: Uuid,
    #[schema(example = "Consultation with John Doe")]
    pub title: String,
    #[schema(required = true)]
    pub description: Option<String>,
    #[schema(required = true, example = "John Doe")]
    pub client_name: Option<String>,
    /// Digits, country code first.
    #[schema(required = true, example = "5511999999999")]
    pub client_phone: Option<String>,
    #[schema(required = true, example = "john@example.com")]
    pub client_email: Option<String>,
    /// In the tenant's time zone, with its offset.
    #[schema(format = DateTime, example = "2026-05-01T10:00:00+00:00")]
    pub starts_at: String,
    #[schema(format = DateTime, example = "2026-05-01T11:00:00+00:00")]
    pub ends_at: String,
    #[schema(example = 60)]
    pub duration_minutes: i64,
    #[schema(value_type = Status)]
    pub status: String,
    #[schema(example = "#3b82f6")]
    pub color: String,
    /// Minutes before `starts_at` the client gets a WhatsApp reminder; `null`: none.
    #[schema(required = true, example = 30)]
    pub reminder_minutes: Option<i32>,
    #[schema(required = true, example = "Online - Google Meet")]
    pub location: Option<String>,
    #[schema(required = true)]
    pub notes: Option<String>,
    /// When the reminder went out.
    #[schema(required = true, format = DateTime)]
    pub reminder_sent_at: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub confirmed_at: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub completed_at: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub cancelled_at: Option<String>,
    #[schema(format = DateTime, example = "2026-01-01T00:00:00+00:00")]
    pub created_at: String,
    #[schema(format = DateTime, example = "2026-01-01T00:00:00+00:00")]
    pub updated_at: String,
}

impl AppointmentView {
    pub fn new(m: &appointment::Model, instance: Uuid, tz: Tz) -> AppointmentView {
        let opt = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| show(t, tz));
        AppointmentView {
            uuid: m.uuid,
            instance_id: instance,
            title: m.title.clone(),
            description: m.description.clone(),
            client_name: m.client_name.clone(),
            client_phone: m.client_phone.clone(),
            client_email: m.client_email.clone(),
            starts_at: show(m.starts_at, tz),
            ends_at: show(m.ends_at, tz),
            duration_minutes: (m.ends_at - m.starts_at).num_minutes(),
            status: m.status.clone(),
            color: m.color.clone(),
            reminder_minutes: m.reminder_minutes,
            location: m.location.clone(),
            notes: m.notes.clone(),
            reminder_sent_at: opt(m.reminder_sent_at),
            confirmed_at: opt(m.confirmed_at),
            completed_at: opt(m.completed_at),
            cancelled_at: opt(m.cancelled_at),
            created_at: show(m.created_at, tz),
            updated_at: show(m.updated_at, tz),
        }
    }
}

/// What happened to the appointment (`action` of the webhooks).
#[derive(ToSchema)]
#[schema(as = AppointmentAction, rename_all = "snake_case")]
#[allow(dead_code)]
pub enum Action {
    /// Created (`appointment.created`).
    Created,
    /// Fields changed by `PUT` (`appointment.updated`).
    Updated,
    /// Confirmed (`appointment.updated`).
    Confirmed,
    /// Completed (`appointment.updated`).
    Completed,
    /// Cancelled (`appointment.updated`).
    Cancelled,
    /// Marked `no_show` (`appointment.updated`).
    NoShow,
    /// Deleted (`appointment.updated`; the appointment as it was).
    Deleted,
    /// The client's reminder went out (`appointment.reminder_sent`).
    ReminderSent,
}

/// The reminder that went out.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AppointmentReminder)]
pub struct ReminderView {
    /// The WhatsApp message id of the reminder.
    #[schema(example = "3EB0ABC123456789")]
    pub whatsapp_message_id: String,
    /// The number it was sent to.
    #[schema(example = "5511999999999")]
    pub recipient_number: String,
    #[schema(
        example = "Hi John Doe! Reminder: Consultation with John Doe on 2026-05-01 at 10:00."
    )]
    pub content: String,
}

/// `data` of `appointment.created`, `appointment.updated` and `appointment.reminder_sent`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = WebhookAppointment)]
pub struct AppointmentEvent {
    #[schema(value_type = Action)]
    pub action: &'static str,
    /// The status before a status change; `null` otherwise.
    #[schema(required = true, value_type = Option<Status>)]
    pub previous_status: Option<String>,
    pub appointment: AppointmentView,
    /// On `appointment.reminder_sent`: the message sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reminder: Option<ReminderView>,
}
