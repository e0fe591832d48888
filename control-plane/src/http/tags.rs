//! Tags: list, create, show, update, delete. Tags are the tenant's: an `sk_` token may read
//! them (and assign them to its instance's conversations) but not create, change or delete
//! them.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;
use zapini_shared::envelope::{ApiResponse, MessageOnly};
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::extract::{Auth, Json};
use crate::error::{AppError, AppResult};
use crate::service::tags::{TagView, parse_color, parse_tag_name};

/// `POST /tags`. The patterns are those of [`parse_tag_name`] (trimmed, 1 to 50 characters)
/// and [`parse_color`] (`#RRGGBB`, surrounding spaces ignored).
#[derive(Deserialize, ToSchema)]
#[schema(as = TagCreateBody)]
pub struct CreateBody {
    /// Tag name, unique per tenant (trimmed; max 50 characters).
    #[schema(required = true, value_type = String, max_length = 50, pattern = r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]", example = "Important")]
    name: Option<String>,
    /// Hex color code for the tag (`#RRGGBB`; stored lower-case).
    #[schema(required = true, value_type = String, pattern = r"^[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*#[0-9A-Fa-f]{6}[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$", example = "#ef4444")]
    color: Option<String>,
}

/// `PATCH`/`PUT /tags/{id}`: absent or null fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[schema(as = TagUpdateBody)]
pub struct UpdateBody {
    /// Tag name, unique per tenant (trimmed; max 50 characters).
    #[schema(
        max_length = 50,
        pattern = r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]",
        example = "Very Important"
    )]
    name: Option<String>,
    /// Hex color code for the tag (`#RRGGBB`).
    #[schema(
        pattern = r"^[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*#[0-9A-Fa-f]{6}[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$",
        example = "#dc2626"
    )]
    color: Option<String>,
}

/// `{"tags": [...]}`.
#[derive(Serialize, ToSchema)]
pub struct TagListData {
    pub tags: Vec<TagView>,
}

/// `{"tag": {...}}`.
#[derive(Serialize, ToSchema)]
pub struct TagData {
    pub tag: TagView,
}

fn tag_example(id: &str, name: &str, color: &str, count: u64, at: &str) -> Value {
    json!({"id": id, "name": name, "color": color, "conversations_count": count, "created_at": at, "updated_at": at})
}

fn list_example() -> Value {
    json!({"success": true, "data": {"tags": [
        tag_example("550e8400-e29b-41d4-a716-446655440002", "Support", "#3b82f6", 42, "2025-01-15T10:35:00Z"),
        tag_example("550e8400-e29b-41d4-a716-446655440001", "VIP", "#f59e0b", 15, "2025-01-15T10:30:00Z"),
    ]}})
}

fn created_example() -> Value {
    json!({"success": true, "message": "Tag created successfully", "data": {"tag":
        tag_example("550e8400-e29b-41d4-a716-446655440003", "Important", "#ef4444", 0, "2025-01-15T12:00:00Z")}})
}

fn shown_example() -> Value {
    json!({"success": true, "data": {"tag":
        tag_example("550e8400-e29b-41d4-a716-446655440001", "VIP", "#f59e0b", 15, "2025-01-15T10:30:00Z")}})
}

/// List tags
///
/// Lists all tags for the current tenant, by name (case-insensitive), with how many
/// conversations carry each.
#[utoipa::path(
    get,
    path = "/tags",
    tag = "Tags",
    operation_id = "tags_list",
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The tenant's tags.", body = ApiResponse<TagListData>,
            example = list_example),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> AppResult<impl IntoResponse> {
    let tags = state.services.list_tags(&caller).await?;
    Ok(axum::Json(ApiResponse::data(TagListData { tags })))
}

/// Create a tag
///
/// Creates a new tag. Names are unique per tenant (exactly, after trimming). User tokens only.
#[utoipa::path(
    post,
    path = "/tags",
    tag = "Tags",
    operation_id = "tags_create",
    request_body(content = CreateBody,
        example = json!({"name": "Important", "color": "#ef4444"})),
    security(("user_token" = [])),
    responses(
        (status = 201, description = "Created.", body = ApiResponse<TagData>,
            example = created_example),
        (status = 403, description = "An instance token (`sk_`) cannot create tags (`FORBIDDEN`)", body = ErrorEnvelope),
        (status = 409, description = "The tenant has a tag with this name (`DUPLICATE_ENTRY`)", body = ErrorEnvelope),
        (status = 422, description = "`name` is missing, blank or longer than 50 characters, or `color` is missing or not `#RRGGBB` (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<CreateBody>,
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
            TagData { tag },
        )),
    ))
}

/// Get a tag
///
/// Returns details of a specific tag.
#[utoipa::path(
    get,
    path = "/tags/{id}",
    tag = "Tags",
    operation_id = "tags_show",
    params(("id" = String, Path, description = "The tag's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The tag.", body = ApiResponse<TagData>,
            example = shown_example),
        (status = 404, description = "No such tag in the tenant (`NOT_FOUND`)", body = ErrorEnvelope),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let tag = state.services.get_tag(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(TagData { tag })))
}

/// Update a tag
///
/// Updates an existing tag's name and/or color (`PATCH` or `PUT`, both partial). User tokens
/// only.
#[utoipa::path(
    method(patch, put),
    path = "/tags/{id}",
    tag = "Tags",
    operation_id = "tags_update",
    params(("id" = String, Path, description = "The tag's UUID")),
    request_body(content = Option<UpdateBody>,
        example = json!({"name": "Very Important", "color": "#dc2626"})),
    security(("user_token" = [])),
    responses(
        (status = 200, description = "Updated.", body = ApiResponse<TagData>),
        (status = 403, description = "An instance token (`sk_`) cannot change tags (`FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = "No such tag in the tenant (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 409, description = "The tenant has another tag with this name (`DUPLICATE_ENTRY`)", body = ErrorEnvelope),
        (status = 422, description = "`name` is blank or longer than 50 characters, or `color` is not `#RRGGBB` (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<UpdateBody>,
) -> AppResult<impl IntoResponse> {
    let name = body.name.as_deref().map(parse_tag_name).transpose()?;
    let color = body.color.as_deref().map(parse_color).transpose()?;
    let tag = state.services.update_tag(&caller, &id, name, color).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Tag updated successfully",
        TagData { tag },
    )))
}

/// Delete a tag
///
/// Deletes a tag. The tag will be automatically removed from all conversations. User tokens
/// only.
#[utoipa::path(
    delete,
    path = "/tags/{id}",
    tag = "Tags",
    operation_id = "tags_delete",
    params(("id" = String, Path, description = "The tag's UUID")),
    security(("user_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "Tag deleted successfully"})),
        (status = 403, description = "An instance token (`sk_`) cannot delete tags (`FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = "No such tag in the tenant (`NOT_FOUND`)", body = ErrorEnvelope),
    )
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
