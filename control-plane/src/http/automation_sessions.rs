//! Automation sessions: `GET /automation/sessions` (filters `instance_id`, `automation_id`,
//! `status`; paginated), `GET /automation/sessions/{id}`, and
//! `POST /automation/sessions/{id}/status` (`active`, `paused`, `closed`).

use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::conversations::Params;
use super::conversations::query::{or_blank, page, per_page, query, string, uuid};
use super::extract::{Auth, Json};
use crate::error::{AppError, AppResult};
use crate::service::automation::sessions::{SessionFilter, SessionView};

/// Query of `GET /automation/sessions`, read by [`Params`] (blank values read as absent).
pub struct SessionQuery;

impl IntoParams for SessionQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            page(),
            per_page(20),
            query(
                "instance_id",
                "Only this instance's sessions (numeric id or UUID); an `sk_` token's own by \
                 default.",
                or_blank(string()),
            ),
            query(
                "automation_id",
                "Only the sessions of this flow or integration (UUID).",
                or_blank(uuid()),
            ),
            query(
                "status",
                "Only sessions in this state.",
                or_blank(string().enum_values(Some(["active", "paused", "closed"]))),
            ),
        ]
    }
}

/// `POST /automation/sessions/{id}/status`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusBody {
    /// `active` (resume: the conversation must be archived first, and is unarchived),
    /// `paused` (a person takes over) or `closed` (the next message starts a new session).
    #[schema(example = "paused")]
    status: String,
    /// Why (kept with a pause).
    #[schema(max_length = 255)]
    reason: Option<String>,
}

/// List automation sessions
///
/// The tenant's automation sessions (an `sk_` token: its instance's), newest first: one per
/// conversation an automation holds, with its status, state and AI usage.
#[utoipa::path(
    get,
    path = "/automation/sessions",
    tag = "Automation",
    operation_id = "automation_sessions_list",
    params(SessionQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The sessions (`meta.pagination`).", body = ApiResponse<Vec<SessionView>>),
        (status = 403, description = "`instance_id` names another instance than the `sk_` token's (`INSTANCE_FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A filter or the paging is invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    Auth(c): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    let p = Params::parse(q);
    let status = p.get("status").map(str::to_owned);
    if status
        .as_deref()
        .is_some_and(|s| !matches!(s, "active" | "paused" | "closed"))
    {
        return Err(AppError::validation(
            "status",
            "The status must be one of: active, paused, closed.",
        ));
    }
    let automation = match p.get("automation_id") {
        Some(a) => Some(Uuid::parse_str(a.trim()).map_err(|_| {
            AppError::validation("automation_id", "The automation_id must be a UUID.")
        })?),
        None => None,
    };
    let page = p.page(20)?;
    let (rows, pagination) = s
        .services
        .list_sessions(
            &c,
            SessionFilter {
                instance: p.get("instance_id").map(str::to_owned),
                automation,
                status,
            },
            page,
        )
        .await?;
    Ok(axum::Json(ApiResponse::paginated(rows, pagination.into())))
}

/// Get an automation session
#[utoipa::path(
    get,
    path = "/automation/sessions/{id}",
    tag = "Automation",
    operation_id = "automation_sessions_show",
    params(("id" = String, Path, description = "The session's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The session.", body = ApiResponse<SessionView>),
        (status = 404, description = "No such session for this token (`NOT_FOUND`)", body = ErrorEnvelope),
    )
)]
pub async fn show(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    Ok(axum::Json(ApiResponse::data(
        s.services.get_session(&c, &id).await?,
    )))
}

/// Change an automation session's status
///
/// `paused` pauses the conversation's automation (as `/conversations/{id}/automation/pause`);
/// `active` resumes it under the same rule as `/automation/resume` (archive the conversation
/// first; resuming unarchives it); `closed` ends the session.
#[utoipa::path(
    post,
    path = "/automation/sessions/{id}/status",
    tag = "Automation",
    operation_id = "automation_sessions_status",
    params(("id" = String, Path, description = "The session's UUID")),
    request_body(content = StatusBody, example = json!({"status": "paused", "reason": "VIP client"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The session after the change.", body = ApiResponse<SessionView>),
        (status = 404, description = "No such session for this token (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 409, description = "The session is closed, or resuming a conversation that is not archived (`CONFLICT`)", body = ErrorEnvelope),
        (status = 422, description = "`status` is not one of active, paused, closed; `reason` is too long (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn set_status(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<StatusBody>,
) -> AppResult<impl IntoResponse> {
    let status = b.status.trim().to_ascii_lowercase();
    if !matches!(status.as_str(), "active" | "paused" | "closed") {
        return Err(AppError::validation(
            "status",
            "The status must be one of: active, paused, closed.",
        ));
    }
    if b.reason.as_ref().is_some_and(|r| r.chars().count() > 255) {
        return Err(AppError::validation(
            "reason",
            "The reason may not be greater than 255 characters.",
        ));
    }
    Ok(axum::Json(ApiResponse::data(
        s.services
            .set_session_status(&c, &id, &status, b.reason)
            .await?,
    )))
}
