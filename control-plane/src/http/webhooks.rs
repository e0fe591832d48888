//! `PUT`/`GET`/`DELETE /instances/{id}/webhook`, the delivery log
//! (`GET /instances/{id}/webhook/deliveries[/{delivery}]`) and replays
//! (`POST .../deliveries/{delivery}/replay`, `POST /instances/{id}/webhook/replay`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use zapini_shared::envelope::{ApiResponse, PageRequest};

use super::AppState;
use super::conversations::{opt_int, opt_time};
use super::extract::{Auth, Json, Query};
use crate::error::{AppError, AppResult};
use crate::service::webhooks::{DeliveryFilter, WebhookInput, parse_delivery_status};

/// `true`/`false`, also as the strings and numbers form-minded clients send.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Flag {
    Bool(bool),
    Number(i64),
    Text(String),
}

impl Flag {
    fn parse(self, field: &str) -> AppResult<bool> {
        match self {
            Flag::Bool(b) => Ok(b),
            Flag::Number(1) => Ok(true),
            Flag::Number(0) => Ok(false),
            Flag::Text(t) if matches!(t.trim(), "true" | "1") => Ok(true),
            Flag::Text(t) if matches!(t.trim(), "false" | "0") => Ok(false),
            _ => Err(AppError::validation(
                field,
                format!("The {field} field must be true or false."),
            )),
        }
    }
}

/// An array of event names, or one comma-separated string.
#[derive(Deserialize)]
#[serde(untagged)]
pub enum Events {
    List(Vec<String>),
    Text(String),
}

#[derive(Deserialize)]
pub struct PutBody {
    #[serde(alias = "url")]
    webhook_url: Option<String>,
    #[serde(alias = "secret")]
    webhook_secret: Option<String>,
    events: Option<Events>,
    is_active: Option<Flag>,
}

#[utoipa::path(
    put,
    path = "/instances/{id}/webhook",
    tag = "Webhooks",
    operation_id = "webhooks_put",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<PutBody>,
) -> AppResult<impl IntoResponse> {
    let url = body
        .webhook_url
        .ok_or_else(|| AppError::validation("webhook_url", "The webhook_url field is required."))?;
    let input = WebhookInput {
        url,
        secret: body.webhook_secret,
        events: body.events.map(|e| match e {
            Events::List(v) => v,
            Events::Text(t) => t
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        }),
        is_active: body.is_active.map(|f| f.parse("is_active")).transpose()?,
    };
    let (view, created) = state.services.put_webhook(&caller, &id, input).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        axum::Json(ApiResponse::message_data(
            "Webhook configured successfully",
            view,
        )),
    ))
}

#[utoipa::path(
    get,
    path = "/instances/{id}/webhook",
    tag = "Webhooks",
    operation_id = "webhooks_get",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let view = state.services.get_webhook(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(view)))
}

#[utoipa::path(
    delete,
    path = "/instances/{id}/webhook",
    tag = "Webhooks",
    operation_id = "webhooks_delete",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    state.services.delete_webhook(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "Webhook removed successfully",
    )))
}

#[derive(Deserialize)]
pub struct LogQuery {
    status: Option<String>,
    event: Option<String>,
    since: Option<String>,
    page: Option<String>,
    per_page: Option<String>,
}

#[utoipa::path(
    get,
    path = "/instances/{id}/webhook/deliveries",
    tag = "Webhooks",
    operation_id = "webhooks_deliveries",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn deliveries(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> AppResult<impl IntoResponse> {
    let page = PageRequest::new(
        opt_int("page", q.page.as_deref())?,
        opt_int("per_page", q.per_page.as_deref())?,
        20,
        100,
    )?;
    let filter = DeliveryFilter {
        status: q
            .status
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_delivery_status("status", s).map(str::to_owned))
            .transpose()?,
        event: q.event.filter(|e| !e.trim().is_empty()),
        since: opt_time("since", q.since.as_deref())?,
    };
    let (items, meta) = state
        .services
        .list_deliveries(&caller, &id, filter, page)
        .await?;
    Ok(axum::Json(ApiResponse::paginated(items, meta)))
}

#[utoipa::path(
    get,
    path = "/instances/{id}/webhook/deliveries/{delivery}",
    tag = "Webhooks",
    operation_id = "webhooks_delivery",
    params(("id" = String, Path), ("delivery" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn delivery(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, delivery)): Path<(String, String)>,
) -> AppResult<impl IntoResponse> {
    let detail = state
        .services
        .show_delivery(&caller, &id, &delivery)
        .await?;
    Ok(axum::Json(ApiResponse::data(detail)))
}

#[utoipa::path(
    post,
    path = "/instances/{id}/webhook/deliveries/{delivery}/replay",
    tag = "Webhooks",
    operation_id = "webhooks_replay_one",
    params(("id" = String, Path), ("delivery" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn replay_one(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, delivery)): Path<(String, String)>,
) -> AppResult<impl IntoResponse> {
    let view = state
        .services
        .replay_delivery(&caller, &id, &delivery)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ApiResponse::message_data("Delivery queued again", view)),
    ))
}

#[derive(Deserialize)]
pub struct ReplayBody {
    since: Option<String>,
    status: Option<String>,
}

#[utoipa::path(
    post,
    path = "/instances/{id}/webhook/replay",
    tag = "Webhooks",
    operation_id = "webhooks_replay_many",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn replay_many(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<ReplayBody>,
) -> AppResult<impl IntoResponse> {
    let since = opt_time("since", body.since.as_deref())?
        .ok_or_else(|| AppError::validation("since", "The since field is required."))?;
    let status = match body.status.as_deref().filter(|s| !s.trim().is_empty()) {
        None => crate::webhooks::FAILED,
        Some(s) => parse_delivery_status("status", s)?,
    };
    let queued = state
        .services
        .replay_deliveries(&caller, &id, since, status)
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        axum::Json(ApiResponse::message_data(
            format!("{queued} deliveries queued again"),
            json!({ "queued": queued }),
        )),
    ))
}
