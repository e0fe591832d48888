//! Conversations: list (every filter of the reference), archived list, show, history,
//! mark-read, archive/restore, delete, tags, and automation control. The chat API
//! (`/chat/conversations…`) reuses these with the chat shape.

use axum::extract::{Path, RawQuery, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use zapini_shared::envelope::{ApiResponse, PageRequest};
use zapini_shared::time::{format_micros, parse_rfc3339};

use super::AppState;
use super::extract::{Auth, Json};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::inbox::history::MessageFilter;
use crate::service::inbox::{ConversationFilter, Shape};

/// A query string as (key, value) pairs, so repeated keys (`tag_ids[]=a&tag_ids[]=b`) work.
pub(super) struct Params(Vec<(String, String)>);

impl Params {
    pub(super) fn parse(raw: Option<String>) -> Params {
        Params(
            form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub(super) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    fn all(&self, key: &str) -> Vec<&str> {
        let bracket = format!("{key}[]");
        self.0
            .iter()
            .filter(|(k, _)| *k == key || *k == bracket || k.starts_with(&format!("{key}[")))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub(super) fn bool(&self, key: &str) -> AppResult<Option<bool>> {
        opt_bool(key, self.get(key))
    }

    pub(super) fn int<T: std::str::FromStr>(&self, key: &str) -> AppResult<Option<T>> {
        opt_int(key, self.get(key))
    }

    pub(super) fn page(&self, default: u64) -> AppResult<PageRequest> {
        Ok(PageRequest::new(
            self.int("page")?,
            self.int("per_page")?,
            default,
            100,
        )?)
    }

    /// `format=chat` (anything else but empty is a 422).
    fn chat(&self) -> AppResult<bool> {
        match self.get("format") {
            None => Ok(false),
            Some(f) if f.eq_ignore_ascii_case("chat") => Ok(true),
            Some(_) => Err(AppError::validation(
                "format",
                "The format field must be chat.",
            )),
        }
    }
}

pub(super) fn opt_bool(field: &str, v: Option<&str>) -> AppResult<Option<bool>> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some("1" | "true") => Ok(Some(true)),
        Some("0" | "false") => Ok(Some(false)),
        Some(_) => Err(AppError::validation(
            field,
            format!("The {field} field must be true or false."),
        )),
    }
}

pub(super) fn opt_int<T: std::str::FromStr>(field: &str, v: Option<&str>) -> AppResult<Option<T>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s.parse().map(Some).map_err(|_| {
            AppError::validation(field, format!("The {field} field must be an integer."))
        }),
    }
}

pub(super) fn opt_time(
    field: &str,
    v: Option<&str>,
) -> AppResult<Option<chrono::DateTime<chrono::Utc>>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => parse_rfc3339(s).map(Some).map_err(|_| {
            AppError::validation(
                field,
                format!("The {field} field must be an ISO 8601 date."),
            )
        }),
    }
}

fn tag_uuids(params: &Params) -> AppResult<Vec<Uuid>> {
    let mut out = Vec::new();
    let raw = params
        .all("tag_ids")
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(|s| ("tag_ids", s))
        .chain(params.get("tag_id").map(|s| ("tag_id", s)));
    for (field, s) in raw {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        out.push(Uuid::parse_str(s).map_err(|_| {
            AppError::validation(field, format!("The {field} field must hold tag UUIDs."))
        })?);
    }
    Ok(out)
}

async fn list_with(
    state: &AppState,
    caller: &Caller,
    params: &Params,
    archived: bool,
    force_chat: bool,
) -> AppResult<axum::response::Response> {
    let page = params.page(15)?;
    let chat = force_chat || params.chat()?;
    let shape = if chat {
        Shape::Chat
    } else {
        Shape::Standard {
            tags: params.bool("include_tags")?.unwrap_or(false),
        }
    };
    let result = state
        .services
        .list_conversations(
            caller,
            ConversationFilter {
                instance: params.get("instance_id").map(str::to_owned),
                unread: params.bool("unread")?,
                is_group: params.bool("is_group")?,
                search: params.get("search").map(str::to_owned),
                tag_ids: tag_uuids(params)?,
                untagged: params.bool("untagged")?.unwrap_or(false),
                archived,
                page: page.page,
                per_page: page.per_page,
            },
            shape,
        )
        .await?;
    Ok(axum::Json(ApiResponse::paginated(
        result.items,
        page.meta(result.total),
    ))
    .into_response())
}

#[utoipa::path(
    get,
    path = "/conversations",
    tag = "Conversations",
    operation_id = "conversations_list",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    list_with(&state, &caller, &Params::parse(q), false, false).await
}

#[utoipa::path(
    get,
    path = "/conversations/archived",
    tag = "Conversations",
    operation_id = "conversations_archived",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn archived(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    list_with(&state, &caller, &Params::parse(q), true, false).await
}

#[utoipa::path(
    get,
    path = "/chat/conversations",
    tag = "Chat",
    operation_id = "conversations_chat_list",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn chat_list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    list_with(&state, &caller, &Params::parse(q), false, true).await
}

#[utoipa::path(
    get,
    path = "/conversations/{id}",
    tag = "Conversations",
    operation_id = "conversations_show",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    let params = Params::parse(q);
    let shape = if params.chat()? {
        Shape::Chat
    } else {
        Shape::Standard { tags: true }
    };
    let c = state.services.get_conversation(&caller, &id, shape).await?;
    Ok(axum::Json(ApiResponse::data(c)))
}

#[utoipa::path(
    get,
    path = "/chat/conversations/{id}",
    tag = "Chat",
    operation_id = "conversations_chat_show",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
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

async fn history(
    state: &AppState,
    caller: &Caller,
    id: &str,
    params: &Params,
    chat: bool,
) -> AppResult<axum::response::Response> {
    let limit: u64 = params.int("limit")?.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(AppError::validation(
            "limit",
            "The limit must be between 1 and 100.",
        ));
    }
    let h = state
        .services
        .conversation_history(
            caller,
            id,
            MessageFilter {
                before_id: params.int("before_id")?,
                after_id: params.int("after_id")?,
                from: opt_time("from", params.get("from"))?,
                to: opt_time("to", params.get("to"))?,
                limit,
            },
            chat,
        )
        .await?;
    Ok(axum::Json(ApiResponse::data(h)).into_response())
}

#[utoipa::path(
    get,
    path = "/conversations/{id}/messages",
    tag = "Conversations",
    operation_id = "conversations_messages",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn messages(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    let params = Params::parse(q);
    let chat = params.chat()?;
    history(&state, &caller, &id, &params, chat).await
}

#[utoipa::path(
    get,
    path = "/chat/conversations/{id}/messages",
    tag = "Chat",
    operation_id = "conversations_chat_messages",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn chat_messages(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    history(&state, &caller, &id, &Params::parse(q), true).await
}

#[utoipa::path(
    post,
    path = "/conversations/{id}/mark-read",
    tag = "Conversations",
    operation_id = "conversations_mark_read",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn mark_read(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let r = state.services.mark_read(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Conversation marked as read.",
        r,
    )))
}

#[utoipa::path(
    post,
    path = "/conversations/{id}/archive",
    tag = "Conversations",
    operation_id = "conversations_archive",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn archive(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let (uuid, at) = state.services.archive_conversation(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Conversation archived.",
        json!({"archived_id": uuid, "archived_at": format_micros(at)}),
    )))
}

#[utoipa::path(
    delete,
    path = "/conversations/{id}/archive",
    tag = "Conversations",
    operation_id = "conversations_restore",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn restore(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let uuid = state.services.restore_conversation(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Conversation restored.",
        json!({"conversation_id": uuid, "restored": true}),
    )))
}

#[utoipa::path(
    delete,
    path = "/conversations/{id}",
    tag = "Conversations",
    operation_id = "conversations_delete",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    state.services.delete_conversation(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Conversation deleted.",
        json!({"conversation_id": id.trim(), "deleted": true}),
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TagsBody {
    tag_ids: Option<Vec<String>>,
}

#[utoipa::path(
    put,
    path = "/conversations/{id}/tags",
    tag = "Conversations",
    operation_id = "conversations_set_tags",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn set_tags(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<TagsBody>,
) -> AppResult<impl IntoResponse> {
    let raw = body
        .tag_ids
        .ok_or_else(|| AppError::validation("tag_ids", "The tag_ids field is required."))?;
    let mut ids = Vec::with_capacity(raw.len());
    for s in raw {
        let u = Uuid::parse_str(s.trim()).map_err(|_| {
            AppError::validation("tag_ids", "The tag_ids field must hold tag UUIDs.")
        })?;
        if !ids.contains(&u) {
            ids.push(u);
        }
    }
    let tags = state
        .services
        .set_conversation_tags(&caller, &id, ids)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Conversation tags updated",
        json!({ "tags": tags }),
    )))
}

// ---- automation control ----

#[derive(Deserialize, Default)]
pub struct PauseBody {
    reason: Option<String>,
}

fn reason(r: Option<String>) -> AppResult<Option<String>> {
    let r = r.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if r.as_ref().is_some_and(|s| s.chars().count() > 500) {
        return Err(AppError::validation(
            "reason",
            "The reason may not be greater than 500 characters.",
        ));
    }
    Ok(r)
}

#[utoipa::path(
    get,
    path = "/conversations/{id}/automation",
    tag = "Conversations",
    operation_id = "conversations_automation",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn automation(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let v = state.services.automation_of(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(v)))
}

#[utoipa::path(
    post,
    path = "/conversations/{id}/automation/pause",
    tag = "Conversations",
    operation_id = "conversations_pause",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn pause(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<PauseBody>,
) -> AppResult<impl IntoResponse> {
    let v = state
        .services
        .pause_automation(&caller, &id, reason(body.reason)?)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Automation paused. You can now send messages manually.",
        v,
    )))
}

#[utoipa::path(
    post,
    path = "/conversations/{id}/automation/resume",
    tag = "Conversations",
    operation_id = "conversations_resume",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
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

#[utoipa::path(
    post,
    path = "/chat/conversations/{id}/pause-automation",
    tag = "Chat",
    operation_id = "conversations_chat_pause",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn chat_pause(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<PauseBody>,
) -> AppResult<impl IntoResponse> {
    let v = state
        .services
        .pause_automation(&caller, &id, reason(body.reason)?)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Automation paused successfully",
        json!({
            "conversation_id": v.conversation_id,
            "automation_paused": true,
            "automation_status": v.automation_status,
            "paused_at": v.paused_at,
            "paused_by": v.paused_by,
            "reason": v.pause_reason,
        }),
    )))
}

#[utoipa::path(
    post,
    path = "/chat/conversations/{id}/resume-automation",
    tag = "Chat",
    operation_id = "conversations_chat_resume",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn chat_resume(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let v = state.services.resume_automation(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Automation resumed successfully",
        json!({
            "conversation_id": v.conversation_id,
            "automation_paused": false,
            "automation_status": v.automation_status,
            "resumed_at": zapini_shared::time::format_secs(chrono::Utc::now()),
        }),
    )))
}

#[derive(Deserialize)]
pub struct BulkBody {
    conversation_ids: Option<Vec<Value>>,
    reason: Option<String>,
}

fn bulk_ids(body: &BulkBody) -> AppResult<Vec<String>> {
    let ids = body.conversation_ids.as_ref().ok_or_else(|| {
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
    if ids.len() > crate::service::inbox::automation::MAX_BULK {
        return Err(AppError::validation(
            "conversation_ids",
            "The conversation_ids field must not have more than 100 items.",
        ));
    }
    Ok(ids
        .iter()
        .map(|v| match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect())
}

#[utoipa::path(
    post,
    path = "/conversations/automation/bulk-pause",
    tag = "Conversations",
    operation_id = "conversations_bulk_pause",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn bulk_pause(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<BulkBody>,
) -> AppResult<impl IntoResponse> {
    let ids = bulk_ids(&body)?;
    let o = state
        .services
        .bulk_automation(&caller, &ids, true, reason(body.reason)?)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        format!("{} conversations paused", o.done),
        json!({"paused": o.done, "skipped": o.skipped, "errors": o.errors}),
    )))
}

#[utoipa::path(
    post,
    path = "/conversations/automation/bulk-resume",
    tag = "Conversations",
    operation_id = "conversations_bulk_resume",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn bulk_resume(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<BulkBody>,
) -> AppResult<impl IntoResponse> {
    let ids = bulk_ids(&body)?;
    let o = state
        .services
        .bulk_automation(&caller, &ids, false, None)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        format!("{} automations resumed", o.done),
        json!({"resumed": o.done, "skipped": o.skipped, "errors": o.errors}),
    )))
}

/// `/chat/conversations/{id}/mark-read`: the chat API's form of [`mark_read`].
#[utoipa::path(
    post,
    path = "/chat/conversations/{id}/mark-read",
    tag = "Chat",
    operation_id = "conversations_chat_mark_read",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn chat_mark_read(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
) -> AppResult<impl IntoResponse> {
    mark_read(state, auth, id).await
}

/// `/chat/conversations/{id}/archive`: the chat API's form of [`archive`].
#[utoipa::path(
    post,
    path = "/chat/conversations/{id}/archive",
    tag = "Chat",
    operation_id = "conversations_chat_archive",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn chat_archive(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
) -> AppResult<impl IntoResponse> {
    archive(state, auth, id).await
}

/// `DELETE /chat/conversations/{id}/archive`: the chat API's form of [`restore`].
#[utoipa::path(
    delete,
    path = "/chat/conversations/{id}/archive",
    tag = "Chat",
    operation_id = "conversations_chat_restore",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn chat_restore(
    state: State<AppState>,
    auth: Auth,
    id: Path<String>,
) -> AppResult<impl IntoResponse> {
    restore(state, auth, id).await
}
