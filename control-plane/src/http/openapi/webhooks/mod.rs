//! The webhook events as OpenAPI 3.1 `webhooks`: one `post` per event name (every name of
//! `webhooks::events::NAMES`, both vocabularies), describing the request the dispatcher sends
//! to the subscriber's URL:
//!
//! - the body: the envelope `webhooks::events::render` writes around the event's `data`, both
//!   described from their Rust types (`Envelope`, the structs of `webhooks::payloads`);
//! - the headers `webhooks::dispatcher::send` sets, with how each signature is computed;
//! - what the subscriber's answer means: the retry schedule, `410 Gone`, disabling.
//!
//! The `data` schemas go to `components.schemas` ([`add_schemas`]); the examples are the
//! reference's, completed with the fields we add ([`examples`]).

mod examples;

use std::borrow::Cow;
use std::time::Duration;

use serde_json::{Map, Value, json};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};

use crate::config::{Config, WebhookSettings};
use crate::webhooks::dispatcher::USER_AGENT;
use crate::webhooks::events::{Envelope, Kind, NAMES};
use crate::webhooks::payloads;

fn to_json(schema: RefOr<Schema>) -> Value {
    serde_json::to_value(schema).expect("a schema serializes")
}

/// The component name of an event's `data` schema. Exhaustive, so a new [`Kind`] cannot
/// land undescribed.
fn data_schema(kind: Kind) -> Cow<'static, str> {
    match kind {
        Kind::MessageReceived => payloads::Received::name(),
        Kind::MessageSent => payloads::Sent::name(),
        Kind::MessageStatus => payloads::Status::name(),
        Kind::MessageReaction => payloads::ReactionData::name(),
        Kind::MessageDeleted => payloads::Deleted::name(),
        Kind::MessageEdited => payloads::Edited::name(),
        Kind::Connection => payloads::Connection::name(),
        Kind::Qr => payloads::Qr::name(),
        Kind::ContactUpdate => payloads::Contact::name(),
        Kind::GroupUpdate => payloads::Group::name(),
        Kind::Appointment => crate::crm::calendar::AppointmentEvent::name(),
        Kind::Lead => crate::crm::kanban::events::LeadEvent::name(),
    }
}

/// Every event `data` schema, and the schemas they refer to: `(component name, schema)`.
pub fn schemas() -> Vec<(String, Value)> {
    fn push<T: ToSchema>(out: &mut Vec<(String, Value)>) {
        let mut all = vec![(T::name().into_owned(), T::schema())];
        T::schemas(&mut all);
        for (name, schema) in all {
            if !out.iter().any(|(n, _)| *n == name) {
                out.push((name, to_json(schema)));
            }
        }
    }
    let mut out = Vec::new();
    push::<payloads::Received<'static>>(&mut out);
    push::<payloads::Sent<'static>>(&mut out);
    push::<payloads::Status<'static>>(&mut out);
    push::<payloads::ReactionData<'static>>(&mut out);
    push::<payloads::Deleted<'static>>(&mut out);
    push::<payloads::Edited<'static>>(&mut out);
    push::<payloads::Connection<'static>>(&mut out);
    push::<payloads::Qr<'static>>(&mut out);
    push::<payloads::Contact<'static>>(&mut out);
    push::<payloads::Group<'static>>(&mut out);
    push::<crate::crm::calendar::AppointmentEvent>(&mut out);
    push::<crate::crm::kanban::events::LeadEvent>(&mut out);
    out
}

/// Puts [`schemas`] into `components.schemas` (keeping any of the same name).
pub fn add_schemas(doc: &mut Value) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    let components = root.entry("components").or_insert_with(|| json!({}));
    let Some(components) = components.as_object_mut() else {
        return;
    };
    let target = components
        .entry("schemas")
        .or_insert_with(|| json!({}))
        .as_object_mut();
    if let Some(target) = target {
        for (name, schema) in schemas() {
            target.entry(name).or_insert(schema);
        }
    }
}

/// What each name delivers: (summary, description).
fn about(name: &str) -> (&'static str, &'static str) {
    match name {
        "message.received" => (
            "A message came in",
            "Someone sent a message to this instance (a chat or a group it is in). Same event as \
             `message.incoming`.",
        ),
        "message.incoming" => (
            "A message came in (`message.received`)",
            "The other vocabulary's name for `message.received`: the same body with this \
             `event` name.",
        ),
        "message.sent" => (
            "This instance sent a message",
            "A message this instance sent, through the API or from the phone. Same event as \
             `message.outgoing`.",
        ),
        "message.outgoing" => (
            "This instance sent a message (`message.sent`)",
            "The other vocabulary's name for `message.sent`: the same body with this `event` \
             name.",
        ),
        "message.status" => (
            "A sent message's status advanced",
            "A receipt moved one of this instance's messages forward (`sent`, `delivered`, \
             `read`, `played`); statuses never go backwards.",
        ),
        "message.reaction" => (
            "A reaction was added or removed",
            "Someone, or this instance, reacted to a message or took the reaction back \
             (`removed: true`, empty `reaction`).",
        ),
        "message.deleted" => (
            "A message was deleted for everyone",
            "The author deleted a message for everyone.",
        ),
        "message.edited" => (
            "A message was edited",
            "The author edited a message; `content` is the new text.",
        ),
        "instance.connected" => (
            "The instance connected",
            "The connection status changed to `connected`.",
        ),
        "instance.disconnected" => (
            "The instance disconnected",
            "The connection status changed to `disconnected`; `reason` says why when the node \
             knows (`logged_out`, ...).",
        ),
        "connection.update" => (
            "The connection status changed",
            "Every connection status change. When the subscription also lists \
             `instance.connected` or `instance.disconnected` (or lists no events at all), \
             changes to `connected` and `disconnected` are delivered under those names \
             instead, and this name carries the others (`qr_ready`, `pending`).",
        ),
        "instance.qr" => (
            "A new QR code to scan",
            "A new pairing QR code is on offer. Same event as `qr.update`.",
        ),
        "qr.update" => (
            "A new QR code to scan (`instance.qr`)",
            "The other vocabulary's name for `instance.qr`: the same body with this `event` \
             name.",
        ),
        "contact.update" => (
            "A contact changed",
            "A contact's WhatsApp name or profile picture changed.",
        ),
        "group.update" => (
            "A group changed",
            "A group this instance is in changed: subject, description, members or their \
             roles (`action` says which).",
        ),
        "appointment.created" => (
            "An appointment was created",
            "A Calendar appointment of this instance was created (`action` `created`).",
        ),
        "appointment.updated" => (
            "An appointment changed",
            "A Calendar appointment of this instance changed: its fields (`action` \
             `updated`), its status (`confirmed`, `completed`, `cancelled`, `no_show`, with \
             `previous_status`), or it was deleted (`deleted`, the appointment as it was).",
        ),
        "appointment.reminder_sent" => (
            "An appointment's reminder went out",
            "The client's WhatsApp reminder was sent through this instance (`reminder`: the \
             message), once per reminder time.",
        ),
        "lead.created" => (
            "A Kanban lead was created",
            "A lead was created on one of this instance's boards (through the API, the \
             calendar, an external function or the AI agent; `lead.source` says which).",
        ),
        "lead.updated" => (
            "A Kanban lead changed",
            "Fields of a lead changed (`changes` lists each with its old and new value), or \
             the AI qualified it (`ai_score`).",
        ),
        "lead.moved" => (
            "A Kanban lead moved to another column",
            "A lead moved between columns of its board (`from_column`, `to_column`).",
        ),
        "lead.won" => ("A Kanban lead was won", "A lead was marked as won."),
        "lead.lost" => (
            "A Kanban lead was lost",
            "A lead was marked as lost; `lead.lost_reason` says why when given.",
        ),
        _ => ("An event", "An event."),
    }
}

const SUBSCRIBING: &str = "\n\nSubscribe with `PUT /instances/{id}/webhook` (`events`: a list \
of names; none or an empty list subscribes to every event). Each occurrence is delivered at \
most once per webhook: when a subscription lists two names for the same occurrence (say \
`message.received` and `message.incoming`), it comes under the one listed first in the \
catalogue (`message.received`, `message.sent`, `instance.connected`/`instance.disconnected` \
before `connection.update`, `instance.qr`); a subscription to everything gets the first name.";

/// `5 s`, `30 min`, `10 h`.
fn human(d: Duration) -> String {
    match d.as_secs() {
        0 => "at once".to_owned(),
        s if s % 3600 == 0 => format!("{} h", s / 3600),
        s if s % 60 == 0 => format!("{} min", s / 60),
        s => format!("{s} s"),
    }
}

/// What a failed attempt leads to, from the settings the dispatcher runs with by default.
fn retry_policy(s: &WebhookSettings) -> String {
    let retries: Vec<String> = s.retry_schedule.iter().skip(1).map(|d| human(*d)).collect();
    let total: Duration = s.retry_schedule.iter().sum();
    format!(
        "Any other answer fails the attempt: another status (redirects are not followed), a \
         connection failure, or no complete answer within {timeout} (the timeout). A failed \
         attempt is retried with the same body and `X-Webhook-Delivery-Id` after {retries} \
         (each ±10 %, {attempts} attempts in all over about {hours} h); then the delivery is \
         marked `failed` and can be replayed (`POST /instances/{{id}}/webhook/deliveries/\
         {{delivery}}/replay`). Deliveries about one conversation arrive in order: while one \
         waits for a retry, the later ones of its chat wait too. A webhook with no successful \
         delivery for {disable} is disabled. These are the defaults; operators change them \
         with `ZAPINI_WEBHOOK_TIMEOUT_SECS`, `ZAPINI_WEBHOOK_RETRY_SCHEDULE` and \
         `ZAPINI_WEBHOOK_DISABLE_AFTER_SECS`.",
        timeout = human(s.timeout),
        retries = retries.join(", "),
        attempts = s.retry_schedule.len(),
        hours = (total.as_secs() + 1800) / 3600,
        disable = match s.disable_after.as_secs() {
            secs if secs % 86_400 == 0 => format!("{} days", secs / 86_400),
            _ => human(s.disable_after),
        },
    )
}

fn header(name: &str, required: bool, description: &str, schema: Value) -> Value {
    json!({
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": schema,
    })
}

/// The headers of every delivery (`webhooks::dispatcher::send`).
fn headers(event: &str, s: &WebhookSettings) -> Value {
    let hex = json!({"type": "string", "pattern": "^[0-9a-f]{64}$"});
    json!([
        header(
            "X-Webhook-Signature",
            true,
            "Lowercase hex HMAC-SHA256 of the exact body bytes, keyed with the webhook's secret \
             (`hash_hmac('sha256', $body, $secret)`). Compare in constant time before trusting \
             the body.",
            hex.clone(),
        ),
        header(
            "X-Webhook-Signature-Previous",
            false,
            &format!(
                "After the secret was changed, for {} the same signature with the previous \
                 secret, so receivers can switch secrets without losing deliveries.",
                human(s.secret_overlap)
            ),
            hex,
        ),
        header(
            "X-Webhook-Signature-V2",
            true,
            "Replay-protected signature: `v1=` and the lowercase hex HMAC-SHA256 of \
             `{X-Webhook-Timestamp}.{body}` with the secret; during a secret change a second \
             ` v1=` entry with the previous secret follows. Accept a delivery when one entry \
             matches and the timestamp is recent (say within 5 minutes).",
            json!({"type": "string", "pattern": "^v1=[0-9a-f]{64}( v1=[0-9a-f]{64})?$"}),
        ),
        header(
            "X-Webhook-Timestamp",
            true,
            "Unix time (seconds) of this attempt; signed by `X-Webhook-Signature-V2`.",
            json!({"type": "string", "pattern": "^[0-9]+$", "example": "1736937000"}),
        ),
        header(
            "X-Webhook-Event",
            true,
            "The event name, as in the body's `event`.",
            json!({"type": "string", "const": event}),
        ),
        header(
            "X-Instance-UUID",
            true,
            "The instance's UUID, as in the body's `instance_uuid`.",
            json!({"type": "string", "format": "uuid"}),
        ),
        header(
            "X-Webhook-Delivery-Id",
            true,
            "This delivery's id: the same on every attempt and replay, so receivers can \
             deduplicate (deliveries are at least once).",
            json!({"type": "string", "format": "uuid"}),
        ),
        header(
            "X-Webhook-Attempt",
            true,
            "The attempt number, from 1.",
            json!({"type": "string", "pattern": "^[1-9][0-9]*$", "example": "1"}),
        ),
        header(
            "User-Agent",
            true,
            "The dispatcher.",
            json!({"type": "string", "const": USER_AGENT}),
        ),
    ])
}

/// The body schema of `event`: the envelope with `event` fixed and `data` the event's.
fn body_schema(event: &str, kind: Kind) -> Value {
    let mut schema = to_json(Envelope::schema());
    let mut data = json!({"$ref": format!("#/components/schemas/{}", data_schema(kind))});
    match event {
        "instance.connected" => data["properties"] = json!({"new_status": {"const": "connected"}}),
        "instance.disconnected" => {
            data["properties"] = json!({"new_status": {"const": "disconnected"}});
        }
        _ => {}
    }
    if let Some(props) = schema.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "event".into(),
            json!({"type": "string", "const": event, "description": "The event name."}),
        );
        props.insert("data".into(), data);
    }
    schema["description"] = json!(
        "The body, compact JSON in this field order. Numbers are written so that \
         `JSON.stringify(JSON.parse(body))` gives back the same bytes (integral floats as \
         integers; integers beyond 2^53 and floats JavaScript would print in exponent form as \
         strings), so signatures verify over either."
    );
    schema
}

fn operation(event: &str, kind: Kind, settings: &WebhookSettings) -> Value {
    let (summary, description) = about(event);
    let media = json!({
        "schema": body_schema(event, kind),
        "example": examples::envelope(event, kind),
    });
    json!({
        "operationId": format!("webhook_{}", event.replace('.', "_")),
        "summary": format!("{event}: {summary}"),
        "description": format!("{description}{SUBSCRIBING}"),
        "tags": ["Webhooks"],
        "security": [],
        "parameters": headers(event, settings),
        "requestBody": {
            "required": true,
            "description": "What happened, signed (see the headers).",
            "content": {"application/json": media},
        },
        "responses": {
            "2XX": {
                "description": format!(
                    "Acknowledged: the delivery is done. Answer within {} and do the work \
                     afterwards; the answer's body is ignored.",
                    human(settings.timeout)
                ),
            },
            "410": {
                "description": "Gone: the delivery fails at once, without retries, and the \
                    webhook is disabled (its `status` and `disabled_reason` say so) until it \
                    is saved again with `PUT /instances/{id}/webhook`.",
            },
            "default": {"description": retry_policy(settings)},
        },
    })
}

/// One webhook operation per event name.
pub fn webhooks() -> Value {
    let settings = Config::for_data_dir(std::env::temp_dir()).webhooks;
    let mut out = Map::new();
    for (name, kind) in NAMES {
        out.insert(
            (*name).to_owned(),
            json!({"post": operation(name, *kind, &settings)}),
        );
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_has_a_described_operation() {
        let hooks = webhooks();
        for (name, _) in NAMES {
            let op = &hooks[*name]["post"];
            assert_ne!(about(name).0, "An event", "{name} has no summary");
            assert!(op["requestBody"]["content"]["application/json"]["example"].is_object());
            let params = op["parameters"].as_array().unwrap();
            assert!(params.iter().any(|p| p["name"] == "X-Webhook-Signature"));
        }
    }

    #[test]
    fn the_default_retry_policy_reads_as_the_schedule() {
        let settings = Config::for_data_dir(std::env::temp_dir()).webhooks;
        let text = retry_policy(&settings);
        assert!(
            text.contains("after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h (each ±10 %, 8 attempts in all over about 28 h)"),
            "{text}"
        );
        assert!(text.contains("within 5 s"), "{text}");
        assert!(text.contains("for 5 days"), "{text}");
    }
}
