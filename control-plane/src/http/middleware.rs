//! Request-wide middleware: authentication and the per-token rate limit (with the
//! `X-RateLimit-*` headers on every response), and logging of 5xx causes.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use zapini_shared::error::{ErrorBody, ErrorCode};

use super::AppState;
use super::error::InternalCause;
use super::extract::{AuthFailure, ClientIp};
use crate::error::AppError;
use crate::limiter::Decision;

fn client_ip(req: &Request, trust_forwarded_for: bool) -> String {
    if trust_forwarded_for
        && let Some(first) = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
    {
        let first = first.trim();
        if !first.is_empty() {
            return first.to_owned();
        }
    }
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |ci| ci.0.ip().to_string())
}

/// The bearer token of a request, if it carries one; `Err` when the header is malformed.
fn bearer(headers: &HeaderMap) -> Option<Result<&str, ErrorBody>> {
    let value = headers.get(axum::http::header::AUTHORIZATION)?;
    let malformed = || {
        ErrorBody::new(
            ErrorCode::Unauthenticated,
            "Malformed Authorization header: expected `Bearer {token}`.",
        )
    };
    let Ok(value) = value.to_str() else {
        return Some(Err(malformed()));
    };
    let mut parts = value.trim().splitn(2, ' ');
    match (parts.next(), parts.next()) {
        (Some(scheme), Some(token)) if scheme.eq_ignore_ascii_case("bearer") => {
            let token = token.trim();
            if token.is_empty() {
                Some(Err(malformed()))
            } else {
                Some(Ok(token))
            }
        }
        _ => Some(Err(malformed())),
    }
}

fn set_rate_headers(headers: &mut HeaderMap, d: &Decision) {
    for (name, value) in [
        ("x-ratelimit-limit", d.limit),
        ("x-ratelimit-remaining", d.remaining),
        ("x-ratelimit-reset", d.reset_at),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(name, v);
        }
    }
}

/// Authenticates the bearer token (if any) and charges the request to its budget: the token's
/// for authenticated calls, the client address's otherwise.
pub async fn auth_and_rate_limit(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let services = &state.services;
    let ip = client_ip(&req, services.config.trust_forwarded_for);
    req.extensions_mut().insert(ClientIp(ip.clone()));
    let mut key = format!("ip:{ip}");
    let mut limit = u64::from(services.config.rate_limit_requests);
    match bearer(req.headers()) {
        None => {}
        Some(Err(body)) => {
            req.extensions_mut().insert(AuthFailure(body));
        }
        Some(Ok(token)) => match services.authenticate(token).await {
            Ok(caller) => {
                key = caller.rate_key();
                limit = match services.tenant_rate_limit_cached(caller.tenant()).await {
                    Ok(l) => l,
                    Err(e) => return e.into_response(),
                };
                req.extensions_mut().insert(caller);
            }
            Err(AppError::Client(body)) => {
                req.extensions_mut().insert(AuthFailure(body));
            }
            Err(other) => return other.into_response(),
        },
    }
    let decision = services
        .limiter
        .hit(&key, limit, services.config.rate_limit_window_secs)
        .await;
    let mut resp = if decision.allowed {
        next.run(req).await
    } else {
        AppError::RateLimited {
            body: ErrorBody::new(
                ErrorCode::RateLimitExceeded,
                format!(
                    "Rate limit exceeded: {} requests per {} seconds. Retry after {} seconds.",
                    decision.limit,
                    services.config.rate_limit_window_secs,
                    decision.retry_after()
                ),
            ),
            retry_after: decision.retry_after(),
        }
        .into_response()
    };
    set_rate_headers(resp.headers_mut(), &decision);
    resp
}

/// Logs the hidden cause of every 5xx exactly once.
pub async fn log_errors(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    if let Some(InternalCause(cause)) = resp.extensions().get::<InternalCause>() {
        tracing::error!(%method, %path, status = resp.status().as_u16(), %cause, "request failed");
    }
    resp
}
