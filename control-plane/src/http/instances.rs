//! `/instances` and `/instances/{id}/stats`: numeric id or UUID wherever an instance is named.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorEnvelope;
use zapini_shared::status::InstanceStatus;

use super::AppState;
use super::extract::{Auth, Json, Query};
use crate::error::{AppError, AppResult};
use crate::service::instances::{
    Engine, InstanceChanges, InstanceStats, InstanceView, NewInstance,
};

/// An optional integer that may also come as a float with no fractional part (`500.0`), as
/// JSON Schema's `integer` allows; other floats are refused with the field named.
pub(super) fn integral<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    use serde::de::Error;
    match Option::<serde_json::Number>::deserialize(d)? {
        None => Ok(None),
        Some(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Ok(Some(i)),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
            _ => Err(D::Error::custom(format!(
                "invalid value: {n}, expected an integer"
            ))),
        },
    }
}

/// `POST /instances`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateInstanceBody {
    /// A name for the instance (surrounding spaces are trimmed).
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        max_length = 255,
        pattern = r"\S",
        example = "Support"
    )]
    name: Option<String>,
    /// Messages the instance may send per day (UTC); 500 when absent.
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 1, maximum = 1_000_000, example = 500)]
    daily_limit: Option<i64>,
    /// The engine; the server's default (`whatsapp` unless configured otherwise) when absent.
    #[schema(value_type = Option<Engine>)]
    engine: Option<String>,
}

/// `PUT`/`PATCH /instances/{id}`: absent fields stay as they are.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateInstanceBody {
    #[schema(min_length = 1, max_length = 255, pattern = r"\S", example = "Sales")]
    name: Option<String>,
    #[serde(default, deserialize_with = "integral")]
    #[schema(minimum = 1, maximum = 1_000_000, example = 1000)]
    daily_limit: Option<i64>,
}

/// `GET /instances`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only instances with this status: `connected`, `disconnected`, `qr_ready` or `pending`
    /// (an empty value is ignored).
    #[param(value_type = Option<String>, pattern = "^(connected|disconnected|qr_ready|pending)?$")]
    status: Option<String>,
}

/// `{"instance": …}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InstanceData {
    pub instance: InstanceView,
}

/// `{"instances": […]}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InstanceList {
    pub instances: Vec<InstanceView>,
}

/// `{"deleted_id": "<uuid>"}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct DeletedInstance {
    /// The deleted instance's UUID.
    pub deleted_id: Uuid,
}

fn instance_example() -> serde_json::Value {
    serde_json::json!({
        "id": 777,
        "uuid": "550e8400-e29b-41d4-a716-446655440000",
        "name": "Support",
        "engine": "whatsapp",
        "phone_number": "5511999999999",
        "status": "connected",
        "status_reason": null,
        "connected": true,
        "daily_limit": 500,
        "messages_sent_today": 50,
        "remaining_quota": 450,
        "can_send_messages": true,
        "last_activity_at": "2025-01-15T10:30:00Z",
        "created_at": "2025-01-10T09:00:00Z",
        "updated_at": "2025-01-15T10:30:00Z"
    })
}

/// Create an instance
///
/// Creates a WhatsApp instance (a number to connect) in the caller's tenant; its node starts at
/// once and the QR code follows at `GET /instances/{id}/qr`. Needs a user token.
#[utoipa::path(
    post,
    path = "/instances",
    tag = "Instances",
    operation_id = "instances_create",
    security(("user_token" = [])),
    request_body(
        content = CreateInstanceBody,
        description = "The new instance. Unknown fields are refused.",
        example = json!({"name": "Support", "engine": "sandbox", "daily_limit": 500})
    ),
    responses(
        (status = 201, description = "Created.", body = ApiResponse<InstanceData>,
            example = json!({"success": true, "message": "Instance created successfully", "data": {"instance": instance_example()}})),
        (status = 403, description = "Called with an instance token (`FORBIDDEN`), or the tenant's instance quota is used up (`QUOTA_EXCEEDED`).", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid (`VALIDATION_ERROR`): `name`, `daily_limit`, `engine`, or an unknown field.", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<CreateInstanceBody>,
) -> AppResult<impl IntoResponse> {
    let name = body
        .name
        .ok_or_else(|| AppError::validation("name", "The name field is required."))?;
    let instance = state
        .services
        .create_instance(
            &caller,
            NewInstance {
                name,
                daily_limit: body.daily_limit,
                engine: body.engine,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data(
            "Instance created successfully",
            InstanceData { instance },
        )),
    ))
}

/// List instances
///
/// Lists all WhatsApp instances in your account, oldest first; with an instance token, only
/// its own instance.
#[utoipa::path(
    get,
    path = "/instances",
    tag = "Instances",
    operation_id = "instances_list",
    params(ListQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The instances.", body = ApiResponse<InstanceList>,
            example = json!({"success": true, "data": {"instances": [instance_example()]}})),
        (status = 422, description = "`status` is not one of the statuses (`VALIDATION_ERROR`).", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Query(q): Query<ListQuery>,
) -> AppResult<impl IntoResponse> {
    let status = match q.status.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<InstanceStatus>().map_err(|_| {
            AppError::validation(
                "status",
                "The status must be one of: connected, disconnected, qr_ready, pending.",
            )
        })?),
    };
    let instances = state.services.list_instances(&caller, status).await?;
    Ok(axum::Json(ApiResponse::data(InstanceList { instances })))
}

/// Get an instance
///
/// Returns details of a specific instance. The API accepts both numeric ID and UUID in all
/// endpoints.
#[utoipa::path(
    get,
    path = "/instances/{id}",
    tag = "Instances",
    operation_id = "instances_show",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The instance.", body = ApiResponse<InstanceData>,
            example = json!({"success": true, "data": {"instance": instance_example()}})),
        (status = 403, description = "An instance token used for another instance (`INSTANCE_FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let instance = state.services.get_instance(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(InstanceData { instance })))
}

/// Update an instance
///
/// Changes the name and/or the daily limit; absent fields stay as they are. The instance's
/// node applies a new limit at once. Needs a user token.
#[utoipa::path(
    method(put, patch),
    path = "/instances/{id}",
    tag = "Instances",
    operation_id = "instances_update",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = [])),
    request_body(
        content = UpdateInstanceBody,
        description = "The fields to change. Unknown fields are refused.",
        example = json!({"name": "Sales", "daily_limit": 1000})
    ),
    responses(
        (status = 200, description = "Updated.", body = ApiResponse<InstanceData>,
            example = json!({"success": true, "message": "Instance updated successfully", "data": {"instance": instance_example()}})),
        (status = 403, description = "Called with an instance token (`FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`VALIDATION_ERROR`): `name`, `daily_limit`, or an unknown field.", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateInstanceBody>,
) -> AppResult<impl IntoResponse> {
    let instance = state
        .services
        .update_instance(
            &caller,
            &id,
            InstanceChanges {
                name: body.name,
                daily_limit: body.daily_limit,
            },
        )
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Instance updated successfully",
        InstanceData { instance },
    )))
}

/// Delete an instance
///
/// Deletes the instance with its conversations, messages, tokens and webhook; its WhatsApp
/// session is logged out first when its node answers. Needs a user token.
#[utoipa::path(
    delete,
    path = "/instances/{id}",
    tag = "Instances",
    operation_id = "instances_delete",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = ApiResponse<DeletedInstance>,
            example = json!({"success": true, "message": "Instance deleted successfully", "data": {"deleted_id": "550e8400-e29b-41d4-a716-446655440000"}})),
        (status = 403, description = "Called with an instance token (`FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let uuid = state.services.delete_instance(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Instance deleted successfully",
        DeletedInstance { deleted_id: uuid },
    )))
}

/// Instance statistics
///
/// Returns usage statistics for the instance: messages sent today, this week and this month,
/// received today, the remaining quota, and its conversation and contact counts.
#[utoipa::path(
    get,
    path = "/instances/{id}/stats",
    tag = "Instances",
    operation_id = "instances_stats",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The statistics.", body = ApiResponse<InstanceStats>,
            example = json!({"success": true, "data": {
                "messages_sent_today": 50, "remaining_quota": 450, "daily_limit": 500,
                "messages_this_week": 200, "messages_this_month": 800, "messages_received_today": 30,
                "conversations_count": 150, "contacts_count": 500
            }})),
        (status = 403, description = "An instance token used for another instance (`INSTANCE_FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
    )
)]
pub async fn stats(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let stats = state.services.instance_stats(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(stats)))
}
