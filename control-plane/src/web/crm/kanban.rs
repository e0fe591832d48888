//! Kanban: an instance's boards; a board with its statistics and its columns holding their
//! leads as cards (drag-and-drop of leads and columns in `static/crm.js`, with buttons and a
//! column select for keyboards), reloaded on `crm` news; creating, editing and deleting
//! boards, columns and leads, moving leads. A lead's own page is in [`super::leads`]. Bodies
//! go through the API's own parsers (`crm::kanban::body`).

use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::leads::LeadForm;
use super::{body, instances, kanban_gate, text};
use crate::crm::kanban::body::{
    BoardBody, ColumnBody, ColumnDeleteBody, LeadBody, MoveBody, ReorderBody,
};
use crate::crm::kanban::leads::LeadFilter;
use crate::crm::kanban::model::LeadStatus;
use crate::crm::kanban::money::format_money;
use crate::error::AppError;
use crate::http::AppState;
use crate::web::automations::form_json;
use crate::web::render::{self, WebResult, html};
use crate::web::{Pages, Session};

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/crm/kanban", get(boards))
        .route("/dashboard/crm/kanban/boards", post(create_board))
        .route(
            "/dashboard/crm/kanban/boards/{board}",
            get(board).post(update_board),
        )
        .route("/dashboard/crm/kanban/boards/{board}/live", get(live))
        .route(
            "/dashboard/crm/kanban/boards/{board}/delete",
            post(delete_board),
        )
        .route(
            "/dashboard/crm/kanban/boards/{board}/columns",
            post(create_column),
        )
        .route(
            "/dashboard/crm/kanban/boards/{board}/reorder",
            post(reorder),
        )
        .route(
            "/dashboard/crm/kanban/boards/{board}/leads",
            post(create_lead),
        )
        .route(
            "/dashboard/crm/kanban/columns/{column}",
            post(update_column),
        )
        .route(
            "/dashboard/crm/kanban/columns/{column}/delete",
            post(delete_column),
        )
        .route("/dashboard/crm/kanban/leads/{lead}/move", post(move_lead))
        .merge(super::leads::routes())
}

#[derive(Deserialize)]
struct BoardsQuery {
    instance: Option<String>,
}

async fn boards(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<BoardsQuery>,
) -> WebResult<Response> {
    let mut ctx = s.base("crm");
    ctx["gate"] = kanban_gate(&state, &s).await?;
    ctx["instances"] = instances(&state, &s).await?;
    if !ctx["gate"].is_null() {
        return html("crm/boards.html", ctx);
    }
    let instance = q
        .instance
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty());
    ctx["boards"] = json!(state.services.list_boards(&s.caller, instance).await?);
    ctx["instance"] = json!(instance);
    html("crm/boards.html", ctx)
}

#[derive(Deserialize)]
struct BoardForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    instance_id: String,
    is_default: Option<String>,
}

async fn create_board(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(f): Form<BoardForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    let input = body::<BoardBody>(json!({
        "name": text(&f.name),
        "description": text(&f.description),
        "instance_id": text(&f.instance_id),
        "is_default": f.is_default.is_some(),
    }))?
    .parse(true)?;
    let b = state.services.create_board(&s.caller, input).await?;
    Ok(render::redirect(
        &headers,
        &format!("/dashboard/crm/kanban/boards/{}", b.board.uuid),
    ))
}

/// Which leads the board shows: `open` (default), `won`, `lost` or `all`.
fn status_of(v: Option<&str>) -> WebResult<(String, Option<LeadStatus>)> {
    match v.map(str::trim).filter(|v| !v.is_empty()) {
        None | Some("open") => Ok(("open".into(), Some(LeadStatus::Open))),
        Some("all") => Ok(("all".into(), None)),
        Some(v) => LeadStatus::parse(v)
            .map(|st| (v.to_owned(), Some(st)))
            .ok_or_else(|| {
                AppError::validation("status", "The status must be one of: open, won, lost, all.")
                    .into()
            }),
    }
}

/// The board's live part: statistics and the columns with their leads (each column's first
/// 100, in its order), and for each column the complete orders that move it one place left
/// or right (the keyboard's way to reorder).
async fn board_ctx(
    state: &AppState,
    s: &Session,
    board: &str,
    status: Option<&str>,
) -> WebResult<Value> {
    let (status_name, status) = status_of(status)?;
    let detail = state.services.get_board(&s.caller, board).await?;
    let ids: Vec<String> = detail.columns.iter().map(|c| c.uuid.to_string()).collect();
    let mut columns = Vec::with_capacity(detail.columns.len());
    for (i, c) in detail.columns.iter().enumerate() {
        let leads = state
            .services
            .list_leads(
                &s.caller,
                board,
                LeadFilter {
                    status,
                    column_uuid: Some(c.uuid),
                    page: 1,
                    per_page: 100,
                    ..LeadFilter::default()
                },
            )
            .await?;
        let swapped = |a: usize, b: usize| {
            let mut o = ids.clone();
            o.swap(a, b);
            o.join(",")
        };
        let mut v = json!(c);
        v["leads"] = json!(leads.items);
        v["shown"] = json!(leads.total);
        v["left_order"] = json!((i > 0).then(|| swapped(i, i - 1)));
        v["right_order"] = json!((i + 1 < ids.len()).then(|| swapped(i, i + 1)));
        columns.push(v);
    }
    let f = &s.tenant.features;
    let money = |v: f64| format_money((v * 100.0).round() as i64, &f.currency, &f.locale);
    Ok(json!({
        "total_value": money(detail.stats.total_value),
        "won_value": money(detail.stats.won_value),
        "board": detail.board,
        "stats": detail.stats,
        "columns": columns,
        "status": status_name,
        "currency": s.tenant.features.currency,
    }))
}

#[derive(Deserialize)]
struct StatusQuery {
    status: Option<String>,
}

async fn board(
    State(state): State<AppState>,
    s: Session,
    Path(board): Path<String>,
    Query(q): Query<StatusQuery>,
) -> WebResult<Response> {
    let mut ctx = s.base("crm");
    ctx["gate"] = kanban_gate(&state, &s).await?;
    if !ctx["gate"].is_null() {
        return html("crm/boards.html", ctx);
    }
    let live = board_ctx(&state, &s, &board, q.status.as_deref()).await?;
    ctx["board"] = live["board"].clone();
    ctx["live"] = live;
    html("crm/board.html", ctx)
}

async fn live(
    State(state): State<AppState>,
    s: Session,
    Path(board): Path<String>,
    Query(q): Query<StatusQuery>,
) -> WebResult<Response> {
    board_live(&state, &s, &board, q.status.as_deref()).await
}

async fn board_live(
    state: &AppState,
    s: &Session,
    board: &str,
    status: Option<&str>,
) -> WebResult<Response> {
    html(
        "crm/_board_live.html",
        json!({ "live": board_ctx(state, s, board, status).await? }),
    )
}

async fn update_board(
    State(state): State<AppState>,
    s: Session,
    Path(board): Path<String>,
    Form(f): Form<BoardForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    let mut v = json!({
        "name": text(&f.name),
        "description": text(&f.description).unwrap_or(Value::Null),
    });
    if f.is_default.is_some() {
        v["is_default"] = json!(true);
    }
    let input = body::<BoardBody>(v)?.parse(false)?;
    let b = state
        .services
        .update_board(&s.caller, &board, input)
        .await?;
    html("crm/_board_head.html", json!({ "board": b.board }))
}

async fn delete_board(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(board): Path<String>,
) -> WebResult<Response> {
    state.services.delete_board(&s.caller, &board).await?;
    Ok(render::redirect(&headers, "/dashboard/crm/kanban"))
}

#[derive(Deserialize)]
struct ColumnForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    color: String,
    #[serde(default)]
    position: String,
    #[serde(default)]
    board: String,
    #[serde(default)]
    move_to: String,
    status: Option<String>,
}

fn position(v: &str) -> WebResult<Option<Value>> {
    Ok(crate::web::instances::form_int("position", v)?.map(Value::from))
}

async fn create_column(
    State(state): State<AppState>,
    s: Session,
    Path(board): Path<String>,
    Form(f): Form<ColumnForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    let input = body::<ColumnBody>(json!({
        "name": text(&f.name),
        "color": text(&f.color),
        "position": position(&f.position)?,
    }))?
    .parse(true)?;
    state
        .services
        .create_column(&s.caller, &board, input)
        .await?;
    board_live(&state, &s, &board, f.status.as_deref()).await
}

#[derive(Deserialize)]
struct ReorderForm {
    #[serde(default)]
    order: String,
    status: Option<String>,
}

/// The API's reorder: `order` is the complete list of the board's columns (comma-separated
/// UUIDs), from a drop or a move button.
async fn reorder(
    State(state): State<AppState>,
    s: Session,
    Path(board): Path<String>,
    Form(f): Form<ReorderForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    let order: Vec<Value> = f
        .order
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|o| Value::String(o.to_owned()))
        .collect();
    let order = body::<ReorderBody>(json!({ "order": order }))?.parse()?;
    state
        .services
        .reorder_columns(&s.caller, &board, order)
        .await?;
    board_live(&state, &s, &board, f.status.as_deref()).await
}

async fn update_column(
    State(state): State<AppState>,
    s: Session,
    Path(column): Path<String>,
    Form(f): Form<ColumnForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    let input = body::<ColumnBody>(json!({
        "name": text(&f.name),
        "color": text(&f.color),
    }))?
    .parse(false)?;
    let c = state
        .services
        .update_column(&s.caller, &column, input)
        .await?;
    board_live(&state, &s, &c.board_uuid.to_string(), f.status.as_deref()).await
}

async fn delete_column(
    State(state): State<AppState>,
    s: Session,
    Path(column): Path<String>,
    Form(f): Form<ColumnForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    // The board to show afterwards must be ours before anything changes.
    state.services.get_board(&s.caller, &f.board).await?;
    let move_to = body::<ColumnDeleteBody>(json!({ "move_to": text(&f.move_to) }))?.parse(None)?;
    state
        .services
        .delete_column(&s.caller, &column, move_to)
        .await?;
    board_live(&state, &s, &f.board, f.status.as_deref()).await
}

async fn create_lead(
    State(state): State<AppState>,
    s: Session,
    Path(board): Path<String>,
    Form(f): Form<LeadForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    let input = body::<LeadBody>(json!({
        "board_uuid": board,
        "column_uuid": text(&f.column_uuid),
        "title": text(&f.title),
        "phone_number": text(&f.phone_number),
        "email": text(&f.email),
        "value": text(&f.value),
        "priority": text(&f.priority),
        "notes": text(&f.notes),
        "custom_fields": form_json("custom_fields", &f.custom_fields)?,
    }))?
    .parse_create()?;
    state.services.create_lead_api(&s.caller, input).await?;
    board_live(&state, &s, &board, f.status.as_deref()).await
}

#[derive(Deserialize)]
struct MoveForm {
    #[serde(default)]
    column_uuid: String,
    #[serde(default)]
    position: String,
    status: Option<String>,
}

/// The API's move (column and 0-based position; blank position: last): from a drop, the
/// up/down buttons or the column select. Answers the lead's board.
async fn move_lead(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(lead): Path<String>,
    Form(f): Form<MoveForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    let (column, position) = body::<MoveBody>(json!({
        "column_uuid": text(&f.column_uuid),
        "position": position(&f.position)?,
    }))?
    .parse()?;
    let moved = state
        .services
        .move_lead(&s.caller, &lead, column, position)
        .await?;
    // From the lead's own page: that page again.
    if headers
        .get("hx-target")
        .is_some_and(|t| t.as_bytes() == b"lead-live")
    {
        return super::leads::lead_live(State(state), s, Path(lead)).await;
    }
    board_live(
        &state,
        &s,
        &moved.board_uuid.to_string(),
        f.status.as_deref(),
    )
    .await
}
