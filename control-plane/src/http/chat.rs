//! The chat API's message actions: edit (`PATCH /chat/messages/{uuid}`), delete for
//! everyone, reactions, and audio transcription. `{uuid}` is our message UUID or the
//! WhatsApp message id.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::AppState;
use super::extract::{Auth, Json};
use crate::error::{AppError, AppResult};
use crate::service::inbox::actions::ReactionChange;
use zapini_shared::envelope::ApiResponse;

#[derive(Deserialize)]
pub struct EditBody {
    message: Option<String>,
}

#[derive(Deserialize)]
pub struct ReactionBody {
    emoji: Option<String>,
}

#[utoipa::path(
    patch,
    path = "/chat/messages/{id}",
    tag = "Chat",
    operation_id = "chat_edit",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
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

#[utoipa::path(
    delete,
    path = "/chat/messages/{id}",
    tag = "Chat",
    operation_id = "chat_delete",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
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

#[utoipa::path(
    post,
    path = "/chat/messages/{id}/reaction",
    tag = "Chat",
    operation_id = "chat_react",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
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

#[utoipa::path(
    delete,
    path = "/chat/messages/{id}/reaction",
    tag = "Chat",
    operation_id = "chat_unreact",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
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

#[utoipa::path(
    get,
    path = "/chat/messages/{id}/transcription",
    tag = "Chat",
    operation_id = "chat_transcription",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn transcription(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let t = state.services.get_transcription(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(t)))
}

#[utoipa::path(
    post,
    path = "/chat/messages/{id}/transcription",
    tag = "Chat",
    operation_id = "chat_request_transcription",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
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
