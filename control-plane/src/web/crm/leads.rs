//! A lead's page: its fields (edited through the API's parser), notes (added), the activity
//! timeline, the column it is in, won / lost and deletion; reloaded on `crm` news.

use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{body, kanban_gate, text};
use crate::crm::kanban::body::{LeadBody, LostBody, NoteBody};
use crate::crm::kanban::model::LeadStatus;
use crate::http::AppState;
use crate::web::automations::form_json;
use crate::web::render::{self, WebResult, html};
use crate::web::{Pages, Session};

pub fn routes() -> Pages {
    Pages::new()
        .route(
            "/dashboard/crm/kanban/leads/{lead}",
            get(lead).post(update_lead),
        )
        .route("/dashboard/crm/kanban/leads/{lead}/live", get(lead_live))
        .route("/dashboard/crm/kanban/leads/{lead}/won", post(won))
        .route("/dashboard/crm/kanban/leads/{lead}/lost", post(lost))
        .route("/dashboard/crm/kanban/leads/{lead}/note", post(note))
        .route(
            "/dashboard/crm/kanban/leads/{lead}/delete",
            post(delete_lead),
        )
}

/// A lead's fields as a form sends them (a board's new lead, or a lead's page).
#[derive(Deserialize)]
pub(super) struct LeadForm {
    #[serde(default)]
    pub(super) title: String,
    #[serde(default)]
    pub(super) phone_number: String,
    #[serde(default)]
    pub(super) email: String,
    #[serde(default)]
    pub(super) value: String,
    #[serde(default)]
    pub(super) priority: String,
    #[serde(default)]
    pub(super) column_uuid: String,
    #[serde(default)]
    pub(super) notes: String,
    #[serde(default)]
    pub(super) custom_fields: String,
    pub(super) status: Option<String>,
}

/// A lead's page: fields, notes, timeline, links.
async fn lead_ctx(state: &AppState, s: &Session, lead: &str) -> WebResult<Value> {
    let detail = state.services.get_lead(&s.caller, lead).await?;
    let timeline = state
        .services
        .lead_activities(&s.caller, lead, 1, 100)
        .await?;
    let board = state
        .services
        .get_board(&s.caller, &detail.lead.board_uuid.to_string())
        .await?;
    let custom = if detail
        .custom_fields
        .as_object()
        .is_some_and(|m| !m.is_empty())
    {
        serde_json::to_string_pretty(&detail.custom_fields).unwrap_or_default()
    } else {
        String::new()
    };
    Ok(json!({
        "lead": detail,
        "timeline": timeline.items,
        "timeline_total": timeline.total,
        "board": board.board,
        "columns": board.columns,
        "custom_fields": custom,
    }))
}

async fn lead(
    State(state): State<AppState>,
    s: Session,
    Path(lead): Path<String>,
) -> WebResult<Response> {
    let mut ctx = s.base("crm");
    ctx["gate"] = kanban_gate(&state, &s).await?;
    if !ctx["gate"].is_null() {
        return html("crm/boards.html", ctx);
    }
    ctx["l"] = lead_ctx(&state, &s, &lead).await?;
    html("crm/lead.html", ctx)
}

pub(super) async fn lead_live(
    State(state): State<AppState>,
    s: Session,
    Path(lead): Path<String>,
) -> WebResult<Response> {
    html(
        "crm/_lead_live.html",
        json!({ "l": lead_ctx(&state, &s, &lead).await? }),
    )
}

async fn update_lead(
    State(state): State<AppState>,
    s: Session,
    Path(lead): Path<String>,
    Form(f): Form<LeadForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    let patch = body::<LeadBody>(json!({
        "title": text(&f.title),
        "phone_number": text(&f.phone_number).unwrap_or(Value::Null),
        "email": text(&f.email).unwrap_or(Value::Null),
        "value": text(&f.value).unwrap_or(Value::Null),
        "priority": text(&f.priority),
        "custom_fields": form_json("custom_fields", &f.custom_fields)?.unwrap_or(Value::Null),
    }))?
    .parse_update()?;
    state
        .services
        .update_lead_api(&s.caller, &lead, patch)
        .await?;
    lead_live(State(state), s, Path(lead)).await
}

async fn won(
    State(state): State<AppState>,
    s: Session,
    Path(lead): Path<String>,
) -> WebResult<Response> {
    state
        .services
        .close_lead(&s.caller, &lead, LeadStatus::Won, None)
        .await?;
    lead_live(State(state), s, Path(lead)).await
}

#[derive(Deserialize)]
struct LostForm {
    #[serde(default)]
    reason: String,
}

async fn lost(
    State(state): State<AppState>,
    s: Session,
    Path(lead): Path<String>,
    Form(f): Form<LostForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    let reason = body::<LostBody>(json!({ "reason": text(&f.reason) }))?.parse()?;
    state
        .services
        .close_lead(&s.caller, &lead, LeadStatus::Lost, reason)
        .await?;
    lead_live(State(state), s, Path(lead)).await
}

#[derive(Deserialize)]
struct NoteForm {
    #[serde(default)]
    content: String,
}

async fn note(
    State(state): State<AppState>,
    s: Session,
    Path(lead): Path<String>,
    Form(f): Form<NoteForm>,
) -> WebResult<Response> {
    state.services.require_kanban(s.caller.tenant()).await?;
    let content = body::<NoteBody>(json!({ "content": text(&f.content) }))?.parse()?;
    state.services.add_note(&s.caller, &lead, content).await?;
    lead_live(State(state), s, Path(lead)).await
}

async fn delete_lead(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(lead): Path<String>,
) -> WebResult<Response> {
    let l = state.services.get_lead(&s.caller, &lead).await?;
    state.services.delete_lead(&s.caller, &lead).await?;
    Ok(render::redirect(
        &headers,
        &format!("/dashboard/crm/kanban/boards/{}", l.lead.board_uuid),
    ))
}
