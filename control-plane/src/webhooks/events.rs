//! The webhook event catalogue: the two vocabularies of the reference (and our extensions),
//! which name a subscription receives for each thing that happened, and the exact body bytes.
//!
//! | what happened | reference names (either works) | payload `data` |
//! |---|---|---|
//! | a message came in | `message.received` = `message.incoming` | the reference's `message.received` |
//! | this instance sent a message | `message.sent` = `message.outgoing` | the reference's `message.sent` |
//! | a sent message's receipt advanced | `message.status` | the reference's `message.status` |
//! | the connection changed | `instance.connected` (to `connected`), `instance.disconnected` (to `disconnected`), `connection.update` (every change) | the reference's `instance.connected` |
//! | a new QR code | `instance.qr` = `qr.update` | `qr`, `qr_image`, `generated_at`, `expires_at` |
//! | a reaction was added or removed | `message.reaction` | see `ingest.rs` |
//! | a message was deleted for everyone | `message.deleted` | |
//! | a message was edited (extension) | `message.edited` | |
//! | a contact's name changed | `contact.update` | |
//! | a group's subject changed (extension) | `group.update` | |
//! | an appointment was created, changed, or its reminder sent (extension) | `appointment.created`, `appointment.updated`, `appointment.reminder_sent` | `crm::calendar::AppointmentEvent` |
//! | a Kanban lead was created, updated, moved, won or lost | `lead.created`, `lead.updated`, `lead.moved`, `lead.won`, `lead.lost` | `lead` and what changed |
//!
//! A subscription receives each occurrence at most once: when it lists two names for the
//! same occurrence, the one listed first in the table above wins. No list (or an empty one)
//! subscribes to everything, delivered under the first name of each row.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

/// What happened, independent of the name it is delivered under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    MessageReceived,
    MessageSent,
    MessageStatus,
    MessageReaction,
    MessageDeleted,
    MessageEdited,
    Connection,
    Qr,
    ContactUpdate,
    GroupUpdate,
    /// `connection` names the sub-event: `created`, `updated`, `reminder_sent`.
    Appointment,
    /// A Kanban lead was created, updated, moved, won or lost (the occurrence's
    /// `connection` field carries which).
    Lead,
}

/// Every name a webhook can subscribe to, with what it covers.
pub const NAMES: &[(&str, Kind)] = &[
    ("message.received", Kind::MessageReceived),
    ("message.incoming", Kind::MessageReceived),
    ("message.sent", Kind::MessageSent),
    ("message.outgoing", Kind::MessageSent),
    ("message.status", Kind::MessageStatus),
    ("message.reaction", Kind::MessageReaction),
    ("message.deleted", Kind::MessageDeleted),
    ("message.edited", Kind::MessageEdited),
    ("instance.connected", Kind::Connection),
    ("instance.disconnected", Kind::Connection),
    ("connection.update", Kind::Connection),
    ("instance.qr", Kind::Qr),
    ("qr.update", Kind::Qr),
    ("contact.update", Kind::ContactUpdate),
    ("group.update", Kind::GroupUpdate),
    ("appointment.created", Kind::Appointment),
    ("appointment.updated", Kind::Appointment),
    ("appointment.reminder_sent", Kind::Appointment),
    ("lead.created", Kind::Lead),
    ("lead.updated", Kind::Lead),
    ("lead.moved", Kind::Lead),
    ("lead.won", Kind::Lead),
    ("lead.lost", Kind::Lead),
];

/// Names that may deliver an occurrence of `kind`, preferred first. `connection` is the new
/// status of a connection change, or the sub-event of a CRM kind.
fn candidates(kind: Kind, connection: Option<&str>) -> &'static [&'static str] {
    match kind {
        Kind::MessageReceived => &["message.received", "message.incoming"],
        Kind::MessageSent => &["message.sent", "message.outgoing"],
        Kind::MessageStatus => &["message.status"],
        Kind::MessageReaction => &["message.reaction"],
        Kind::MessageDeleted => &["message.deleted"],
        Kind::MessageEdited => &["message.edited"],
        Kind::Connection => match connection {
            Some("connected") => &["instance.connected", "connection.update"],
            Some("disconnected") => &["instance.disconnected", "connection.update"],
            _ => &["connection.update"],
        },
        Kind::Qr => &["instance.qr", "qr.update"],
        Kind::ContactUpdate => &["contact.update"],
        Kind::GroupUpdate => &["group.update"],
        Kind::Appointment => match connection {
            Some("created") => &["appointment.created"],
            Some("reminder_sent") => &["appointment.reminder_sent"],
            _ => &["appointment.updated"],
        },
        Kind::Lead => match connection {
            Some("created") => &["lead.created"],
            Some("moved") => &["lead.moved"],
            Some("won") => &["lead.won"],
            Some("lost") => &["lead.lost"],
            _ => &["lead.updated"],
        },
    }
}

/// The events a webhook asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    All,
    Only(Vec<&'static str>),
}

impl Subscription {
    /// Validates user-given names (trimmed, case-insensitive); unknown names are listed in
    /// the error. An empty list means every event.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Subscription, Vec<String>> {
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for raw in names {
            let name = raw.as_ref().trim().to_ascii_lowercase();
            match NAMES.iter().find(|(n, _)| *n == name) {
                Some((n, _)) if !known.contains(n) => known.push(*n),
                Some(_) => {}
                None => unknown.push(raw.as_ref().to_owned()),
            }
        }
        if !unknown.is_empty() {
            return Err(unknown);
        }
        Ok(if known.is_empty() {
            Subscription::All
        } else {
            Subscription::Only(known)
        })
    }

    /// From the stored JSON array (`None`: every event). Names no longer known are ignored.
    pub fn from_stored(stored: Option<&str>) -> Subscription {
        let names: Vec<String> = stored
            .and_then(|s| serde_json::from_str(s).ok())
            .unwrap_or_default();
        let known: Vec<&'static str> = names
            .iter()
            .filter_map(|n| NAMES.iter().find(|(k, _)| k == n).map(|(k, _)| *k))
            .collect();
        if known.is_empty() {
            Subscription::All
        } else {
            Subscription::Only(known)
        }
    }

    /// The JSON array stored for this subscription (`None`: every event).
    pub fn to_stored(&self) -> Option<String> {
        match self {
            Subscription::All => None,
            Subscription::Only(names) => serde_json::to_string(names).ok(),
        }
    }

    /// The names as shown to the user (every name for `All`).
    pub fn names(&self) -> Vec<&'static str> {
        match self {
            Subscription::All => NAMES.iter().map(|(n, _)| *n).collect(),
            Subscription::Only(names) => names.clone(),
        }
    }

    /// Whether any occurrence of `kind` could be delivered (cheap pre-check before a
    /// payload is built).
    pub fn wants(&self, kind: Kind) -> bool {
        match self {
            Subscription::All => true,
            Subscription::Only(names) => names
                .iter()
                .any(|n| NAMES.iter().any(|(k, nk)| k == n && *nk == kind)),
        }
    }

    /// The name this occurrence is delivered under, or `None` when not subscribed.
    pub fn name_for(&self, kind: Kind, connection: Option<&str>) -> Option<&'static str> {
        let options = candidates(kind, connection);
        match self {
            Subscription::All => options.first().copied(),
            Subscription::Only(names) => options.iter().copied().find(|n| names.contains(n)),
        }
    }
}

/// One occurrence, ready to be rendered for a subscription.
#[derive(Debug, Clone)]
pub struct Occurrence {
    pub kind: Kind,
    /// The new status of a connection change (selects `instance.connected` etc.); a lead
    /// event's action (`created`, `moved`, ...).
    pub connection: Option<String>,
    /// Deliveries with the same key reach an endpoint in order: the chat for messages.
    pub ordering_key: String,
    pub data: Value,
    pub at: DateTime<Utc>,
}

/// The body of every delivery. The OpenAPI document's `webhooks` specialise it per event
/// (`event` fixed, `data` the event's schema from `payloads`).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Envelope<'a> {
    /// The event name, as subscribed (also in `X-Webhook-Event`).
    event: &'a str,
    /// The instance the event is about (also in `X-Instance-UUID`).
    instance_uuid: Uuid,
    /// When the event happened (RFC 3339, UTC offset).
    #[schema(format = DateTime, example = "2025-01-15T10:30:00+00:00")]
    timestamp: String,
    /// The event's data.
    #[schema(value_type = Object)]
    data: &'a Value,
}

/// The exact body of a delivery: `{"event","instance_uuid","timestamp","data"}` as compact
/// JSON that re-serializes to the same bytes under JavaScript's `JSON.stringify`, so the
/// reference's Node.js verification snippet (which signs `JSON.stringify(req.body)`) verifies.
pub fn render(event: &str, instance_uuid: Uuid, at: DateTime<Utc>, data: &Value) -> String {
    let data = js_compatible(data.clone());
    let envelope = Envelope {
        event,
        instance_uuid,
        timestamp: timestamp(at),
        data: &data,
    };
    serde_json::to_string(&envelope).expect("a JSON value always serializes")
}

/// `2025-01-15T10:30:00+00:00`, the reference's timestamp form.
pub fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// Largest integer JavaScript represents exactly.
const JS_SAFE: f64 = 9_007_199_254_740_991.0;

/// Rewrites numbers JavaScript would print differently: integral floats become integers
/// (`1.0` prints as `1` in JS), integers beyond 2^53 and floats JS would print in exponent
/// form become strings. Object keys are never numeric-looking in our payloads, so JS keeps
/// their order.
pub fn js_compatible(value: Value) -> Value {
    match value {
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                return if (i as f64).abs() <= JS_SAFE {
                    Value::Number(n)
                } else {
                    Value::String(i.to_string())
                };
            }
            if let Some(u) = n.as_u64() {
                return if (u as f64) <= JS_SAFE {
                    Value::Number(n)
                } else {
                    Value::String(u.to_string())
                };
            }
            let f = n.as_f64().unwrap_or(0.0);
            if f.fract() == 0.0 && f.abs() <= JS_SAFE {
                Value::from(f as i64)
            } else if (1e-6..1e15).contains(&f.abs()) {
                Value::Number(n)
            } else {
                Value::String(f.to_string())
            }
        }
        Value::Array(items) => Value::Array(items.into_iter().map(js_compatible).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, js_compatible(v)))
                .collect(),
        ),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_vocabularies_are_accepted_and_unknown_names_listed() {
        let sub =
            Subscription::parse(&["message.incoming", " Message.Status ", "qr.update"]).unwrap();
        assert_eq!(
            sub,
            Subscription::Only(vec!["message.incoming", "message.status", "qr.update"])
        );
        assert_eq!(
            Subscription::parse(&["message.received", "nope", "x"]).unwrap_err(),
            vec!["nope".to_owned(), "x".to_owned()]
        );
        assert_eq!(Subscription::parse::<&str>(&[]).unwrap(), Subscription::All);
    }

    #[test]
    fn names_follow_the_subscription() {
        let incoming = Subscription::parse(&["message.incoming"]).unwrap();
        assert_eq!(
            incoming.name_for(Kind::MessageReceived, None),
            Some("message.incoming")
        );
        assert_eq!(incoming.name_for(Kind::MessageSent, None), None);
        let both = Subscription::parse(&["message.incoming", "message.received"]).unwrap();
        assert_eq!(
            both.name_for(Kind::MessageReceived, None),
            Some("message.received")
        );
        let all = Subscription::All;
        assert_eq!(
            all.name_for(Kind::Connection, Some("connected")),
            Some("instance.connected")
        );
        assert_eq!(
            all.name_for(Kind::Connection, Some("qr_ready")),
            Some("connection.update")
        );
        let legacy = Subscription::parse(&["instance.connected"]).unwrap();
        assert_eq!(
            legacy.name_for(Kind::Connection, Some("disconnected")),
            None
        );
        assert!(legacy.wants(Kind::Connection));
        let update = Subscription::parse(&["connection.update"]).unwrap();
        assert_eq!(
            update.name_for(Kind::Connection, Some("disconnected")),
            Some("connection.update")
        );
    }

    #[test]
    fn lead_events_are_named_by_their_action() {
        let all = Subscription::All;
        for action in ["created", "updated", "moved", "won", "lost"] {
            assert_eq!(
                all.name_for(Kind::Lead, Some(action)),
                Some(format!("lead.{action}").as_str()).map(|n| NAMES
                    .iter()
                    .find(|(k, _)| *k == n)
                    .unwrap()
                    .0)
            );
        }
        let won = Subscription::parse(&["lead.won"]).unwrap();
        assert!(won.wants(Kind::Lead));
        assert_eq!(won.name_for(Kind::Lead, Some("won")), Some("lead.won"));
        assert_eq!(won.name_for(Kind::Lead, Some("moved")), None);
    }

    #[test]
    fn stored_form_round_trips() {
        let sub = Subscription::parse(&["message.status", "qr.update"]).unwrap();
        assert_eq!(Subscription::from_stored(sub.to_stored().as_deref()), sub);
        assert_eq!(Subscription::from_stored(None), Subscription::All);
    }

    #[test]
    fn body_matches_the_reference_layout() {
        let at = DateTime::parse_from_rfc3339("2025-01-15T10:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let uuid = Uuid::parse_str("550e8400-e29b-41d4-a716-446655440000").unwrap();
        let body = render(
            "message.received",
            uuid,
            at,
            &json!({"message_id": "x", "content": "Olá \"você\"\n", "conversation_id": 123}),
        );
        assert_eq!(
            body,
            r#"{"event":"message.received","instance_uuid":"550e8400-e29b-41d4-a716-446655440000","timestamp":"2025-01-15T10:30:00+00:00","data":{"message_id":"x","content":"Olá \"você\"\n","conversation_id":123}}"#
        );
    }

    #[test]
    fn numbers_are_made_javascript_stable() {
        assert_eq!(js_compatible(json!(1.0)), json!(1));
        assert_eq!(js_compatible(json!(-23.5505)), json!(-23.5505));
        assert_eq!(js_compatible(json!(1e21)), json!("1000000000000000000000"));
        assert_eq!(
            js_compatible(json!(9_007_199_254_740_993_i64)),
            json!("9007199254740993")
        );
        assert_eq!(js_compatible(json!({"a": [2.0]})), json!({"a": [2]}));
    }
}
