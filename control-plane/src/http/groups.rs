//! The Groups API: `/instances/{id}/groups[/{jid}[/participants|admins|leave|invite]]`,
//! served through the instance's node.

use axum::Json as AxumJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use zapini_shared::envelope::ApiResponse;

use super::AppState;
use super::extract::{Auth, Json};
use crate::error::{AppError, AppResult};
use crate::service::groups::{ParticipantChange, parse_group_jid, parse_participants};

/// WhatsApp's limits on subjects and descriptions.
const MAX_SUBJECT: usize = 100;
const MAX_DESCRIPTION: usize = 2048;

#[derive(Deserialize)]
pub struct CreateBody {
    subject: Option<Value>,
    participants: Option<Vec<Value>>,
}

#[derive(Deserialize)]
pub struct UpdateBody {
    subject: Option<Value>,
    description: Option<Value>,
}

#[derive(Deserialize)]
pub struct ParticipantsBody {
    participants: Option<Vec<Value>>,
}

fn subject(v: Option<Value>, required: bool) -> AppResult<Option<String>> {
    match v {
        None | Some(Value::Null) if !required => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => {
            let s = s.trim().to_owned();
            if s.chars().count() > MAX_SUBJECT {
                return Err(AppError::validation(
                    "subject",
                    format!("The subject may not be greater than {MAX_SUBJECT} characters."),
                ));
            }
            Ok(Some(s))
        }
        _ => Err(AppError::validation(
            "subject",
            "The subject field is required and must be a non-empty string.",
        )),
    }
}

#[utoipa::path(
    get,
    path = "/instances/{id}/groups",
    tag = "Groups",
    operation_id = "groups_list",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let groups = state.services.list_groups(&caller, &id).await?;
    let total = groups.len();
    Ok(AxumJson(ApiResponse::data(
        json!({ "groups": groups, "total": total }),
    )))
}

#[utoipa::path(
    post,
    path = "/instances/{id}/groups",
    tag = "Groups",
    operation_id = "groups_create",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<CreateBody>,
) -> AppResult<impl IntoResponse> {
    let subject = subject(body.subject, true)?.unwrap_or_default();
    let participants = parse_participants(body.participants)?;
    let group = state
        .services
        .create_group(&caller, &id, &subject, participants)
        .await?;
    Ok((
        StatusCode::CREATED,
        AxumJson(ApiResponse::data(json!({
            "group": group,
            "message": "Group created successfully",
        }))),
    ))
}

#[utoipa::path(
    get,
    path = "/instances/{id}/groups/{jid}",
    tag = "Groups",
    operation_id = "groups_show",
    params(("id" = String, Path), ("jid" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
) -> AppResult<impl IntoResponse> {
    let group = parse_group_jid(&jid)?;
    let view = state.services.group_metadata(&caller, &id, &group).await?;
    Ok(AxumJson(ApiResponse::data(view)))
}

#[utoipa::path(
    method(patch, put),
    path = "/instances/{id}/groups/{jid}",
    tag = "Groups",
    operation_id = "groups_update",
    params(("id" = String, Path), ("jid" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
    Json(body): Json<UpdateBody>,
) -> AppResult<impl IntoResponse> {
    let group = parse_group_jid(&jid)?;
    let subject = subject(body.subject, false)?;
    let description = match body.description {
        None | Some(Value::Null) => None,
        Some(Value::String(d)) if d.chars().count() <= MAX_DESCRIPTION => Some(d),
        Some(Value::String(_)) => {
            return Err(AppError::validation(
                "description",
                format!("The description may not be greater than {MAX_DESCRIPTION} characters."),
            ));
        }
        Some(_) => {
            return Err(AppError::validation(
                "description",
                "The description field must be a string.",
            ));
        }
    };
    if subject.is_none() && description.is_none() {
        return Err(AppError::validation(
            "subject",
            "Send a subject and/or a description to update.",
        ));
    }
    let view = state
        .services
        .update_group(&caller, &id, &group, subject, description)
        .await?;
    Ok(AxumJson(ApiResponse::message_data(
        "Group updated successfully",
        view,
    )))
}

async fn change(
    state: AppState,
    caller: crate::domain::Caller,
    id: String,
    jid: String,
    body: ParticipantsBody,
    change: ParticipantChange,
) -> AppResult<impl IntoResponse> {
    let group = parse_group_jid(&jid)?;
    let participants = parse_participants(body.participants)?;
    let data = state
        .services
        .change_participants(&caller, &id, &group, change, participants)
        .await?;
    Ok(AxumJson(ApiResponse::message_data(
        change.done_message(),
        data,
    )))
}

#[utoipa::path(
    post,
    path = "/instances/{id}/groups/{jid}/participants",
    tag = "Groups",
    operation_id = "groups_add_participants",
    params(("id" = String, Path), ("jid" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn add_participants(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
    Json(body): Json<ParticipantsBody>,
) -> AppResult<impl IntoResponse> {
    change(state, caller, id, jid, body, ParticipantChange::Add).await
}

#[utoipa::path(
    delete,
    path = "/instances/{id}/groups/{jid}/participants",
    tag = "Groups",
    operation_id = "groups_remove_participants",
    params(("id" = String, Path), ("jid" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn remove_participants(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
    Json(body): Json<ParticipantsBody>,
) -> AppResult<impl IntoResponse> {
    change(state, caller, id, jid, body, ParticipantChange::Remove).await
}

#[utoipa::path(
    post,
    path = "/instances/{id}/groups/{jid}/admins",
    tag = "Groups",
    operation_id = "groups_promote",
    params(("id" = String, Path), ("jid" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn promote(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
    Json(body): Json<ParticipantsBody>,
) -> AppResult<impl IntoResponse> {
    change(state, caller, id, jid, body, ParticipantChange::Promote).await
}

#[utoipa::path(
    delete,
    path = "/instances/{id}/groups/{jid}/admins",
    tag = "Groups",
    operation_id = "groups_demote",
    params(("id" = String, Path), ("jid" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn demote(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
    Json(body): Json<ParticipantsBody>,
) -> AppResult<impl IntoResponse> {
    change(state, caller, id, jid, body, ParticipantChange::Demote).await
}

#[utoipa::path(
    post,
    path = "/instances/{id}/groups/{jid}/leave",
    tag = "Groups",
    operation_id = "groups_leave",
    params(("id" = String, Path), ("jid" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn leave(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
) -> AppResult<impl IntoResponse> {
    let group = parse_group_jid(&jid)?;
    state.services.leave_group(&caller, &id, &group).await?;
    Ok(AxumJson(ApiResponse::message_only("Left the group")))
}

#[utoipa::path(
    get,
    path = "/instances/{id}/groups/{jid}/invite",
    tag = "Groups",
    operation_id = "groups_invite",
    params(("id" = String, Path), ("jid" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn invite(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
) -> AppResult<impl IntoResponse> {
    let group = parse_group_jid(&jid)?;
    let (code, link) = state
        .services
        .group_invite(&caller, &id, &group, false)
        .await?;
    Ok(AxumJson(ApiResponse::data(
        json!({ "code": code, "invite_link": link }),
    )))
}

#[utoipa::path(
    delete,
    path = "/instances/{id}/groups/{jid}/invite",
    tag = "Groups",
    operation_id = "groups_revoke_invite",
    params(("id" = String, Path), ("jid" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn revoke_invite(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
) -> AppResult<impl IntoResponse> {
    let group = parse_group_jid(&jid)?;
    let (code, link) = state
        .services
        .group_invite(&caller, &id, &group, true)
        .await?;
    Ok(AxumJson(ApiResponse::message_data(
        "Invite link revoked",
        json!({ "new_code": code, "new_invite_link": link }),
    )))
}
