//! Tags: list, create, show, update, delete.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use zapini_shared::envelope::ApiResponse;

use super::AppState;
use super::extract::{Auth, Json};
use crate::error::{AppError, AppResult};
use crate::service::tags::{parse_color, parse_tag_name};

#[derive(Deserialize)]
pub struct TagBody {
    name: Option<String>,
    color: Option<String>,
}

#[utoipa::path(
    get,
    path = "/tags",
    tag = "Tags",
    operation_id = "tags_list",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> AppResult<impl IntoResponse> {
    let tags = state.services.list_tags(&caller).await?;
    Ok(axum::Json(ApiResponse::data(json!({ "tags": tags }))))
}

#[utoipa::path(
    post,
    path = "/tags",
    tag = "Tags",
    operation_id = "tags_create",
    security(("user_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<TagBody>,
) -> AppResult<impl IntoResponse> {
    let name = parse_tag_name(body.name.as_deref().unwrap_or_default());
    let color = match body.color.as_deref() {
        None => Err(zapini_shared::error::ErrorBody::validation(
            "color",
            "The color field is required.",
        )),
        Some(c) => parse_color(c),
    };
    let (name, color) = match (name, color) {
        (Ok(n), Ok(c)) => (n, c),
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e.into()),
        (Err(e), Err(c)) => {
            let msg = c.details["color"][0]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            return Err(AppError::Client(e.with_field_error("color", msg)));
        }
    };
    let tag = state.services.create_tag(&caller, name, color).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data(
            "Tag created successfully",
            json!({ "tag": tag }),
        )),
    ))
}

#[utoipa::path(
    get,
    path = "/tags/{id}",
    tag = "Tags",
    operation_id = "tags_show",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let tag = state.services.get_tag(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(json!({ "tag": tag }))))
}

#[utoipa::path(
    method(patch, put),
    path = "/tags/{id}",
    tag = "Tags",
    operation_id = "tags_update",
    params(("id" = String, Path)),
    security(("user_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<TagBody>,
) -> AppResult<impl IntoResponse> {
    let name = body.name.as_deref().map(parse_tag_name).transpose()?;
    let color = body.color.as_deref().map(parse_color).transpose()?;
    let tag = state.services.update_tag(&caller, &id, name, color).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Tag updated successfully",
        json!({ "tag": tag }),
    )))
}

#[utoipa::path(
    delete,
    path = "/tags/{id}",
    tag = "Tags",
    operation_id = "tags_delete",
    params(("id" = String, Path)),
    security(("user_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    state.services.delete_tag(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "Tag deleted successfully",
    )))
}
