//! `POST /send-message`, `POST /send-media`, `POST /send-reaction`: the Instance API's sends,
//! with the reference's field aliases and response shape.

use axum::Json;
use axum::extract::State;
use zapini_shared::jid::Jid;
use zapini_shared::node_api::SentResponse;
use zapini_shared::time::format_millis;

use super::AppState;
use super::body::JsonObject;
use super::error::{ApiError, engine_error, send_error};
use crate::engine::{SendOptions, SentMessage};
use crate::media;
use crate::service::{MediaRequest, MediaSource};

const RECIPIENT: &[&str] = &["recipient", "number", "to"];
const REPLY_TO: &[&str] = &["reply_to", "quoted_message_id"];

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

fn options(body: &JsonObject) -> Result<SendOptions, ApiError> {
    Ok(SendOptions {
        quoted_id: body.opt_str(REPLY_TO)?.map(|(_, v)| v),
        mentioned_jids: Vec::new(),
    })
}

/// `POST /send-message` {recipient|number|to, message, reply_to|quoted_message_id}.
pub async fn send_message(
    State(state): State<AppState>,
    body: JsonObject,
) -> Result<Json<SentResponse>, ApiError> {
    let to = recipient(&body, RECIPIENT)?;
    let (_, text) = body.req_str(&["message"])?;
    let options = options(&body)?;
    let sent = state
        .node
        .send_text(&to, &text, &options, false)
        .await
        .map_err(|e| send_error(e, to.is_user()))?;
    Ok(sent_response("Message sent successfully", sent))
}

/// `POST /send-media` {recipient|number|to, media_url|url, media_type|type, caption?,
/// filename?, reply_to|quoted_message_id?}.
pub async fn send_media(
    State(state): State<AppState>,
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
    let options = options(&body)?;
    let request = MediaRequest {
        kind,
        source: match &media_id {
            Some(id) => MediaSource::Library(id),
            None => MediaSource::Url(&url),
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
