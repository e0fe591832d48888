//! The Groups API: `/instances/{id}/groups[/{jid}[/participants|admins|leave|invite]]`,
//! served through the instance's node.

mod schemas;

use axum::Json as AxumJson;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::Value;
use zapini_shared::envelope::{ApiResponse, MessageOnly};
use zapini_shared::error::ErrorEnvelope;

use self::schemas::*;
use super::AppState;
use super::extract::{Auth, Json};
use crate::error::{AppError, AppResult};
use crate::service::groups::{
    GroupView, ParticipantChange, ParticipantsOutcome, parse_group_jid, parse_participants,
};

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

/// List groups
///
/// Returns all WhatsApp groups from the instance.
#[utoipa::path(
    get,
    path = "/instances/{id}/groups",
    tag = "Groups",
    operation_id = "groups_list",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The groups.", body = ApiResponse<GroupList>,
            example = json!({"success": true, "data": {"groups": [{
                "jid": "120363001234567890@g.us", "subject": "Marketing Team",
                "owner": "5511987654321@s.whatsapp.net", "size": 25, "description": "Team discussions"
            }], "total": 1}})),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = E404, body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = E422, body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let groups = state.services.list_groups(&caller, &id).await?;
    let total = groups.len();
    Ok(AxumJson(ApiResponse::data(GroupList { groups, total })))
}

/// Create a group
///
/// Creates a new WhatsApp group with the instance's number as its owner.
#[utoipa::path(
    post,
    path = "/instances/{id}/groups",
    tag = "Groups",
    operation_id = "groups_create",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    request_body(
        content = CreateBody,
        description = "The group's name and first participants.",
        example = json!({"subject": "My New Group", "participants": ["5511987654321", "5511976543210"]})
    ),
    responses(
        (status = 201, description = "Created.", body = ApiResponse<CreatedGroup>,
            example = json!({"success": true, "data": {"group": {
                "jid": "120363001234567890@g.us", "subject": "My New Group", "description": null,
                "owner": "5511999999999@s.whatsapp.net",
                "participants": [
                    {"jid": "5511999999999@s.whatsapp.net", "admin": "superadmin"},
                    {"jid": "5511987654321@s.whatsapp.net", "admin": null},
                    {"jid": "5511976543210@s.whatsapp.net", "admin": null}
                ],
                "size": 3, "created_at": "2025-01-15T10:30:00Z"
            }, "message": "Group created successfully"}})),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`), or a participant is not on WhatsApp (`NOT_FOUND`).", body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid (`VALIDATION_ERROR`): `subject`, `participants`, `participants.{i}`.", body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
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
        AxumJson(ApiResponse::data(CreatedGroup {
            group,
            message: "Group created successfully",
        })),
    ))
}

/// Get a group
///
/// Returns detailed metadata of a specific group.
#[utoipa::path(
    get,
    path = "/instances/{id}/groups/{jid}",
    tag = "Groups",
    operation_id = "groups_show",
    params(GroupPath),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The group's metadata.", body = ApiResponse<GroupView>,
            example = json!({"success": true, "data": {
                "jid": "120363001234567890@g.us", "subject": "Marketing Team", "description": "Team discussions",
                "owner": "5511987654321@s.whatsapp.net",
                "participants": [
                    {"jid": "5511987654321@s.whatsapp.net", "admin": "superadmin"},
                    {"jid": "5511976543210@s.whatsapp.net", "admin": null}
                ],
                "size": 25, "created_at": "2025-01-15T10:30:00Z"
            }})),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = E404, body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = E422, body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
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

/// Update a group
///
/// Updates the group name and/or description.
#[utoipa::path(
    method(patch, put),
    path = "/instances/{id}/groups/{jid}",
    tag = "Groups",
    operation_id = "groups_update",
    params(GroupPath),
    security(("user_token" = []), ("instance_token" = [])),
    request_body(
        content = UpdateGroupBody,
        description = "The new name and/or description.",
        example = json!({"subject": "New Group Name", "description": "Updated description"})
    ),
    responses(
        (status = 200, description = "Updated: the group's metadata.", body = ApiResponse<GroupView>),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = E404, body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = "`jid` is not a group JID, or a field is missing or invalid (`VALIDATION_ERROR`): `subject`, `description`.", body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
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

/// Add participants
///
/// Adds one or more participants to the group. Answers each one's outcome; when every one
/// fails, the request fails (422 with each reason).
#[utoipa::path(
    post,
    path = "/instances/{id}/groups/{jid}/participants",
    tag = "Groups",
    operation_id = "groups_add_participants",
    params(GroupPath),
    security(("user_token" = []), ("instance_token" = [])),
    request_body(content = ParticipantsBody, description = "The people to add.",
        example = json!({"participants": ["5511987654321", "5511976543210"]})),
    responses(
        (status = 200, description = "Each participant's outcome.", body = ApiResponse<ParticipantsOutcome>,
            example = json!({"success": true, "message": "Participants added", "data": {"participants": [
                {"jid": "5511987654321@s.whatsapp.net", "success": true, "error": null},
                {"jid": "5511976543210@s.whatsapp.net", "success": false, "error": "not on WhatsApp"}
            ]}})),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = E404, body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = E422_PARTICIPANTS, body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
)]
pub async fn add_participants(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
    Json(body): Json<ParticipantsBody>,
) -> AppResult<impl IntoResponse> {
    change(state, caller, id, jid, body, ParticipantChange::Add).await
}

/// Remove participants
///
/// Removes one or more participants from the group.
#[utoipa::path(
    delete,
    path = "/instances/{id}/groups/{jid}/participants",
    tag = "Groups",
    operation_id = "groups_remove_participants",
    params(GroupPath),
    security(("user_token" = []), ("instance_token" = [])),
    request_body(content = ParticipantsBody, description = "The people to remove.",
        example = json!({"participants": ["5511987654321"]})),
    responses(
        (status = 200, description = "Each participant's outcome.", body = ApiResponse<ParticipantsOutcome>),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = E404_PARTICIPANTS, body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = E422_PARTICIPANTS, body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
)]
pub async fn remove_participants(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
    Json(body): Json<ParticipantsBody>,
) -> AppResult<impl IntoResponse> {
    change(state, caller, id, jid, body, ParticipantChange::Remove).await
}

/// Promote to admin
///
/// Makes one or more participants admins of the group.
#[utoipa::path(
    post,
    path = "/instances/{id}/groups/{jid}/admins",
    tag = "Groups",
    operation_id = "groups_promote",
    params(GroupPath),
    security(("user_token" = []), ("instance_token" = [])),
    request_body(content = ParticipantsBody, description = "The members to promote.",
        example = json!({"participants": ["5511987654321"]})),
    responses(
        (status = 200, description = "Each participant's outcome.", body = ApiResponse<ParticipantsOutcome>),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = E404_PARTICIPANTS, body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = E422_PARTICIPANTS, body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
)]
pub async fn promote(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
    Json(body): Json<ParticipantsBody>,
) -> AppResult<impl IntoResponse> {
    change(state, caller, id, jid, body, ParticipantChange::Promote).await
}

/// Demote admins
///
/// Makes one or more admins plain members of the group.
#[utoipa::path(
    delete,
    path = "/instances/{id}/groups/{jid}/admins",
    tag = "Groups",
    operation_id = "groups_demote",
    params(GroupPath),
    security(("user_token" = []), ("instance_token" = [])),
    request_body(content = ParticipantsBody, description = "The admins to demote.",
        example = json!({"participants": ["5511987654321"]})),
    responses(
        (status = 200, description = "Each participant's outcome.", body = ApiResponse<ParticipantsOutcome>),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = E404_PARTICIPANTS, body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = E422_PARTICIPANTS, body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
)]
pub async fn demote(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, jid)): Path<(String, String)>,
    Json(body): Json<ParticipantsBody>,
) -> AppResult<impl IntoResponse> {
    change(state, caller, id, jid, body, ParticipantChange::Demote).await
}

/// Leave a group
///
/// Makes the instance leave a group.
#[utoipa::path(
    post,
    path = "/instances/{id}/groups/{jid}/leave",
    tag = "Groups",
    operation_id = "groups_leave",
    params(GroupPath),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Left.", body = MessageOnly,
            example = json!({"success": true, "message": "Left the group"})),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = E404, body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = E422, body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
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

/// Get the invite link
///
/// Returns the group's invite code and link (the instance must be an admin).
#[utoipa::path(
    get,
    path = "/instances/{id}/groups/{jid}/invite",
    tag = "Groups",
    operation_id = "groups_invite",
    params(GroupPath),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The invite code and link.", body = ApiResponse<InviteData>,
            example = json!({"success": true, "data": {"code": "AbCdEfGhIjKl", "invite_link": "https://chat.whatsapp.com/AbCdEfGhIjKl"}})),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = E404, body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = E422, body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
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
    Ok(AxumJson(ApiResponse::data(InviteData {
        code,
        invite_link: link,
    })))
}

/// Revoke the invite link
///
/// Resets the group's invite link (the old one stops working) and returns the new one.
#[utoipa::path(
    delete,
    path = "/instances/{id}/groups/{jid}/invite",
    tag = "Groups",
    operation_id = "groups_revoke_invite",
    params(GroupPath),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The new invite code and link.", body = ApiResponse<RevokedInvite>,
            example = json!({"success": true, "data": {"new_code": "MnOpQrStUvWx", "new_invite_link": "https://chat.whatsapp.com/MnOpQrStUvWx"}, "message": "Invite link revoked"})),
        (status = 400, description = E400, body = ErrorEnvelope),
        (status = 403, description = E403, body = ErrorEnvelope),
        (status = 404, description = E404, body = ErrorEnvelope),
        (status = 409, description = E409, body = ErrorEnvelope),
        (status = 422, description = E422, body = ErrorEnvelope),
        (status = 503, description = E503, body = ErrorEnvelope),
        (status = 504, description = E504, body = ErrorEnvelope),
    )
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
        RevokedInvite {
            new_code: code,
            new_invite_link: link,
        },
    )))
}
