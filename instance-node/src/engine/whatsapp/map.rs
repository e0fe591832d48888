//! Pure mapping from the crate's events and protocol messages to the node's engine events.
//! No I/O: every function here is proven by the unit tests in `map_tests.rs`, built from the
//! crate's own types.

use chrono::{DateTime, Utc};
use whatsapp_rust::download::Downloadable;
use whatsapp_rust::types::events::{Event, Receipt, ServerAck};
use whatsapp_rust::types::message::MessageInfo;
use whatsapp_rust::types::presence::ReceiptType;
use whatsapp_rust::wacore::proto_helpers::MessageExt;
use whatsapp_rust::wacore::stanza::groups::GroupNotificationAction;
use whatsapp_rust::wacore_binary::jid::JidExt;
use whatsapp_rust::waproto::whatsapp as wa;
use zapini_shared::jid::Jid;
use zapini_shared::status::MessageStatus;

use super::media::MediaHandle;
use crate::engine::types::*;

pub(super) type WaJid = whatsapp_rust::Jid;

/// The crate's JID in our form (device part dropped).
pub(super) fn jid(j: &WaJid) -> Option<Jid> {
    Jid::parse(&j.to_non_ad_string()).ok()
}

/// Our JID in the crate's form.
pub(super) fn wa_jid(j: &Jid) -> Option<WaJid> {
    j.to_string().parse().ok()
}

/// A string JID (as protocol messages carry them) in our form.
fn jid_str(s: &str) -> Option<Jid> {
    s.parse::<WaJid>().ok().and_then(|j| jid(&j))
}

/// The phone-number form of `primary` when it is a LID and `alt` is its phone number.
fn pn_for(primary: &WaJid, alt: Option<&WaJid>) -> Option<Jid> {
    if !primary.is_lid() {
        return None;
    }
    alt.filter(|a| a.is_pn()).and_then(jid)
}

/// `(chat, sender, sender_pn)` of a message: LIDs are replaced by the phone number the stanza
/// carries (`sender_alt` for the author, `recipient_alt` for the peer of our own DMs); without
/// one they stay `@lid`.
fn parties(info: &MessageInfo) -> Option<(Jid, Jid, Option<Jid>)> {
    let src = &info.source;
    let sender_pn = pn_for(&src.sender, src.sender_alt.as_ref());
    let sender = match &sender_pn {
        Some(pn) => pn.clone(),
        None => jid(&src.sender)?,
    };
    let chat = if src.is_group || src.chat.is_group() {
        jid(&src.chat)?
    } else {
        let alt = if src.is_from_me {
            src.recipient_alt.as_ref()
        } else {
            src.sender_alt.as_ref()
        };
        match pn_for(&src.chat, alt) {
            Some(pn) => pn,
            None => jid(&src.chat)?,
        }
    };
    Some((chat, sender, sender_pn))
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.trim().is_empty()).map(str::to_owned)
}

fn hex(bytes: Option<&[u8]>) -> Option<String> {
    bytes
        .filter(|b| !b.is_empty())
        .map(|b| b.iter().map(|x| format!("{x:02x}")).collect())
}

/// What a protocol message is, for the pipeline.
#[derive(Debug, Clone, PartialEq)]
struct Content {
    kind: MessageKind,
    text: Option<String>,
    media: Option<MediaInfo>,
    location: Option<LocationInfo>,
    contact: Option<ContactCard>,
    context: Option<wa::ContextInfo>,
}

/// The media info of a downloadable message part; `url` is its download handle (see
/// `media.rs`), when the message carries what a download needs.
fn media(
    part: &dyn Downloadable,
    mime: Option<&str>,
    caption: Option<&str>,
    filename: Option<&str>,
    seconds: Option<u32>,
    default_mime: &str,
) -> MediaInfo {
    MediaInfo {
        mime_type: non_empty(mime).unwrap_or_else(|| default_mime.to_owned()),
        caption: non_empty(caption),
        filename: non_empty(filename),
        size: part.file_length().unwrap_or(0),
        url: MediaHandle::of(part).map(|h| h.encode()),
        sha256: hex(part.file_sha256()),
        duration_secs: seconds,
    }
}

/// The content of a (base) message, or `None` for messages that carry nothing the pipeline
/// stores (protocol housekeeping, unsupported kinds).
fn content(m: &wa::Message) -> Option<Content> {
    let plain = |kind, text: Option<String>, context: Option<&wa::ContextInfo>| Content {
        kind,
        text,
        media: None,
        location: None,
        contact: None,
        context: context.cloned(),
    };
    if let Some(t) = m.conversation.as_deref() {
        return Some(plain(MessageKind::Text, Some(t.to_owned()), None));
    }
    if let Some(x) = m.extended_text_message.as_option() {
        return Some(plain(
            MessageKind::Text,
            x.text.clone(),
            x.context_info.as_option(),
        ));
    }
    if let Some(x) = m.image_message.as_option() {
        let info = media(
            x,
            x.mimetype.as_deref(),
            x.caption.as_deref(),
            None,
            None,
            "image/jpeg",
        );
        return Some(Content {
            text: info.caption.clone(),
            media: Some(info),
            ..plain(MessageKind::Image, None, x.context_info.as_option())
        });
    }
    if let Some(x) = m
        .video_message
        .as_option()
        .or_else(|| m.ptv_message.as_option())
    {
        let info = media(
            x,
            x.mimetype.as_deref(),
            x.caption.as_deref(),
            None,
            x.seconds,
            "video/mp4",
        );
        return Some(Content {
            text: info.caption.clone(),
            media: Some(info),
            ..plain(MessageKind::Video, None, x.context_info.as_option())
        });
    }
    if let Some(x) = m.audio_message.as_option() {
        let kind = if x.ptt == Some(true) {
            MessageKind::Voice
        } else {
            MessageKind::Audio
        };
        let info = media(
            x,
            x.mimetype.as_deref(),
            None,
            None,
            x.seconds,
            "audio/ogg; codecs=opus",
        );
        return Some(Content {
            media: Some(info),
            ..plain(kind, None, x.context_info.as_option())
        });
    }
    if let Some(x) = m.document_message.as_option() {
        let info = media(
            x,
            x.mimetype.as_deref(),
            x.caption.as_deref(),
            x.file_name.as_deref().or(x.title.as_deref()),
            None,
            "application/octet-stream",
        );
        return Some(Content {
            text: info.caption.clone(),
            media: Some(info),
            ..plain(MessageKind::Document, None, x.context_info.as_option())
        });
    }
    if let Some(x) = m.sticker_message.as_option() {
        let info = media(x, x.mimetype.as_deref(), None, None, None, "image/webp");
        return Some(Content {
            media: Some(info),
            ..plain(MessageKind::Sticker, None, x.context_info.as_option())
        });
    }
    if let Some(x) = m.location_message.as_option() {
        return Some(Content {
            location: Some(LocationInfo {
                latitude: x.degrees_latitude.unwrap_or_default(),
                longitude: x.degrees_longitude.unwrap_or_default(),
                name: non_empty(x.name.as_deref()),
                address: non_empty(x.address.as_deref()),
            }),
            ..plain(MessageKind::Location, None, x.context_info.as_option())
        });
    }
    if let Some(x) = m.contact_message.as_option() {
        return Some(Content {
            contact: Some(ContactCard {
                display_name: x.display_name.clone().unwrap_or_default(),
                vcard: x.vcard.clone().unwrap_or_default(),
            }),
            ..plain(MessageKind::Contact, None, x.context_info.as_option())
        });
    }
    if let Some(x) = m.contacts_array_message.as_option()
        && let Some(first) = x.contacts.first()
    {
        return Some(Content {
            contact: Some(ContactCard {
                display_name: x
                    .display_name
                    .clone()
                    .or_else(|| first.display_name.clone())
                    .unwrap_or_default(),
                vcard: first.vcard.clone().unwrap_or_default(),
            }),
            ..plain(MessageKind::Contact, None, x.context_info.as_option())
        });
    }
    None
}

/// The engine event for one decrypted message: a new message (ours from another device, or
/// someone else's), a reaction, an edit or a revoke. `None` for housekeeping messages.
pub(super) fn message_event(msg: &wa::Message, info: &MessageInfo) -> Option<EngineEvent> {
    let (chat, sender, sender_pn) = parties(info)?;
    let from_me = info.source.is_from_me;
    let base = msg.get_base_message();

    if let Some(r) = base.reaction_message.as_option() {
        let key = r.key.as_option()?;
        return Some(EngineEvent::Reaction {
            message_id: key.id.clone()?,
            chat,
            sender,
            emoji: r.text.clone().unwrap_or_default(),
            from_me,
            timestamp: r
                .sender_timestamp_ms
                .and_then(DateTime::<Utc>::from_timestamp_millis)
                .unwrap_or(info.timestamp),
        });
    }
    if let Some(p) = base.protocol_message.as_option() {
        let key = p.key.as_option();
        let target = key.and_then(|k| k.id.clone())?;
        // The key's from_me is relative to the author of the protocol message.
        let target_from_me = key.and_then(|k| k.from_me).unwrap_or(from_me);
        return match p.r#type {
            Some(wa::message::protocol_message::Type::REVOKE) => {
                Some(EngineEvent::MessageRevoked {
                    message_id: target,
                    chat,
                    from_me: target_from_me,
                })
            }
            Some(wa::message::protocol_message::Type::MESSAGE_EDIT) => {
                let edited = p.edited_message.as_option()?;
                let text = edited
                    .get_base_message()
                    .text_content()
                    .or_else(|| edited.get_caption())
                    .unwrap_or_default()
                    .to_owned();
                Some(EngineEvent::MessageEdited {
                    message_id: target,
                    chat,
                    new_text: text,
                    from_me: target_from_me,
                })
            }
            _ => None,
        };
    }

    let c = content(base)?;
    let (quoted_id, mentioned_jids) = context_parts(c.context.as_ref());
    let message = WaMessage {
        id: info.id.clone(),
        chat,
        sender,
        sender_pn,
        from_me,
        push_name: non_empty(Some(info.push_name.as_str())),
        kind: c.kind,
        text: c.text,
        quoted_id,
        media: c.media,
        location: c.location,
        contact: c.contact,
        mentioned_jids,
        timestamp: info.timestamp,
        // Seen on the wire (the phone, another device): not a send through this node.
        client_ref: None,
    };
    Some(if from_me {
        EngineEvent::MessageSent(message)
    } else {
        EngineEvent::MessageReceived(message)
    })
}

/// The message we just sent, as the pipeline stores it, with the send's client reference.
pub(super) fn sent_message(
    msg: &wa::Message,
    id: &str,
    chat: &Jid,
    me: &Jid,
    timestamp: DateTime<Utc>,
    client_ref: Option<String>,
) -> Option<WaMessage> {
    let c = content(msg.get_base_message())?;
    let (quoted_id, mentioned_jids) = context_parts(c.context.as_ref());
    Some(WaMessage {
        id: id.to_owned(),
        chat: chat.clone(),
        sender: me.clone(),
        sender_pn: None,
        from_me: true,
        push_name: None,
        kind: c.kind,
        text: c.text,
        quoted_id,
        media: c.media,
        location: c.location,
        contact: c.contact,
        mentioned_jids,
        timestamp,
        client_ref,
    })
}

fn context_parts(ctx: Option<&wa::ContextInfo>) -> (Option<String>, Vec<Jid>) {
    match ctx {
        Some(ctx) => (
            non_empty(ctx.stanza_id.as_deref()),
            ctx.mentioned_jid
                .iter()
                .filter_map(|j| jid_str(j))
                .collect(),
        ),
        None => (None, Vec::new()),
    }
}

/// The reference's status for a receipt type; `None` for receipts that say nothing about our
/// sends (retries, our own devices reading someone else's message, ...).
pub(super) fn receipt_status(t: &ReceiptType) -> Option<MessageStatus> {
    match t {
        ReceiptType::Sent => Some(MessageStatus::Sent),
        ReceiptType::Delivered => Some(MessageStatus::Delivered),
        ReceiptType::Read => Some(MessageStatus::Read),
        ReceiptType::Played => Some(MessageStatus::Played),
        _ => None,
    }
}

pub(super) fn receipt_event(r: &Receipt) -> Option<EngineEvent> {
    let status = receipt_status(&r.r#type)?;
    if r.message_ids.is_empty() {
        return None;
    }
    let src = &r.source;
    let is_group = src.is_group || src.chat.is_group();
    let chat = if is_group {
        jid(&src.chat)?
    } else {
        pn_for(&src.chat, src.sender_alt.as_ref()).or_else(|| jid(&src.chat))?
    };
    let participant = if is_group {
        pn_for(&src.sender, src.sender_alt.as_ref()).or_else(|| jid(&src.sender))
    } else {
        None
    };
    Some(EngineEvent::Receipt {
        message_ids: r.message_ids.clone(),
        chat,
        status,
        participant,
        timestamp: r.timestamp,
    })
}

/// A server ack of one of our messages is its `sent` receipt.
pub(super) fn server_ack_event(ack: &ServerAck) -> Option<EngineEvent> {
    if ack.class.as_deref() != Some("message") || ack.error.is_some() {
        return None;
    }
    Some(EngineEvent::Receipt {
        message_ids: vec![ack.id.clone()],
        chat: jid(ack.from.as_ref()?)?,
        status: MessageStatus::Sent,
        participant: None,
        timestamp: ack.timestamp.unwrap_or_else(Utc::now),
    })
}

/// Group notifications the pipeline records: participants joining, leaving, promoted or
/// demoted, and subject changes.
pub(super) fn group_event(event: &Event) -> Option<EngineEvent> {
    let Event::GroupUpdate(g) = event else {
        return None;
    };
    let group = jid(&g.group_jid)?;
    let actor = g
        .participant_pn
        .as_ref()
        .and_then(jid)
        .or_else(|| g.participant.as_ref().and_then(jid));
    let people = |ps: &[whatsapp_rust::wacore::stanza::groups::GroupParticipantInfo]| {
        ps.iter()
            .filter_map(|p| {
                p.phone_number
                    .as_ref()
                    .and_then(jid)
                    .or_else(|| jid(&p.jid))
            })
            .collect::<Vec<_>>()
    };
    let (action, participants, subject) = match &g.action {
        GroupNotificationAction::Add { participants, .. } => ("add", people(participants), None),
        GroupNotificationAction::Remove { participants, .. } => {
            ("remove", people(participants), None)
        }
        GroupNotificationAction::Promote { participants } => {
            ("promote", people(participants), None)
        }
        GroupNotificationAction::Demote { participants } => ("demote", people(participants), None),
        GroupNotificationAction::Subject { subject, .. } => {
            ("subject", Vec::new(), Some(subject.clone()))
        }
        _ => return None,
    };
    Some(EngineEvent::GroupUpdate {
        group,
        action: action.to_owned(),
        participants,
        subject,
        actor,
    })
}

/// A contact's new push name.
pub(super) fn push_name_event(event: &Event) -> Option<EngineEvent> {
    let Event::PushNameUpdate(p) = event else {
        return None;
    };
    let pn = pn_for(&p.jid, p.message.source.sender_alt.as_ref());
    Some(EngineEvent::ContactUpdate {
        jid: pn.or_else(|| jid(&p.jid))?,
        push_name: non_empty(Some(p.new_push_name.as_str())),
        profile_picture: None,
    })
}
