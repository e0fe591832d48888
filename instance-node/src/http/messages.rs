//! `POST /send-message`, `POST /send-media`, `POST /send-reaction`: the Instance API's sends,
//! with the reference's field aliases and response shape. The two sends take an optional
//! `Idempotency-Key` header: the node's client reference for the send (`service::sent_refs`).

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use zapini_shared::jid::Jid;
use zapini_shared::node_api::SentResponse;
use zapini_shared::time::format_millis;

use super::AppState;
use super::body::JsonObject;
use super::error::{ApiError, engine_error, send_error};
use crate::engine::{SendOptions, SentMessage};
use crate::media;
use crate::service::sent_refs::{InvalidClientRef, parse_client_ref};
use crate::service::{MediaRequest, MediaSource};

const RECIPIENT: &[&str] = &["recipient", "number", "to"];
const REPLY_TO: &[&str] = &["reply_to", "quoted_message_id"];
/// The request header that makes a send idempotent, as validation errors name it.
const IDEMPOTENCY_KEY: &str = "Idempotency-Key";

/// `{"success":true,"message":"...","message_id":"...","timestamp":"...Z"}`.
fn sent_response(message: &str, sent: SentMessage) -> Json<SentResponse> {
    Json(SentResponse {
        success: true,
        message: message.to_owned(),
        message_id: sent.message_id,
        timestamp: format_millis(sent.timestamp),
    })
}

/// Parses a recipient given as a phone number or a JID, naming the field used on failure.
pub fn recipient(body: &JsonObject, aliases: &[&'static str]) -> Result<Jid, ApiError> {
    let (field, raw) = body.req_str(aliases)?;
    Jid::parse_recipient(&raw).map_err(|e| ApiError(e.into_error_body(field)))
}

/// The `Idempotency-Key` header, when given: 1 to 128 visible ASCII characters. It is kept
/// as `api:<key>`, so an integrator's key can never pose as (or block) a reference the
/// control plane's automations use on the same node.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(IDEMPOTENCY_KEY) else {
        return Ok(None);
    };
    let invalid = |e: InvalidClientRef| ApiError::validation(e.field, e.to_string());
    let raw = value.to_str().map_err(|_| {
        invalid(InvalidClientRef {
            field: IDEMPOTENCY_KEY,
        })
    })?;
    parse_client_ref(IDEMPOTENCY_KEY, raw)
        .map(|k| Some(format!("api:{k}")))
        .map_err(invalid)
}

fn options(body: &JsonObject, headers: &HeaderMap) -> Result<SendOptions, ApiError> {
    Ok(SendOptions {
        quoted_id: body.opt_str(REPLY_TO)?.map(|(_, v)| v),
        mentioned_jids: Vec::new(),
        client_ref: idempotency_key(headers)?,
    })
}

/// `POST /send-message` {recipient|number|to, message, reply_to|quoted_message_id}, with an
/// optional `Idempotency-Key` header.
pub async fn send_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Json<SentResponse>, ApiError> {
    let to = recipient(&body, RECIPIENT)?;
    let (_, text) = body.req_str(&["message"])?;
    let options = options(&body, &headers)?;
    let sent = state
        .node
        .send_text(&to, &text, &options, false)
        .await
        .map_err(|e| send_error(e, to.is_user()))?;
    Ok(sent_response("Message sent successfully", sent))
}

/// `POST /send-media` {recipient|number|to, media_url|url, media_type|type, caption?,
/// filename?, reply_to|quoted_message_id?}, with an optional `Idempotency-Key` header.
pub async fn send_media(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: JsonObject,
) -> Result<Json<SentResponse>, ApiError> {
    let to = recipient(&body, RECIPIENT)?;
    // A library file (`media_id`, from POST /media/upload) instead of a URL.
    let media_id = body.opt_str(&["media_id"])?.map(|(_, v)| v);
    let url = match &media_id {
        Some(_) => String::new(),
        None => body.req_str(&["media_url", "url"])?.1,
    };
    let (kind_field, kind_raw) = body.req_str(&["media_type", "type"])?;
    let kind = media::parse_kind(&kind_raw, false).ok_or_else(|| {
        ApiError::validation(
            kind_field,
            format!("The {kind_field} field must be one of: image, video, audio, document."),
        )
    })?;
    let caption = body.opt_str(&["caption"])?.map(|(_, v)| v);
    let filename = body.opt_str(&["filename"])?.map(|(_, v)| v);
    let options = options(&body, &headers)?;
    let request = MediaRequest {
        kind,
        source: match media_id {
            Some(id) => MediaSource::Library(id),
            None => MediaSource::Url(url),
        },
        caption,
        filename,
    };
    let sent = state
        .node
        .send_media(&to, request, &options, false)
        .await
        .map_err(|e| send_error(e, to.is_user()))?;
    Ok(sent_response("Media sent successfully", sent))
}

/// `POST /send-reaction` {to, messageId|message_id, emoji} (an empty emoji removes ours).
pub async fn send_reaction(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Json<SentResponse>, ApiError> {
    let chat = recipient(&body, &["to", "chat", "recipient"])?;
    let (_, message_id) = body.req_str(&["messageId", "message_id"])?;
    let emoji = body.req_str_allow_empty(&["emoji"])?;
    let from_me = body.opt_bool("from_me")?.unwrap_or(false);
    let sent = state
        .node
        .engine
        .react(&chat, &message_id, from_me, &emoji)
        .await
        .map_err(|e| engine_error(e, false))?;
    Ok(sent_response("Reaction sent successfully", sent))
}
