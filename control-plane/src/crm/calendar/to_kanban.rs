//! `POST /calendar/appointments/{uuid}/to-kanban`: a Kanban lead from an appointment, in
//! the given board or its instance's default board, carrying the client's data and linked
//! to the appointment (one lead per appointment: a second call answers the same lead). The
//! lead itself is the Kanban module's (`create_lead`, `lead_for_appointment`).

use serde_json::Value;
use uuid::Uuid;

use super::model::show;
use crate::crm::kanban::{Actor, NewLead};
use crate::db::entities::appointment;
use crate::domain::{Caller, InstanceId};
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
    /// The Kanban lead made from an appointment, if any (the appointment is the caller's,
    /// else 404; `KANBAN_NOT_ENABLED` without Kanban).
    pub async fn appointment_lead(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<Option<crate::crm::kanban::LeadView>> {
        self.require_kanban(caller.tenant()).await?;
        let m = self.find_appointment(caller, reference).await?;
        self.lead_for_appointment(caller.tenant(), m.id).await
    }

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

    /// The appointment's lead: the one it already has (`false`), else a new one with the
    /// client's data on `board_uuid` or the instance's default board (`true`). Kanban's
    /// `create_lead` keeps one lead per appointment, so concurrent calls make one lead.
    async fn lead_from_appointment(
        &self,
        caller: &Caller,
        m: &appointment::Model,
        board_uuid: Option<Uuid>,
        notes: String,
    ) -> AppResult<(bool, Value)> {
        let tenant = caller.tenant();
        let as_json =
            |lead| serde_json::to_value(lead).map_err(|e| AppError::internal(e.to_string()));
        if let Some(lead) = self.lead_for_appointment(tenant, m.id).await? {
            return Ok((false, as_json(lead)?));
        }
        let title = m
            .client_name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| m.title.clone());
        let mut lead = NewLead::titled(title, "calendar", Actor::calendar());
        lead.board_uuid = board_uuid;
        lead.instance_id = Some(InstanceId(m.instance_id));
        lead.phone_number = m.client_phone.clone();
        lead.email = m.client_email.clone();
        lead.notes = Some(notes);
        lead.appointment_id = Some(m.id);
        let lead = self.create_lead(tenant, lead).await?;
        Ok((true, as_json(lead)?))
    }
}
