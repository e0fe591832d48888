//! Reading what the pipeline stored: `GET /conversations`, `GET /conversations/{uuid}`,
//! `GET /conversations/{uuid}/messages`. (The full inbox — archive, mark-read, automation —
//! is its own issue.)

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use zapini_shared::envelope::{ApiResponse, PageRequest};
use zapini_shared::time::parse_rfc3339;

use super::AppState;
use super::extract::{Auth, Query};
use crate::error::{AppError, AppResult};
use crate::service::messaging::{ConversationFilter, MessageFilter};

#[derive(Deserialize)]
pub struct ListQuery {
    instance_id: Option<String>,
    unread: Option<String>,
    is_group: Option<String>,
    search: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
}

#[derive(Deserialize)]
pub struct MessagesQuery {
    from: Option<String>,
    to: Option<String>,
    before_id: Option<String>,
    after_id: Option<String>,
    limit: Option<String>,
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

pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<ListQuery>,
) -> AppResult<impl IntoResponse> {
    let page = PageRequest::new(
        opt_int("page", q.page.as_deref())?,
        opt_int("per_page", q.per_page.as_deref())?,
        15,
        100,
    )?;
    let result = state
        .services
        .list_conversations(
            &caller,
            ConversationFilter {
                instance: q.instance_id.filter(|s| !s.trim().is_empty()),
                unread: opt_bool("unread", q.unread.as_deref())?,
                is_group: opt_bool("is_group", q.is_group.as_deref())?,
                search: q.search,
                page: page.page,
                per_page: page.per_page,
            },
        )
        .await?;
    Ok(axum::Json(ApiResponse::paginated(
        result.items,
        page.meta(result.total),
    )))
}

pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let c = state.services.get_conversation(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(c)))
}

pub async fn messages(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<MessagesQuery>,
) -> AppResult<impl IntoResponse> {
    let limit: u64 = opt_int("limit", q.limit.as_deref())?.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(AppError::validation(
            "limit",
            "The limit must be between 1 and 100.",
        ));
    }
    let (messages, has_more) = state
        .services
        .conversation_messages(
            &caller,
            &id,
            MessageFilter {
                before_id: opt_int("before_id", q.before_id.as_deref())?,
                after_id: opt_int("after_id", q.after_id.as_deref())?,
                from: opt_time("from", q.from.as_deref())?,
                to: opt_time("to", q.to.as_deref())?,
                limit,
            },
        )
        .await?;
    let oldest = messages.first().map(|m| m.id);
    let newest = messages.last().map(|m| m.id);
    Ok(axum::Json(ApiResponse::data(json!({
        "messages": messages,
        "has_more": has_more,
        "oldest_id": oldest,
        "newest_id": newest,
    }))))
}
