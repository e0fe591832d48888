//! The account: who is signed in, the tenant's feature flags and limits (read-only: the
//! operator sets them with the CLI), and the person's own API tokens (user tokens): listed,
//! created as `POST /auth/login` creates them (the password again, a name), shown once, and
//! revoked.
//!
//! The tenant's users are listed (read-only; the operator adds users with the CLI).

use axum::extract::{Path, RawForm, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use super::fields::{form_again, form_pairs, form_value};
use super::render::{self, WebError, WebResult, html};
use super::{Pages, Session};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::auth::LoginInput;

pub const PATHS: &[&str] = &[
    "/dashboard/account",
    "/dashboard/account/tokens",
    "/dashboard/account/tokens/{token}/revoke",
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/account", get(page))
        .route("/dashboard/account/tokens", get(tokens).post(create_token))
        .route(
            "/dashboard/account/tokens/{token}/revoke",
            post(revoke_token),
        )
}

async fn tokens_ctx(state: &AppState, s: &Session) -> WebResult<Value> {
    let tokens = state.services.list_user_tokens(&s.caller).await?;
    Ok(json!({
        "tokens": tokens,
        "ttl_days": state.services.config.user_token_ttl_days,
    }))
}

async fn page(State(state): State<AppState>, s: Session) -> WebResult<Response> {
    let tenant = s.caller.tenant();
    let limits = state.services.tenant_limits(tenant).await?;
    let usage = state.services.tenant_usage(tenant).await?;
    let window_minutes = state.services.config.rate_limit_window_secs.div_ceil(60);
    let mut ctx = s.base("account");
    ctx["limits"] = json!(limits);
    ctx["usage"] = json!(usage);
    ctx["window_minutes"] = json!(window_minutes);
    ctx["tokens_panel"] = tokens_ctx(&state, &s).await?;
    ctx["users"] = json!(state.services.tenant_users(&s.caller).await?);
    html("account/page.html", ctx)
}

async fn tokens(State(state): State<AppState>, s: Session) -> WebResult<Response> {
    html("account/_tokens.html", tokens_ctx(&state, &s).await?)
}

/// `POST /dashboard/account/tokens`: `name` and the user's `password`, as `POST /auth/login`
/// takes them (the same check and throttling); the token is shown once.
async fn create_token(
    State(state): State<AppState>,
    s: Session,
    crate::http::extract::ClientIp(client_ip): crate::http::extract::ClientIp,
    RawForm(raw): RawForm,
) -> WebResult<Response> {
    let pairs = form_pairs(&raw);
    let name = form_value(&pairs, "name").trim().to_owned();
    let password = form_value(&pairs, "password").to_owned();
    let result = if name.is_empty() {
        Err(AppError::validation(
            "name",
            "The name field is required: it is how you recognise the token later.",
        ))
    } else if name.chars().count() > 255 {
        Err(AppError::validation(
            "name",
            "The name may not be greater than 255 characters.",
        ))
    } else if password.is_empty() {
        Err(AppError::validation(
            "password",
            "The password field is required.",
        ))
    } else {
        state
            .services
            .login(LoginInput {
                email: s.user.email.clone(),
                password,
                device_name: Some(name.clone()),
                client_ip,
            })
            .await
    };
    let mut ctx = tokens_ctx(&state, &s).await?;
    match result {
        Ok((_, token)) => {
            ctx["created"] = json!(token.plaintext);
            ctx["created_name"] = json!(name);
            html("account/_tokens.html", ctx)
        }
        Err(e) => {
            ctx["form"] = json!({ "name": name });
            let mut e = WebError::from(e);
            if e.code == "INVALID_CREDENTIALS" {
                // The only credential asked for here is the password.
                e.fields = vec![("password".into(), "The password is not right.".into())];
            }
            form_again("account/_tokens.html", ctx, e)
        }
    }
}

async fn revoke_token(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(token): Path<String>,
) -> WebResult<Response> {
    let current = matches!(&s.caller, crate::domain::Caller::User { token_id, .. } if token_id.to_string() == token.trim());
    state
        .services
        .revoke_own_user_token(&s.caller, &token)
        .await?;
    if current {
        // This session's own token: signed out.
        return Ok(render::redirect(&headers, "/dashboard/login"));
    }
    html("account/_tokens.html", tokens_ctx(&state, &s).await?)
}
