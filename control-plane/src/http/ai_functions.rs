//! The AI Functions API: list, create, show, update, delete, toggle, test, and the execution
//! log (`/ai-functions/{uuid}/executions`, `/ai-functions/executions/{uuid}`). Every route
//! needs an active AI Agent integration in the caller's scope (`AI_AGENT_NOT_ENABLED`).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use zapini_shared::envelope::{ApiResponse, MessageOnly};
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::conversations::Params;
use super::conversations::query::{boolean, or_blank, page, per_page, query, string, uuid};
use super::extract::{Auth, Json};
use crate::automation::functions::body::{CreateBody, FunctionBody};
use crate::automation::functions::model::FunctionType;
use crate::automation::functions::views::{ExecutionView, FunctionView};
use crate::error::{AppError, AppResult};
use crate::service::functions::FunctionFilter;

const UUID_EXAMPLE: &str = "9b2f0c1e-7d3a-4e5b-8c6d-1a2b3c4d5e6f";
const INTEGRATION_EXAMPLE: &str = "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b";
const INSTANCE_EXAMPLE: &str = "550e8400-e29b-41d4-a716-446655440000";
const EXECUTION_EXAMPLE: &str = "6a0e4c2d-1b3f-4a5e-9d7c-8b6a5f4e3d2c";

const GATE_403: &str =
    "No active AI Agent integration in the token's scope (`AI_AGENT_NOT_ENABLED`)";
const NOT_FOUND_404: &str = "No such AI function for this token (`NOT_FOUND`)";

fn function_example() -> Value {
    json!({
        "uuid": UUID_EXAMPLE,
        "integration_uuid": INTEGRATION_EXAMPLE,
        "instance_id": INSTANCE_EXAMPLE,
        "name": "check_order_status",
        "display_name": "Check Order Status",
        "description": "Checks the status of a customer order by order number",
        "type": "fetch_data",
        "endpoint_url": "https://api.myshop.com/orders/status",
        "http_method": "GET",
        "auth_type": "bearer",
        "auth_config": {"token": "********-key"},
        "parameters": [{
            "name": "order_number",
            "display_name": "Order Number",
            "description": "The customer order number",
            "type": "string",
            "is_required": true,
            "collect_from_user": true
        }],
        "headers": null,
        "is_enabled": true,
        "timeout_seconds": 15,
        "executions_count": 42,
        "last_executed_at": "2025-01-15T10:30:00Z",
        "created_at": "2025-01-10T08:00:00Z",
        "updated_at": "2025-01-10T08:00:00Z"
    })
}

fn execution_example() -> Value {
    json!({
        "uuid": EXECUTION_EXAMPLE,
        "function_uuid": UUID_EXAMPLE,
        "function_name": "check_order_status",
        "status": "success",
        "is_test": true,
        "conversation_id": null,
        "session_id": null,
        "arguments": {"order_number": "ORD-12345"},
        "request": {
            "method": "GET",
            "url": "https://api.myshop.com/orders/status?order_number=ORD-12345",
            "headers": {"Accept": "application/json", "Authorization": "[REDACTED]"}
        },
        "http_status": 200,
        "response": {"status": "shipped", "eta": "2025-01-17"},
        "response_truncated": false,
        "duration_ms": 182,
        "error": null,
        "created_at": "2025-01-15T10:30:00Z",
        "finished_at": "2025-01-15T10:30:00Z"
    })
}

fn list_example() -> Value {
    json!({"success": true, "data": [function_example()],
        "meta": {"pagination": {"total": 1, "per_page": 20, "current_page": 1, "last_page": 1}}})
}

fn shown_example() -> Value {
    json!({"success": true, "data": function_example()})
}

fn created_example() -> Value {
    json!({"success": true, "message": "AI function created successfully", "data": function_example()})
}

fn execution_shown_example() -> Value {
    json!({"success": true, "data": execution_example()})
}

fn executions_example() -> Value {
    json!({"success": true, "data": [execution_example()],
        "meta": {"pagination": {"total": 1, "per_page": 20, "current_page": 1, "last_page": 1}}})
}

fn create_body_example() -> Value {
    json!({
        "integration_uuid": INTEGRATION_EXAMPLE,
        "name": "check_order_status",
        "display_name": "Check Order Status",
        "description": "Checks the status of a customer order by order number",
        "type": "fetch_data",
        "endpoint_url": "https://api.myshop.com/orders/status",
        "http_method": "GET",
        "auth_type": "bearer",
        "auth_config": {"token": "my-shop-api-key"},
        "parameters": [{
            "name": "order_number",
            "display_name": "Order Number",
            "description": "The customer order number",
            "type": "string",
            "is_required": true,
            "collect_from_user": true
        }]
    })
}

/// `GET /ai-functions`.
struct ListQuery;

impl IntoParams for ListQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            page(),
            per_page(20),
            query(
                "integration_uuid",
                "Only the functions of this AI Agent integration (UUID); an unknown one is 404 \
                 `NOT_FOUND`.",
                or_blank(uuid()),
            ),
            query(
                "type",
                "Only functions of this type.",
                or_blank(string().enum_values(Some(FunctionType::ALL.map(FunctionType::as_str)))),
            ),
            boolean(
                "enabled",
                "Only enabled (`true`) or disabled (`false`) functions.",
            ),
            query(
                "search",
                "Search by name, display name or description (case-insensitive substring).",
                string(),
            ),
        ]
    }
}

/// `GET /ai-functions/{uuid}/executions`.
struct ExecutionsQuery;

impl IntoParams for ExecutionsQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            page(),
            per_page(20),
            query(
                "status",
                "Only executions in this state.",
                or_blank(string().enum_values(Some(["running", "success", "error"]))),
            ),
        ]
    }
}

/// `POST /ai-functions/{uuid}/test`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AiFunctionTestBody)]
pub struct TestBody {
    /// The arguments, by parameter name (default `{}`).
    #[schema(value_type = Option<Object>)]
    parameters: Option<Value>,
}

/// List AI functions
///
/// A page of the AI functions (an `sk_` token: its instance's), newest first, with filters.
#[utoipa::path(
    get,
    path = "/ai-functions",
    tag = "AI Functions",
    operation_id = "ai_functions_list",
    params(ListQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of functions.",
            body = ApiResponse<Vec<FunctionView>>, example = list_example),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = "`integration_uuid` names no integration of this token (`NOT_FOUND`)", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    Auth(c): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    s.services.ai_gate(&c).await?;
    let params = Params::parse(q);
    let page = params.page(20)?;
    let integration = params
        .get("integration_uuid")
        .map(|v| {
            Uuid::parse_str(v.trim()).map_err(|_| {
                AppError::validation("integration_uuid", "The integration_uuid must be a UUID.")
            })
        })
        .transpose()?;
    let function_type = params
        .get("type")
        .map(|v| {
            FunctionType::parse(v.trim()).ok_or_else(|| {
                AppError::validation(
                    "type",
                    "The type must be one of: fetch_data, collect_submit, action.",
                )
            })
        })
        .transpose()?;
    let result = s
        .services
        .list_ai_functions(
            &c,
            FunctionFilter {
                integration,
                function_type,
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

/// Create an AI function
///
/// Creates a function on an AI Agent integration. Its credentials (`auth_config`) are stored
/// encrypted and only ever shown masked.
#[utoipa::path(
    post,
    path = "/ai-functions",
    tag = "AI Functions",
    operation_id = "ai_functions_create",
    request_body(content = CreateBody, example = create_body_example),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "Created.", body = ApiResponse<FunctionView>,
            example = created_example),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = "`integration_uuid` names no integration of this token (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid, or `endpoint_url` is refused by the URL guard (`VALIDATION_ERROR`, naming each field); the integration already has a function of this name (`DUPLICATE_NAME`); the integration is not an AI Agent (`INVALID_INTEGRATION_TYPE`)", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(s): State<AppState>,
    Auth(c): Auth,
    Json(b): Json<FunctionBody>,
) -> AppResult<impl IntoResponse> {
    // The feature gate answers before the body's fields are judged.
    s.services.ai_gate(&c).await?;
    let input = b.parse(true)?;
    let f = s.services.create_ai_function(&c, input).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data(
            "AI function created successfully",
            f,
        )),
    ))
}

/// Get an AI function
///
/// One function, its credentials masked.
#[utoipa::path(
    get,
    path = "/ai-functions/{uuid}",
    tag = "AI Functions",
    operation_id = "ai_functions_show",
    params(("uuid" = String, Path, description = "The function's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The function.", body = ApiResponse<FunctionView>,
            example = shown_example),
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
        s.services.get_ai_function(&c, &id).await?,
    )))
}

/// Update an AI function
///
/// Changes the fields given; the others stay as they are (`null` clears `endpoint_url`,
/// `auth_config`, `headers`, `timeout_seconds`). A masked secret sent back as shown keeps the
/// stored one.
#[utoipa::path(
    put,
    path = "/ai-functions/{uuid}",
    tag = "AI Functions",
    operation_id = "ai_functions_update",
    params(("uuid" = String, Path, description = "The function's UUID")),
    request_body(content = Option<FunctionBody>,
        example = json!({"description": "Looks up an order's status and delivery date", "is_enabled": true})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Updated.", body = ApiResponse<FunctionView>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = "No such AI function, or `integration_uuid` names no integration of this token (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`VALIDATION_ERROR`, naming each field); another function of the integration has this name (`DUPLICATE_NAME`); `integration_uuid` is not an AI Agent (`INVALID_INTEGRATION_TYPE`)", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<FunctionBody>,
) -> AppResult<impl IntoResponse> {
    s.services.ai_gate(&c).await?;
    let input = b.parse(false)?;
    let f = s.services.update_ai_function(&c, &id, input).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "AI function updated successfully",
        f,
    )))
}

/// Delete an AI function
///
/// Deletes a function and its execution log. Refused while one of its executions is running.
#[utoipa::path(
    delete,
    path = "/ai-functions/{uuid}",
    tag = "AI Functions",
    operation_id = "ai_functions_delete",
    params(("uuid" = String, Path, description = "The function's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "AI function deleted successfully"})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
        (status = 409, description = "An execution of the function is in progress (`ACTIVE_EXECUTIONS`)", body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    s.services.delete_ai_function(&c, &id).await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "AI function deleted successfully",
    )))
}

/// Toggle an AI function
///
/// Enables a disabled function or disables an enabled one.
#[utoipa::path(
    post,
    path = "/ai-functions/{uuid}/toggle",
    tag = "AI Functions",
    operation_id = "ai_functions_toggle",
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
    let f = s.services.toggle_ai_function(&c, &id).await?;
    let message = if f.is_enabled {
        "AI function enabled"
    } else {
        "AI function disabled"
    };
    Ok(axum::Json(ApiResponse::message_data(message, f)))
}

/// Test an AI function
///
/// Calls the function's endpoint once with `parameters`, as the agent would (disabled
/// functions too), and answers the execution, which is logged as a test. Whatever the
/// endpoint answers (or a refused argument, a timeout) is in the execution's `status`,
/// `http_status` and `error`: the request itself succeeds.
#[utoipa::path(
    post,
    path = "/ai-functions/{uuid}/test",
    tag = "AI Functions",
    operation_id = "ai_functions_test",
    params(("uuid" = String, Path, description = "The function's UUID")),
    request_body(content = Option<TestBody>,
        example = json!({"parameters": {"order_number": "ORD-12345"}})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The execution.", body = ApiResponse<ExecutionView>,
            example = execution_shown_example),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
        (status = 422, description = "`parameters` is not an object (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn test(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<TestBody>,
) -> AppResult<impl IntoResponse> {
    s.services.ai_gate(&c).await?;
    let parameters = match b.parameters {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Err(AppError::validation(
                "parameters",
                "The parameters must be an object of arguments by parameter name.",
            ));
        }
    };
    let e = s.services.test_ai_function(&c, &id, parameters).await?;
    Ok(axum::Json(ApiResponse::data(e)))
}

/// List executions
///
/// A page of a function's executions, newest first: arguments, the request as sent
/// (credentials redacted), and the outcome.
#[utoipa::path(
    get,
    path = "/ai-functions/{uuid}/executions",
    tag = "AI Functions",
    operation_id = "ai_functions_executions",
    params(("uuid" = String, Path, description = "The function's UUID"), ExecutionsQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of executions.",
            body = ApiResponse<Vec<ExecutionView>>, example = executions_example),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = NOT_FOUND_404, body = ErrorEnvelope),
    )
)]
pub async fn executions(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    s.services.ai_gate(&c).await?;
    let params = Params::parse(q);
    let page = params.page(20)?;
    let status = match params.get("status").map(str::trim) {
        None => None,
        Some(v @ ("running" | "success" | "error")) => Some(v),
        Some(_) => {
            return Err(AppError::validation(
                "status",
                "The status must be one of: running, success, error.",
            ));
        }
    };
    let result = s
        .services
        .list_ai_function_executions(&c, &id, status, page.page, page.per_page)
        .await?;
    Ok(axum::Json(ApiResponse::paginated(
        result.items,
        page.meta(result.total),
    )))
}

/// Get execution details
///
/// One execution: arguments, the request as sent (credentials redacted), the start of the
/// answer, timing and error.
#[utoipa::path(
    get,
    path = "/ai-functions/executions/{uuid}",
    tag = "AI Functions",
    operation_id = "ai_functions_execution",
    params(("uuid" = String, Path, description = "The execution's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The execution.", body = ApiResponse<ExecutionView>,
            example = execution_shown_example),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = "No such execution for this token (`NOT_FOUND`)", body = ErrorEnvelope),
    )
)]
pub async fn execution(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    Ok(axum::Json(ApiResponse::data(
        s.services.get_ai_function_execution(&c, &id).await?,
    )))
}
