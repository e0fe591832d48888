//! Instances: the list with live status and today's sends, creation, and per instance the
//! live QR code, pairing by phone number, disconnect / reconnect / logout, deletion, and its
//! `sk_` tokens (a new one is shown once).

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::render::{self, WebError, WebResult, html};
use super::{Pages, Session};
use crate::http::AppState;
use crate::service::instances::NewInstance;
use crate::service::tokens::NewToken;

pub const PATHS: &[&str] = &[
    "/dashboard/instances",
    "/dashboard/instances/list",
    "/dashboard/instances/{id}",
    "/dashboard/instances/{id}/connection",
    "/dashboard/instances/{id}/connect",
    "/dashboard/instances/{id}/disconnect",
    "/dashboard/instances/{id}/logout",
    "/dashboard/instances/{id}/pair",
    "/dashboard/instances/{id}/delete",
    "/dashboard/instances/{id}/tokens",
    "/dashboard/instances/{id}/tokens/{token}/revoke",
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/instances", get(index).post(create))
        .route("/dashboard/instances/list", get(list))
        .route("/dashboard/instances/{id}", get(show))
        .route("/dashboard/instances/{id}/connection", get(connection))
        .route("/dashboard/instances/{id}/connect", post(connect))
        .route("/dashboard/instances/{id}/disconnect", post(disconnect))
        .route("/dashboard/instances/{id}/logout", post(logout))
        .route("/dashboard/instances/{id}/pair", post(pair))
        .route("/dashboard/instances/{id}/delete", post(delete))
        .route(
            "/dashboard/instances/{id}/tokens",
            get(tokens).post(create_token),
        )
        .route(
            "/dashboard/instances/{id}/tokens/{token}/revoke",
            post(revoke_token),
        )
}

/// The engines a person may pick, the server's default first.
fn engines(state: &AppState) -> Vec<&'static str> {
    let default = state.services.config.default_engine.as_str();
    let mut all = vec!["sandbox", "whatsapp"];
    all.sort_by_key(|e| *e != default);
    all
}

async fn index(State(state): State<AppState>, s: Session) -> WebResult<Response> {
    let instances = state.services.list_instances(&s.caller, None).await?;
    let mut ctx = s.base("instances");
    ctx["instances"] = json!(instances);
    ctx["engines"] = json!(engines(&state));
    html("instances/index.html", ctx)
}

async fn list(State(state): State<AppState>, s: Session) -> WebResult<Response> {
    let instances = state.services.list_instances(&s.caller, None).await?;
    html("instances/_table.html", json!({ "instances": instances }))
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    engine: String,
    #[serde(default)]
    daily_limit: String,
}

/// An optional whole number from a form field (empty: absent).
pub(super) fn form_int(field: &str, value: &str) -> WebResult<Option<i64>> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    v.parse::<i64>().map(Some).map_err(|_| {
        WebError::from(crate::error::AppError::validation(
            field,
            format!("The {} must be a whole number.", field.replace('_', " ")),
        ))
    })
}

async fn create(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    axum::extract::Form(form): axum::extract::Form<CreateForm>,
) -> WebResult<Response> {
    let daily_limit = form_int("daily_limit", &form.daily_limit)?;
    let created = state
        .services
        .create_instance(
            &s.caller,
            NewInstance {
                name: form.name,
                daily_limit,
                engine: Some(form.engine).filter(|e| !e.is_empty()),
            },
        )
        .await?;
    Ok(render::redirect(
        &headers,
        &format!("/dashboard/instances/{}", created.uuid),
    ))
}

async fn show(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let instance = state.services.get_instance(&s.caller, &id).await?;
    let tokens = state.services.list_tokens(&s.caller, &id).await?;
    let mut ctx = s.base("instances");
    ctx["instance"] = json!(instance);
    ctx["connection"] = connection_ctx(&state, &s, &id).await?;
    ctx["tokens"] = json!(tokens);
    html("instances/show.html", ctx)
}

/// The connection panel's data: the status the control plane has, and the QR code while one
/// is waiting to be scanned.
async fn connection_ctx(state: &AppState, s: &Session, id: &str) -> WebResult<serde_json::Value> {
    let instance = state.services.get_instance(&s.caller, id).await?;
    let qr = if instance.status == "qr_ready" {
        state.services.instance_qr(&s.caller, id).await.ok()
    } else {
        None
    };
    Ok(json!({ "instance": instance, "qr": qr }))
}

async fn connection(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    html(
        "instances/_connection.html",
        connection_ctx(&state, &s, &id).await?,
    )
}

async fn connect(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state
        .services
        .instance_connection(&s.caller, &id, true)
        .await?;
    connection(State(state), s, Path(id)).await
}

async fn disconnect(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state
        .services
        .instance_connection(&s.caller, &id, false)
        .await?;
    connection(State(state), s, Path(id)).await
}

async fn logout(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.services.instance_logout(&s.caller, &id).await?;
    connection(State(state), s, Path(id)).await
}

#[derive(Deserialize)]
struct PairForm {
    #[serde(default)]
    phone_number: String,
}

async fn pair(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    axum::extract::Form(form): axum::extract::Form<PairForm>,
) -> WebResult<Response> {
    let phone = zapini_shared::phone::PhoneNumber::parse(&form.phone_number).map_err(|e| {
        WebError::from(crate::error::AppError::validation(
            "phone_number",
            e.to_string(),
        ))
    })?;
    let code = state
        .services
        .instance_pair_code(&s.caller, &id, &phone)
        .await?;
    html(
        "instances/_pair_code.html",
        json!({ "code": code, "phone_number": phone.as_str() }),
    )
}

async fn delete(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.services.delete_instance(&s.caller, &id).await?;
    Ok(render::redirect(&headers, "/dashboard/instances"))
}

async fn tokens(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let instance = state.services.get_instance(&s.caller, &id).await?;
    let tokens = state.services.list_tokens(&s.caller, &id).await?;
    html(
        "instances/_tokens.html",
        json!({ "instance": instance, "tokens": tokens }),
    )
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    expires_in_days: String,
}

async fn create_token(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    axum::extract::Form(form): axum::extract::Form<TokenForm>,
) -> WebResult<Response> {
    let expires_in_days = form_int("expires_in_days", &form.expires_in_days)?;
    let created = state
        .services
        .create_token(
            &s.caller,
            &id,
            NewToken {
                name: Some(form.name),
                expires_in_days,
            },
        )
        .await?;
    let instance = state.services.get_instance(&s.caller, &id).await?;
    let tokens = state.services.list_tokens(&s.caller, &id).await?;
    html(
        "instances/_tokens.html",
        json!({ "instance": instance, "tokens": tokens, "created": created.token,
                "created_name": created.view.name }),
    )
}

async fn revoke_token(
    State(state): State<AppState>,
    s: Session,
    Path((id, token)): Path<(String, String)>,
) -> WebResult<Response> {
    state.services.revoke_token(&s.caller, &id, &token).await?;
    tokens(State(state), s, Path(id)).await
}
