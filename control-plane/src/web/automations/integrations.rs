//! Integrations: webhook bots (`webhook`, `api`) and AI agents (`ai_agent`): the list (by
//! instance), creating one, and its page with its configuration as a form (secrets are
//! write-only: left blank, the stored one is kept), settings, priority, activation and
//! deletion.

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::{
    ListQuery, automation_of, checked, delete_then, filter, flash_ok, form_i32, form_json,
    list_page, toggle_active,
};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::inbox::automation::{AutomationEntity, AutomationKind};
use crate::service::inbox::automation_entities::AutomationInput;
use crate::web::render::{self, WebError, WebResult, html};
use crate::web::{Pages, Session};

pub fn routes() -> Pages {
    Pages::new()
        .route(
            "/dashboard/automations/integrations",
            get(index).post(create),
        )
        .route(
            "/dashboard/automations/integrations/{integration}",
            get(show).post(save),
        )
        .route(
            "/dashboard/automations/integrations/{integration}/toggle",
            post(toggle),
        )
        .route(
            "/dashboard/automations/integrations/{integration}/delete",
            post(delete),
        )
}

async fn index(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> WebResult<Response> {
    list_page(&state, &s, AutomationKind::Integration, "integrations", &q).await
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    instance_id: String,
    #[serde(default)]
    integration_type: String,
    is_active: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(form): Form<CreateForm>,
) -> WebResult<Response> {
    let created = state
        .services
        .add_automation(
            &s.caller,
            AutomationKind::Integration,
            filter(&Some(form.instance_id)),
            AutomationInput {
                name: Some(form.name),
                integration_type: Some(form.integration_type).filter(|t| !t.trim().is_empty()),
                is_active: Some(checked(&form.is_active)),
                ..AutomationInput::default()
            },
        )
        .await?;
    Ok(render::redirect(
        &headers,
        &format!("/dashboard/automations/integrations/{}", created.id),
    ))
}

async fn integration_of(state: &AppState, s: &Session, id: &str) -> WebResult<AutomationEntity> {
    automation_of(state, s, AutomationKind::Integration, id).await
}

fn form_ctx(i: &AutomationEntity) -> Value {
    json!({
        "integration": i,
        "settings": serde_json::to_string_pretty(&i.settings).unwrap_or_default(),
        "config": i.config.clone().unwrap_or_else(|| json!({})),
    })
}

async fn show(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let i = integration_of(&state, &s, &id).await?;
    let instance = state
        .services
        .get_instance(&s.caller, &i.instance_id.to_string())
        .await?;
    let mut ctx = s.base("automations");
    ctx["tab"] = json!("integrations");
    ctx["form"] = form_ctx(&i);
    ctx["integration"] = json!(i);
    ctx["instance"] = json!(instance);
    html("automations/integration.html", ctx)
}

/// The configuration fields of each type: (name, kind) with kind `text`, `secret`, `int`,
/// `float`.
fn config_fields(integration_type: &str) -> &'static [(&'static str, &'static str)] {
    match integration_type {
        "ai_agent" => &[
            ("base_url", "text"),
            ("model", "text"),
            ("api_key", "secret"),
            ("system_prompt", "text"),
            ("temperature", "float"),
            ("max_tokens", "int"),
            ("history_messages", "int"),
            ("max_tool_rounds", "int"),
            ("timeout_seconds", "int"),
            ("fallback_message", "text"),
        ],
        _ => &[
            ("url", "text"),
            ("secret", "secret"),
            ("timeout_seconds", "int"),
            ("fallback_message", "text"),
            ("on_failure", "text"),
        ],
    }
}

/// The `config` object from the form's `config.*` fields: blank fields are left out (their
/// default, or the stored secret).
fn config_of(integration_type: &str, form: &HashMap<String, String>) -> WebResult<Value> {
    let mut config = Map::new();
    for (name, kind) in config_fields(integration_type) {
        let raw = form
            .get(&format!("config.{name}"))
            .map(String::as_str)
            .unwrap_or_default();
        let text = if *kind == "text" && name.ends_with("prompt") {
            raw
        } else {
            raw.trim()
        };
        if text.trim().is_empty() {
            continue;
        }
        let field = format!("config.{name}");
        let bad = |what: &str| {
            WebError::from(AppError::validation(
                &field,
                format!("The {field} must be {what}."),
            ))
        };
        let value = match *kind {
            "int" => json!(text.parse::<u32>().map_err(|_| bad("a whole number"))?),
            "float" => json!(
                text.replace(',', ".")
                    .parse::<f32>()
                    .map_err(|_| bad("a number"))?
            ),
            _ => json!(text),
        };
        config.insert((*name).to_owned(), value);
    }
    Ok(Value::Object(config))
}

async fn save(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> WebResult<Response> {
    let i = integration_of(&state, &s, &id).await?;
    let text = |k: &str| form.get(k).cloned().unwrap_or_default();
    let kind = i.integration_type.clone().unwrap_or_default();
    let input = AutomationInput {
        name: Some(text("name")),
        settings: form_json("settings", &text("settings"))?,
        priority: form_i32("priority", &text("priority"))?,
        config: Some(config_of(&kind, &form)?),
        ..AutomationInput::default()
    };
    let saved = state
        .services
        .edit_automation(&s.caller, AutomationKind::Integration, &id, input)
        .await?;
    let body = render::render("automations/_integration_form.html", form_ctx(&saved))?
        + &flash_ok("Integration saved.")?;
    Ok(Html(body).into_response())
}

async fn toggle(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let saved = toggle_active(&state, &s, AutomationKind::Integration, &id).await?;
    if headers
        .get("hx-target")
        .is_some_and(|t| t.as_bytes().starts_with(b"integration-row-"))
    {
        return html("automations/_integration_row.html", json!({ "i": saved }));
    }
    html(
        "automations/_integration_status.html",
        json!({ "integration": saved }),
    )
}

async fn delete(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let to = "/dashboard/automations/integrations";
    delete_then(&state, &s, &headers, AutomationKind::Integration, &id, to).await
}
