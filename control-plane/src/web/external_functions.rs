//! External Functions: the list with the API's filters, creating one (its key shown once),
//! and per function its settings (edited with the API's validation shown per field),
//! enabling and disabling, a new key (shown once), deletion, and its call log. Every action
//! calls the service the matching API route calls, behind the same AI Agent gate
//! (`AI_AGENT_NOT_ENABLED`), which the list page explains instead of failing.

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::fields::{self, form_again, form_pairs, form_value};
use super::render::{self, WebError, WebResult, html};
use super::{Pages, Session};
use crate::crm::external::body::FunctionBody;
use crate::crm::external::model::ActionType;
use crate::crm::external::service::FunctionFilter;
use crate::error::AppError;
use crate::http::AppState;

pub const PATHS: &[&str] = &[
    "/dashboard/external-functions",
    "/dashboard/external-functions/list",
    "/dashboard/external-functions/{function}",
    "/dashboard/external-functions/{function}/toggle",
    "/dashboard/external-functions/{function}/regenerate-key",
    "/dashboard/external-functions/{function}/delete",
    "/dashboard/external-functions/{function}/logs",
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/external-functions", get(index).post(create))
        .route("/dashboard/external-functions/list", get(list))
        .route(
            "/dashboard/external-functions/{function}",
            get(show).post(update),
        )
        .route(
            "/dashboard/external-functions/{function}/toggle",
            post(toggle),
        )
        .route(
            "/dashboard/external-functions/{function}/regenerate-key",
            post(regenerate_key),
        )
        .route(
            "/dashboard/external-functions/{function}/delete",
            post(delete),
        )
        .route("/dashboard/external-functions/{function}/logs", get(logs))
}

const PER_PAGE: u64 = 20;
const LOGS_PER_PAGE: u64 = 20;

fn action_types() -> Vec<&'static str> {
    ActionType::ALL.iter().map(|a| a.as_str()).collect()
}

/// An optional whole page number from a query (absent: 1).
fn page_of(raw: &str) -> WebResult<u64> {
    match super::instances::form_int("page", raw)? {
        None => Ok(1),
        Some(p) if p >= 1 => Ok(p.unsigned_abs()),
        Some(_) => Err(AppError::validation("page", "The page must be at least 1.").into()),
    }
}

/// `true`/`false` from a filter (empty: either).
fn flag_of(field: &str, raw: &str) -> WebResult<Option<bool>> {
    match raw.trim() {
        "" => Ok(None),
        "true" | "1" => Ok(Some(true)),
        "false" | "0" => Ok(Some(false)),
        _ => Err(
            AppError::validation(field, format!("The {field} field must be true or false.")).into(),
        ),
    }
}

/// The list's filters, as the query string has them.
struct ListQuery {
    pairs: Vec<(String, String)>,
}

impl ListQuery {
    fn get(&self, name: &str) -> String {
        form_value(&self.pairs, name).trim().to_owned()
    }

    fn with_page(&self, page: u64) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for name in ["instance_id", "action_type", "enabled", "search"] {
            s.append_pair(name, &self.get(name));
        }
        s.append_pair("page", &page.to_string()).finish()
    }
}

async fn list_ctx(state: &AppState, s: &Session, raw: Option<&str>) -> WebResult<Value> {
    let q = ListQuery {
        pairs: form_pairs(raw.unwrap_or_default().as_bytes()),
    };
    let page = page_of(&q.get("page"))?;
    let action_type = match q.get("action_type").as_str() {
        "" => None,
        a => Some(ActionType::parse(a).ok_or_else(|| {
            WebError::from(AppError::validation(
                "action_type",
                format!(
                    "The action_type must be one of: {}.",
                    action_types().join(", ")
                ),
            ))
        })?),
    };
    let result = state
        .services
        .list_external_functions(
            &s.caller,
            FunctionFilter {
                instance: Some(q.get("instance_id")).filter(|v| !v.is_empty()),
                action_type,
                enabled: flag_of("enabled", &q.get("enabled"))?,
                search: Some(q.get("search")).filter(|v| !v.is_empty()),
                page,
                per_page: PER_PAGE,
            },
        )
        .await?;
    let last = result.total.div_ceil(PER_PAGE).max(1);
    let instances = state.services.list_instances(&s.caller, None).await?;
    let names: serde_json::Map<String, Value> = instances
        .iter()
        .map(|i| (i.uuid.to_string(), json!(i.name)))
        .collect();
    Ok(json!({
        "functions": result.items,
        "instance_names": names,
        "total": result.total,
        "page": page,
        "last_page": last,
        "filters": {
            "instance_id": q.get("instance_id"),
            "action_type": q.get("action_type"),
            "enabled": q.get("enabled"),
            "search": q.get("search"),
        },
        "query": q.with_page(page),
        "prev": (page > 1).then(|| q.with_page(page - 1)),
        "next": (page < last).then(|| q.with_page(page + 1)),
    }))
}

async fn index(
    State(state): State<AppState>,
    s: Session,
    RawQuery(q): RawQuery,
) -> WebResult<Response> {
    let instances = state.services.list_instances(&s.caller, None).await?;
    let mut ctx = s.base("external_functions");
    ctx["instances"] = json!(instances);
    ctx["action_types"] = json!(action_types());
    match list_ctx(&state, &s, q.as_deref()).await {
        Ok(list) => ctx["list"] = list,
        // Without an active AI Agent integration the page says how to get one.
        Err(e) if e.code == "AI_AGENT_NOT_ENABLED" => ctx["gated"] = json!(e.message),
        Err(e) => return Err(e),
    }
    html("external_functions/index.html", ctx)
}

async fn list(
    State(state): State<AppState>,
    s: Session,
    RawQuery(q): RawQuery,
) -> WebResult<Response> {
    let list = list_ctx(&state, &s, q.as_deref()).await?;
    html("external_functions/_list.html", json!({ "list": list }))
}

/// A form's function, as the API's body: every field given (an empty description clears
/// it, an empty rate limit is the default, an empty configuration is `{}`).
fn body_of(pairs: &[(String, String)]) -> Result<FunctionBody, AppError> {
    let text = |name: &str| Some(Value::String(form_value(pairs, name).to_owned()));
    let config = match form_value(pairs, "config").trim() {
        "" => json!({}),
        raw => serde_json::from_str::<Value>(raw)
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| {
                AppError::validation(
                    "config",
                    "The config must be a JSON object, such as {\"message_template\": \"Hello {{name}}\"}.",
                )
            })?,
    };
    let rate_limit = match form_value(pairs, "rate_limit").trim() {
        "" => Value::Null,
        raw => raw
            .parse::<i64>()
            .map_or_else(|_| Value::String(raw.to_owned()), |n| json!(n)),
    };
    let allowed_ips: Vec<Value> = form_value(pairs, "allowed_ips")
        .split([',', '\n', '\r', ' '])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| json!(v))
        .collect();
    Ok(FunctionBody {
        instance_uuid: text("instance_uuid"),
        name: text("name"),
        slug: text("slug"),
        action_type: Some(form_value(pairs, "action_type").trim())
            .filter(|a| !a.is_empty())
            .map(|a| json!(a)),
        description: text("description"),
        config: Some(config),
        rate_limit: Some(rate_limit),
        allowed_ips: Some(Value::Array(allowed_ips)),
        is_enabled: Some(Value::Bool(!form_value(pairs, "is_enabled").is_empty())),
    })
}

/// The form as sent, for showing it again with its errors.
fn form_echo(pairs: &[(String, String)]) -> Value {
    let mut form = fields::form_echo(pairs);
    form["is_enabled"] = json!(!form_value(pairs, "is_enabled").is_empty());
    form["config_text"] = json!(form_value(pairs, "config"));
    form
}

/// `POST /dashboard/external-functions`: the new function with its key (shown this once).
async fn create(
    State(state): State<AppState>,
    s: Session,
    RawForm(raw): RawForm,
) -> WebResult<Response> {
    let pairs = form_pairs(&raw);
    let result = async {
        // The feature gate answers before the form's fields are judged, as in the API.
        state.services.external_functions_gate(&s.caller).await?;
        let input = body_of(&pairs)?.parse(true).map_err(AppError::Client)?;
        state
            .services
            .create_external_function(&s.caller, input)
            .await
    }
    .await;
    let instances = state.services.list_instances(&s.caller, None).await?;
    let mut ctx = json!({ "instances": instances, "action_types": action_types() });
    match result {
        Ok(created) => {
            ctx["created"] = json!(created);
            html("external_functions/_create.html", ctx)
        }
        Err(e) => {
            ctx["form"] = form_echo(&pairs);
            form_again("external_functions/_create.html", ctx, e.into())
        }
    }
}

async fn function_ctx(state: &AppState, s: &Session, id: &str) -> WebResult<Value> {
    let function = state.services.get_external_function(&s.caller, id).await?;
    let instance = state
        .services
        .get_instance(&s.caller, &function.instance_uuid.to_string())
        .await
        .ok();
    let instances = state.services.list_instances(&s.caller, None).await?;
    let config = serde_json::to_string_pretty(&function.config).unwrap_or_default();
    Ok(json!({
        "function": function,
        "instance": instance,
        "instances": instances,
        "action_types": action_types(),
        "config_text": config,
    }))
}

async fn show(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let f = function_ctx(&state, &s, &id).await?;
    let logs = logs_ctx(&state, &s, &id, None).await?;
    let mut ctx = s.base("external_functions");
    if let (Some(ctx), Value::Object(f)) = (ctx.as_object_mut(), f) {
        ctx.extend(f);
    }
    ctx["logs"] = logs;
    html("external_functions/show.html", ctx)
}

/// `POST /dashboard/external-functions/{function}`: every field of the form.
async fn update(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    RawForm(raw): RawForm,
) -> WebResult<Response> {
    let pairs = form_pairs(&raw);
    let result = async {
        state.services.external_functions_gate(&s.caller).await?;
        let input = body_of(&pairs)?.parse(false).map_err(AppError::Client)?;
        state
            .services
            .update_external_function(&s.caller, &id, input)
            .await
    }
    .await;
    match result {
        Ok(_) => {
            let mut ctx = function_ctx(&state, &s, &id).await?;
            ctx["saved"] = json!("Saved.");
            html("external_functions/_settings.html", ctx)
        }
        Err(e) => {
            let mut ctx = function_ctx(&state, &s, &id).await?;
            ctx["form"] = form_echo(&pairs);
            form_again("external_functions/_settings.html", ctx, e.into())
        }
    }
}

async fn toggle(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let f = state
        .services
        .toggle_external_function(&s.caller, &id)
        .await?;
    let mut ctx = function_ctx(&state, &s, &id).await?;
    ctx["saved"] = json!(if f.is_enabled {
        "Enabled: the function answers calls."
    } else {
        "Disabled: calls are refused (403) until it is enabled again."
    });
    html("external_functions/_settings.html", ctx)
}

async fn regenerate_key(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let f = state
        .services
        .regenerate_external_function_key(&s.caller, &id)
        .await?;
    let mut ctx = function_ctx(&state, &s, &id).await?;
    ctx["new_key"] = json!(f.api_key);
    html("external_functions/_settings.html", ctx)
}

async fn delete(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state
        .services
        .delete_external_function(&s.caller, &id)
        .await?;
    Ok(render::redirect(&headers, "/dashboard/external-functions"))
}

// ---- the call log ----

async fn logs_ctx(state: &AppState, s: &Session, id: &str, raw: Option<&str>) -> WebResult<Value> {
    let pairs = form_pairs(raw.unwrap_or_default().as_bytes());
    let success = form_value(&pairs, "success").trim().to_owned();
    let page = page_of(form_value(&pairs, "page"))?;
    let result = state
        .services
        .list_external_function_logs(
            &s.caller,
            id,
            flag_of("success", &success)?,
            page,
            LOGS_PER_PAGE,
        )
        .await?;
    let last = result.total.div_ceil(LOGS_PER_PAGE).max(1);
    let query = |page: u64| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("success", &success)
            .append_pair("page", &page.to_string())
            .finish()
    };
    let entries: Vec<Value> = result
        .items
        .iter()
        .map(|l| {
            json!({
                "log": l,
                "request_headers": serde_json::to_string_pretty(&l.request.headers).unwrap_or_default(),
                "request_body": serde_json::to_string_pretty(&l.request.body).unwrap_or_default(),
                "response": l.response.as_ref().map(|r| serde_json::to_string_pretty(r).unwrap_or_default()),
            })
        })
        .collect();
    Ok(json!({
        "function": id,
        "entries": entries,
        "total": result.total,
        "page": page,
        "last_page": last,
        "success": success,
        "query": query(page),
        "prev": (page > 1).then(|| query(page - 1)),
        "next": (page < last).then(|| query(page + 1)),
    }))
}

/// `GET …/{function}/logs?success=&page=`: the log (the whole container, carrying its own
/// filter for the next reload).
async fn logs(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> WebResult<Response> {
    let logs = logs_ctx(&state, &s, &id, q.as_deref()).await?;
    html("external_functions/_logs.html", json!({ "logs": logs }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_becomes_the_apis_body() {
        let pairs = form_pairs(
            b"name=Notify&slug=notify&action_type=send_message&config=%7B%22message_template%22%3A%22Hi%22%7D&rate_limit=&allowed_ips=203.0.113.10%0A10.0.0.0%2F8&is_enabled=1",
        );
        let body = body_of(&pairs).unwrap();
        assert_eq!(body.rate_limit, Some(Value::Null));
        assert_eq!(
            body.allowed_ips,
            Some(json!(["203.0.113.10", "10.0.0.0/8"]))
        );
        assert_eq!(body.is_enabled, Some(json!(true)));
        let pairs = form_pairs(b"config=%5B1%5D&rate_limit=lots");
        let e = body_of(&pairs).unwrap_err();
        let AppError::Client(body) = e else {
            panic!("a client error")
        };
        assert!(body.details.get("config").is_some());
        let body = body_of(&form_pairs(b"rate_limit=lots")).unwrap();
        assert_eq!(body.rate_limit, Some(json!("lots")));
    }
}
