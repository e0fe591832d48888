//! `POST /calendar/appointments/{uuid}/to-kanban`: a Kanban lead from an appointment, in
//! the given board or its instance's default board, carrying the client's data and linked
//! to the appointment (one lead per appointment: a second call answers the same lead). The
//! lead itself is the Kanban module's (`create_lead`, `lead_for_appointment`).

use serde_json::Value;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;

use super::model::show;
use crate::db::entities::appointment;
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// What `to-kanban` answers.
pub struct ToKanban {
    /// `false`: the appointment already had its lead, answered as it is.
    pub created: bool,
    /// The lead as the Kanban API shows it.
    pub lead: Value,
}

/// The lead's notes: when and where the appointment is, and its own notes.
pub fn lead_notes(m: &appointment::Model, tz: chrono_tz::Tz) -> String {
    let mut notes = format!(
        "Appointment \"{}\" ({} to {})",
        m.title,
        show(m.starts_at, tz),
        show(m.ends_at, tz)
    );
    if let Some(l) = &m.location {
        notes.push_str(&format!(", {l}"));
    }
    notes.push('.');
    for extra in [&m.description, &m.notes].into_iter().flatten() {
        notes.push('\n');
        notes.push_str(extra);
    }
    notes
}

impl Services {
    /// Needs `kanban_enabled` (403 `KANBAN_NOT_ENABLED`, before anything else is looked at);
    /// the appointment is the caller's (404).
    pub async fn appointment_to_kanban(
        &self,
        caller: &Caller,
        reference: &str,
        board_uuid: Option<Uuid>,
    ) -> AppResult<ToKanban> {
        let features = self.require_kanban(caller.tenant()).await?;
        let m = self.find_appointment(caller, reference).await?;
        let notes = lead_notes(&m, features.tz());
        let (created, lead) = self
            .lead_from_appointment(caller, &m, board_uuid, notes)
            .await?;
        Ok(ToKanban { created, lead })
    }

    // LEAD-GLUE: kanban's `lead_for_appointment(caller.tenant(), m.id)`; when it answers a
    // lead, return `(false, lead)`. Otherwise `create_lead(caller.tenant(), NewLead {
    // board_uuid, instance_id: Some(InstanceId(m.instance_id)), column_uuid: None, title:
    // m.client_name or else m.title, phone_number: m.client_phone, email: m.client_email,
    // value: None, priority: None, notes: Some(notes), source: "calendar", appointment_id:
    // Some(m.id), actor: the caller })` and return `(true, lead)`; a unique violation on
    // `appointment_id` (a concurrent call won) reads `lead_for_appointment` again and returns
    // `(false, lead)`. The lead serialized with `serde_json::to_value`.
    async fn lead_from_appointment(
        &self,
        caller: &Caller,
        m: &appointment::Model,
        board_uuid: Option<Uuid>,
        notes: String,
    ) -> AppResult<(bool, Value)> {
        let _ = (caller, m, board_uuid, notes);
        Err(AppError::new(
            ErrorCode::KanbanNotEnabled,
            "Kanban leads are not available in this build.",
        ))
    }
}
