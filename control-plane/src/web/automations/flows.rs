//! Flows: the list (by instance), creating one, and its page: the visual editor (step cards
//! beside the JSON definition, kept in sync by `static/automations.js`; structural changes
//! are rendered here, see [`super::editor`]), saving through the API's validation (each error
//! shown on its step), activating, deleting, and test runs with their transcript.

use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::editor;
use super::editor_ops::{self, Op};
use super::{
    ListQuery, agents, automation_of, checked, delete_then, flash_error, flash_ok, form_i32,
    form_json, list_page, toggle_active,
};
use crate::automation::flow::MAX_TEXT_CHARS;
use crate::error::AppError;
use crate::http::AppState;
use crate::service::flows::{FlowTestInput, MAX_TEST_MESSAGES};
use crate::service::inbox::automation::{AutomationEntity, AutomationKind};
use crate::service::inbox::automation_entities::{AutomationInput, flow_definition};
use crate::web::render::{self, WebError, WebResult, html};
use crate::web::{Pages, Session};

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/automations", get(index))
        .route("/dashboard/automations/flows", post(create))
        .route("/dashboard/automations/flows/{flow}", get(show).post(save))
        .route("/dashboard/automations/flows/{flow}/editor", post(edit))
        .route("/dashboard/automations/flows/{flow}/toggle", post(toggle))
        .route("/dashboard/automations/flows/{flow}/delete", post(delete))
        .route("/dashboard/automations/flows/{flow}/test", post(test))
}

/// A new flow's definition: one greeting, to start from.
fn starter() -> Value {
    json!({"start": "welcome", "steps": [
        {"id": "welcome", "type": "send_text", "text": "Hi {{contact.name}}!"}
    ]})
}

async fn index(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> WebResult<Response> {
    list_page(&state, &s, AutomationKind::Flow, "flows", &q).await
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    instance_id: String,
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
            AutomationKind::Flow,
            super::filter(&Some(form.instance_id)),
            AutomationInput {
                name: Some(form.name),
                is_active: Some(checked(&form.is_active)),
                definition: Some(starter()),
                ..AutomationInput::default()
            },
        )
        .await?;
    Ok(render::redirect(
        &headers,
        &format!("/dashboard/automations/flows/{}", created.id),
    ))
}

/// The instance's AI agents, as the editor's select shows them.
async fn agent_choices(
    state: &AppState,
    s: &Session,
    flow: &AutomationEntity,
) -> WebResult<Vec<(String, String)>> {
    Ok(agents(state, s, Some(&flow.instance_id.to_string()))
        .await?
        .into_iter()
        .map(|a| (a.id.to_string(), a.name))
        .collect())
}

async fn flow_of(state: &AppState, s: &Session, flow: &str) -> WebResult<AutomationEntity> {
    automation_of(state, s, AutomationKind::Flow, flow).await
}

async fn show(
    State(state): State<AppState>,
    s: Session,
    Path(flow): Path<String>,
) -> WebResult<Response> {
    let f = flow_of(&state, &s, &flow).await?;
    let definition = f.definition.clone().unwrap_or_else(starter);
    let agents = agent_choices(&state, &s, &f).await?;
    let instance = state
        .services
        .get_instance(&s.caller, &f.instance_id.to_string())
        .await?;
    let mut ctx = s.base("automations");
    ctx["tab"] = json!("flows");
    ctx["editor"] = json!(editor::editor(&definition, &[], &agents));
    ctx["settings"] = json!(serde_json::to_string_pretty(&f.settings).unwrap_or_default());
    ctx["flow"] = json!(f);
    ctx["instance"] = json!(instance);
    html("automations/flow.html", ctx)
}

/// The cards for `definition`, with `errors`, for `#flow-cards`.
fn cards(
    f: &AutomationEntity,
    definition: &Value,
    errors: &[(String, String)],
    agents: &[(String, String)],
) -> WebResult<String> {
    render::render(
        "automations/_flow_cards.html",
        json!({ "flow": f, "editor": editor::editor(definition, errors, agents) }),
    )
}

/// A definition the API refused: the cards with each error on its step, and the message in
/// the flash area (whatever the request's own target).
fn refused(
    f: &AutomationEntity,
    definition: &Value,
    e: &WebError,
    agents: &[(String, String)],
) -> WebResult<Response> {
    let body = cards(f, definition, &e.fields, agents)? + &flash_error(e)?;
    let mut r = (e.status, Html(body)).into_response();
    r.headers_mut()
        .insert("hx-retarget", HeaderValue::from_static("#flow-cards"));
    r.headers_mut()
        .insert("hx-reswap", HeaderValue::from_static("innerHTML"));
    Ok(r)
}

/// Whether an error is the API's refusal of fields (shown on the cards) rather than, say, a
/// missing flow.
fn is_validation(e: &WebError) -> bool {
    e.status == StatusCode::UNPROCESSABLE_ENTITY
}

/// The definition textarea, replaced out of band (after a structural change or a save).
fn json_oob(definition: &Value) -> WebResult<String> {
    render::render(
        "automations/_flow_json.html",
        json!({ "json": serde_json::to_string_pretty(definition).unwrap_or_default(),
                "oob": true }),
    )
}

#[derive(Deserialize)]
struct SaveForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    priority: String,
    #[serde(default)]
    settings: String,
    #[serde(default)]
    definition: String,
}

async fn save(
    State(state): State<AppState>,
    s: Session,
    Path(flow): Path<String>,
    Form(form): Form<SaveForm>,
) -> WebResult<Response> {
    let f = flow_of(&state, &s, &flow).await?;
    let definition = form_json("definition", &form.definition)?;
    let input = AutomationInput {
        name: Some(form.name),
        definition: definition.clone(),
        settings: form_json("settings", &form.settings)?,
        priority: form_i32("priority", &form.priority)?,
        ..AutomationInput::default()
    };
    let agents = agent_choices(&state, &s, &f).await?;
    match state
        .services
        .edit_automation(&s.caller, AutomationKind::Flow, &flow, input)
        .await
    {
        Ok(saved) => {
            let stored = saved.definition.clone().unwrap_or_else(starter);
            let body = cards(&saved, &stored, &[], &agents)?
                + &json_oob(&stored)?
                + &render::render(
                    "automations/_flow_version.html",
                    json!({"flow": saved, "oob": true}),
                )?
                + &flash_ok(&format!("Saved (version {}).", saved.version.unwrap_or(1)))?;
            Ok(Html(body).into_response())
        }
        Err(e) => {
            let e = WebError::from(e);
            if is_validation(&e) {
                refused(&f, &definition.unwrap_or(Value::Null), &e, &agents)
            } else {
                Err(e)
            }
        }
    }
}

#[derive(Deserialize)]
struct EditForm {
    #[serde(default)]
    definition: String,
    #[serde(default)]
    op: String,
    #[serde(default)]
    index: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    path: String,
    #[serde(default)]
    id: String,
}

fn index_of(field: &str, v: &str) -> WebResult<usize> {
    v.trim().parse().map_err(|_| {
        WebError::from(AppError::validation(
            field,
            format!("The {field} must be a whole number."),
        ))
    })
}

/// The editor's cards for the posted definition, after a structural change (`op`): the
/// page's script posts here when the tree must be drawn again.
async fn edit(
    State(state): State<AppState>,
    s: Session,
    Path(flow): Path<String>,
    Form(form): Form<EditForm>,
) -> WebResult<Response> {
    let f = flow_of(&state, &s, &flow).await?;
    let mut definition = form_json("definition", &form.definition)?.unwrap_or(Value::Null);
    let op = match form.op.as_str() {
        "" => None,
        "add_step" => Some(Op::AddStep {
            kind: form.kind.trim().to_owned(),
            after: match form.after.trim() {
                "" => None,
                a => Some(index_of("after", a)?),
            },
        }),
        "remove_step" => Some(Op::RemoveStep(index_of("index", &form.index)?)),
        "add_item" => Some(Op::AddItem(form.path.trim().to_owned())),
        "remove_item" => Some(Op::RemoveItem(
            form.path.trim().to_owned(),
            index_of("index", &form.index)?,
        )),
        "set_start" => Some(Op::SetStart(form.id.trim().to_owned())),
        other => {
            return Err(WebError::bad_request(format!(
                "Unknown editor operation {other}."
            )));
        }
    };
    let changed = op.is_some();
    if let Some(op) = op {
        editor_ops::apply(&mut definition, op).map_err(WebError::bad_request)?;
    }
    let agents = agent_choices(&state, &s, &f).await?;
    let mut body = cards(&f, &definition, &[], &agents)?;
    if changed {
        body += &json_oob(&definition)?;
    }
    Ok(Html(body).into_response())
}

async fn toggle(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(flow): Path<String>,
) -> WebResult<Response> {
    let saved = toggle_active(&state, &s, AutomationKind::Flow, &flow).await?;
    // From the list: the row again; from the flow's page: its status.
    if headers
        .get("hx-target")
        .is_some_and(|t| t.as_bytes().starts_with(b"flow-row-"))
    {
        return html("automations/_flow_row.html", json!({ "f": saved }));
    }
    html("automations/_flow_status.html", json!({ "flow": saved }))
}

async fn delete(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(flow): Path<String>,
) -> WebResult<Response> {
    let to = "/dashboard/automations";
    delete_then(&state, &s, &headers, AutomationKind::Flow, &flow, to).await
}

#[derive(Deserialize)]
struct TestForm {
    #[serde(default)]
    messages: String,
    #[serde(default)]
    contact_name: String,
    #[serde(default)]
    contact_phone: String,
    #[serde(default)]
    definition: String,
}

/// A test run (the API's test route) of the definition on the page, saved or not.
async fn test(
    State(state): State<AppState>,
    s: Session,
    Path(flow): Path<String>,
    Form(form): Form<TestForm>,
) -> WebResult<Response> {
    let f = flow_of(&state, &s, &flow).await?;
    let messages: Vec<String> = form
        .messages
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    if messages.len() > MAX_TEST_MESSAGES {
        return Err(AppError::validation(
            "messages",
            format!("The messages may not have more than {MAX_TEST_MESSAGES} items."),
        )
        .into());
    }
    if let Some(i) = messages
        .iter()
        .position(|m| m.chars().count() > MAX_TEXT_CHARS)
    {
        return Err(AppError::validation(
            &format!("messages[{i}]"),
            format!("A message may not be longer than {MAX_TEXT_CHARS} characters."),
        )
        .into());
    }
    let raw = form_json("definition", &form.definition)?;
    let agents = agent_choices(&state, &s, &f).await?;
    let definition = match flow_definition(raw.clone()) {
        Ok(d) => d,
        Err(e) => return refused(&f, &raw.unwrap_or(Value::Null), &e.into(), &agents),
    };
    let result = state
        .services
        .test_flow(
            &s.caller,
            &flow,
            FlowTestInput {
                messages: messages.clone(),
                variables: Map::new(),
                contact_name: Some(form.contact_name.trim().to_owned()).filter(|n| !n.is_empty()),
                contact_phone: Some(form.contact_phone.trim().to_owned()).filter(|n| !n.is_empty()),
                definition,
            },
        )
        .await;
    match result {
        Ok(r) => html(
            "automations/_flow_test.html",
            json!({ "result": r, "messages": messages }),
        ),
        Err(e) => {
            let e = WebError::from(e);
            if is_validation(&e) {
                refused(&f, &raw.unwrap_or(Value::Null), &e, &agents)
            } else {
                Err(e)
            }
        }
    }
}
