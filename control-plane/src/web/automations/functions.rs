//! AI Functions: the list (by AI agent integration), creating one, and its page: the fields
//! as a form (parsed by the API's own body parser), enable/disable, delete, a test call
//! showing the request as sent and the answer, and the execution log (the list and one
//! execution). Without an active AI agent integration the API's `AI_AGENT_NOT_ENABLED`
//! message is shown.

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{agents, checked, filter, flash_ok, form_json};
use crate::automation::functions::body::FunctionBody;
use crate::automation::functions::views::FunctionView;
use crate::error::AppError;
use crate::http::AppState;
use crate::service::functions::FunctionFilter;
use crate::web::render::{self, WebError, WebResult, html};
use crate::web::{Pages, Session};

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/automations/functions", get(index).post(create))
        .route(
            "/dashboard/automations/functions/{function}",
            get(show).post(save),
        )
        .route(
            "/dashboard/automations/functions/{function}/toggle",
            post(toggle),
        )
        .route(
            "/dashboard/automations/functions/{function}/delete",
            post(delete),
        )
        .route(
            "/dashboard/automations/functions/{function}/test",
            post(test),
        )
        .route(
            "/dashboard/automations/functions/{function}/executions",
            get(executions),
        )
        .route(
            "/dashboard/automations/executions/{execution}",
            get(execution),
        )
}

#[derive(Deserialize)]
struct ListQuery {
    integration: Option<String>,
    search: Option<String>,
}

async fn index(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<ListQuery>,
) -> WebResult<Response> {
    let mut ctx = s.base("automations");
    ctx["tab"] = json!("functions");
    // Without an active AI agent the API answers AI_AGENT_NOT_ENABLED: shown, not an error
    // page (the agents list tells how to get one).
    if let Err(e) = state.services.ai_gate(&s.caller).await {
        let e = WebError::from(e);
        ctx["gate"] = json!({"code": e.code, "message": e.message});
        ctx["agents"] = json!(agents(&state, &s, None).await?);
        return html("automations/functions.html", ctx);
    }
    let integration = match filter(&q.integration) {
        Some(i) => Some(Uuid::parse_str(&i).map_err(|_| {
            WebError::from(AppError::validation(
                "integration_uuid",
                "The integration_uuid must be a UUID.",
            ))
        })?),
        None => None,
    };
    let page = state
        .services
        .list_ai_functions(
            &s.caller,
            FunctionFilter {
                integration,
                function_type: None,
                enabled: None,
                search: filter(&q.search),
                page: 1,
                per_page: 100,
            },
        )
        .await?;
    ctx["functions"] = json!(page.items);
    ctx["total"] = json!(page.total);
    ctx["agents"] = json!(agents(&state, &s, None).await?);
    ctx["integration"] = json!(integration);
    ctx["search"] = json!(filter(&q.search));
    html("automations/functions.html", ctx)
}

/// The API's body from the form: blank fields are absent on create; on update a blank
/// `endpoint_url`, `headers` or `timeout_seconds` clears it.
fn body_of(form: &HashMap<String, String>, create: bool) -> WebResult<FunctionBody> {
    let text = |k: &str| form.get(k).map(|v| v.trim().to_owned()).unwrap_or_default();
    let string = |k: &str| Some(text(k)).filter(|v| !v.is_empty()).map(Value::String);
    let clearable = |k: &str| match string(k) {
        None if !create && form.contains_key(k) => Some(Value::Null),
        v => v,
    };
    let timeout = match text("timeout_seconds") {
        t if t.is_empty() => {
            (!create && form.contains_key("timeout_seconds")).then_some(Value::Null)
        }
        t => Some(
            t.parse::<i64>()
                .map(Value::from)
                .unwrap_or(Value::String(t)),
        ),
    };
    let json_field = |k: &str| -> WebResult<Option<Value>> {
        match form_json(k, &text(k))? {
            None if !create && form.contains_key(k) => Ok(Some(Value::Null)),
            v => Ok(v),
        }
    };
    let auth_type = string("auth_type");
    // No credentials for `none`; otherwise what the form gives (a masked value sent back as
    // shown keeps the stored secret).
    let auth_config = if auth_type.as_ref().and_then(Value::as_str) == Some("none") {
        (!create).then_some(Value::Null)
    } else {
        form_json("auth_config", &text("auth_config"))?
    };
    Ok(FunctionBody {
        integration_uuid: string("integration_uuid"),
        name: string("name"),
        display_name: string("display_name"),
        description: string("description"),
        function_type: string("type"),
        endpoint_url: clearable("endpoint_url"),
        http_method: string("http_method"),
        auth_type,
        auth_config,
        parameters: form_json("parameters", &text("parameters"))?,
        is_enabled: Some(Value::Bool(checked(&form.get("is_enabled").cloned()))),
        timeout_seconds: timeout,
        headers: json_field("headers")?,
    })
}

async fn create(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> WebResult<Response> {
    state.services.ai_gate(&s.caller).await?;
    let input = body_of(&form, true)?
        .parse(true)
        .map_err(AppError::Client)?;
    let f = state.services.create_ai_function(&s.caller, input).await?;
    Ok(render::redirect(
        &headers,
        &format!("/dashboard/automations/functions/{}", f.uuid),
    ))
}

fn form_ctx(f: &FunctionView) -> Value {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    json!({
        "f": f,
        "parameters": pretty(&json!(f.parameters)),
        "headers": f.headers.as_ref().map(|h| pretty(&json!(h))).unwrap_or_default(),
        "auth_config": f.auth_config.as_ref().map(pretty).unwrap_or_default(),
    })
}

async fn show(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let f = state.services.get_ai_function(&s.caller, &id).await?;
    let log = state
        .services
        .list_ai_function_executions(&s.caller, &id, None, 1, 20)
        .await?;
    let mut ctx = s.base("automations");
    ctx["tab"] = json!("functions");
    ctx["form"] = form_ctx(&f);
    ctx["executions"] = json!(log.items);
    ctx["total"] = json!(log.total);
    ctx["function"] = json!(f);
    html("automations/function.html", ctx)
}

async fn save(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> WebResult<Response> {
    state.services.ai_gate(&s.caller).await?;
    let input = body_of(&form, false)?
        .parse(false)
        .map_err(AppError::Client)?;
    let f = state
        .services
        .update_ai_function(&s.caller, &id, input)
        .await?;
    let body = render::render("automations/_function_form.html", form_ctx(&f))?
        + &flash_ok("AI function saved.")?;
    Ok(Html(body).into_response())
}

async fn toggle(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let f = state.services.toggle_ai_function(&s.caller, &id).await?;
    if headers
        .get("hx-target")
        .is_some_and(|t| t.as_bytes().starts_with(b"function-row-"))
    {
        return html("automations/_function_row.html", json!({ "f": f }));
    }
    html(
        "automations/_function_status.html",
        json!({ "function": f }),
    )
}

async fn delete(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.services.delete_ai_function(&s.caller, &id).await?;
    Ok(render::redirect(
        &headers,
        "/dashboard/automations/functions",
    ))
}

#[derive(Deserialize)]
struct TestForm {
    #[serde(default)]
    parameters: String,
}

/// The API's test call: the execution (request as sent, answer) and the log again.
async fn test(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Form(form): Form<TestForm>,
) -> WebResult<Response> {
    state.services.ai_gate(&s.caller).await?;
    let parameters = match form_json("parameters", &form.parameters)? {
        None | Some(Value::Null) => json!({}),
        Some(v @ Value::Object(_)) => v,
        Some(_) => {
            return Err(AppError::validation(
                "parameters",
                "The parameters must be an object of arguments by parameter name.",
            )
            .into());
        }
    };
    let e = state
        .services
        .test_ai_function(&s.caller, &id, parameters)
        .await?;
    let log = state
        .services
        .list_ai_function_executions(&s.caller, &id, None, 1, 20)
        .await?;
    let body = render::render("automations/_execution.html", json!({ "e": e }))?
        + &render::render(
            "automations/_executions.html",
            json!({ "executions": log.items, "total": log.total, "oob": true,
                    "function": {"uuid": id} }),
        )?;
    Ok(Html(body).into_response())
}

#[derive(Deserialize)]
struct LogQuery {
    status: Option<String>,
    page: Option<u64>,
}

async fn executions(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<LogQuery>,
) -> WebResult<Response> {
    let status = match filter(&q.status).as_deref() {
        None => None,
        Some(v @ ("running" | "success" | "error")) => Some(v.to_owned()),
        Some(_) => {
            return Err(AppError::validation(
                "status",
                "The status must be one of: running, success, error.",
            )
            .into());
        }
    };
    let page = q.page.unwrap_or(1).max(1);
    let log = state
        .services
        .list_ai_function_executions(&s.caller, &id, status.as_deref(), page, 20)
        .await?;
    html(
        "automations/_executions.html",
        json!({ "executions": log.items, "total": log.total, "status": status,
                "page": page, "function": {"uuid": id} }),
    )
}

async fn execution(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let e = state
        .services
        .get_ai_function_execution(&s.caller, &id)
        .await?;
    let mut ctx = s.base("automations");
    ctx["tab"] = json!("functions");
    ctx["e"] = json!(e);
    html("automations/execution.html", ctx)
}
