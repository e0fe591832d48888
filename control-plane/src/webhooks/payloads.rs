//! The `data` object of each webhook event, built from stored rows. The reference's fields
//! come first and keep its names and types (`message_id` is our UUID, `whatsapp_message_id`
//! WhatsApp's id, `conversation_id` the numeric id, timestamps with an offset); a few
//! documented extras follow them.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use zapini_shared::jid::Jid;
use zapini_shared::status::MessageStatus;

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

/// Text or caption; `null` for media without a caption.
fn content(m: &message::Model) -> Value {
    if let Some(body) = m.body.as_deref().filter(|b| !b.is_empty()) {
        return Value::from(body);
    }
    m.media
        .as_ref()
        .and_then(|v| v.get("caption"))
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .map_or(Value::Null, Value::from)
}

fn media_type(m: &message::Model) -> Value {
    match m.message_type.as_str() {
        "text" | "" => Value::Null,
        other => Value::from(other),
    }
}

fn media_url(m: &message::Model) -> Value {
    m.media
        .as_ref()
        .and_then(|v| v.get("url"))
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map_or(Value::Null, Value::from)
}

/// Adds `location` (latitude, longitude, name, address) to a location message's data.
fn with_location(mut data: Value, m: &message::Model) -> Value {
    if m.message_type == "location"
        && let Some(media) = &m.media
    {
        data["location"] = media.clone();
    }
    data
}

/// `message.received` / `message.incoming`.
pub fn received(m: &message::Model, conv: &conversation::Model) -> Value {
    let sender = if conv.is_group {
        m.sender_jid.as_deref().map(number_of).unwrap_or_default()
    } else {
        number_of(&conv.chat_jid)
    };
    let data = json!({
        "message_id": m.uuid,
        "whatsapp_message_id": m.wa_message_id,
        "sender_number": sender,
        "sender_name": m.sender_name.as_deref().or(conv.display_name.as_deref()),
        "content": content(m),
        "media_type": media_type(m),
        "media_url": media_url(m),
        "timestamp": timestamp(m.sent_at),
        "conversation_id": conv.id,
        "message_type": m.message_type,
        "chat_jid": conv.chat_jid,
        "is_group": conv.is_group,
        "quoted_message_id": m.quoted_id,
    });
    with_location(data, m)
}

/// `message.sent` / `message.outgoing`.
pub fn sent(m: &message::Model, conv: &conversation::Model) -> Value {
    let data = json!({
        "message_id": m.uuid,
        "whatsapp_message_id": m.wa_message_id,
        "recipient_number": number_of(&conv.chat_jid),
        "content": content(m),
        "media_type": media_type(m),
        "media_url": media_url(m),
        "timestamp": timestamp(m.sent_at),
        "conversation_id": conv.id,
        "message_type": m.message_type,
        "chat_jid": conv.chat_jid,
        "is_group": conv.is_group,
        "quoted_message_id": m.quoted_id,
    });
    with_location(data, m)
}

/// `message.status`.
pub fn status(
    m: &message::Model,
    chat_jid: &str,
    previous: i16,
    new: i16,
    at: DateTime<Utc>,
) -> Value {
    json!({
        "message_id": m.uuid,
        "whatsapp_message_id": m.wa_message_id,
        "previous_status": status_name(previous),
        "new_status": status_name(new),
        "recipient_number": number_of(chat_jid),
        "timestamp": timestamp(at),
        "conversation_id": m.conversation_id,
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

pub fn reaction(r: &Reaction<'_>) -> Value {
    json!({
        "message_id": r.target.map(|m| m.uuid),
        "whatsapp_message_id": r.target_wa_id,
        "reaction": r.emoji,
        "removed": r.emoji.is_empty(),
        "sender_number": number_of(r.sender_jid),
        "from_me": r.from_me,
        "chat_jid": r.chat_jid,
        "conversation_id": r.target.map(|m| m.conversation_id),
        "timestamp": timestamp(r.at),
    })
}

/// `message.deleted` and `message.edited`.
pub fn changed(m: &message::Model, at: DateTime<Utc>, new_content: Option<&str>) -> Value {
    let mut data = json!({
        "message_id": m.uuid,
        "whatsapp_message_id": m.wa_message_id,
        "conversation_id": m.conversation_id,
        "from_me": m.from_me,
        "timestamp": timestamp(at),
    });
    if let Some(text) = new_content {
        data["content"] = Value::from(text);
    }
    data
}

/// `instance.connected`, `instance.disconnected`, `connection.update`.
pub fn connection(previous: &str, new: &str, phone: Option<&str>, reason: &str) -> Value {
    json!({
        "previous_status": previous,
        "new_status": new,
        "phone_number": phone,
        "reason": (!reason.is_empty()).then_some(reason),
    })
}

/// `instance.qr` / `qr.update`: the same fields as the incoming QR endpoint.
pub fn qr(
    code: &str,
    image: &str,
    generated_at: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
) -> Value {
    json!({
        "qr": code,
        "qr_image": image,
        "generated_at": timestamp(generated_at),
        "expires_at": expires_at.map(timestamp),
    })
}

/// `contact.update`.
pub fn contact(c: &contact::Model) -> Value {
    json!({
        "contact_id": c.uuid,
        "jid": c.jid,
        "phone_number": c.phone_number,
        "name": c.name,
        "push_name": c.push_name,
        "profile_picture_url": c.profile_picture_url,
        "timestamp": timestamp(c.updated_at),
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

/// `group.update`.
pub fn group(conv: &conversation::Model, change: &GroupChange<'_>, at: DateTime<Utc>) -> Value {
    let mut data = json!({
        "group_jid": conv.chat_jid,
        "subject": change.subject,
        "action": if change.action.is_empty() { "subject" } else { change.action },
        "participants": change.participants,
        "participant_numbers": change.participants.iter().map(|p| number_of(p)).collect::<Vec<_>>(),
        "conversation_id": conv.id,
        "timestamp": timestamp(at),
    });
    if let Some(d) = change.description {
        data["description"] = Value::from(d);
    }
    data
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
