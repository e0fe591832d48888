//! `/instances` and `/instances/{id}/stats`: numeric id or UUID wherever an instance is named.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::status::InstanceStatus;

use super::AppState;
use super::extract::{Auth, Json, Query};
use crate::error::{AppError, AppResult};
use crate::service::instances::{InstanceChanges, NewInstance};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: Option<String>,
    daily_limit: Option<i64>,
    engine: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    name: Option<String>,
    daily_limit: Option<i64>,
}

#[derive(Deserialize)]
pub struct ListQuery {
    status: Option<String>,
}

#[utoipa::path(
    post,
    path = "/instances",
    tag = "Instances",
    operation_id = "instances_create",
    security(("user_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<CreateBody>,
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
            json!({ "instance": instance }),
        )),
    ))
}

#[utoipa::path(
    get,
    path = "/instances",
    tag = "Instances",
    operation_id = "instances_list",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
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
    Ok(axum::Json(ApiResponse::data(
        json!({ "instances": instances }),
    )))
}

#[utoipa::path(
    get,
    path = "/instances/{id}",
    tag = "Instances",
    operation_id = "instances_show",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let instance = state.services.get_instance(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(
        json!({ "instance": instance }),
    )))
}

#[utoipa::path(
    method(put, patch),
    path = "/instances/{id}",
    tag = "Instances",
    operation_id = "instances_update",
    params(("id" = String, Path)),
    security(("user_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
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
        json!({ "instance": instance }),
    )))
}

#[utoipa::path(
    delete,
    path = "/instances/{id}",
    tag = "Instances",
    operation_id = "instances_delete",
    params(("id" = String, Path)),
    security(("user_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let uuid = state.services.delete_instance(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Instance deleted successfully",
        json!({ "deleted_id": uuid }),
    )))
}

#[utoipa::path(
    get,
    path = "/instances/{id}/stats",
    tag = "Instances",
    operation_id = "instances_stats",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn stats(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let stats = state.services.instance_stats(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(stats)))
}
