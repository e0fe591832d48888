//! `/sandbox/*`: the controls of the sandbox engine (a simulated WhatsApp network), served
//! only when the node runs the sandbox engine, with the same bearer auth as the hot path.
//! Every success is `{"success":true,"data":{...}}`; errors use the reference envelope.
//!
//! | endpoint | body | effect |
//! |---|---|---|
//! | `POST /sandbox/scan` | `phone_number`, `push_name?` | the phone scans the QR on offer: `connected` |
//! | `POST /sandbox/pair-code` | `code` (or `phone_number` to request one) | pairs with the code on offer |
//! | `POST /sandbox/inbound` | `from`, `message?`, `group?`, `push_name?`, `reply_to`/`quoted_message_id?`, `mentions?`, `media?`, `location?`, `contact?` | a message arrives |
//! | `POST /sandbox/reaction` | `from`, `message_id`, `emoji`, `chat?` | someone reacts |
//! | `POST /sandbox/edit` | `from`, `message_id`, `text` (or `message`), `chat?` | the author edits their message |
//! | `POST /sandbox/revoke` | `from`, `message_id`, `chat?` | the author deletes it for everyone |
//! | `POST /sandbox/receipt` | `message_id`, `status` (`delivered`/`read`/`played`) | a receipt for one of our sends |
//! | `POST /sandbox/fault` | `fault` (`disconnect`/`logged_out`/`stream_replaced`) | the connection fails |
//! | `POST /sandbox/groups` | `subject`, `participants`, `we_are_admin?` | someone adds us to a group |
//! | `GET /sandbox/presence?chat=` | | what we showed in chats ("typing…"), oldest first |

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use zapini_shared::error::ErrorCode;
use zapini_shared::jid::Jid;
use zapini_shared::phone::PhoneNumber;
use zapini_shared::status::MessageStatus;
use zapini_shared::time::format_millis;

use super::AppState;
use super::body::JsonObject;
use super::error::{ApiError, engine_error};
use super::messages::recipient;
use crate::engine::sandbox::{Fault, InboundMedia, InboundSpec, MAX_INBOUND_SIZE, SandboxEngine};
use crate::engine::{ConnectionState, ContactCard, Engine, LocationInfo, MessageKind};
use base64::Engine as _;

type Reply = Result<Json<Value>, ApiError>;

fn sandbox(state: &AppState) -> Result<Arc<SandboxEngine>, ApiError> {
    state.node.sandbox.clone().ok_or_else(|| {
        ApiError::new(
            ErrorCode::NotFound,
            "The sandbox endpoints exist only on instances running the sandbox engine.",
        )
    })
}

fn ok(data: Value) -> Reply {
    Ok(Json(json!({"success": true, "data": data})))
}

fn connection(s: &ConnectionState) -> Value {
    json!({
        "status": s.status.as_str(),
        "phone": s.phone_number,
        "name": s.push_name,
        "platform": s.platform,
        "reason": s.reason,
    })
}

fn phone(body: &JsonObject, field: &'static str) -> Result<PhoneNumber, ApiError> {
    let (_, raw) = body.req_str(&[field])?;
    PhoneNumber::parse_field(field, &raw).map_err(ApiError)
}

/// The chat of a reaction/edit/revoke: `chat` when given, else the sender's own chat.
fn chat_or_sender(body: &JsonObject, from: &Jid) -> Result<Jid, ApiError> {
    match body.opt_str(&["chat"])? {
        Some((field, raw)) => {
            Jid::parse_recipient(&raw).map_err(|e| ApiError(e.into_error_body(field)))
        }
        None => Ok(from.without_device()),
    }
}

/// `POST /sandbox/scan` {phone_number, push_name?}: the phone scans the QR on offer and the
/// session becomes `connected` with that number. 422 when no QR is on offer.
pub async fn scan(State(state): State<AppState>, body: JsonObject) -> Reply {
    let engine = sandbox(&state)?;
    let phone = phone(&body, "phone_number")?;
    let push_name = body.opt_str(&["push_name", "name"])?.map(|(_, v)| v);
    let s = engine
        .scan(&phone, push_name.as_deref())
        .await
        .map_err(|e| engine_error(e, false))?;
    ok(connection(&s))
}

/// `POST /sandbox/pair-code` {code}: types the pair code on the phone; pairs when it matches
/// the code on offer. With {phone_number} only, requests a code for that number instead and
/// returns it (`data.code`), as `RequestPairCode` does.
pub async fn pair_code(State(state): State<AppState>, body: JsonObject) -> Reply {
    let engine = sandbox(&state)?;
    if let Some((_, code)) = body.opt_str(&["code"])? {
        let s = engine
            .enter_pair_code(&code)
            .await
            .map_err(|e| engine_error(e, false))?;
        return ok(connection(&s));
    }
    if body.opt_str(&["phone_number"])?.is_some() {
        let phone = phone(&body, "phone_number")?;
        let code = engine
            .request_pair_code(&phone)
            .await
            .map_err(|e| engine_error(e, false))?;
        return ok(json!({"code": code}));
    }
    Err(ApiError::validation(
        "code",
        "The code field is required (or phone_number to request a code).",
    ))
}

fn message_kind(raw: &str) -> Option<MessageKind> {
    Some(match raw.trim().to_ascii_lowercase().as_str() {
        "image" => MessageKind::Image,
        "video" => MessageKind::Video,
        "audio" => MessageKind::Audio,
        "voice" | "ptt" => MessageKind::Voice,
        "document" => MessageKind::Document,
        "sticker" => MessageKind::Sticker,
        _ => return None,
    })
}

fn default_mime(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Image => "image/jpeg",
        MessageKind::Video => "video/mp4",
        MessageKind::Audio => "audio/mpeg",
        MessageKind::Voice => "audio/ogg; codecs=opus",
        MessageKind::Sticker => "image/webp",
        _ => "application/octet-stream",
    }
}

/// `POST /sandbox/inbound`: a message arrives from `from` (phone or JID), in `group` (a group
/// JID we are in, with `from` a participant) when given. Content: `message` (text) and/or
/// `media` {type: image|video|audio|voice|document|sticker, mime_type?, filename?, caption?,
/// size?, data? (base64 bytes; else made up to `size`)}, `location` {latitude, longitude, name?, address?}, `contact` {display_name, vcard}.
/// Also `push_name?`, `reply_to`|`quoted_message_id?`, `mentions?` (phones or JIDs).
/// Returns `data.message_id` (the event reaches the control plane as `message_received`).
pub async fn inbound(State(state): State<AppState>, body: JsonObject) -> Reply {
    let engine = sandbox(&state)?;
    let from = recipient(&body, &["from"])?;
    let mut spec = InboundSpec::new(from.clone());
    if let Some((field, raw)) = body.opt_str(&["group"])? {
        let group = Jid::parse(raw.trim()).map_err(|e| ApiError(e.into_error_body(field)))?;
        if !group.is_group() {
            return Err(ApiError::validation(
                "group",
                "The group field must be a group JID (…@g.us).",
            ));
        }
        spec = spec.in_group(group);
    }
    if let Some((_, text)) = body.opt_str(&["message", "text"])? {
        spec = spec.text(text);
    }
    if let Some((_, name)) = body.opt_str(&["push_name"])? {
        spec = spec.push_name(name);
    }
    if let Some((_, quoted)) = body.opt_str(&["reply_to", "quoted_message_id"])? {
        spec = spec.quoting(quoted);
    }
    let mentions = body
        .opt_str_list("mentions")?
        .iter()
        .map(|m| Jid::parse_recipient(m).map_err(|e| ApiError(e.into_error_body("mentions"))))
        .collect::<Result<Vec<_>, _>>()?;
    if !mentions.is_empty() {
        spec = spec.mentioning(mentions);
    }
    if let Some(media) = body.opt_object("media")? {
        let (_, kind_raw) = media.req_str(&["type"]).map_err(|_| {
            ApiError::validation("media.type", "The media.type field is required (image, video, audio, voice, document or sticker).")
        })?;
        let kind = message_kind(&kind_raw).ok_or_else(|| {
            ApiError::validation(
                "media.type",
                "The media.type field must be image, video, audio, voice, document or sticker.",
            )
        })?;
        let size = media.opt_u64("size")?.unwrap_or(0);
        if size > MAX_INBOUND_SIZE {
            return Err(ApiError::validation(
                "media.size",
                "The media.size field may be at most 16777216 (16 MB).",
            ));
        }
        spec = spec.media(InboundMedia {
            kind,
            mime_type: media
                .opt_str(&["mime_type"])?
                .map_or_else(|| default_mime(kind).to_owned(), |(_, v)| v),
            caption: media.opt_str(&["caption"])?.map(|(_, v)| v),
            filename: media.opt_str(&["filename"])?.map(|(_, v)| v),
            size,
            data: match media.opt_str(&["data"])? {
                None => None,
                Some((_, b64)) => Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(b64.trim())
                        .map_err(|_| {
                            ApiError::validation(
                                "media.data",
                                "The media.data field must be base64.",
                            )
                        })?
                        .into(),
                ),
            },
        });
    }
    if let Some(loc) = body.opt_object("location")? {
        let latitude = loc.opt_f64("latitude")?.ok_or_else(|| {
            ApiError::validation(
                "location.latitude",
                "The location.latitude field is required.",
            )
        })?;
        let longitude = loc.opt_f64("longitude")?.ok_or_else(|| {
            ApiError::validation(
                "location.longitude",
                "The location.longitude field is required.",
            )
        })?;
        spec = spec.location(LocationInfo {
            latitude,
            longitude,
            name: loc.opt_str(&["name"])?.map(|(_, v)| v),
            address: loc.opt_str(&["address"])?.map(|(_, v)| v),
        });
    }
    if let Some(contact) = body.opt_object("contact")? {
        let (_, display_name) = contact.req_str(&["display_name"]).map_err(|_| {
            ApiError::validation(
                "contact.display_name",
                "The contact.display_name field is required.",
            )
        })?;
        let vcard = contact
            .opt_str(&["vcard"])?
            .map(|(_, v)| v)
            .unwrap_or_default();
        spec = spec.contact(ContactCard {
            display_name,
            vcard,
        });
    }
    let message = engine
        .inject_message(spec)
        .await
        .map_err(|e| engine_error(e, false))?;
    ok(json!({
        "message_id": message.id,
        "chat": message.chat.to_string(),
        "from": message.sender.to_string(),
        "type": message.kind,
        "timestamp": format_millis(message.timestamp),
    }))
}

/// `POST /sandbox/reaction` {from, message_id, emoji, chat?}: `from` reacts to a message (ours
/// or theirs) in `chat` (default: the 1:1 chat with `from`). An empty emoji removes it.
pub async fn reaction(State(state): State<AppState>, body: JsonObject) -> Reply {
    let engine = sandbox(&state)?;
    let from = recipient(&body, &["from"])?;
    let chat = chat_or_sender(&body, &from)?;
    let (_, message_id) = body.req_str(&["message_id", "messageId"])?;
    let emoji = body.req_str_allow_empty(&["emoji"])?;
    engine
        .inject_reaction(&from, &chat, &message_id, &emoji)
        .await
        .map_err(|e| engine_error(e, false))?;
    ok(json!({"message_id": message_id, "chat": chat.to_string(), "emoji": emoji}))
}

/// `POST /sandbox/edit` {from, message_id, text|message, chat?}: the author edits one of the
/// messages injected from them.
pub async fn edit(State(state): State<AppState>, body: JsonObject) -> Reply {
    let engine = sandbox(&state)?;
    let from = recipient(&body, &["from"])?;
    let chat = chat_or_sender(&body, &from)?;
    let (_, message_id) = body.req_str(&["message_id", "messageId"])?;
    let (_, text) = body.req_str(&["text", "message"])?;
    engine
        .inject_edit(&from, &chat, &message_id, &text)
        .await
        .map_err(|e| engine_error(e, false))?;
    ok(json!({"message_id": message_id, "chat": chat.to_string(), "text": text}))
}

/// `POST /sandbox/revoke` {from, message_id, chat?}: the author deletes one of the messages
/// injected from them, for everyone.
pub async fn revoke(State(state): State<AppState>, body: JsonObject) -> Reply {
    let engine = sandbox(&state)?;
    let from = recipient(&body, &["from"])?;
    let chat = chat_or_sender(&body, &from)?;
    let (_, message_id) = body.req_str(&["message_id", "messageId"])?;
    engine
        .inject_revoke(&from, &chat, &message_id)
        .await
        .map_err(|e| engine_error(e, false))?;
    ok(json!({"message_id": message_id, "chat": chat.to_string()}))
}

/// `POST /sandbox/receipt` {message_id, status: delivered|read|played}: the recipient's phone
/// acknowledges one of our messages. Receipts never go backwards (`advanced: false` then);
/// `played` is for audio only.
pub async fn receipt(State(state): State<AppState>, body: JsonObject) -> Reply {
    let engine = sandbox(&state)?;
    let (_, message_id) = body.req_str(&["message_id", "messageId"])?;
    let (_, raw) = body.req_str(&["status"])?;
    let status = match raw.trim().to_ascii_lowercase().as_str() {
        "delivered" => MessageStatus::Delivered,
        "read" => MessageStatus::Read,
        "played" => MessageStatus::Played,
        _ => {
            return Err(ApiError::validation(
                "status",
                "The status field must be delivered, read or played.",
            ));
        }
    };
    let advanced = engine
        .advance_receipt(&message_id, status)
        .await
        .map_err(|e| engine_error(e, false))?;
    ok(json!({"message_id": message_id, "status": status.as_str(), "advanced": advanced}))
}

/// `POST /sandbox/fault` {fault: disconnect|logged_out|stream_replaced}: the connection fails
/// (network drop, logged out from the phone, or another client took the session).
pub async fn fault(State(state): State<AppState>, body: JsonObject) -> Reply {
    let engine = sandbox(&state)?;
    let (_, raw) = body.req_str(&["fault"])?;
    let fault = match raw.trim().to_ascii_lowercase().as_str() {
        "disconnect" => Fault::Disconnect,
        "logged_out" | "logout" => Fault::LoggedOut,
        "stream_replaced" => Fault::StreamReplaced,
        _ => {
            return Err(ApiError::validation(
                "fault",
                "The fault field must be disconnect, logged_out or stream_replaced.",
            ));
        }
    };
    let s = engine
        .fault(fault)
        .await
        .map_err(|e| engine_error(e, false))?;
    ok(connection(&s))
}

/// `POST /sandbox/groups` {subject, participants: [phone or JID, ...], we_are_admin?}: someone
/// creates a group with us in it (the first participant owns it unless `we_are_admin`).
pub async fn groups(State(state): State<AppState>, body: JsonObject) -> Reply {
    let engine = sandbox(&state)?;
    let (_, subject) = body.req_str(&["subject"])?;
    let participants = body
        .opt_str_list("participants")?
        .iter()
        .map(|p| Jid::parse_recipient(p).map_err(|e| ApiError(e.into_error_body("participants"))))
        .collect::<Result<Vec<_>, _>>()?;
    let we_are_admin = body.opt_bool("we_are_admin")?.unwrap_or(false);
    let info = engine
        .inject_group(&subject, &participants, we_are_admin)
        .await
        .map_err(|e| engine_error(e, false))?;
    ok(serde_json::to_value(&info).unwrap_or(Value::Null))
}

#[derive(serde::Deserialize)]
pub struct PresenceQuery {
    /// A phone number or JID; all chats when absent.
    chat: Option<String>,
}

/// `GET /sandbox/presence`: the presence we showed ("typing…") as the contacts' phones saw it.
pub async fn presence(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<PresenceQuery>,
) -> Reply {
    let engine = sandbox(&state)?;
    let chat = match q.chat.as_deref() {
        None | Some("") => None,
        Some(c) => Some(Jid::parse_recipient(c).map_err(|e| ApiError(e.into_error_body("chat")))?),
    };
    let records: Vec<Value> = engine
        .presence(chat.as_ref())
        .into_iter()
        .map(|r| {
            json!({
                "chat": r.chat.to_string(),
                "state": r.presence.as_str(),
                "at": format_millis(r.at),
            })
        })
        .collect();
    ok(json!({ "presence": records }))
}
