//! `PUT`/`GET`/`DELETE /instances/{id}/webhook`, the delivery log
//! (`GET /instances/{id}/webhook/deliveries[/{delivery}]`) and replays
//! (`POST .../deliveries/{delivery}/replay`, `POST /instances/{id}/webhook/replay`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, Type};
use zapini_shared::envelope::{ApiResponse, MessageOnly, PageRequest};
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::conversations::{opt_int, opt_time};
use super::extract::{Auth, Json, Query};
use crate::error::{AppError, AppResult};
use crate::service::webhooks::{
    DeliveryDetail, DeliveryFilter, DeliveryView, WebhookInput, WebhookView, parse_delivery_status,
};
use crate::webhooks::events::NAMES;

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

/// `is_active`: a boolean, or `0`/`1`, `"true"`/`"false"`/`"0"`/`"1"`.
fn flag_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
            Type::Boolean,
            Type::Integer,
            Type::String,
            Type::Null,
        ]))
        .enum_values(Some([
            json!(true),
            json!(false),
            json!(1),
            json!(0),
            json!("true"),
            json!("false"),
            json!("1"),
            json!("0"),
            serde_json::Value::Null,
        ]))
        .description(Some(
            "Enable or disable the webhook (also `1`/`0`, as a number or a string); unchanged when absent (a new webhook is enabled).",
        ))
        .build()
}

/// `events`: names from the list (any case), as an array or one comma-separated string;
/// empty means every event.
fn events_schema() -> Schema {
    let names: Vec<&str> = NAMES.iter().map(|(n, _)| *n).collect();
    let alternation = names
        .iter()
        .map(|n| n.replace('.', r"\."))
        .collect::<Vec<_>>()
        .join("|");
    let one = format!(r"\s*({alternation})?\s*");
    OneOfBuilder::new()
        .item(
            ArrayBuilder::new().items(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(names.clone())),
            ),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(format!("^{one}(,{one})*$")))
                .description(Some("Comma-separated names.")),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .description(Some(format!(
            "Events that will trigger the webhook: an array of names, or one comma-separated string; every event when empty or absent (a new webhook), unchanged when absent (an existing one). Names: {}.",
            names.join(", ")
        )))
        .build()
        .into()
}

/// `PUT /instances/{id}/webhook`: `webhook_url` may be sent as `url`, `webhook_secret` as
/// `secret`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = PutWebhookFields)]
pub struct PutBody {
    /// URL that will receive notifications via POST: https (http only where the server allows
    /// it), at most 2048 characters, not a private, loopback, link-local or metadata address.
    /// The pattern describes the public hostnames accepted everywhere.
    #[serde(alias = "url")]
    #[schema(
        nullable = false,
        max_length = 2048,
        pattern = r"^https://[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?)*\.[A-Za-z]{2,6}(:[1-9][0-9]{0,3})?(/[A-Za-z0-9._~/-]*)?$",
        example = "https://your-server.com/webhook"
    )]
    webhook_url: Option<String>,
    /// Secret key for request signing (8 to 256 characters, without surrounding spaces);
    /// generated (and shown once) for a new webhook when absent. A new secret replaces the old
    /// one, which keeps signing beside it for a while.
    #[serde(alias = "secret")]
    #[schema(
        min_length = 8,
        max_length = 256,
        pattern = r"^\S(.*\S)?$",
        example = "your_secret_key_here"
    )]
    webhook_secret: Option<String>,
    #[schema(schema_with = events_schema)]
    events: Option<Events>,
    #[schema(schema_with = flag_schema)]
    is_active: Option<Flag>,
}

/// The body of `PUT /instances/{id}/webhook`, aliases included.
pub struct PutWebhookBody;

impl utoipa::PartialSchema for PutWebhookBody {
    fn schema() -> RefOr<Schema> {
        super::messages::aliased(
            <PutBody as utoipa::PartialSchema>::schema(),
            &[("webhook_url", &["url"]), ("webhook_secret", &["secret"])],
            &[&["webhook_url", "url"]],
        )
    }
}

impl utoipa::ToSchema for PutWebhookBody {}

fn webhook_example(secret: bool) -> serde_json::Value {
    let mut view = json!({
        "instance_id": 777,
        "instance_uuid": "550e8400-e29b-41d4-a716-446655440000",
        "webhook_url": "https://your-server.com/webhook",
        "events": ["message.incoming", "message.status"],
        "is_active": true,
        "status": "active",
        "secret_hint": "…here",
        "previous_secret_expires_at": null,
        "failing_since": null,
        "disabled_at": null,
        "disabled_reason": null,
        "created_at": "2025-01-15T10:30:00Z",
        "updated_at": "2025-01-15T10:30:00Z"
    });
    if secret {
        view["webhook_secret"] = json!("whsec_AbCdEfGhIjKlMnOpQrStUvWxYz012345");
    }
    view
}

const INSTANCE_403: &str = "An instance token used for another instance (`INSTANCE_FORBIDDEN`).";

/// Configure the webhook
///
/// Configure an external URL to receive event notifications: creates the instance's webhook
/// (201) or replaces it (200). Every request is signed (HMAC-SHA256, `X-Webhook-Signature`).
/// A PUT that does not turn the webhook off also re-enables one the platform disabled.
/// `webhook_url` may also be sent as `url`, `webhook_secret` as `secret`.
#[utoipa::path(
    put,
    path = "/instances/{id}/webhook",
    tag = "Webhooks",
    operation_id = "webhooks_put",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    request_body(
        content = PutWebhookBody,
        description = "The webhook.",
        example = json!({
            "webhook_url": "https://your-server.com/webhook",
            "webhook_secret": "your_secret_key_here",
            "events": ["message.incoming", "message.status"],
            "is_active": true
        })
    ),
    responses(
        (status = 200, description = "Replaced.", body = ApiResponse<WebhookView>,
            example = json!({"success": true, "message": "Webhook configured successfully", "data": webhook_example(false)})),
        (status = 201, description = "Created; `webhook_secret` is in this response only when it was generated.", body = ApiResponse<WebhookView>,
            example = json!({"success": true, "message": "Webhook configured successfully", "data": webhook_example(true)})),
        (status = 403, description = INSTANCE_403, body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid (`VALIDATION_ERROR`): `webhook_url` (missing, too long, not http(s), a private address), `webhook_secret`, `events` (unknown names; `details.allowed_events` lists the names), `is_active`.", body = ErrorEnvelope),
    )
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

/// Get the webhook
///
/// The instance's webhook: URL, events, state, and its secret as a hint only.
#[utoipa::path(
    get,
    path = "/instances/{id}/webhook",
    tag = "Webhooks",
    operation_id = "webhooks_get",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The webhook (its secret only as a hint).", body = ApiResponse<WebhookView>,
            example = json!({"success": true, "data": webhook_example(false)})),
        (status = 403, description = INSTANCE_403, body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`), or no webhook is configured (`NOT_FOUND`).", body = ErrorEnvelope),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let view = state.services.get_webhook(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(view)))
}

/// Remove the webhook
///
/// Removes the instance's webhook together with its pending deliveries and delivery log.
#[utoipa::path(
    delete,
    path = "/instances/{id}/webhook",
    tag = "Webhooks",
    operation_id = "webhooks_delete",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Removed, with its pending deliveries and its log.", body = MessageOnly,
            example = json!({"success": true, "message": "Webhook removed successfully"})),
        (status = 403, description = INSTANCE_403, body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`), or no webhook is configured (`NOT_FOUND`).", body = ErrorEnvelope),
    )
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

/// `GET /instances/{id}/webhook/deliveries`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogQuery {
    /// Only deliveries in this state.
    #[param(value_type = Option<String>, pattern = "^(pending|delivered|failed)?$")]
    status: Option<String>,
    /// Only this event (e.g. `message.incoming`).
    event: Option<String>,
    /// Only deliveries created at or after this time (ISO 8601 / RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    since: Option<String>,
    /// The page, from 1.
    #[param(value_type = Option<u64>, minimum = 1)]
    page: Option<String>,
    /// Deliveries per page (20 when absent).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 100)]
    per_page: Option<String>,
}

/// The delivery log
///
/// Beyond the reference: the webhook's deliveries, newest first, with their state, attempts
/// and last answer; filtered by status, event and creation time.
#[utoipa::path(
    get,
    path = "/instances/{id}/webhook/deliveries",
    tag = "Webhooks",
    operation_id = "webhooks_deliveries",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777"), LogQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The deliveries, newest first, paginated (`meta.pagination`).", body = ApiResponse<Vec<DeliveryView>>,
            example = json!({"success": true, "data": [{
                "id": "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c", "event": "message.incoming", "status": "delivered",
                "attempts": 1, "last_status_code": 200, "last_latency_ms": 84, "last_error": null,
                "next_attempt_at": null, "created_at": "2025-01-15T10:30:00Z", "delivered_at": "2025-01-15T10:30:01Z"
            }], "meta": {"pagination": {"total": 1, "per_page": 20, "current_page": 1, "last_page": 1}}})),
        (status = 403, description = INSTANCE_403, body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
        (status = 422, description = "A query parameter is invalid (`VALIDATION_ERROR`): `status`, `since`, `page`, `per_page`.", body = ErrorEnvelope),
    )
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

/// One delivery
///
/// Beyond the reference: a delivery with the payload sent and every attempt (status code,
/// latency, error).
#[utoipa::path(
    get,
    path = "/instances/{id}/webhook/deliveries/{delivery}",
    tag = "Webhooks",
    operation_id = "webhooks_delivery",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777"), ("delivery" = String, Path, description = "The delivery's id (a UUID; the `X-Webhook-Delivery` header)")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The delivery, its payload and every attempt.", body = ApiResponse<DeliveryDetail>),
        (status = 403, description = INSTANCE_403, body = ErrorEnvelope),
        (status = 404, description = "No such instance (`INSTANCE_NOT_FOUND`), or no such delivery on it (`NOT_FOUND`).", body = ErrorEnvelope),
    )
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

/// Replay a delivery
///
/// Beyond the reference: sends one delivery again now, with the same body and delivery id,
/// whatever its state.
#[utoipa::path(
    post,
    path = "/instances/{id}/webhook/deliveries/{delivery}/replay",
    tag = "Webhooks",
    operation_id = "webhooks_replay_one",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777"), ("delivery" = String, Path, description = "The delivery's id (a UUID; the `X-Webhook-Delivery` header)")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 202, description = "Queued again (same body and delivery id), whatever its state.", body = ApiResponse<DeliveryView>),
        (status = 403, description = INSTANCE_403, body = ErrorEnvelope),
        (status = 404, description = "No such instance (`INSTANCE_NOT_FOUND`), or no such delivery on it (`NOT_FOUND`).", body = ErrorEnvelope),
    )
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

/// `POST /instances/{id}/webhook/replay`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = ReplayWebhookBody)]
pub struct ReplayBody {
    /// Deliveries created at or after this time (ISO 8601 / RFC 3339).
    #[schema(required = true, nullable = false, format = DateTime, example = "2025-01-15T00:00:00Z")]
    since: Option<String>,
    /// Deliveries in this state; `failed` when absent.
    #[schema(pattern = "^(pending|delivered|failed)?$", example = "failed")]
    status: Option<String>,
}

/// `{"queued": n}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReplayedData {
    /// How many deliveries were queued again.
    pub queued: u64,
}

/// Replay deliveries
///
/// Beyond the reference: queues every delivery in `status` (`failed` when absent) created
/// since `since` again.
#[utoipa::path(
    post,
    path = "/instances/{id}/webhook/replay",
    tag = "Webhooks",
    operation_id = "webhooks_replay_many",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    request_body(
        content = ReplayBody,
        description = "Which deliveries to queue again.",
        example = json!({"since": "2025-01-15T00:00:00Z", "status": "failed"})
    ),
    responses(
        (status = 202, description = "Queued; `queued` counts them.", body = ApiResponse<ReplayedData>,
            example = json!({"success": true, "message": "3 deliveries queued again", "data": {"queued": 3}})),
        (status = 403, description = INSTANCE_403, body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid (`VALIDATION_ERROR`): `since`, `status`.", body = ErrorEnvelope),
    )
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
            ReplayedData { queued },
        )),
    ))
}
