//! The Kanban API: boards and columns here, leads in [`leads`]. Every route answers 403
//! `KANBAN_NOT_ENABLED` unless the tenant has Kanban enabled; another tenant's (or another
//! instance's, for an `sk_` token) ids are 404.

mod leads;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
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
use super::conversations::query::{query, string};
use super::extract::{Auth, Json};
use crate::crm::kanban::body::{BoardBody, ColumnBody, ColumnDeleteBody, ReorderBody};
use crate::crm::kanban::views::{BoardDetail, BoardView, ColumnView};
use crate::error::AppResult;

pub(super) const GATE_403: &str =
    "The tenant does not have Kanban enabled (`KANBAN_NOT_ENABLED`; ask the administrator)";
const BOARD_404: &str = "No such board for this token (`NOT_FOUND`)";
const COLUMN_404: &str = "No such column for this token (`NOT_FOUND`)";

/// The Kanban routes (mounted with the other API routes).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_boards, create_board))
        .routes(routes!(show_board, update_board, delete_board))
        .routes(routes!(list_columns, create_column))
        .routes(routes!(reorder_columns))
        .routes(routes!(update_column, delete_column))
        .routes(routes!(leads::list))
        .routes(routes!(leads::create))
        .routes(routes!(leads::show, leads::update, leads::delete))
        .routes(routes!(leads::move_lead))
        .routes(routes!(leads::won))
        .routes(routes!(leads::lost))
        .routes(routes!(leads::note))
        .routes(routes!(leads::activities))
        .routes(routes!(leads::qualify))
}

fn board_example() -> Value {
    json!({
        "uuid": "6fa459ea-ee8a-4ca4-894e-db77e160355e",
        "instance_id": "550e8400-e29b-41d4-a716-446655440000",
        "name": "Sales Pipeline",
        "description": null,
        "is_default": true,
        "settings": null,
        "created_at": "2025-01-10T08:00:00Z",
        "updated_at": "2025-01-10T08:00:00Z"
    })
}

fn column_example() -> Value {
    json!({
        "uuid": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
        "board_uuid": "6fa459ea-ee8a-4ca4-894e-db77e160355e",
        "name": "New Lead",
        "color": "#3B82F6",
        "position": 0,
        "settings": null,
        "leads_count": 9,
        "created_at": "2025-01-10T08:00:00Z",
        "updated_at": "2025-01-10T08:00:00Z"
    })
}

fn board_detail_example() -> Value {
    let mut b = board_example();
    b["stats"] = json!({
        "total_leads": 12, "open_leads": 9, "won_leads": 2, "lost_leads": 1,
        "total_value": 15000.00, "won_value": 5000.00,
        "conversion_rate": 66.7, "avg_time_to_close": 14.5
    });
    b["columns"] = json!([column_example()]);
    json!({"success": true, "data": b})
}

/// `GET /kanban/boards`.
struct BoardsQuery;

impl IntoParams for BoardsQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![query(
            "instance_id",
            "Only the boards of this instance (numeric id or UUID); an unknown one is 404 \
             `INSTANCE_NOT_FOUND`, another than an `sk_` token's 403 `INSTANCE_FORBIDDEN`.",
            string(),
        )]
    }
}

/// `DELETE /kanban/columns/{uuid}`.
struct ColumnDeleteQuery;

impl IntoParams for ColumnDeleteQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![query(
            "move_to",
            "Another column of the board (UUID) to move the column's leads to (or `move_to` in \
             the body); required when the column has leads.",
            string(),
        )]
    }
}

/// List boards
///
/// The Kanban boards of the token's instance (a user token: of every instance of the tenant,
/// or of `instance_id`), by instance and age.
#[utoipa::path(
    get,
    path = "/kanban/boards",
    tag = "Kanban",
    operation_id = "kanban_boards_list",
    params(BoardsQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The boards.", body = ApiResponse<Vec<BoardView>>,
            example = json!({"success": true, "data": [board_example()]})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
    )
)]
pub async fn list_boards(
    State(s): State<AppState>,
    Auth(c): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    let p = Params::parse(q);
    Ok(axum::Json(ApiResponse::data(
        s.services.list_boards(&c, p.get("instance_id")).await?,
    )))
}

/// Create a board
///
/// A board with the default columns (New Lead, Contacted, Qualified, Proposal, Negotiation).
/// The instance's first board is its default; `is_default` makes this one the default
/// instead of the previous one.
#[utoipa::path(
    post,
    path = "/kanban/boards",
    tag = "Kanban",
    operation_id = "kanban_boards_create",
    request_body(content = BoardBody, example = json!({"name": "Sales Pipeline", "is_default": true})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "Created, with its columns and (empty) statistics.", body = ApiResponse<BoardDetail>,
            example = board_detail_example),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid, `instance_id` is missing with a user token, or the instance has 100 boards (`VALIDATION_ERROR`, naming the field)", body = ErrorEnvelope),
    )
)]
pub async fn create_board(
    State(s): State<AppState>,
    Auth(c): Auth,
    Json(b): Json<BoardBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let input = b.parse(true)?;
    let board = s.services.create_board(&c, input).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data(
            "Board created successfully",
            board,
        )),
    ))
}

/// Get a board
///
/// A board with its statistics and columns (by position).
#[utoipa::path(
    get,
    path = "/kanban/boards/{uuid}",
    tag = "Kanban",
    operation_id = "kanban_boards_show",
    params(("uuid" = String, Path, description = "The board's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The board.", body = ApiResponse<BoardDetail>, example = board_detail_example),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = BOARD_404, body = ErrorEnvelope),
    )
)]
pub async fn show_board(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    Ok(axum::Json(ApiResponse::data(
        s.services.get_board(&c, &id).await?,
    )))
}

/// Update a board
///
/// Changes the name, description, settings, or makes it the instance's default board.
#[utoipa::path(
    put,
    path = "/kanban/boards/{uuid}",
    tag = "Kanban",
    operation_id = "kanban_boards_update",
    params(("uuid" = String, Path, description = "The board's UUID")),
    request_body(content = Option<BoardBody>, example = json!({"name": "Enterprise Pipeline", "description": "Deals above R$ 10.000"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The board now.", body = ApiResponse<BoardDetail>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = BOARD_404, body = ErrorEnvelope),
        (status = 422, description = "A field is invalid, or `is_default: false` on the default board (make another board the default instead) (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn update_board(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<BoardBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let input = b.parse(false)?;
    let board = s.services.update_board(&c, &id, input).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Board updated successfully",
        board,
    )))
}

/// Delete a board
///
/// Deletes a board with its columns, leads and their timelines. When it was the default, the
/// instance's oldest remaining board becomes the default.
#[utoipa::path(
    delete,
    path = "/kanban/boards/{uuid}",
    tag = "Kanban",
    operation_id = "kanban_boards_delete",
    params(("uuid" = String, Path, description = "The board's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "Board deleted successfully"})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = BOARD_404, body = ErrorEnvelope),
    )
)]
pub async fn delete_board(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    s.services.delete_board(&c, &id).await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "Board deleted successfully",
    )))
}

/// List columns
///
/// A board's columns by position, each with its number of open leads.
#[utoipa::path(
    get,
    path = "/kanban/boards/{uuid}/columns",
    tag = "Kanban",
    operation_id = "kanban_columns_list",
    params(("uuid" = String, Path, description = "The board's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The columns.", body = ApiResponse<Vec<ColumnView>>,
            example = json!({"success": true, "data": [column_example()]})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = BOARD_404, body = ErrorEnvelope),
    )
)]
pub async fn list_columns(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    Ok(axum::Json(ApiResponse::data(
        s.services.list_columns(&c, &id).await?,
    )))
}

/// Create a column
///
/// Adds a column to a board, at `position` (default last); the columns after it move right.
#[utoipa::path(
    post,
    path = "/kanban/boards/{uuid}/columns",
    tag = "Kanban",
    operation_id = "kanban_columns_create",
    params(("uuid" = String, Path, description = "The board's UUID")),
    request_body(content = ColumnBody, example = json!({"name": "Demo Scheduled", "color": "#14B8A6", "position": 2})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "Created.", body = ApiResponse<ColumnView>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = BOARD_404, body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid, or the board has 50 columns (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn create_column(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<ColumnBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let input = b.parse(true)?;
    let column = s.services.create_column(&c, &id, input).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data(
            "Column created successfully",
            column,
        )),
    ))
}

/// Reorder columns
///
/// Sets the order of a board's columns: `order` lists every column of the board (UUIDs)
/// exactly once.
#[utoipa::path(
    post,
    path = "/kanban/boards/{uuid}/columns/reorder",
    tag = "Kanban",
    operation_id = "kanban_columns_reorder",
    params(("uuid" = String, Path, description = "The board's UUID")),
    request_body(content = ReorderBody, example = json!({"order": ["7c9e6679-7425-40de-944b-e07fc1f90ae7", "0e8f5c1a-3b2d-4e6f-8a9b-1c2d3e4f5a6b"]})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The columns in their order.", body = ApiResponse<Vec<ColumnView>>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = BOARD_404, body = ErrorEnvelope),
        (status = 422, description = "`order` is not the complete list of the board's columns, each once (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn reorder_columns(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<ReorderBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let order = b.parse()?;
    let columns = s.services.reorder_columns(&c, &id, order).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Columns reordered successfully",
        columns,
    )))
}

/// Update a column
///
/// Changes a column's name, colour or settings.
#[utoipa::path(
    put,
    path = "/kanban/columns/{uuid}",
    tag = "Kanban",
    operation_id = "kanban_columns_update",
    params(("uuid" = String, Path, description = "The column's UUID")),
    request_body(content = Option<ColumnBody>, example = json!({"name": "Qualified Leads", "color": "#22C55E"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The column now.", body = ApiResponse<ColumnView>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = COLUMN_404, body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn update_column(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<ColumnBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let input = b.parse(false)?;
    let column = s.services.update_column(&c, &id, input).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Column updated successfully",
        column,
    )))
}

/// Delete a column
///
/// Deletes a column. Its leads move to `move_to` (after that column's own), which is
/// required when it has any; a board keeps at least one column.
#[utoipa::path(
    delete,
    path = "/kanban/columns/{uuid}",
    tag = "Kanban",
    operation_id = "kanban_columns_delete",
    params(("uuid" = String, Path, description = "The column's UUID"), ColumnDeleteQuery),
    request_body(content = Option<ColumnDeleteBody>, example = json!({"move_to": "0e8f5c1a-3b2d-4e6f-8a9b-1c2d3e4f5a6b"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "Column deleted successfully"})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = COLUMN_404, body = ErrorEnvelope),
        (status = 422, description = "The column has leads and no `move_to`, `move_to` is not another column of the board, or it is the board's last column (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn delete_column(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
    Json(b): Json<ColumnDeleteBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let p = Params::parse(q);
    let move_to = b.parse(p.get("move_to"))?;
    s.services.delete_column(&c, &id, move_to).await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "Column deleted successfully",
    )))
}
