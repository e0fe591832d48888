//! The External Functions API: list, create, show, update, delete, toggle, regenerate-key,
//! and the call log (`/external-functions/{uuid}/logs`), behind the AI Agent gate
//! (`AI_AGENT_NOT_ENABLED`); and the call itself, `POST /external-functions/{slug}/execute`,
//! authenticated by the function's own key and served outside the user/`sk_` token
//! middleware ([`call_routes`]).

use axum::extract::{DefaultBodyLimit, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use zapini_shared::envelope::{ApiResponse, MessageOnly};
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::conversations::Params;
use super::conversations::query::{boolean, or_blank, page, per_page, query, string};
use super::extract::{Auth, Json};
use crate::crm::external::body::{CreateBody, FunctionBody};
use crate::crm::external::call::{CallInput, MAX_CALL_BODY};
use crate::crm::external::model::ActionType;
use crate::crm::external::service::FunctionFilter;
use crate::crm::external::views::{CallView, FunctionView, FunctionWithKey, LogView};
use crate::error::{AppError, AppResult};

const UUID_EXAMPLE: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";
const INSTANCE_EXAMPLE: &str = "550e8400-e29b-41d4-a716-446655440000";
const LOG_EXAMPLE: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";
const KEY_EXAMPLE: &str = "xfn_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL";

const GATE_403: &str =
    "No active AI Agent integration in the token's scope (`AI_AGENT_NOT_ENABLED`)";
const NOT_FOUND_404: &str = "No such external function for this token (`NOT_FOUND`)";

/// The routes behind the user/`sk_` token middleware (merged into the API's).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(show, update, delete))
        .routes(routes!(toggle))
        .routes(routes!(regenerate_key))
        .routes(routes!(logs))
}

/// The call, authenticated by the function's key: among the public routes.
pub fn call_routes() -> OpenApiRouter<AppState> {
    let (schemas, paths, method_router) = routes!(execute);
    OpenApiRouter::new().routes((
        schemas,
        paths,
        // The body is read with its own bound; the server's general one must not answer
        // first (that refusal would not be logged).
        method_router.layer(DefaultBodyLimit::disable()),
    ))
}

fn function_example() -> Value {
    json!({
        "uuid": UUID_EXAMPLE,
        "instance_uuid": INSTANCE_EXAMPLE,
        "name": "CRM Order Notification",
        "slug": "crm-order-notify",
        "action_type": "send_message",
        "description": "Sends order status updates from CRM",
        "config": {"message_template": "Order {{order_id}}: {{status}}"},
        "rate_limit": 500,
        "allowed_ips": ["203.0.113.10"],
        "is_enabled": true,
        "api_key_prefix": "xfn_0123",
        "execute_path": "/api/v1/external-functions/crm-order-notify/execute",
        "calls_today": 12,
        "total_calls": 340,
        "last_called_at": "2025-01-15T10:30:00Z",
        "created_at": "2025-01-10T08:00:00Z",
        "updated_at": "2025-01-10T08:00:00Z"
    })
}

fn with_key_example() -> Value {
    let mut f = function_example();
    f["api_key"] = json!(KEY_EXAMPLE);
    f["calls_today"] = json!(0);
    f["total_calls"] = json!(0);
    f["last_called_at"] = Value::Null;
    f
}

fn log_example() -> Value {
    json!({
        "uuid": LOG_EXAMPLE,
        "function_uuid": UUID_EXAMPLE,
        "client_ip": "203.0.113.10",
        "http_status": 200,
        "success": true,
        "error_code": null,
        "duration_ms": 184,
        "request": {
            "method": "POST",
            "path": "/api/v1/external-functions/crm-order-notify/execute",
            "headers": {"authorization": "[REDACTED]", "content-type": "application/json"},
            "body": {"phone": "5511999999999", "order_id": "A-1001", "status": "shipped"}
        },
        "response": {"success": true, "message": "Function executed successfully", "data": {
            "function": "crm-order-notify", "action_type": "send_message", "log_id": LOG_EXAMPLE,
            "result": {"message_id": "3EB0ABC123456789", "message_body": "Order A-1001: shipped"}}},
        "created_at": "2025-01-15T10:30:00Z"
    })
}

fn list_example() -> Value {
    json!({"success": true, "data": [function_example()],
        "meta": {"pagination": {"total": 1, "per_page": 20, "current_page": 1, "last_page": 1}}})
}

fn logs_example() -> Value {
    json!({"success": true, "data": [log_example()],
        "meta": {"pagination": {"total": 1, "per_page": 20, "current_page": 1, "last_page": 1}}})
}

fn create_body_example() -> Value {
    json!({
        "instance_uuid": INSTANCE_EXAMPLE,
        "name": "CRM Order Notification",
        "slug": "crm-order-notify",
        "action_type": "send_message",
        "description": "Sends order status updates from CRM",
        "config": {"message_template": "Order {{order_id}}: {{status}}"},
        "rate_limit": 500,
        "allowed_ips": ["203.0.113.10"]
    })
}

/// `GET /external-functions`.
struct ListQuery;

impl IntoParams for ListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            page(),
            per_page(20),
            query(
                "instance_id",
                "Only the functions of this instance (UUID or numeric id).",
                string(),
            ),
            query(
                "action_type",
                "Only functions of this action type.",
                or_blank(string().enum_values(Some(ActionType::ALL.map(ActionType::as_str)))),
            ),
            boolean(
                "enabled",
                "Only enabled (`true`) or disabled (`false`) functions.",
            ),
            query(
                "search",
                "Search by name, slug or description (case-insensitive substring).",
                string(),
            ),
        ]
    }
}

/// `GET /external-functions/{uuid}/logs`.
struct LogsQuery;

impl IntoParams for LogsQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            page(),
            per_page(20),
            boolean(
                "success",
                "Only successful (`true`) or failed (`false`) calls.",
            ),
        ]
    }
}

/// List external functions
///
/// A page of the account's external functions (an `sk_` token: its instance's), newest
/// first, with filters. Keys are never shown, only their first characters.
#[utoipa::path(
    get,
    path = "/external-functions",
    tag = "External Functions",
    operation_id = "external_functions_list",
    params(ListQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of functions.",
            body = ApiResponse<Vec<FunctionView>>, example = list_example),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = "`instance_id` names no instance of this token (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A filter is invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    Auth(c): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    s.services.external_functions_gate(&c).await?;
    let params = Params::parse(q);
    let page = params.page(20)?;
    let action_type = params
        .get("action_type")
        .map(|v| {
            ActionType::parse(v.trim()).ok_or_else(|| {
                let all: Vec<&str> = ActionType::ALL.iter().map(|a| a.as_str()).collect();
                AppError::validation(
                    "action_type",
                    format!("The action_type must be one of: {}.", all.join(", ")),
                )
            })
        })
        .transpose()?;
    let result = s
        .services
        .list_external_functions(
            &c,
            FunctionFilter {
                instance: params.get("instance_id").map(|v| v.trim().to_owned()),
                action_type,
                enabled: params.bool("enabled")?,
                search: params.get("search").map(str::to_owned),
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

/// Create external function
///
/// Creates a function with an auto-generated API key. The plain key (`api_key`) is returned
/// only in this answer: store it securely; afterwards only `api_key_prefix` is shown.
#[utoipa::path(
    post,
    path = "/external-functions",
    tag = "External Functions",
    operation_id = "external_functions_create",
    request_body(content = CreateBody, example = create_body_example),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "Created, with the key (shown this once).",
            body = ApiResponse<FunctionWithKey>,
            example = json!({"success": true, "message": "External function created successfully", "data": with_key_example()})),
        (status = 403, description = "No active AI Agent integration (`AI_AGENT_NOT_ENABLED`), or an `sk_` token naming another instance (`INSTANCE_FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = "`instance_uuid` names no instance of this account (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid, or `config` does not suit `action_type` (`VALIDATION_ERROR`, naming each field, `config.<key>`); the slug is taken in this account (`DUPLICATE_SLUG`)", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(s): State<AppState>,
    Auth(c): Auth,
    Json(b): Json<FunctionBody>,
) -> AppResult<impl IntoResponse> {
    // The feature gate answers before the body's fields are judged.
    s.services.external_functions_gate(&c).await?;
    let input = b.parse(true)?;
    let f = s.services.create_external_function(&c, input).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data(
            "External function created successfully",
            f,
        )),
    ))
}

/// Get external function
///
/// One function (its key is not shown).
#[utoipa::path(
    get,
    path = "/external-functions/{uuid}",
    tag = "External Functions",
    operation_id = "external_functions_show",
    params(("uuid" = String, Path, description = "The function's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The function.", body = ApiResponse<FunctionView>,
            example = json!({"success": true, "data": function_example()})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
    )
)]
pub async fn show(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    Ok(axum::Json(ApiResponse::data(
        s.services.get_external_function(&c, &id).await?,
    )))
}

/// Update external function
///
/// Changes the fields given; the others stay. `config` is checked against the action type
/// (the stored one when `action_type` is not sent). The key does not change.
#[utoipa::path(
    put,
    path = "/external-functions/{uuid}",
    tag = "External Functions",
    operation_id = "external_functions_update",
    params(("uuid" = String, Path, description = "The function's UUID")),
    request_body(content = Option<FunctionBody>,
        example = json!({"rate_limit": 2000, "allowed_ips": ["203.0.113.0/24"]})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Updated.", body = ApiResponse<FunctionView>),
        (status = 403, description = "No active AI Agent integration (`AI_AGENT_NOT_ENABLED`), or an `sk_` token naming another instance (`INSTANCE_FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = "No such external function, or `instance_uuid` names no instance of this account (`NOT_FOUND`, `INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`VALIDATION_ERROR`, naming each field); the slug is taken (`DUPLICATE_SLUG`)", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<FunctionBody>,
) -> AppResult<impl IntoResponse> {
    s.services.external_functions_gate(&c).await?;
    let input = b.parse(false)?;
    let f = s.services.update_external_function(&c, &id, input).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "External function updated successfully",
        f,
    )))
}

/// Delete external function
///
/// Deletes a function and its log; its key stops working.
#[utoipa::path(
    delete,
    path = "/external-functions/{uuid}",
    tag = "External Functions",
    operation_id = "external_functions_delete",
    params(("uuid" = String, Path, description = "The function's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "External function deleted successfully"})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    s.services.delete_external_function(&c, &id).await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "External function deleted successfully",
    )))
}

/// Toggle external function
///
/// Enables a disabled function or disables an enabled one. A disabled function refuses
/// calls (403 `FORBIDDEN`).
#[utoipa::path(
    post,
    path = "/external-functions/{uuid}/toggle",
    tag = "External Functions",
    operation_id = "external_functions_toggle",
    params(("uuid" = String, Path, description = "The function's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The function now.", body = ApiResponse<FunctionView>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
    )
)]
pub async fn toggle(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let f = s.services.toggle_external_function(&c, &id).await?;
    let message = if f.is_enabled {
        "External function enabled"
    } else {
        "External function disabled"
    };
    Ok(axum::Json(ApiResponse::message_data(message, f)))
}

/// Regenerate API key
///
/// Generates a new API key and invalidates the old one at once. The new key is returned
/// only in this answer.
#[utoipa::path(
    post,
    path = "/external-functions/{uuid}/regenerate-key",
    tag = "External Functions",
    operation_id = "external_functions_regenerate_key",
    params(("uuid" = String, Path, description = "The function's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The function with its new key (shown this once).",
            body = ApiResponse<FunctionWithKey>,
            example = json!({"success": true, "message": "API key regenerated successfully", "data": with_key_example()})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
    )
)]
pub async fn regenerate_key(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let f = s.services.regenerate_external_function_key(&c, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "API key regenerated successfully",
        f,
    )))
}

/// List logs
///
/// A page of a function's calls, newest first: time, client address, status, duration, and
/// the request and answer with the key and credentials redacted. Calls with an unknown slug
/// or a wrong key belong to no function and are not listed.
#[utoipa::path(
    get,
    path = "/external-functions/{uuid}/logs",
    tag = "External Functions",
    operation_id = "external_functions_logs",
    params(("uuid" = String, Path, description = "The function's UUID"), LogsQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of calls.",
            body = ApiResponse<Vec<LogView>>, example = logs_example),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
        (status = 422, description = "A filter is invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn logs(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    s.services.external_functions_gate(&c).await?;
    let params = Params::parse(q);
    let page = params.page(20)?;
    let result = s
        .services
        .list_external_function_logs(&c, &id, params.bool("success")?, page.page, page.per_page)
        .await?;
    Ok(axum::Json(ApiResponse::paginated(
        result.items,
        page.meta(result.total),
    )))
}

/// The function's key: `Authorization: Bearer {key}`, else `X-Api-Key`.
fn key_of(headers: &HeaderMap) -> Option<String> {
    let bearer = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    bearer.or_else(|| {
        headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_owned())
    })
}

/// Call an external function
///
/// Runs the function's action. Authenticated by the function's own key (from create or
/// regenerate-key) as `Authorization: Bearer {key}` or `X-Api-Key: {key}`; user and `sk_`
/// tokens are not accepted. The JSON body's top-level fields fill the configuration's
/// `{{placeholders}}` and carry the action's own fields: `phone` (the recipient or the
/// conversation: sends, contacts, pause, resume; optional for `create_lead`), `name`,
/// `email`, `company`, `notes` (contacts, when not configured), `lead_uuid` (`update_lead`),
/// `value`, `priority`, `email`, `phone` (leads). At most 64 KiB. Each call counts against
/// the function's `rate_limit` per UTC day and is logged (`GET /external-functions/{uuid}/logs`).
/// An unknown slug and a wrong key answer the same 401.
#[utoipa::path(
    post,
    path = "/external-functions/{slug}/execute",
    tag = "External Functions",
    operation_id = "external_functions_execute",
    params(
        ("slug" = String, Path, description = "The function's slug"),
        ("X-Api-Key" = Option<String>, Header, description = "The function's key, when it is not sent as `Authorization: Bearer`"),
    ),
    request_body(content = Option<Object>, description = "The fields the action and the configuration's placeholders need.",
        example = json!({"phone": "5511999999999", "order_id": "A-1001", "status": "shipped"})),
    security(("function_key" = [])),
    responses(
        (status = 200, description = "Done: what the action produced (the sent message, the contact, the conversation's automation state, the lead).",
            body = ApiResponse<CallView>,
            example = json!({"success": true, "message": "Function executed successfully", "data": {
                "function": "crm-order-notify", "action_type": "send_message", "log_id": LOG_EXAMPLE,
                "result": {"message_id": "3EB0ABC123456789", "message_body": "Order A-1001: shipped", "status": "sent"}}})),
        (status = 400, description = "Malformed JSON (`INVALID_JSON`)", body = ErrorEnvelope),
        (status = 401, description = "No key, a wrong key, or an unknown slug (`UNAUTHENTICATED`)", body = ErrorEnvelope),
        (status = 403, description = "The function is disabled, or the client's address is not in `allowed_ips` (`FORBIDDEN`); no active AI Agent integration (`AI_AGENT_NOT_ENABLED`); Kanban is not enabled for a lead action (`KANBAN_NOT_ENABLED`)", body = ErrorEnvelope),
        (status = 404, description = "No contact or conversation with `phone` on the function's instance, or no such lead (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 409, description = "Automation manages the conversation (`AUTOMATION_ACTIVE`), the instance is not connected (`INSTANCE_NOT_CONNECTED`), resuming a conversation that is not archived (`CONFLICT`), or the contact exists (`DUPLICATE_ENTRY`)", body = ErrorEnvelope),
        (status = 413, description = "The body is larger than 64 KiB (`PAYLOAD_TOO_LARGE`)", body = ErrorEnvelope),
        (status = 422, description = "A field the action or a placeholder needs is missing or invalid (`VALIDATION_ERROR`, naming it)", body = ErrorEnvelope),
        (status = 429, description = "The function's calls for today are used up (`RATE_LIMIT_EXCEEDED`, with `Retry-After` until 00:00 UTC), too many wrong keys from this address (`RATE_LIMIT_EXCEEDED`), or the instance's daily message limit (`DAILY_LIMIT_EXCEEDED`)", body = ErrorEnvelope),
        (status = 503, description = "The instance's node is not running or unreachable (`NODE_UNAVAILABLE`, `SERVICE_UNAVAILABLE`); retry.", body = ErrorEnvelope),
        (status = 504, description = "The instance's node did not answer in time (`GATEWAY_TIMEOUT`).", body = ErrorEnvelope),
    )
)]
pub async fn execute(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    req: Request,
) -> AppResult<impl IntoResponse> {
    let client_ip = super::middleware::client_ip(&req, &s.services.config);
    let key = key_of(req.headers());
    let headers = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let method = req.method().to_string();
    // Under `/api/v1` the nested router sees the path without its prefix.
    let path = req
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map_or_else(|| req.uri().path().to_owned(), |u| u.0.path().to_owned());
    let body = axum::body::to_bytes(req.into_body(), MAX_CALL_BODY)
        .await
        .ok();
    let called = s
        .services
        .call_external_function(CallInput {
            slug,
            key,
            client_ip,
            method,
            path,
            headers,
            body,
        })
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        called.message,
        called.data,
    )))
}
