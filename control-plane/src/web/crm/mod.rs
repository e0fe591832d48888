//! The CRM section: a landing page, the Kanban boards with drag-and-drop of leads and columns
//! and each lead's page ([`kanban`]), and the calendar's month and week views of appointments
//! ([`calendar`]). Every page calls the services the API's routes call; with Kanban off for
//! the tenant the pages show the API's `KANBAN_NOT_ENABLED` message.

mod calendar;
mod kanban;
mod leads;

use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Value, json};

use super::render::{WebError, WebResult, html};
use super::{Pages, Session};
use crate::error::AppError;
use crate::http::AppState;

pub const PATHS: &[&str] = &[
    "/dashboard/crm",
    "/dashboard/crm/kanban",
    "/dashboard/crm/kanban/boards",
    "/dashboard/crm/kanban/boards/{board}",
    "/dashboard/crm/kanban/boards/{board}/live",
    "/dashboard/crm/kanban/boards/{board}/delete",
    "/dashboard/crm/kanban/boards/{board}/columns",
    "/dashboard/crm/kanban/boards/{board}/reorder",
    "/dashboard/crm/kanban/boards/{board}/leads",
    "/dashboard/crm/kanban/columns/{column}",
    "/dashboard/crm/kanban/columns/{column}/delete",
    "/dashboard/crm/kanban/leads/{lead}",
    "/dashboard/crm/kanban/leads/{lead}/live",
    "/dashboard/crm/kanban/leads/{lead}/move",
    "/dashboard/crm/kanban/leads/{lead}/won",
    "/dashboard/crm/kanban/leads/{lead}/lost",
    "/dashboard/crm/kanban/leads/{lead}/note",
    "/dashboard/crm/kanban/leads/{lead}/delete",
    "/dashboard/crm/calendar",
    "/dashboard/crm/calendar/appointments",
    "/dashboard/crm/calendar/appointments/{appointment}",
    "/dashboard/crm/calendar/appointments/{appointment}/confirm",
    "/dashboard/crm/calendar/appointments/{appointment}/complete",
    "/dashboard/crm/calendar/appointments/{appointment}/cancel",
    "/dashboard/crm/calendar/appointments/{appointment}/delete",
    "/dashboard/crm/calendar/appointments/{appointment}/to-kanban",
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/crm", get(index))
        .merge(kanban::routes())
        .merge(calendar::routes())
}

async fn index(State(state): State<AppState>, s: Session) -> WebResult<Response> {
    let mut ctx = s.base("crm");
    ctx["gate"] = kanban_gate(&state, &s).await?;
    html("crm/index.html", ctx)
}

/// `null` when the tenant has Kanban, else the API's refusal (`code`, `message`) to show.
pub(super) async fn kanban_gate(state: &AppState, s: &Session) -> WebResult<Value> {
    match state.services.require_kanban(s.caller.tenant()).await {
        Ok(_) => Ok(Value::Null),
        Err(e) => {
            let e = WebError::from(e);
            if e.code == "KANBAN_NOT_ENABLED" {
                Ok(json!({"code": e.code, "message": e.message}))
            } else {
                Err(e)
            }
        }
    }
}

/// A form's text field (trimmed; blank is absent).
pub(super) fn text(v: &str) -> Option<Value> {
    let v = v.trim();
    (!v.is_empty()).then(|| Value::String(v.to_owned()))
}

/// The API's body type from a JSON object built from a form (its own parser then checks
/// every field, naming each).
pub(super) fn body<T: serde::de::DeserializeOwned>(v: Value) -> WebResult<T> {
    serde_json::from_value(v).map_err(|e| {
        WebError::from(AppError::validation(
            "body",
            format!("The form could not be read: {e}."),
        ))
    })
}

/// The tenant's instances, as `{uuid, name}`.
pub(super) async fn instances(state: &AppState, s: &Session) -> WebResult<Value> {
    let list = state.services.list_instances(&s.caller, None).await?;
    Ok(json!(
        list.iter()
            .map(|i| json!({"uuid": i.uuid, "name": i.name}))
            .collect::<Vec<_>>()
    ))
}
