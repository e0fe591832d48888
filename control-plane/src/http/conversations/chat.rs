//! The chat API's conversation routes (`/chat/conversations…`): the standard routes in the
//! chat shape (tags, the instance block, `formatted_body`, `grouped_reactions`), and its
//! forms of mark-read, archive/restore and automation pause/resume.

use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorEnvelope;

use super::automation::PauseBody;
use super::query::{ChatHistoryQuery, ChatListQuery, Params};
use super::schemas::{
    CONVERSATION_404, CONVERSATION_ID, ChatAutomationPaused, ChatAutomationResumed,
    ConversationArchived, ConversationRestored, INSTANCE_403, INSTANCE_404,
};
use super::{archive, examples, history, list_with, mark_read, restore};
use crate::error::AppResult;
use crate::http::AppState;
use crate::http::extract::{Auth, Json};
use crate::service::inbox::actions::MarkedRead;
use crate::service::inbox::history::History;
use crate::service::inbox::{ConversationView, Shape};

/// List conversations (chat)
///
/// Lists conversations with tags, profile pictures, and unread counts optimized for chat list
/// UI: `GET /conversations?format=chat`, with the same filters.
#[utoipa::path(
    get,
    path = "/chat/conversations",
    tag = "Chat",
    operation_id = "conversations_chat_list",
    params(ChatListQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of conversations in the chat shape.",
            body = ApiResponse<Vec<ConversationView>>, example = examples::chat_list),
        (status = 403, description = INSTANCE_403, body = ErrorEnvelope),
        (status = 404, description = INSTANCE_404, body = ErrorEnvelope),
    )
)]
pub async fn chat_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    list_with(&state, &caller, &Params::parse(q), false, true).await
}

/// Get a conversation (chat)
///
/// One conversation in the chat shape, with its tags and instance block.
#[utoipa::path(
    get,
    path = "/chat/conversations/{id}",
    tag = "Chat",
    operation_id = "conversations_chat_show",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The conversation.", body = ApiResponse<ConversationView>),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
    )
)]
pub async fn chat_show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let c = state
        .services
        .get_conversation(&caller, &id, Shape::Chat)
        .await?;
    Ok(axum::Json(ApiResponse::data(c)))
}

/// Message history (chat)
///
/// Returns messages with `formatted_body` (resolved @mentions, as HTML) and
/// `grouped_reactions`, oldest first within the window, as `GET /conversations/{id}/messages`
/// does.
#[utoipa::path(
    get,
    path = "/chat/conversations/{id}/messages",
    tag = "Chat",
    operation_id = "conversations_chat_messages",
    params(("id" = String, Path, description = CONVERSATION_ID), ChatHistoryQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The messages.", body = ApiResponse<History>,
            example = examples::chat_messages),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
    )
)]
pub async fn chat_messages(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    history(&state, &caller, &id, &Params::parse(q), true).await
}

/// Mark as read (chat)
///
/// Marks a conversation as read, as `POST /conversations/{id}/mark-read` does.
#[utoipa::path(
    post,
    path = "/chat/conversations/{id}/mark-read",
    tag = "Chat",
    operation_id = "conversations_chat_mark_read",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Marked read.", body = ApiResponse<MarkedRead>),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
    )
)]
pub async fn chat_mark_read(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
) -> AppResult<impl IntoResponse> {
    mark_read(state, auth, id).await
}

/// Archive a conversation (chat)
///
/// Archives a conversation, as `POST /conversations/{id}/archive` does.
#[utoipa::path(
    post,
    path = "/chat/conversations/{id}/archive",
    tag = "Chat",
    operation_id = "conversations_chat_archive",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Archived.", body = ApiResponse<ConversationArchived>,
            example = examples::archived),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
    )
)]
pub async fn chat_archive(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
) -> AppResult<impl IntoResponse> {
    archive(state, auth, id).await
}

/// Restore an archived conversation (chat)
///
/// Restores an archived conversation back to active status. The UUID must be from an
/// archived conversation; list them with `GET /conversations/archived`.
#[utoipa::path(
    delete,
    path = "/chat/conversations/{id}/archive",
    tag = "Chat",
    operation_id = "conversations_chat_restore",
    params(("id" = String, Path, description = "The archived conversation's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Restored.", body = ApiResponse<ConversationRestored>,
            example = examples::restored),
        (status = 404, description = "No such conversation for this token, or it is not archived (`NOT_FOUND`)", body = ErrorEnvelope),
    )
)]
pub async fn chat_restore(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
) -> AppResult<impl IntoResponse> {
    restore(state, auth, id).await
}

/// Pause automation (chat)
///
/// Pause automation for a conversation to allow manual messaging. The body is optional.
#[utoipa::path(
    post,
    path = "/chat/conversations/{id}/pause-automation",
    tag = "Chat",
    operation_id = "conversations_chat_pause",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    request_body(content = Option<PauseBody>, example = examples::chat_pause_body),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Paused.", body = ApiResponse<ChatAutomationPaused>),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
        (status = 422, description = "`reason` is longer than 500 characters (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn chat_pause(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<PauseBody>,
) -> AppResult<impl IntoResponse> {
    let v = state
        .services
        .pause_automation(&caller, &id, body.reason()?)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Automation paused successfully",
        ChatAutomationPaused {
            conversation_id: v.conversation_id,
            automation_paused: true,
            automation_status: v.automation_status,
            paused_at: v.paused_at,
            paused_by: v.paused_by,
            reason: v.pause_reason,
        },
    )))
}

/// Resume automation (chat)
///
/// Resume automation for a conversation, returning control to the automated system. As with
/// `POST /conversations/{id}/automation/resume`, the conversation must be archived first;
/// resuming unarchives it.
#[utoipa::path(
    post,
    path = "/chat/conversations/{id}/resume-automation",
    tag = "Chat",
    operation_id = "conversations_chat_resume",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Resumed.", body = ApiResponse<ChatAutomationResumed>),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
        (status = 409, description = "The conversation is not archived (`CONFLICT`; `details` has `conversation_id` and `is_archived`)", body = ErrorEnvelope),
    )
)]
pub async fn chat_resume(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let v = state.services.resume_automation(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Automation resumed successfully",
        ChatAutomationResumed {
            conversation_id: v.conversation_id,
            automation_paused: false,
            automation_status: v.automation_status,
            resumed_at: zapini_shared::time::format_secs(chrono::Utc::now()),
        },
    )))
}
