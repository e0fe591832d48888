//! Automation control of a conversation: its state, pause (a person takes over), resume (only
//! after archiving; resuming unarchives), and the bulk forms.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorEnvelope;

use super::examples;
use super::schemas::{BulkPauseResult, BulkResumeResult, CONVERSATION_404, CONVERSATION_ID};
use crate::error::{AppError, AppResult};
use crate::http::AppState;
use crate::http::extract::{Auth, Json};
use crate::service::inbox::automation::{AutomationView, MAX_BULK};

/// The body of a pause: an optional reason.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[schema(as = AutomationPauseBody)]
pub struct PauseBody {
    /// Optional reason for pausing automation (trimmed; at most 500 characters).
    #[schema(max_length = 500, example = "Manual takeover for VIP client")]
    reason: Option<String>,
}

/// The reason, trimmed (blank is none), at most 500 characters.
pub(super) fn reason(r: Option<String>) -> AppResult<Option<String>> {
    let r = r.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if r.as_ref().is_some_and(|s| s.chars().count() > 500) {
        return Err(AppError::validation(
            "reason",
            "The reason may not be greater than 500 characters.",
        ));
    }
    Ok(r)
}

impl PauseBody {
    pub(super) fn reason(self) -> AppResult<Option<String>> {
        reason(self.reason)
    }
}

/// Get the automation state
///
/// Returns the current automation status for a conversation: `active` when its instance has
/// an active flow or integration and nobody took over, `paused` after a pause, `inactive`
/// when the instance has no active automation. Manual sends are refused with
/// `AUTOMATION_ACTIVE` only while it is `active`.
#[utoipa::path(
    get,
    path = "/conversations/{id}/automation",
    tag = "Conversations",
    operation_id = "conversations_automation",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The automation state.", body = ApiResponse<AutomationView>,
            example = examples::automation),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
    )
)]
pub async fn automation(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let v = state.services.automation_of(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(v)))
}

/// Pause automation
///
/// Pauses automation for a conversation, allowing manual messages. Pausing a paused
/// conversation keeps its original time, author and reason. The body is optional.
#[utoipa::path(
    post,
    path = "/conversations/{id}/automation/pause",
    tag = "Conversations",
    operation_id = "conversations_pause",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    request_body(content = Option<PauseBody>, example = examples::pause_body),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Paused.", body = ApiResponse<AutomationView>,
            example = examples::paused),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
        (status = 422, description = "`reason` is longer than 500 characters (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn pause(
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
        "Automation paused. You can now send messages manually.",
        v,
    )))
}

/// Resume automation
///
/// Resumes automation for a conversation, letting AI handle responses. To resume automation,
/// you must first archive the conversation: this closes the manual service session. Resuming
/// unarchives it.
#[utoipa::path(
    post,
    path = "/conversations/{id}/automation/resume",
    tag = "Conversations",
    operation_id = "conversations_resume",
    params(("id" = String, Path, description = CONVERSATION_ID)),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Resumed.", body = ApiResponse<AutomationView>,
            example = examples::resumed),
        (status = 404, description = CONVERSATION_404, body = ErrorEnvelope),
        (status = 409, description = "The conversation is not archived (`CONFLICT`; `details` has `conversation_id` and `is_archived`)", body = ErrorEnvelope,
            example = examples::resume_conflict),
    )
)]
pub async fn resume(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let v = state.services.resume_automation(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Automation resumed. AI will handle this conversation.",
        v,
    )))
}

/// The body of a bulk pause.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = AutomationBulkPauseBody)]
pub struct BulkPauseBody {
    /// Conversation UUIDs, 1 to 100. An id that names no conversation of this token counts
    /// under `errors`.
    #[schema(required = true, value_type = Vec<Value>, min_items = 1, max_items = 100)]
    conversation_ids: Option<Vec<Value>>,
    /// Optional reason for pausing automation (trimmed; at most 500 characters).
    #[schema(max_length = 500)]
    reason: Option<String>,
}

/// The body of a bulk resume.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = AutomationBulkResumeBody)]
pub struct BulkResumeBody {
    /// Conversation UUIDs, 1 to 100. An id that names no conversation of this token counts
    /// under `errors`.
    #[schema(required = true, value_type = Vec<Value>, min_items = 1, max_items = 100)]
    conversation_ids: Option<Vec<Value>>,
}

/// The ids as strings, 1 to [`MAX_BULK`] of them.
fn bulk_ids(ids: Option<Vec<Value>>) -> AppResult<Vec<String>> {
    let ids = ids.ok_or_else(|| {
        AppError::validation(
            "conversation_ids",
            "The conversation_ids field is required.",
        )
    })?;
    if ids.is_empty() {
        return Err(AppError::validation(
            "conversation_ids",
            "The conversation_ids field must have at least 1 item.",
        ));
    }
    if ids.len() > MAX_BULK {
        return Err(AppError::validation(
            "conversation_ids",
            "The conversation_ids field must not have more than 100 items.",
        ));
    }
    Ok(ids
        .into_iter()
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .collect())
}

/// Pause automation in bulk
///
/// Pauses automation for multiple conversations at once. Conversations already paused, or
/// whose instance has no active automation, are skipped.
#[utoipa::path(
    post,
    path = "/conversations/automation/bulk-pause",
    tag = "Conversations",
    operation_id = "conversations_bulk_pause",
    request_body(content = BulkPauseBody, example = examples::bulk_body),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Counts; the message reads `{n} conversations paused`.",
            body = ApiResponse<BulkPauseResult>, example = examples::bulk_paused),
        (status = 422, description = "`conversation_ids` is missing, empty or longer than 100, or `reason` is longer than 500 characters (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn bulk_pause(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<BulkPauseBody>,
) -> AppResult<impl IntoResponse> {
    let ids = bulk_ids(body.conversation_ids)?;
    let o = state
        .services
        .bulk_automation(&caller, &ids, true, reason(body.reason)?)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        format!("{} conversations paused", o.done),
        BulkPauseResult {
            paused: o.done,
            skipped: o.skipped,
            errors: o.errors,
        },
    )))
}

/// Resume automation in bulk
///
/// Resumes automation for multiple conversations at once. As for one conversation, each
/// must be archived first (one that is not counts under `errors`); resuming unarchives it.
#[utoipa::path(
    post,
    path = "/conversations/automation/bulk-resume",
    tag = "Conversations",
    operation_id = "conversations_bulk_resume",
    request_body(content = BulkResumeBody, example = examples::bulk_body),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Counts; the message reads `{n} automations resumed`.",
            body = ApiResponse<BulkResumeResult>),
        (status = 422, description = "`conversation_ids` is missing, empty or longer than 100 (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn bulk_resume(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<BulkResumeBody>,
) -> AppResult<impl IntoResponse> {
    let ids = bulk_ids(body.conversation_ids)?;
    let o = state
        .services
        .bulk_automation(&caller, &ids, false, None)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        format!("{} automations resumed", o.done),
        BulkResumeResult {
            resumed: o.done,
            skipped: o.skipped,
            errors: o.errors,
        },
    )))
}
