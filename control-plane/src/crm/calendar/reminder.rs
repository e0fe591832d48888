//! The appointment reminder, the first kind of the durable scheduler (`crate::jobs`): at
//! `starts_at - reminder_minutes` the client gets a WhatsApp text through the appointment's
//! instance, from the tenant's `reminder_template` or a default in the tenant's language.
//!
//! Exactly once: the send carries the client reference `reminder:<appointment>:<due epoch>`,
//! which the node answers with the first send's id when a crashed attempt is run again;
//! `reminder_sent_at` (written with the `appointment.reminder_sent` webhook) stops a later
//! run. Cancelled, completed, no-show and deleted appointments are skipped, and so is one
//! whose start has passed.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
use zapini_shared::error::ErrorCode;
use zapini_shared::jid::Jid;

use super::service::{occurrence, reminder_due};
use super::views::{AppointmentEvent, AppointmentView, ReminderView};
use crate::db::entities::{appointment, instance, scheduled_job};
use crate::domain::TenantId;
use crate::error::{AppError, AppResult};
use crate::jobs::{Outcome, backoff};
use crate::service::Services;
use crate::service::ingest::InMessage;
use crate::webhooks::outbox::Outbox;

/// The client reference of the reminder due at `due`.
pub fn client_ref(appointment: Uuid, due: DateTime<Utc>) -> String {
    format!("reminder:{}:{}", appointment.simple(), due.timestamp())
}

/// `05/01/2026` (en-US), `01/05/2026` (pt, es, fr, it, en-GB…), `01.05.2026` (de),
/// `2026-05-01` otherwise; times `10:00` (`10:00 AM` for en-US).
fn date_and_time(at: DateTime<Tz>, locale: &str) -> (String, String) {
    let l = locale.to_ascii_lowercase();
    let lang = l.split(['-', '_']).next().unwrap_or_default();
    let date = if l == "en-us" || l == "en_us" {
        at.format("%m/%d/%Y")
    } else if lang == "de" {
        at.format("%d.%m.%Y")
    } else if matches!(lang, "pt" | "es" | "fr" | "it" | "en") {
        at.format("%d/%m/%Y")
    } else {
        at.format("%Y-%m-%d")
    };
    let time = if l == "en-us" || l == "en_us" {
        at.format("%I:%M %p")
    } else {
        at.format("%H:%M")
    };
    (date.to_string(), time.to_string())
}

/// The reminder's text: the tenant's template with `{{client_name}}`, `{{title}}`,
/// `{{date}}`, `{{time}}`, `{{end_time}}`, `{{location}}`, `{{description}}`,
/// `{{duration_minutes}}` filled in (in the tenant's time zone; an unknown placeholder stays
/// as written), or a default in the tenant's language (Portuguese, Spanish, else English).
pub fn render(m: &appointment::Model, template: Option<&str>, locale: &str, tz: Tz) -> String {
    let starts = m.starts_at.with_timezone(&tz);
    let (date, time) = date_and_time(starts, locale);
    let (_, end_time) = date_and_time(m.ends_at.with_timezone(&tz), locale);
    let name = m.client_name.clone().unwrap_or_default();
    let location = m.location.clone().unwrap_or_default();
    if let Some(t) = template.filter(|t| !t.trim().is_empty()) {
        return [
            ("client_name", name.as_str()),
            ("title", m.title.as_str()),
            ("date", date.as_str()),
            ("time", time.as_str()),
            ("end_time", end_time.as_str()),
            ("location", location.as_str()),
            ("description", m.description.as_deref().unwrap_or_default()),
            (
                "duration_minutes",
                &(m.ends_at - m.starts_at).num_minutes().to_string(),
            ),
        ]
        .iter()
        .fold(t.to_owned(), |text, (key, value)| {
            text.replace(&format!("{{{{{key}}}}}", key = key), value)
                .replace(&format!("{{{{ {key} }}}}", key = key), value)
        });
    }
    let lang = locale
        .split(['-', '_'])
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let (hello, body, at_place) = match lang.as_str() {
        "pt" => (
            "Olá",
            format!("lembrete: {} em {date} às {time}.", m.title),
            "Local",
        ),
        "es" => (
            "Hola",
            format!("recordatorio: {} el {date} a las {time}.", m.title),
            "Lugar",
        ),
        _ => (
            "Hi",
            format!("reminder: {} on {date} at {time}.", m.title),
            "Location",
        ),
    };
    let mut text = if name.is_empty() {
        format!("{hello}! {}", capitalize(&body))
    } else {
        format!("{hello}, {name}! {}", capitalize(&body))
    };
    if !location.is_empty() {
        text.push_str(&format!(" {at_place}: {location}."));
    }
    text
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A refusal a later attempt may not get (a bad number, the daily limit): not retried.
fn retryable(e: &AppError) -> bool {
    match e {
        AppError::Client(body) => matches!(
            body.code,
            ErrorCode::NodeUnavailable | ErrorCode::InstanceNotConnected
        ),
        _ => true,
    }
}

impl Services {
    /// Runs one reminder job (see the module).
    pub(crate) async fn run_appointment_reminder(
        &self,
        job: &scheduled_job::Model,
    ) -> AppResult<Outcome> {
        let Ok(uuid) = Uuid::parse_str(&job.subject) else {
            return Ok(Outcome::Failed("not an appointment UUID".into()));
        };
        let Some(m) = appointment::Entity::find()
            .filter(appointment::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
        else {
            return Ok(Outcome::Done);
        };
        // Closed, without a reminder or a phone: nothing to send.
        let Some(due) = reminder_due(&m) else {
            return Ok(Outcome::Done);
        };
        let now = Utc::now();
        if due > now + chrono::Duration::seconds(1) {
            // Claimed before its time (moved by a concurrent update): wait for it.
            return Ok(Outcome::Retry(due, "not due yet".into()));
        }
        if m.reminder_sent_at.is_some_and(|at| at >= due) {
            return Ok(Outcome::Done);
        }
        if now >= m.starts_at {
            return Ok(Outcome::Failed(
                "the appointment had started before the reminder could go out".into(),
            ));
        }
        let Some(inst) = instance::Entity::find_by_id(m.instance_id)
            .one(&self.db)
            .await?
        else {
            return Ok(Outcome::Done);
        };
        let features = self.tenant_features(TenantId(m.tenant_id)).await?;
        let tz = features.tz();
        let text = render(
            &m,
            features.reminder_template.as_deref(),
            &features.locale,
            tz,
        );
        let phone = m.client_phone.clone().unwrap_or_default();
        let to = match Jid::parse_recipient(&phone) {
            Ok(j) => j.without_device().to_string(),
            Err(_) => return Ok(Outcome::Failed(format!("{phone} is not a WhatsApp number"))),
        };
        let reference = client_ref(m.uuid, due);
        let sent = match self.send_reminder(&inst, &to, &text, &reference).await {
            Ok(s) => s,
            Err(e) if retryable(&e) => {
                return Ok(Outcome::Retry(backoff(job.attempts), e.to_string()));
            }
            Err(e) => return Ok(Outcome::Failed(e.to_string())),
        };
        self.reminder_sent(
            &m,
            &inst,
            tz,
            due,
            ReminderView {
                whatsapp_message_id: sent,
                recipient_number: phone,
                content: text,
            },
        )
        .await?;
        Ok(Outcome::Done)
    }

    /// Sends the text with its client reference and stores it in the conversation at once
    /// (the node's own `message.sent` event then finds it); answers the WhatsApp id.
    async fn send_reminder(
        &self,
        inst: &instance::Model,
        to: &str,
        text: &str,
        reference: &str,
    ) -> AppResult<String> {
        let sent_today = self.sent_today_count(inst.id).await?;
        if sent_today >= i64::from(inst.daily_limit) {
            return Err(AppError::new(
                ErrorCode::DailyLimitExceeded,
                format!(
                    "Daily limit of {} messages reached for this instance.",
                    inst.daily_limit
                ),
            ));
        }
        let node = self.require_node(inst).await?;
        let sent = node
            .send_text(to, text, None, true, Some(reference))
            .await?;
        let record = InMessage {
            id: sent.message_id.clone(),
            chat_jid: to.to_owned(),
            from_me: true,
            message_type: "text".into(),
            text: text.to_owned(),
            timestamp: chrono::TimeZone::timestamp_millis_opt(&Utc, sent.timestamp_ms)
                .single()
                .unwrap_or_else(Utc::now),
            client_ref: Some(reference.to_owned()),
            ..InMessage::default()
        };
        crate::service::retry_write("recording a reminder", || {
            self.record_message(inst, record.clone())
        })
        .await?;
        Ok(sent.message_id)
    }

    /// Records that the reminder went out and queues `appointment.reminder_sent`.
    async fn reminder_sent(
        &self,
        m: &appointment::Model,
        inst: &instance::Model,
        tz: Tz,
        due: DateTime<Utc>,
        reminder: ReminderView,
    ) -> AppResult<()> {
        let now = Utc::now();
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let marked = appointment::Entity::update_many()
            .col_expr(appointment::Column::ReminderSentAt, Expr::value(now))
            .filter(appointment::Column::Id.eq(m.id))
            .filter(
                sea_orm::Condition::any()
                    .add(appointment::Column::ReminderSentAt.is_null())
                    .add(appointment::Column::ReminderSentAt.lt(due)),
            )
            .exec(&txn)
            .await?
            .rows_affected;
        let mut queued = 0;
        if marked == 1 {
            let mut outbox = Outbox::load(&txn, inst.id).await?;
            let mut shown = m.clone();
            shown.reminder_sent_at = Some(now);
            let event = AppointmentEvent {
                action: "reminder_sent",
                previous_status: None,
                appointment: AppointmentView::new(&shown, inst.uuid, tz),
                reminder: Some(reminder),
            };
            outbox.push(occurrence("reminder_sent", &event));
            queued = outbox.flush(&txn, inst).await?;
        }
        txn.commit().await?;
        if queued > 0 {
            self.webhook_signal.notify();
        }
        if marked == 1 {
            self.live_news(m.tenant_id, m.instance_id, crate::live::Topic::Crm)
                .await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn appointment() -> appointment::Model {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        appointment::Model {
            id: 1,
            uuid: Uuid::nil(),
            tenant_id: 1,
            instance_id: 1,
            title: "Consultation".into(),
            description: None,
            client_name: Some("John".into()),
            client_phone: Some("5511999999999".into()),
            client_email: None,
            starts_at: at("2026-05-01T13:00:00Z"),
            ends_at: at("2026-05-01T14:00:00Z"),
            status: "scheduled".into(),
            color: "#3b82f6".into(),
            reminder_minutes: Some(30),
            location: Some("Online".into()),
            notes: None,
            reminder_sent_at: None,
            confirmed_at: None,
            completed_at: None,
            cancelled_at: None,
            created_at: at("2026-04-01T00:00:00Z"),
            updated_at: at("2026-04-01T00:00:00Z"),
        }
    }

    #[test]
    fn a_template_is_filled_in_the_tenant_zone() {
        let sp: Tz = "America/Sao_Paulo".parse().unwrap();
        let text = render(
            &appointment(),
            Some(
                "{{client_name}}: {{title}} {{date}} {{ time }}-{{end_time}} @ {{location}} {{unknown}}",
            ),
            "pt-BR",
            sp,
        );
        assert_eq!(
            text,
            "John: Consultation 01/05/2026 10:00-11:00 @ Online {{unknown}}"
        );
    }

    #[test]
    fn the_default_speaks_the_tenant_language() {
        let m = appointment();
        assert_eq!(
            render(&m, None, "pt-BR", chrono_tz::UTC),
            "Olá, John! Lembrete: Consultation em 01/05/2026 às 13:00. Local: Online."
        );
        let mut anonymous = m.clone();
        anonymous.client_name = None;
        anonymous.location = None;
        assert_eq!(
            render(&anonymous, Some("  "), "en-US", chrono_tz::UTC),
            "Hi! Reminder: Consultation on 05/01/2026 at 01:00 PM."
        );
    }

    #[test]
    fn the_client_reference_names_the_appointment_and_the_time() {
        let due = DateTime::parse_from_rfc3339("2026-05-01T12:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let r = client_ref(Uuid::nil(), due);
        assert_eq!(
            r,
            format!("reminder:{}:{}", "0".repeat(32), due.timestamp())
        );
        assert!(r.len() <= 128);
    }
}
