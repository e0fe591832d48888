//! The Kanban API's lead routes: a board's list, create, show, update, soft delete, move,
//! won, lost, note, the activity timeline and AI qualification.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde_json::{Value, json};
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};
use zapini_shared::envelope::{ApiResponse, MessageOnly};
use zapini_shared::error::ErrorEnvelope;

use super::super::AppState;
use super::super::conversations::Params;
use super::super::conversations::query::{or_blank, page, per_page, query, string, uuid};
use super::super::extract::{Auth, Json};
use super::GATE_403;
use crate::crm::kanban::body::{LeadBody, LostBody, MoveBody, NoteBody};
use crate::crm::kanban::leads::LeadFilter;
use crate::crm::kanban::model::{LeadStatus, Priority};
use crate::crm::kanban::views::{ActivityView, LeadDetail, LeadView, NoteView};
use crate::error::{AppError, AppResult};

const LEAD_404: &str = "No such lead for this token, or it was deleted (`NOT_FOUND`)";

fn lead_example() -> Value {
    json!({
        "uuid": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        "board_uuid": "6fa459ea-ee8a-4ca4-894e-db77e160355e",
        "title": "John Doe - Pro Plan",
        "phone_number": "5511999999999",
        "email": "john@example.com",
        "value": "299.00",
        "value_formatted": "R$ 299,00",
        "currency": "BRL",
        "priority": "high",
        "priority_label": "High",
        "source": "api",
        "status": "open",
        "ai_score": null,
        "is_open": true, "is_won": false, "is_lost": false,
        "position": 0,
        "column": {"uuid": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "name": "New Lead", "color": "#3B82F6"},
        "contact": null,
        "conversation": null,
        "lost_reason": null,
        "closed_at": null,
        "created_at": "2025-01-15T10:30:00Z",
        "updated_at": "2025-01-15T10:30:00Z"
    })
}

fn detail_example() -> Value {
    let mut l = lead_example();
    l["ai_score"] = json!(82);
    l["notes"] = json!([{
        "uuid": "01938f2e-7b1c-7d3e-9f4a-5b6c7d8e9f00",
        "content": "Interested in annual subscription",
        "author": {"type": "user", "name": "Admin"},
        "created_at": "2025-01-15T10:30:00Z"
    }]);
    l["custom_fields"] = json!({"plan": "pro"});
    l["ai_analysis"] = json!({
        "score": 82,
        "summary": "Asked for annual pricing twice; budget approved.",
        "next_step": "Send the annual plan proposal today.",
        "qualified_at": "2025-01-15T11:00:00Z"
    });
    json!({"success": true, "data": l})
}

/// `GET /kanban/boards/{uuid}/leads`.
struct LeadsQuery;

impl IntoParams for LeadsQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![
            page(),
            per_page(20),
            query(
                "status",
                "`open` (default), `won`, `lost` or `all`.",
                or_blank(string().enum_values(Some(["open", "won", "lost", "all"]))),
            ),
            query(
                "priority",
                "Only leads of this priority.",
                or_blank(string().enum_values(Some(["low", "medium", "high", "urgent"]))),
            ),
            query(
                "column_uuid",
                "Only the leads of this column of the board, in the column's order (otherwise \
                 newest first).",
                or_blank(uuid()),
            ),
            query(
                "search",
                "Search by name or number: the title, email or phone number \
                 (case-insensitive substring).",
                string(),
            ),
        ]
    }
}

/// `GET /kanban/leads/{uuid}/activities`.
struct ActivitiesQuery;

impl IntoParams for ActivitiesQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![page(), per_page(50)]
    }
}

/// List a board's leads
///
/// A page of a board's leads, open ones by default.
#[utoipa::path(
    get,
    path = "/kanban/boards/{uuid}/leads",
    tag = "Kanban",
    operation_id = "kanban_leads_list",
    params(("uuid" = String, Path, description = "The board's UUID"), LeadsQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of leads.", body = ApiResponse<Vec<LeadView>>,
            example = json!({"success": true, "data": [lead_example()],
                "meta": {"pagination": {"total": 1, "per_page": 20, "current_page": 1, "last_page": 1}}})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = "No such board for this token (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A filter or the paging is invalid, or `column_uuid` is not a column of the board (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let p = Params::parse(q);
    let page = p.page(20)?;
    let status = match p.get("status").map(str::trim) {
        None => Some(LeadStatus::Open),
        Some(v) if v.eq_ignore_ascii_case("all") => None,
        Some(v) => Some(LeadStatus::parse(&v.to_ascii_lowercase()).ok_or_else(|| {
            AppError::validation("status", "The status must be one of: open, won, lost, all.")
        })?),
    };
    let priority = p
        .get("priority")
        .map(|v| {
            Priority::parse(v).ok_or_else(|| {
                AppError::validation(
                    "priority",
                    "The priority must be one of: low, medium, high, urgent.",
                )
            })
        })
        .transpose()?;
    let column_uuid = p
        .get("column_uuid")
        .map(|v| {
            uuid::Uuid::parse_str(v.trim())
                .map_err(|_| AppError::validation("column_uuid", "The column_uuid must be a UUID."))
        })
        .transpose()?;
    let result = s
        .services
        .list_leads(
            &c,
            &id,
            LeadFilter {
                status,
                priority,
                column_uuid,
                search: p.get("search").map(str::to_owned),
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

/// Create a lead
///
/// Creates a lead (`source` `api`) in a board's column (default the first), at the end of
/// it. Without `board_uuid`, the default board of the `sk_` token's instance (or of
/// `instance_id`). The lead links to the contact and conversation of its number on the
/// board's instance when they exist.
#[utoipa::path(
    post,
    path = "/kanban/leads",
    tag = "Kanban",
    operation_id = "kanban_leads_create",
    request_body(content = LeadBody, example = json!({
        "board_uuid": "6fa459ea-ee8a-4ca4-894e-db77e160355e",
        "title": "John Doe - Pro Plan",
        "phone_number": "5511999999999",
        "email": "john@example.com",
        "value": 299.00,
        "priority": "high",
        "notes": "Interested in annual subscription"
    })),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "Created.", body = ApiResponse<LeadView>,
            example = json!({"success": true, "message": "Lead created successfully", "data": lead_example()})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = "`board_uuid` names no board of this token (`NOT_FOUND`), or `instance_id` no instance (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid, or `column_uuid` is not a column of the board (`VALIDATION_ERROR`, naming each field)", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(s): State<AppState>,
    Auth(c): Auth,
    Json(b): Json<LeadBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let input = b.parse_create()?;
    let lead = s.services.create_lead_api(&c, input).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data("Lead created successfully", lead)),
    ))
}

/// Get a lead
///
/// A lead with its notes (newest first), custom fields and AI analysis.
#[utoipa::path(
    get,
    path = "/kanban/leads/{uuid}",
    tag = "Kanban",
    operation_id = "kanban_leads_show",
    params(("uuid" = String, Path, description = "The lead's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The lead.", body = ApiResponse<LeadDetail>, example = detail_example),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = LEAD_404, body = ErrorEnvelope),
    )
)]
pub async fn show(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    Ok(axum::Json(ApiResponse::data(
        s.services.get_lead(&c, &id).await?,
    )))
}

/// Update a lead
///
/// Changes the fields given (title, phone number, email, value, priority, custom fields);
/// each change goes on the timeline with its old and new value. Moves, notes, won and lost
/// have their own routes.
#[utoipa::path(
    put,
    path = "/kanban/leads/{uuid}",
    tag = "Kanban",
    operation_id = "kanban_leads_update",
    params(("uuid" = String, Path, description = "The lead's UUID")),
    request_body(content = Option<LeadBody>, example = json!({"value": 349.90, "priority": "urgent"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The lead now.", body = ApiResponse<LeadView>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = LEAD_404, body = ErrorEnvelope),
        (status = 422, description = "A field is invalid, or not changeable here (`VALIDATION_ERROR`, naming each field)", body = ErrorEnvelope),
    )
)]
pub async fn update(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<LeadBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let patch = b.parse_update()?;
    let lead = s.services.update_lead_api(&c, &id, patch).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Lead updated successfully",
        lead,
    )))
}

/// Delete a lead
///
/// Soft-deletes a lead: every route answers 404 for it from then on, and it leaves the
/// board's statistics.
#[utoipa::path(
    delete,
    path = "/kanban/leads/{uuid}",
    tag = "Kanban",
    operation_id = "kanban_leads_delete",
    params(("uuid" = String, Path, description = "The lead's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "Lead deleted successfully"})),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = LEAD_404, body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    s.services.delete_lead(&c, &id).await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "Lead deleted successfully",
    )))
}

/// Move a lead
///
/// Moves a lead to a column of its board, at `position` (0 first; default last); the other
/// leads of both columns keep their order.
#[utoipa::path(
    post,
    path = "/kanban/leads/{uuid}/move",
    tag = "Kanban",
    operation_id = "kanban_leads_move",
    params(("uuid" = String, Path, description = "The lead's UUID")),
    request_body(content = MoveBody, example = json!({"column_uuid": "0e8f5c1a-3b2d-4e6f-8a9b-1c2d3e4f5a6b", "position": 0})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The lead now.", body = ApiResponse<LeadView>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = LEAD_404, body = ErrorEnvelope),
        (status = 422, description = "`column_uuid` is missing or not a column of the lead's board, or `position` is invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn move_lead(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<MoveBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let (column, position) = b.parse()?;
    let lead = s.services.move_lead(&c, &id, column, position).await?;
    Ok(axum::Json(ApiResponse::message_data("Lead moved", lead)))
}

/// Mark a lead as won
///
/// Closes the lead as won (a lost one too). Marking a won lead again changes nothing.
#[utoipa::path(
    post,
    path = "/kanban/leads/{uuid}/won",
    tag = "Kanban",
    operation_id = "kanban_leads_won",
    params(("uuid" = String, Path, description = "The lead's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The lead now.", body = ApiResponse<LeadView>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = LEAD_404, body = ErrorEnvelope),
    )
)]
pub async fn won(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let lead = s
        .services
        .close_lead(&c, &id, LeadStatus::Won, None)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Lead marked as won",
        lead,
    )))
}

/// Mark a lead as lost
///
/// Closes the lead as lost (a won one too), with an optional `reason`.
#[utoipa::path(
    post,
    path = "/kanban/leads/{uuid}/lost",
    tag = "Kanban",
    operation_id = "kanban_leads_lost",
    params(("uuid" = String, Path, description = "The lead's UUID")),
    request_body(content = Option<LostBody>, example = json!({"reason": "Chose a competitor"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The lead now.", body = ApiResponse<LeadView>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = LEAD_404, body = ErrorEnvelope),
        (status = 422, description = "`reason` is not a string of at most 1000 characters (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn lost(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<LostBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let reason = b.parse()?;
    let lead = s
        .services
        .close_lead(&c, &id, LeadStatus::Lost, reason)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Lead marked as lost",
        lead,
    )))
}

/// Add a note
///
/// Adds a timestamped note, with its author (the user, or the `sk_` token's name).
#[utoipa::path(
    post,
    path = "/kanban/leads/{uuid}/note",
    tag = "Kanban",
    operation_id = "kanban_leads_note",
    params(("uuid" = String, Path, description = "The lead's UUID")),
    request_body(content = NoteBody, example = json!({"content": "Called back; wants a demo on Friday."})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "The note.", body = ApiResponse<NoteView>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = LEAD_404, body = ErrorEnvelope),
        (status = 422, description = "`content` is missing or longer than 10,000 characters (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn note(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<NoteBody>,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let content = b.parse()?;
    let note = s.services.add_note(&c, &id, content).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data("Note added", note)),
    ))
}

/// List a lead's activities
///
/// The lead's timeline, newest first: created, each field change with its old and new
/// value, moves, won, lost, notes, AI qualifications, with who did each.
#[utoipa::path(
    get,
    path = "/kanban/leads/{uuid}/activities",
    tag = "Kanban",
    operation_id = "kanban_leads_activities",
    params(("uuid" = String, Path, description = "The lead's UUID"), ActivitiesQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of the timeline.", body = ApiResponse<Vec<ActivityView>>),
        (status = 403, description = GATE_403, body = ErrorEnvelope),
        (status = 404, description = LEAD_404, body = ErrorEnvelope),
        (status = 422, description = "The paging is invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn activities(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    s.services.require_kanban(c.tenant()).await?;
    let page = Params::parse(q).page(50)?;
    let result = s
        .services
        .lead_activities(&c, &id, page.page, page.per_page)
        .await?;
    Ok(axum::Json(ApiResponse::paginated(
        result.items,
        page.meta(result.total),
    )))
}

/// Qualify a lead with AI
///
/// The tenant's active AI Agent integration (the lead's instance's first) reads the lead,
/// its notes and the last messages of its conversation, and scores it from 0 to 100 with a
/// summary and a suggested next step; they are stored on the lead (`ai_score`,
/// `ai_analysis`) with a `qualified` timeline entry.
#[utoipa::path(
    post,
    path = "/kanban/leads/{uuid}/ai-qualify",
    tag = "Kanban",
    operation_id = "kanban_leads_ai_qualify",
    params(("uuid" = String, Path, description = "The lead's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The lead with its AI analysis.", body = ApiResponse<LeadDetail>, example = detail_example),
        (status = 403, description = "Kanban is not enabled (`KANBAN_NOT_ENABLED`), or there is no active AI Agent integration (`AI_AGENT_NOT_ENABLED`)", body = ErrorEnvelope),
        (status = 404, description = LEAD_404, body = ErrorEnvelope),
        (status = 503, description = "The model failed or did not answer the JSON asked for (`SERVICE_UNAVAILABLE`)", body = ErrorEnvelope),
    )
)]
pub async fn qualify(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let lead = s.services.qualify_lead(&c, &id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Lead qualified",
        lead,
    )))
}
