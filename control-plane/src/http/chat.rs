//! The chat API's message actions: edit (`PATCH /chat/messages/{id}`), delete for
//! everyone, reactions, and audio transcription. `{id}` is our message UUID or the
//! WhatsApp message id.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::extract::{Auth, Json};
use crate::error::{AppError, AppResult};
use crate::service::inbox::actions::ReactionChange;
use crate::service::inbox::history::HistoryMessage;
use crate::service::transcription::TranscriptionView;

/// `PATCH /chat/messages/{id}`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ChatEditBody)]
pub struct EditBody {
    /// New message content (not blank; at most 65536 characters).
    #[schema(required = true, value_type = String, min_length = 1, max_length = 65536,
        pattern = r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]", example = "Updated message content")]
    message: Option<String>,
}

/// `POST /chat/messages/{id}/reaction`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ChatReactionBody)]
pub struct ReactionBody {
    /// Emoji to react with: one emoji (at most 8 characters once trimmed, no letters or
    /// digits). Reacting again replaces this instance's reaction.
    #[schema(required = true, value_type = String, min_length = 1, max_length = 8,
        pattern = r"^[^A-Za-z0-9]*[^A-Za-z0-9\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^A-Za-z0-9]*$", example = "👍")]
    emoji: Option<String>,
}

const MESSAGE_ID: &str = "Our message UUID, or the WhatsApp message id";

/// Error descriptions the message operations share in their `#[utoipa::path]`.
const MESSAGE_404_NODE: &str =
    "No such message for this token, or WhatsApp does not know it (`NOT_FOUND`)";
const MESSAGE_409: &str = "The message was deleted (`CONFLICT`), or the instance is not connected (`INSTANCE_NOT_CONNECTED`)";
const NODE_503: &str = "The instance's node is not running or unreachable, or WhatsApp is briefly unavailable (`NODE_UNAVAILABLE`, `SERVICE_UNAVAILABLE`)";
const NODE_504: &str = "The instance's node did not answer in time (`GATEWAY_TIMEOUT`)";

fn message_example(
    message: &str,
    body: &str,
    edited: bool,
    deleted: bool,
    reactions: Value,
) -> Value {
    json!({
        "success": true,
        "message": message,
        "data": {
            "id": 456,
            "uuid": "7d3f9a52-0c1e-4b8e-9a51-3f2d1c0b9e87",
            "unique_id": "msg-abc-123",
            "message_id": "msg-abc-123",
            "conversation_id": "550e8400-e29b-41d4-a716-446655440045",
            "direction": "outgoing",
            "is_from_me": true,
            "message_type": "text",
            "message_body": body,
            "media": null,
            "quoted_message_id": null,
            "mentioned_jids": [],
            "sender_jid": null,
            "sender_name": null,
            "status": "delivered",
            "status_code": 3,
            "is_edited": edited,
            "is_deleted": deleted,
            "timestamp": "2025-12-16T10:00:00.000Z",
            "created_at": "2025-12-16T10:00:00Z",
            "formatted_body": body,
            "grouped_reactions": reactions,
            "audio_transcription": null,
            "transcription_status": null,
            "transcription_language": null,
            "transcription_error": null,
            "transcription_completed_at": null
        }
    })
}

fn edited_example() -> Value {
    message_example(
        "Message edited successfully",
        "Updated message content",
        true,
        false,
        json!([]),
    )
}

fn reacted_example() -> Value {
    message_example(
        "Reaction added",
        "Hello from Chat API!",
        false,
        false,
        json!([{"emoji": "👍", "count": 1, "has_my_reaction": true, "reactors": ["5511988887777"], "reactor_names": ["You"]}]),
    )
}

/// Edit a message
///
/// Edits a sent message content: a text message this instance sent. The answer is the
/// message in the chat shape, as changed.
#[utoipa::path(
    patch,
    path = "/chat/messages/{id}",
    tag = "Chat",
    operation_id = "chat_edit",
    params(("id" = String, Path, description = MESSAGE_ID)),
    request_body(content = EditBody, example = json!({"message": "Updated message content"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Edited.", body = ApiResponse<HistoryMessage>,
            example = edited_example),
        (status = 403, description = "The message was not sent by this instance, or WhatsApp refused (`FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = MESSAGE_404_NODE, body = ErrorEnvelope),
        (status = 409, description = MESSAGE_409, body = ErrorEnvelope),
        (status = 400, description = "The body is not well-formed JSON (`INVALID_JSON`, `BAD_REQUEST`), or the instance's engine cannot edit (`BAD_REQUEST`)", body = ErrorEnvelope),
        (status = 422, description = "`message` is missing, blank or too long, or the message is not a text (`VALIDATION_ERROR`)", body = ErrorEnvelope),
        (status = 503, description = NODE_503, body = ErrorEnvelope),
        (status = 504, description = NODE_504, body = ErrorEnvelope),
    )
)]
pub async fn edit(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<EditBody>,
) -> AppResult<impl IntoResponse> {
    let text = body
        .message
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| AppError::validation("message", "The message field is required."))?;
    if text.chars().count() > 65_536 {
        return Err(AppError::validation(
            "message",
            "The message may not be greater than 65536 characters.",
        ));
    }
    let m = state.services.edit_message(&caller, &id, text).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Message edited successfully",
        m,
    )))
}

/// Delete a message
///
/// Deletes a sent message for everyone: a message this instance sent. The answer is the
/// message in the chat shape, now `is_deleted`.
#[utoipa::path(
    delete,
    path = "/chat/messages/{id}",
    tag = "Chat",
    operation_id = "chat_delete",
    params(("id" = String, Path, description = MESSAGE_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted for everyone.", body = ApiResponse<HistoryMessage>),
        (status = 403, description = "The message was not sent by this instance, or WhatsApp refused (`FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = MESSAGE_404_NODE, body = ErrorEnvelope),
        (status = 409, description = MESSAGE_409, body = ErrorEnvelope),
        (status = 422, description = "WhatsApp refused the request as invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
        (status = 400, description = "The instance's engine does not support this (`BAD_REQUEST`)", body = ErrorEnvelope),
        (status = 503, description = NODE_503, body = ErrorEnvelope),
        (status = 504, description = NODE_504, body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let m = state.services.revoke_message(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Message deleted successfully",
        m,
    )))
}

/// React to a message
///
/// Adds an emoji reaction to a message (replacing this instance's earlier reaction). The
/// answer is the message in the chat shape, with its `grouped_reactions`.
#[utoipa::path(
    post,
    path = "/chat/messages/{id}/reaction",
    tag = "Chat",
    operation_id = "chat_react",
    params(("id" = String, Path, description = MESSAGE_ID)),
    request_body(content = ReactionBody, example = json!({"emoji": "👍"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Reaction added.", body = ApiResponse<HistoryMessage>,
            example = reacted_example),
        (status = 403, description = "WhatsApp refused (`FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = MESSAGE_404_NODE, body = ErrorEnvelope),
        (status = 409, description = MESSAGE_409, body = ErrorEnvelope),
        (status = 400, description = "The body is not well-formed JSON (`INVALID_JSON`, `BAD_REQUEST`), or the instance's engine cannot react (`BAD_REQUEST`)", body = ErrorEnvelope),
        (status = 422, description = "`emoji` is missing or not a single emoji, or WhatsApp refused the request as invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
        (status = 503, description = NODE_503, body = ErrorEnvelope),
        (status = 504, description = NODE_504, body = ErrorEnvelope),
    )
)]
pub async fn react(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<ReactionBody>,
) -> AppResult<impl IntoResponse> {
    let emoji = body
        .emoji
        .map(|e| e.trim().to_owned())
        .filter(|e| !e.is_empty())
        .ok_or_else(|| AppError::validation("emoji", "The emoji field is required."))?;
    if emoji.chars().count() > 8 || emoji.chars().any(|c| c.is_ascii_alphanumeric()) {
        return Err(AppError::validation(
            "emoji",
            "The emoji field must be a single emoji.",
        ));
    }
    let m = state
        .services
        .react(&caller, &id, ReactionChange::Add(emoji))
        .await?;
    Ok(axum::Json(ApiResponse::message_data("Reaction added", m)))
}

/// Remove a reaction
///
/// Removes this instance's reaction from a message.
#[utoipa::path(
    delete,
    path = "/chat/messages/{id}/reaction",
    tag = "Chat",
    operation_id = "chat_unreact",
    params(("id" = String, Path, description = MESSAGE_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Reaction removed.", body = ApiResponse<HistoryMessage>),
        (status = 403, description = "WhatsApp refused (`FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = MESSAGE_404_NODE, body = ErrorEnvelope),
        (status = 409, description = MESSAGE_409, body = ErrorEnvelope),
        (status = 422, description = "WhatsApp refused the request as invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
        (status = 400, description = "The instance's engine does not support this (`BAD_REQUEST`)", body = ErrorEnvelope),
        (status = 503, description = NODE_503, body = ErrorEnvelope),
        (status = 504, description = NODE_504, body = ErrorEnvelope),
    )
)]
pub async fn unreact(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let m = state
        .services
        .react(&caller, &id, ReactionChange::Remove)
        .await?;
    Ok(axum::Json(ApiResponse::message_data("Reaction removed", m)))
}

/// Get a transcription
///
/// Get the transcription status and text for an audio message. The fields are null until a
/// transcription is requested (or made automatically, for instances with auto-transcribe on).
#[utoipa::path(
    get,
    path = "/chat/messages/{id}/transcription",
    tag = "Chat",
    operation_id = "chat_transcription",
    params(("id" = String, Path, description = MESSAGE_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The transcription state.", body = ApiResponse<TranscriptionView>,
            example = json!({"success": true, "data": {
                "message_id": "msg-abc-123",
                "audio_transcription": "Olá, tudo bem? Gostaria de saber mais sobre o produto.",
                "transcription_status": "completed",
                "transcription_language": "pt",
                "transcription_error": null,
                "transcription_completed_at": "2026-02-21T10:30:00.000000Z"
            }})),
        (status = 404, description = "No such message for this token (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "The message is not an audio message (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn transcription(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let t = state.services.get_transcription(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(t)))
}

/// Request a transcription
///
/// Request transcription for an audio message: it is queued (a failed one is queued again)
/// and run in the background; poll `GET` for the result. If already completed or in progress,
/// returns the existing transcription; the message says which.
#[utoipa::path(
    post,
    path = "/chat/messages/{id}/transcription",
    tag = "Chat",
    operation_id = "chat_request_transcription",
    params(("id" = String, Path, description = MESSAGE_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Queued (`Transcription queued successfully.`), or the current state (`Transcription already completed.`, `Transcription already in progress.`).",
            body = ApiResponse<TranscriptionView>,
            example = json!({"success": true, "message": "Transcription queued successfully.", "data": {
                "message_id": "msg-abc-123",
                "audio_transcription": null,
                "transcription_status": "pending",
                "transcription_language": null,
                "transcription_error": null,
                "transcription_completed_at": null
            }})),
        (status = 404, description = "No such message for this token (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "The message is not an audio message (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn request_transcription(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let (t, queued) = state.services.request_transcription(&caller, &id).await?;
    let (status, message) = match (queued, t.fields.transcription_status.as_deref()) {
        (true, _) => (StatusCode::OK, "Transcription queued successfully."),
        (false, Some("completed")) => (StatusCode::OK, "Transcription already completed."),
        (false, _) => (StatusCode::OK, "Transcription already in progress."),
    };
    Ok((status, axum::Json(ApiResponse::message_data(message, t))))
}
