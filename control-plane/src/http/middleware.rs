//! Request-wide middleware: authentication and the rate limits, per token and per tenant
//! (with the `X-RateLimit-*` headers on every response), and logging of 5xx causes.

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

/// The client's address: the peer's, or with `trust_forwarded_for` the rightmost
/// `X-Forwarded-For` entry that is not one of our proxies (entries to its left are whatever
/// the client chose to send).
pub(crate) fn client_ip(req: &Request, config: &crate::config::Config) -> String {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip());
    if config.trust_forwarded_for {
        let hops = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|h| !h.is_empty())
            .collect::<Vec<_>>();
        if let Some(ip) = rightmost_untrusted(&hops, &config.tenancy.trusted_proxies) {
            return ip;
        }
    }
    peer.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
}

fn rightmost_untrusted(hops: &[&str], trusted: &[crate::config::ProxyNet]) -> Option<String> {
    let mut last = None;
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<std::net::IpAddr>() else {
            // Not an address (garbage, or `unknown`): nothing left of it can be trusted.
            return Some(hop.chars().take(64).collect());
        };
        if !trusted.iter().any(|net| net.contains(ip)) {
            return Some(ip.to_string());
        }
        last = Some(ip.to_string());
    }
    // Every hop is one of our proxies: the leftmost is the closest we know to the client.
    last
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
    let ip = client_ip(&req, &services.config);
    req.extensions_mut().insert(ClientIp(ip.clone()));
    let mut key = format!("ip:{ip}");
    let mut limit = u64::from(services.config.rate_limit_requests);
    let mut tenant_budget = None;
    match bearer(req.headers()) {
        None => {}
        Some(Err(body)) => {
            req.extensions_mut().insert(AuthFailure(body));
        }
        Some(Ok(token)) => match services.authenticate(token).await {
            Ok(caller) => {
                key = caller.rate_key();
                let per_tenant;
                (limit, per_tenant) = match services.tenant_budgets_cached(caller.tenant()).await {
                    Ok(l) => l,
                    Err(e) => return e.into_response(),
                };
                tenant_budget = per_tenant.map(|l| (format!("tenant:{}", caller.tenant().0), l));
                req.extensions_mut().insert(caller);
            }
            Err(AppError::Client(body)) => {
                req.extensions_mut().insert(AuthFailure(body));
            }
            Err(other) => return other.into_response(),
        },
    }
    let window = services.config.rate_limit_window_secs;
    let mut decision = services.limiter.hit(&key, limit, window).await;
    let mut whose = "token";
    // The tenant's budget is shared by all its tokens; a request the token's own budget
    // refuses is not charged to it.
    if decision.allowed
        && let Some((tenant_key, tenant_limit)) = tenant_budget
    {
        let shared = services
            .limiter
            .hit(&tenant_key, tenant_limit, window)
            .await;
        if !shared.allowed || shared.remaining < decision.remaining {
            decision = shared;
            whose = "account";
        }
    }
    let mut resp = if decision.allowed {
        next.run(req).await
    } else {
        crate::metrics::rate_limit_refused(match whose {
            "account" => "tenant",
            _ if key.starts_with("ip:") => "address",
            _ => "token",
        });
        AppError::RateLimited {
            body: ErrorBody::new(
                ErrorCode::RateLimitExceeded,
                format!(
                    "Rate limit exceeded: {} requests per {} seconds for this {whose}. Retry after {} seconds.",
                    decision.limit,
                    window,
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

#[cfg(test)]
mod tests {
    use super::rightmost_untrusted;

    #[test]
    fn forwarded_for_is_read_from_the_right() {
        let trusted = vec![];
        assert_eq!(
            rightmost_untrusted(&["6.6.6.6", "203.0.113.9"], &trusted).as_deref(),
            Some("203.0.113.9")
        );
        let proxies = crate::config::TenancySettings::parse_trusted("10.0.0.0/8").unwrap();
        assert_eq!(
            rightmost_untrusted(&["6.6.6.6", "203.0.113.9", "10.0.0.2"], &proxies).as_deref(),
            Some("203.0.113.9")
        );
        assert_eq!(
            rightmost_untrusted(&["10.0.0.3", "10.0.0.2"], &proxies).as_deref(),
            Some("10.0.0.3")
        );
        assert_eq!(
            rightmost_untrusted(&["1.1.1.1", "junk", "10.0.0.2"], &proxies).as_deref(),
            Some("junk")
        );
        assert_eq!(rightmost_untrusted(&[], &proxies), None);
    }
}
