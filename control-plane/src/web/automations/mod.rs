//! The automations section: flows with their visual editor and test runs ([`flows`],
//! [`editor`]), integrations (webhook bots, AI agents: [`integrations`]), AI Functions with
//! their test button and execution log ([`functions`]), and the live list of automation
//! sessions ([`sessions`]). Every page calls the services the API's routes call.

mod editor;
mod editor_ops;
mod editor_specs;
mod flows;
mod functions;
mod integrations;
mod sessions;

use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::render::{self, WebError, WebResult};
use super::{Pages, Session};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::inbox::automation::{AutomationEntity, AutomationKind};
use crate::service::inbox::automation_entities::AutomationInput;

pub const PATHS: &[&str] = &[
    "/dashboard/automations",
    "/dashboard/automations/flows",
    "/dashboard/automations/flows/{flow}",
    "/dashboard/automations/flows/{flow}/editor",
    "/dashboard/automations/flows/{flow}/toggle",
    "/dashboard/automations/flows/{flow}/delete",
    "/dashboard/automations/flows/{flow}/test",
    "/dashboard/automations/integrations",
    "/dashboard/automations/integrations/{integration}",
    "/dashboard/automations/integrations/{integration}/toggle",
    "/dashboard/automations/integrations/{integration}/delete",
    "/dashboard/automations/functions",
    "/dashboard/automations/functions/{function}",
    "/dashboard/automations/functions/{function}/toggle",
    "/dashboard/automations/functions/{function}/delete",
    "/dashboard/automations/functions/{function}/test",
    "/dashboard/automations/functions/{function}/executions",
    "/dashboard/automations/executions/{execution}",
    "/dashboard/automations/sessions",
    "/dashboard/automations/sessions/table",
    "/dashboard/automations/sessions/{session}/status",
];

pub fn routes() -> Pages {
    flows::routes()
        .merge(integrations::routes())
        .merge(functions::routes())
        .merge(sessions::routes())
}

/// A JSON field of a form: blank is absent; anything that does not parse is a 422 naming the
/// field.
pub(super) fn form_json(field: &str, text: &str) -> WebResult<Option<Value>> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    serde_json::from_str(text).map(Some).map_err(|e| {
        WebError::from(AppError::validation(
            field,
            format!("The {field} is not valid JSON: {e}."),
        ))
    })
}

/// An optional whole number of a form that must fit an `i32`.
pub(super) fn form_i32(field: &str, text: &str) -> WebResult<Option<i32>> {
    match super::instances::form_int(field, text)? {
        None => Ok(None),
        Some(n) => i32::try_from(n).map(Some).map_err(|_| {
            WebError::from(AppError::validation(
                field,
                format!("The {} is out of range.", field.replace('_', " ")),
            ))
        }),
    }
}

/// A checkbox: present (any value but `false`/`off`/`0`) is on.
pub(super) fn checked(value: &Option<String>) -> bool {
    value
        .as_deref()
        .is_some_and(|v| !matches!(v, "false" | "off" | "0"))
}

/// `<div id="flash" hx-swap-oob="innerHTML">…</div>`: an htmx answer's message for the page's
/// flash area, next to what it swaps into its own target.
pub(super) fn flash_oob(html: &str) -> String {
    format!("<div id=\"flash\" hx-swap-oob=\"innerHTML\">{html}</div>")
}

pub(super) fn flash_ok(message: &str) -> WebResult<String> {
    Ok(flash_oob(&render::render(
        "_flash.html",
        json!({ "message": message }),
    )?))
}

pub(super) fn flash_error(e: &WebError) -> WebResult<String> {
    Ok(flash_oob(&render::render(
        "_error.html",
        json!({ "status": e.status.as_u16(), "code": e.code, "message": e.message,
                "fields": e.fields }),
    )?))
}

/// The tenant's instances (for filters and selects), as `{uuid, name}`.
pub(super) async fn instances(state: &AppState, s: &Session) -> WebResult<Value> {
    let list = state.services.list_instances(&s.caller, None).await?;
    Ok(json!(
        list.iter()
            .map(|i| json!({"uuid": i.uuid, "name": i.name, "id": i.id}))
            .collect::<Vec<_>>()
    ))
}

/// An instance filter from a query (blank: none).
pub(super) fn filter(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The tenant's AI agent integrations (of one instance when given), as (UUID, name).
pub(super) async fn agents(
    state: &AppState,
    s: &Session,
    instance: Option<&str>,
) -> WebResult<Vec<AutomationEntity>> {
    Ok(state
        .services
        .list_automations(&s.caller, AutomationKind::Integration, instance)
        .await?
        .into_iter()
        .filter(|i| i.integration_type.as_deref() == Some("ai_agent"))
        .collect())
}

/// The query of a list page: an instance to show the automations of (blank: all).
#[derive(Deserialize)]
pub(super) struct ListQuery {
    pub(super) instance: Option<String>,
}

/// The list page of one kind of automation. `tab` (`flows`, `integrations`) names the tab,
/// the list's key in the context and the template.
pub(super) async fn list_page(
    state: &AppState,
    s: &Session,
    kind: AutomationKind,
    tab: &str,
    q: &ListQuery,
) -> WebResult<Response> {
    let instance = filter(&q.instance);
    let list = state
        .services
        .list_automations(&s.caller, kind, instance.as_deref())
        .await?;
    let mut ctx = s.base("automations");
    ctx["tab"] = json!(tab);
    ctx[tab] = json!(list);
    ctx["instances"] = instances(state, s).await?;
    ctx["instance"] = json!(instance);
    render::html(&format!("automations/{tab}.html"), ctx)
}

/// One flow or integration of the caller's.
pub(super) async fn automation_of(
    state: &AppState,
    s: &Session,
    kind: AutomationKind,
    id: &str,
) -> WebResult<AutomationEntity> {
    Ok(state.services.get_automation(&s.caller, kind, id).await?)
}

/// Turns a flow or integration on when it is off and off when it is on; answers it saved.
pub(super) async fn toggle_active(
    state: &AppState,
    s: &Session,
    kind: AutomationKind,
    id: &str,
) -> WebResult<AutomationEntity> {
    let current = automation_of(state, s, kind, id).await?;
    Ok(state
        .services
        .edit_automation(
            &s.caller,
            kind,
            id,
            AutomationInput {
                is_active: Some(!current.is_active),
                ..AutomationInput::default()
            },
        )
        .await?)
}

/// Deletes a flow or integration, then sends the browser to `to`.
pub(super) async fn delete_then(
    state: &AppState,
    s: &Session,
    headers: &HeaderMap,
    kind: AutomationKind,
    id: &str,
    to: &str,
) -> WebResult<Response> {
    state
        .services
        .change_automation(&s.caller, kind, id, Default::default(), true)
        .await?;
    Ok(render::redirect(headers, to))
}
