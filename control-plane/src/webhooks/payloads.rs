//! The `data` object of each webhook event, built from stored rows. The reference's fields
//! come first and keep its names and types (`message_id` is our UUID, `whatsapp_message_id`
//! WhatsApp's id, `conversation_id` the numeric id, timestamps with an offset); a few
//! documented extras follow them.
//!
//! Each event's `data` is a struct here, serialized in field order (serde_json keeps it), and
//! its `utoipa::ToSchema` derive is what the OpenAPI document's `webhooks` describe
//! (`http::openapi::webhooks`), so the description cannot drift from the bytes sent.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};
use uuid::Uuid;
use zapini_shared::jid::Jid;
use zapini_shared::status::{InstanceStatus, MessageStatus};

use super::events::timestamp;
use crate::db::entities::{contact, conversation, message};

/// Digits of a phone JID (`5511999999999`); the user part for other JIDs (`@lid`, groups).
pub fn number_of(jid: &str) -> String {
    match Jid::parse(jid) {
        Ok(j) => j
            .phone_number()
            .map(|p| p.into_string())
            .unwrap_or_else(|| j.user().to_owned()),
        Err(_) => jid.split('@').next().unwrap_or_default().to_owned(),
    }
}

fn status_name(code: i16) -> &'static str {
    u8::try_from(code)
        .ok()
        .and_then(MessageStatus::from_code)
        .map_or("pending", |s| s.as_str())
}

fn to_value<T: Serialize>(data: &T) -> Value {
    serde_json::to_value(data).expect("webhook data always serializes")
}

/// Text or caption; `None` for media without a caption.
fn content(m: &message::Model) -> Option<&str> {
    if let Some(body) = m.body.as_deref().filter(|b| !b.is_empty()) {
        return Some(body);
    }
    m.media
        .as_ref()
        .and_then(|v| v.get("caption"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
}

fn media_type(m: &message::Model) -> Option<&str> {
    match m.message_type.as_str() {
        "text" | "" => None,
        other => Some(other),
    }
}

fn media_url(m: &message::Model) -> Option<&str> {
    m.media
        .as_ref()
        .and_then(|v| v.get("url"))
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
}

/// A location message's place (`latitude`, `longitude`, `name`, `address`).
fn location(m: &message::Model) -> Option<&Value> {
    m.media.as_ref().filter(|_| m.message_type == "location")
}

/// A string schema listing `values`.
fn string_enum(values: impl IntoIterator<Item = &'static str>, description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values))
        .description(Some(description))
        .build()
}

fn message_status_schema() -> Object {
    string_enum(
        MessageStatus::ALL.iter().map(MessageStatus::as_str),
        "A message's delivery status.",
    )
}

fn instance_status_schema() -> Object {
    string_enum(
        InstanceStatus::ALL.iter().map(InstanceStatus::as_str),
        "An instance's connection status.",
    )
}

/// Where a location message points, as the engine reported it.
#[derive(ToSchema)]
#[schema(as = WebhookLocation)]
#[allow(dead_code)] // Describes `location`, which is the stored JSON passed through.
pub struct Location {
    latitude: Option<f64>,
    longitude: Option<f64>,
    name: Option<String>,
    address: Option<String>,
}

/// `data` of `message.received` / `message.incoming`: a message someone sent to this
/// instance.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookMessageReceived)]
pub struct Received<'a> {
    /// Our id of the message (UUID): the key to deduplicate deliveries on.
    pub message_id: Uuid,
    /// WhatsApp's id of the message: the one replies and reactions name.
    #[schema(example = "3EB0ABC123456789")]
    pub whatsapp_message_id: &'a str,
    /// The sender's number (digits with country code; the user part of a `@lid` JID when
    /// WhatsApp hides the number). In a group, the participant who wrote.
    #[schema(example = "5511999999999")]
    pub sender_number: String,
    /// The sender's WhatsApp name, else the conversation's name; `null` when unknown.
    #[schema(required = true)]
    pub sender_name: Option<&'a str>,
    /// The text, or a media message's caption; `null` for media without a caption.
    #[schema(required = true)]
    pub content: Option<&'a str>,
    /// `message_type` for anything but text (`image`, `video`, `audio`, `voice`,
    /// `document`, `sticker`, `location`, `contact`, ...); `null` for text.
    #[schema(required = true)]
    pub media_type: Option<&'a str>,
    /// The media's URL as the engine reported it; `null` when there is none.
    #[schema(required = true)]
    pub media_url: Option<&'a str>,
    /// When the message was sent (RFC 3339, UTC offset).
    #[schema(format = DateTime, example = "2025-01-15T10:30:00+00:00")]
    pub timestamp: String,
    /// The conversation's numeric id.
    pub conversation_id: i64,
    /// `text`, `image`, `video`, `audio`, `voice`, `document`, `sticker`, `location`,
    /// `contact`, `reaction` or `other`.
    #[schema(example = "text")]
    pub message_type: &'a str,
    /// The chat's JID (`…@s.whatsapp.net`, `…@lid` or a group's `…@g.us`).
    pub chat_jid: &'a str,
    pub is_group: bool,
    /// WhatsApp's id of the message this one replies to; `null` when it is no reply.
    #[schema(required = true)]
    pub quoted_message_id: Option<&'a str>,
    /// Only on `location` messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Location, required = false)]
    pub location: Option<&'a Value>,
}

/// `message.received` / `message.incoming`.
pub fn received(m: &message::Model, conv: &conversation::Model) -> Value {
    let sender = if conv.is_group {
        m.sender_jid.as_deref().map(number_of).unwrap_or_default()
    } else {
        number_of(&conv.chat_jid)
    };
    to_value(&Received {
        message_id: m.uuid,
        whatsapp_message_id: &m.wa_message_id,
        sender_number: sender,
        sender_name: m.sender_name.as_deref().or(conv.display_name.as_deref()),
        content: content(m),
        media_type: media_type(m),
        media_url: media_url(m),
        timestamp: timestamp(m.sent_at),
        conversation_id: conv.id,
        message_type: &m.message_type,
        chat_jid: &conv.chat_jid,
        is_group: conv.is_group,
        quoted_message_id: m.quoted_id.as_deref(),
        location: location(m),
    })
}

/// `data` of `message.sent` / `message.outgoing`: a message this instance sent (through the
/// API or from the phone).
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookMessageSent)]
pub struct Sent<'a> {
    /// Our id of the message (UUID): the key to deduplicate deliveries on.
    pub message_id: Uuid,
    /// WhatsApp's id of the message.
    #[schema(example = "3EB0ABC123456789")]
    pub whatsapp_message_id: &'a str,
    /// The chat's number (digits with country code; a group's id for groups).
    #[schema(example = "5511888888888")]
    pub recipient_number: String,
    /// The text, or a media message's caption; `null` for media without a caption.
    #[schema(required = true)]
    pub content: Option<&'a str>,
    /// `message_type` for anything but text; `null` for text.
    #[schema(required = true)]
    pub media_type: Option<&'a str>,
    /// The media's URL as stored; `null` when there is none.
    #[schema(required = true)]
    pub media_url: Option<&'a str>,
    /// When the message was sent (RFC 3339, UTC offset).
    #[schema(format = DateTime, example = "2025-01-15T10:31:00+00:00")]
    pub timestamp: String,
    pub conversation_id: i64,
    /// `text`, `image`, `video`, `audio`, `voice`, `document`, `sticker`, `location`,
    /// `contact`, `reaction` or `other`.
    pub message_type: &'a str,
    pub chat_jid: &'a str,
    pub is_group: bool,
    /// WhatsApp's id of the message this one replies to; `null` when it is no reply.
    #[schema(required = true)]
    pub quoted_message_id: Option<&'a str>,
    /// Only on `location` messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Location, required = false)]
    pub location: Option<&'a Value>,
    /// Only on a message an automation sent: which one, in which session.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false)]
    pub sent_by_automation: Option<crate::automation::intake::SentBy>,
}

/// `message.sent` / `message.outgoing`.
pub fn sent(m: &message::Model, conv: &conversation::Model) -> Value {
    to_value(&Sent {
        message_id: m.uuid,
        whatsapp_message_id: &m.wa_message_id,
        recipient_number: number_of(&conv.chat_jid),
        content: content(m),
        media_type: media_type(m),
        media_url: media_url(m),
        timestamp: timestamp(m.sent_at),
        conversation_id: conv.id,
        message_type: &m.message_type,
        chat_jid: &conv.chat_jid,
        is_group: conv.is_group,
        quoted_message_id: m.quoted_id.as_deref(),
        location: location(m),
        sent_by_automation: crate::automation::intake::SentBy::of(m.automation_ref.as_deref()),
    })
}

/// `data` of `message.status`: a receipt advanced the status of a message this instance
/// sent. Statuses only move forward.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookMessageStatus)]
pub struct Status<'a> {
    pub message_id: Uuid,
    #[schema(example = "3EB0ABC123456789")]
    pub whatsapp_message_id: &'a str,
    #[schema(schema_with = message_status_schema)]
    pub previous_status: &'static str,
    #[schema(schema_with = message_status_schema)]
    pub new_status: &'static str,
    /// The chat's number.
    #[schema(example = "5511888888888")]
    pub recipient_number: String,
    /// When the receipt was applied (RFC 3339, UTC offset).
    #[schema(format = DateTime, example = "2025-01-15T10:32:00+00:00")]
    pub timestamp: String,
    pub conversation_id: i64,
}

/// `message.status`.
pub fn status(
    m: &message::Model,
    chat_jid: &str,
    previous: i16,
    new: i16,
    at: DateTime<Utc>,
) -> Value {
    to_value(&Status {
        message_id: m.uuid,
        whatsapp_message_id: &m.wa_message_id,
        previous_status: status_name(previous),
        new_status: status_name(new),
        recipient_number: number_of(chat_jid),
        timestamp: timestamp(at),
        conversation_id: m.conversation_id,
    })
}

/// `message.reaction`: `reaction` is empty when a reaction was removed.
pub struct Reaction<'a> {
    pub target: Option<&'a message::Model>,
    pub target_wa_id: &'a str,
    pub chat_jid: &'a str,
    pub sender_jid: &'a str,
    pub emoji: &'a str,
    pub from_me: bool,
    pub at: DateTime<Utc>,
}

/// `data` of `message.reaction`: someone (or this instance) reacted to a message, or took
/// a reaction back.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookMessageReaction)]
pub struct ReactionData<'a> {
    /// Our id of the message reacted to; `null` when that message is not stored here.
    #[schema(required = true)]
    pub message_id: Option<Uuid>,
    /// WhatsApp's id of the message reacted to.
    pub whatsapp_message_id: &'a str,
    /// The emoji; empty when the reaction was removed.
    #[schema(example = "👍")]
    pub reaction: &'a str,
    /// True when the reaction was removed (`reaction` is empty).
    pub removed: bool,
    /// Who reacted.
    pub sender_number: String,
    /// True when this instance reacted (from the API or the phone).
    pub from_me: bool,
    pub chat_jid: &'a str,
    /// The conversation of the message reacted to; `null` when that message is not stored.
    #[schema(required = true)]
    pub conversation_id: Option<i64>,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

pub fn reaction(r: &Reaction<'_>) -> Value {
    to_value(&ReactionData {
        message_id: r.target.map(|m| m.uuid),
        whatsapp_message_id: r.target_wa_id,
        reaction: r.emoji,
        removed: r.emoji.is_empty(),
        sender_number: number_of(r.sender_jid),
        from_me: r.from_me,
        chat_jid: r.chat_jid,
        conversation_id: r.target.map(|m| m.conversation_id),
        timestamp: timestamp(r.at),
    })
}

/// `data` of `message.deleted`: the author deleted a message for everyone.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookMessageDeleted)]
pub struct Deleted<'a> {
    pub message_id: Uuid,
    pub whatsapp_message_id: &'a str,
    pub conversation_id: i64,
    /// True when this instance's own message was deleted.
    pub from_me: bool,
    /// When the change was applied (RFC 3339, UTC offset).
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// `data` of `message.edited`: the author edited a message.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookMessageEdited)]
pub struct Edited<'a> {
    pub message_id: Uuid,
    pub whatsapp_message_id: &'a str,
    pub conversation_id: i64,
    /// True when this instance's own message was edited.
    pub from_me: bool,
    /// When the change was applied (RFC 3339, UTC offset).
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// The new text.
    pub content: &'a str,
}

/// `message.deleted` (`new_content` `None`) and `message.edited`.
pub fn changed(m: &message::Model, at: DateTime<Utc>, new_content: Option<&str>) -> Value {
    match new_content {
        Some(content) => to_value(&Edited {
            message_id: m.uuid,
            whatsapp_message_id: &m.wa_message_id,
            conversation_id: m.conversation_id,
            from_me: m.from_me,
            timestamp: timestamp(at),
            content,
        }),
        None => to_value(&Deleted {
            message_id: m.uuid,
            whatsapp_message_id: &m.wa_message_id,
            conversation_id: m.conversation_id,
            from_me: m.from_me,
            timestamp: timestamp(at),
        }),
    }
}

/// `data` of `instance.connected`, `instance.disconnected` and `connection.update`: the
/// instance's connection status changed.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookConnection)]
pub struct Connection<'a> {
    #[schema(schema_with = instance_status_schema)]
    pub previous_status: &'a str,
    #[schema(schema_with = instance_status_schema)]
    pub new_status: &'a str,
    /// The connected number; `null` until one is known.
    #[schema(required = true, example = "5511999999999")]
    pub phone_number: Option<&'a str>,
    /// Why the status changed, as the node reported it (`logged_out`, `unreachable`, ...);
    /// `null` when it did not say.
    #[schema(required = true)]
    pub reason: Option<&'a str>,
}

/// `instance.connected`, `instance.disconnected`, `connection.update`.
pub fn connection(previous: &str, new: &str, phone: Option<&str>, reason: &str) -> Value {
    to_value(&Connection {
        previous_status: previous,
        new_status: new,
        phone_number: phone,
        reason: (!reason.is_empty()).then_some(reason),
    })
}

/// `data` of `instance.qr` / `qr.update`: a new QR code to scan (the same fields as the
/// incoming QR endpoint).
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookQr)]
pub struct Qr<'a> {
    /// The QR code's text (what the image encodes).
    #[schema(example = "2@ABC123...")]
    pub qr: &'a str,
    /// The QR code as a PNG data URL.
    #[schema(example = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg...")]
    pub qr_image: &'a str,
    #[schema(format = DateTime)]
    pub generated_at: String,
    /// When the code stops working; `null` when the engine did not say.
    #[schema(required = true, format = DateTime)]
    pub expires_at: Option<String>,
}

/// `instance.qr` / `qr.update`: the same fields as the incoming QR endpoint.
pub fn qr(
    code: &str,
    image: &str,
    generated_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
) -> Value {
    to_value(&Qr {
        qr: code,
        qr_image: image,
        generated_at: timestamp(generated_at),
        expires_at: expires_at.map(timestamp),
    })
}

/// `data` of `contact.update`: a contact's name or picture changed.
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookContact)]
pub struct Contact<'a> {
    /// Our id of the contact (UUID).
    pub contact_id: Uuid,
    pub jid: &'a str,
    #[schema(required = true)]
    pub phone_number: Option<&'a str>,
    /// The name saved in the inbox, if any.
    #[schema(required = true)]
    pub name: Option<&'a str>,
    /// The name the contact set in WhatsApp.
    #[schema(required = true)]
    pub push_name: Option<&'a str>,
    #[schema(required = true)]
    pub profile_picture_url: Option<&'a str>,
    #[schema(format = DateTime)]
    pub timestamp: String,
}

/// `contact.update`.
pub fn contact(c: &contact::Model) -> Value {
    to_value(&Contact {
        contact_id: c.uuid,
        jid: &c.jid,
        phone_number: c.phone_number.as_deref(),
        name: c.name.as_deref(),
        push_name: c.push_name.as_deref(),
        profile_picture_url: c.profile_picture_url.as_deref(),
        timestamp: timestamp(c.updated_at),
    })
}

/// What changed in a group, for `group.update`.
pub struct GroupChange<'a> {
    pub subject: Option<&'a str>,
    /// create, subject, description, add, remove, promote, demote, leave, invite_reset; empty
    /// when the engine did not say (a subject change).
    pub action: &'a str,
    pub participants: &'a [String],
    pub description: Option<&'a str>,
}

/// `data` of `group.update`: a group this instance is in changed (subject, description,
/// members or their roles).
#[derive(Serialize, ToSchema)]
#[schema(as = WebhookGroup)]
pub struct Group<'a> {
    #[schema(example = "120363000000000000@g.us")]
    pub group_jid: &'a str,
    /// The group's subject (name); `null` when unknown.
    #[schema(required = true)]
    pub subject: Option<&'a str>,
    /// What changed: `create`, `subject`, `description`, `add`, `remove`, `promote`,
    /// `demote`, `leave` or `invite_reset`, as the engine names it.
    #[schema(example = "add")]
    pub action: &'a str,
    /// The participants the change is about (JIDs); empty for subject and description.
    pub participants: &'a [String],
    /// The same participants as numbers.
    pub participant_numbers: Vec<String>,
    pub conversation_id: i64,
    #[schema(format = DateTime)]
    pub timestamp: String,
    /// The new description, on description changes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = String, required = false)]
    pub description: Option<&'a str>,
}

/// `group.update`.
pub fn group(conv: &conversation::Model, change: &GroupChange<'_>, at: DateTime<Utc>) -> Value {
    to_value(&Group {
        group_jid: &conv.chat_jid,
        subject: change.subject,
        action: if change.action.is_empty() {
            "subject"
        } else {
            change.action
        },
        participants: change.participants,
        participant_numbers: change.participants.iter().map(|p| number_of(p)).collect(),
        conversation_id: conv.id,
        timestamp: timestamp(at),
        description: change.description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_come_from_jids() {
        assert_eq!(number_of("5511999999999@s.whatsapp.net"), "5511999999999");
        assert_eq!(
            number_of("5511999999999:12@s.whatsapp.net"),
            "5511999999999"
        );
        assert_eq!(number_of("123456789@lid"), "123456789");
        assert_eq!(number_of("120363000000000000@g.us"), "120363000000000000");
    }

    #[test]
    fn status_names_are_the_reference_ones() {
        assert_eq!(status_name(2), "sent");
        assert_eq!(status_name(3), "delivered");
        assert_eq!(status_name(4), "read");
        assert_eq!(status_name(5), "played");
        assert_eq!(status_name(1), "pending");
    }
}
