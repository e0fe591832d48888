//! Conversions between the node's engine types and the proto messages. Only `grpc/` sees
//! prost types; the rest of the node gets bytes ([`encode_event`]) or its own types back.

use chrono::{DateTime, Utc};
use prost::Message;
use zapini_proto::v1;
use zapini_shared::jid::Jid;

use crate::engine::{
    ConnectionState, EngineEvent, GroupInfo, MediaInfo, MessageKind, QrCode, WaMessage,
};
use crate::policy::PolicyUpdate;

fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn jid_str(j: &Jid) -> String {
    j.to_string()
}

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_default()
}

fn message_type(kind: MessageKind) -> v1::MessageType {
    match kind {
        MessageKind::Text => v1::MessageType::Text,
        MessageKind::Image => v1::MessageType::Image,
        MessageKind::Video => v1::MessageType::Video,
        MessageKind::Audio => v1::MessageType::Audio,
        MessageKind::Voice => v1::MessageType::Voice,
        MessageKind::Document => v1::MessageType::Document,
        MessageKind::Sticker => v1::MessageType::Sticker,
        MessageKind::Location => v1::MessageType::Location,
        MessageKind::Contact => v1::MessageType::Contact,
        MessageKind::Other => v1::MessageType::Other,
    }
}

fn media(m: &MediaInfo) -> v1::Media {
    v1::Media {
        mime_type: m.mime_type.clone(),
        caption: opt(&m.caption),
        filename: opt(&m.filename),
        size: m.size,
        url: opt(&m.url),
        sha256: opt(&m.sha256),
        duration_secs: m.duration_secs.unwrap_or(0),
    }
}

/// What the control plane sends back about a message's media, for `download_media`.
pub fn media_info(m: v1::Media) -> MediaInfo {
    let some = |s: String| (!s.is_empty()).then_some(s);
    MediaInfo {
        mime_type: m.mime_type,
        caption: some(m.caption),
        filename: some(m.filename),
        size: m.size,
        url: some(m.url),
        sha256: some(m.sha256),
        duration_secs: (m.duration_secs > 0).then_some(m.duration_secs),
    }
}

fn wa_message(m: &WaMessage) -> v1::WaMessage {
    v1::WaMessage {
        id: m.id.clone(),
        chat_jid: jid_str(&m.chat),
        sender_jid: jid_str(&m.sender),
        from_me: m.from_me,
        push_name: opt(&m.push_name),
        r#type: message_type(m.kind) as i32,
        text: opt(&m.text),
        quoted_id: opt(&m.quoted_id),
        media: m.media.as_ref().map(media),
        location: m.location.as_ref().map(|l| v1::Location {
            latitude: l.latitude,
            longitude: l.longitude,
            name: opt(&l.name),
            address: opt(&l.address),
        }),
        contact: m.contact.as_ref().map(|c| v1::ContactCard {
            display_name: c.display_name.clone(),
            vcard: c.vcard.clone(),
        }),
        mentioned_jids: m.mentioned_jids.iter().map(jid_str).collect(),
        timestamp_ms: ms(m.timestamp),
        sender_pn_jid: m.sender_pn.as_ref().map(jid_str).unwrap_or_default(),
        client_ref: opt(&m.client_ref),
    }
}

pub(crate) fn qr(q: &QrCode) -> v1::QrCode {
    v1::QrCode {
        code: q.code.clone(),
        png_data_url: q.png_data_url.clone(),
        generated_at_ms: ms(q.generated_at),
        expires_at_ms: ms(q.expires_at),
    }
}

pub(crate) fn connection(c: &ConnectionState) -> v1::Connection {
    v1::Connection {
        status: c.status.as_str().to_owned(),
        phone_number: opt(&c.phone_number),
        push_name: opt(&c.push_name),
        platform: opt(&c.platform),
        reason: opt(&c.reason),
    }
}

pub(crate) fn status_response(c: &ConnectionState) -> v1::StatusResponse {
    v1::StatusResponse {
        status: c.status.as_str().to_owned(),
        phone_number: opt(&c.phone_number),
        push_name: opt(&c.push_name),
        platform: opt(&c.platform),
        reason: opt(&c.reason),
        last_activity_ms: c.last_activity_at.map(ms).unwrap_or(0),
    }
}

pub(crate) fn group_info(g: &GroupInfo) -> v1::GroupInfo {
    v1::GroupInfo {
        jid: jid_str(&g.jid),
        subject: g.subject.clone(),
        description: opt(&g.description),
        owner_jid: g.owner.as_ref().map(jid_str).unwrap_or_default(),
        created_at_ms: ms(g.created_at),
        participants: g
            .participants
            .iter()
            .map(|p| v1::GroupParticipant {
                jid: jid_str(&p.jid),
                is_admin: p.is_admin,
                is_super_admin: p.is_super_admin,
            })
            .collect(),
    }
}

/// The proto event for an engine event; `seq` stays 0 (the buffer's sequence is the seq).
pub(crate) fn event(e: &EngineEvent) -> v1::Event {
    use v1::event::Kind;
    let now = Utc::now();
    let kind = match e {
        EngineEvent::Qr(q) => Kind::Qr(qr(q)),
        EngineEvent::Connection(c) => Kind::Connection(connection(c)),
        EngineEvent::MessageReceived(m) => Kind::MessageReceived(wa_message(m)),
        EngineEvent::MessageSent(m) => Kind::MessageSent(wa_message(m)),
        EngineEvent::Receipt {
            message_ids,
            chat,
            status,
            participant,
            timestamp,
        } => Kind::Status(v1::Receipt {
            message_ids: message_ids.clone(),
            chat_jid: jid_str(chat),
            status: u32::from(status.code()),
            participant: participant.as_ref().map(jid_str).unwrap_or_default(),
            timestamp_ms: ms(*timestamp),
        }),
        EngineEvent::Reaction {
            message_id,
            chat,
            sender,
            emoji,
            from_me,
            timestamp,
        } => Kind::Reaction(v1::Reaction {
            message_id: message_id.clone(),
            chat_jid: jid_str(chat),
            sender_jid: jid_str(sender),
            emoji: emoji.clone(),
            from_me: *from_me,
            reaction_id: String::new(),
            timestamp_ms: ms(*timestamp),
        }),
        EngineEvent::MessageEdited {
            message_id,
            chat,
            new_text,
            from_me,
        } => Kind::MessageEdited(v1::MessageEdit {
            message_id: message_id.clone(),
            chat_jid: jid_str(chat),
            new_text: new_text.clone(),
            from_me: *from_me,
        }),
        EngineEvent::MessageRevoked {
            message_id,
            chat,
            from_me,
        } => Kind::MessageRevoked(v1::MessageRevoke {
            message_id: message_id.clone(),
            chat_jid: jid_str(chat),
            from_me: *from_me,
            revoked_by: String::new(),
        }),
        EngineEvent::ContactUpdate {
            jid,
            push_name,
            profile_picture,
        } => Kind::ContactUpdate(v1::ContactUpdate {
            jid: jid_str(jid),
            push_name: opt(push_name),
            profile_picture_url: profile_picture.clone().flatten().unwrap_or_default(),
            profile_picture_removed: matches!(profile_picture, Some(None)),
        }),
        EngineEvent::GroupUpdate {
            group,
            action,
            participants,
            subject,
            actor,
        } => Kind::GroupUpdate(v1::GroupUpdate {
            group_jid: jid_str(group),
            subject: opt(subject),
            description: String::new(),
            action: action.clone(),
            participants: participants.iter().map(jid_str).collect(),
            actor_jid: actor.as_ref().map(jid_str).unwrap_or_default(),
        }),
    };
    let occurred = match e {
        EngineEvent::MessageReceived(m) | EngineEvent::MessageSent(m) => m.timestamp,
        EngineEvent::Receipt { timestamp, .. } | EngineEvent::Reaction { timestamp, .. } => {
            *timestamp
        }
        EngineEvent::Qr(q) => q.generated_at,
        _ => now,
    };
    v1::Event {
        seq: 0,
        occurred_at_ms: ms(occurred),
        kind: Some(kind),
    }
}

/// The buffer record for an engine event: a protobuf-encoded `zapini.node.v1.Event`.
pub fn encode_event(e: &EngineEvent) -> Vec<u8> {
    event(e).encode_to_vec()
}

/// Decodes a buffer record back into the proto event, with its buffer sequence number.
pub(crate) fn decode_event(seq: u64, payload: &[u8]) -> Result<v1::Event, prost::DecodeError> {
    let mut ev = v1::Event::decode(payload)?;
    ev.seq = seq;
    Ok(ev)
}

pub(crate) fn policy_update(p: v1::Policy) -> PolicyUpdate {
    PolicyUpdate {
        daily_limit: p.daily_limit,
        messages_sent_today: p.messages_sent_today,
        automation_active: p.automation_active,
        paused_chats: p.paused_chats,
        day: p.day,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zapini_shared::status::MessageStatus;

    #[test]
    fn receipt_uses_reference_codes_and_round_trips() {
        let chat = Jid::parse("5511999999999@s.whatsapp.net").unwrap();
        let e = EngineEvent::Receipt {
            message_ids: vec!["A".into()],
            chat,
            status: MessageStatus::Read,
            participant: None,
            timestamp: Utc::now(),
        };
        let bytes = encode_event(&e);
        let back = decode_event(7, &bytes).unwrap();
        assert_eq!(back.seq, 7);
        match back.kind {
            Some(v1::event::Kind::Status(r)) => {
                assert_eq!(r.status, 4);
                assert_eq!(r.chat_jid, "5511999999999@s.whatsapp.net");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    fn sent_text(client_ref: Option<&str>) -> EngineEvent {
        let chat = Jid::parse("5511999999999@s.whatsapp.net").unwrap();
        EngineEvent::MessageSent(WaMessage {
            id: "3EB0AAAA".into(),
            chat: chat.clone(),
            sender: Jid::parse("5511900000001@s.whatsapp.net").unwrap(),
            sender_pn: None,
            from_me: true,
            push_name: None,
            kind: MessageKind::Text,
            text: Some("hi".into()),
            quoted_id: None,
            media: None,
            location: None,
            contact: None,
            mentioned_jids: Vec::new(),
            timestamp: Utc::now(),
            client_ref: client_ref.map(str::to_owned),
        })
    }

    #[test]
    fn a_sent_message_carries_its_client_ref() {
        for (client_ref, wire) in [(Some("auto:42:1"), "auto:42:1"), (None, "")] {
            let back = decode_event(1, &encode_event(&sent_text(client_ref))).unwrap();
            match back.kind {
                Some(v1::event::Kind::MessageSent(m)) => {
                    assert_eq!(m.id, "3EB0AAAA");
                    assert_eq!(m.client_ref, wire);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}
