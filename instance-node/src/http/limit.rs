//! Rate limits of the Instance API edge, in front of everything but `/health`: requests per
//! client address and per bearer token (known or not) in fixed windows, and rejected tokens
//! per client address per minute, checked before a token is verified so a client cannot
//! hammer token verification (each unknown token costs a call to the control plane). Over a
//! budget: 429 `RATE_LIMIT_EXCEEDED` with `Retry-After`.
//!
//! Fixed-window counters in a bounded in-process cache, the control plane's approach
//! (`control-plane/src/limiter.rs`): a node serves one instance, so nothing is shared.
//!
//! The client address is the peer's, except behind a proxy on loopback (the control plane's
//! edge): then it is the last address of `X-Forwarded-For`, the one that proxy saw.

use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use zapini_shared::error::{ErrorBody, ErrorCode};

use super::AppState;
use super::error::ApiError;
use crate::config::EdgeLimits;

const FAILURE_WINDOW: Duration = Duration::from_secs(60);

/// The edge's counters.
pub struct EdgeLimiter {
    limits: EdgeLimits,
    counters: moka::sync::Cache<String, Arc<AtomicU64>>,
    /// Tokens are counted by a keyed hash: a client's arbitrary header never becomes a key.
    hasher: std::collections::hash_map::RandomState,
}

/// Over a budget: seconds until its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: u64,
    pub limit: u64,
    /// Which budget: `node_address`, `node_token` or `node_auth_failures` (the metrics label).
    pub budget: &'static str,
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl EdgeLimiter {
    pub fn new(limits: EdgeLimits) -> EdgeLimiter {
        EdgeLimiter {
            limits,
            counters: moka::sync::Cache::builder()
                .time_to_live(limits.window.max(FAILURE_WINDOW) + Duration::from_secs(1))
                .max_capacity(200_000)
                .build(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Adds `by` to `key`'s count in the current window of `window`; `Err` when the count is
    /// past `limit` (0: no limit).
    fn count(
        &self,
        kind: &str,
        key: &str,
        by: u64,
        limit: u64,
        window: Duration,
    ) -> Result<(), Limited> {
        if limit == 0 {
            return Ok(());
        }
        let window = window.as_secs().max(1);
        let now = now_secs();
        let index = now / window;
        let counter = self.counters.get_with(format!("{kind}:{index}:{key}"), || {
            Arc::new(AtomicU64::new(0))
        });
        let count = counter.fetch_add(by, Ordering::Relaxed) + by;
        if count > limit {
            Err(Limited {
                retry_after: ((index + 1) * window).saturating_sub(now).max(1),
                limit,
                budget: match kind {
                    "a" => "node_address",
                    "t" => "node_token",
                    _ => "node_auth_failures",
                },
            })
        } else {
            Ok(())
        }
    }

    /// Counts one request of `addr` with `token` (the raw bearer value, if any).
    pub fn admit(&self, addr: &str, token: Option<&str>) -> Result<(), Limited> {
        let l = &self.limits;
        self.count("a", addr, 1, l.per_addr, l.window)?;
        // An address that used up its rejected tokens gets no more verifications.
        self.at_failure_budget(addr)?;
        if let Some(token) = token
            && l.per_token > 0
        {
            let key = format!("{:016x}", self.hasher.hash_one(token));
            self.count("t", &key, 1, l.per_token, l.window)?;
        }
        Ok(())
    }

    fn at_failure_budget(&self, addr: &str) -> Result<(), Limited> {
        let limit = self.limits.auth_failures_per_minute;
        if limit == 0 {
            return Ok(());
        }
        let window = FAILURE_WINDOW.as_secs();
        let now = now_secs();
        let index = now / window;
        let count = self
            .counters
            .get(&format!("f:{index}:{addr}"))
            .map_or(0, |c| c.load(Ordering::Relaxed));
        if count >= limit {
            Err(Limited {
                retry_after: ((index + 1) * window).saturating_sub(now).max(1),
                limit,
                budget: "node_auth_failures",
            })
        } else {
            Ok(())
        }
    }

    /// Records a rejected token from `addr`.
    pub fn failed_auth(&self, addr: &str) {
        let l = &self.limits;
        let _ = self.count("f", addr, 1, l.auth_failures_per_minute, FAILURE_WINDOW);
    }
}

/// The client address: the peer, or behind a proxy on loopback the last `X-Forwarded-For`
/// entry.
fn client_addr(peer: SocketAddr, req: &Request) -> String {
    if peer.ip().is_loopback()
        && let Some(last) = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .next_back()
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|a| a.trim().parse::<IpAddr>().ok())
    {
        return last.to_string();
    }
    peer.ip().to_string()
}

fn limited(l: Limited) -> Response {
    crate::metrics::rate_limit_refused(l.budget);
    // `ApiError` turns `details.retry_after` into the `Retry-After` header.
    ApiError::from(
        ErrorBody::new(
            ErrorCode::RateLimitExceeded,
            format!(
                "Too many requests. Please slow down and retry in {}s.",
                l.retry_after
            ),
        )
        .with_details(json!({"retry_after": l.retry_after, "limit": l.limit})),
    )
    .into_response()
}

/// The middleware.
pub async fn limit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path() == "/health" {
        return next.run(req).await;
    }
    let addr = client_addr(peer, &req);
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim());
    if let Err(l) = state.limiter.admit(&addr, token) {
        return limited(l);
    }
    let response = next.run(req).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        state.limiter.failed_auth(&addr);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_per_address_token_and_failures() {
        let l = EdgeLimiter::new(EdgeLimits {
            per_token: 3,
            per_addr: 5,
            window: Duration::from_secs(3600),
            auth_failures_per_minute: 2,
        });
        for _ in 0..3 {
            l.admit("1.1.1.1", Some("sk_a")).unwrap();
        }
        let e = l.admit("1.1.1.1", Some("sk_a")).unwrap_err();
        assert!(e.retry_after >= 1 && e.retry_after <= 3600, "{e:?}");
        // Another token from the same address has its own budget, until the address's is
        // spent.
        l.admit("1.1.1.1", Some("sk_b")).unwrap();
        assert!(l.admit("1.1.1.1", Some("sk_c")).is_err());
        // Rejected tokens: refused before verification once the budget is used.
        l.admit("2.2.2.2", Some("sk_x")).unwrap();
        l.failed_auth("2.2.2.2");
        l.admit("2.2.2.2", Some("sk_y")).unwrap();
        l.failed_auth("2.2.2.2");
        assert!(l.admit("2.2.2.2", Some("sk_z")).is_err());
        assert!(l.admit("3.3.3.3", None).is_ok());
        // Off.
        let off = EdgeLimiter::new(EdgeLimits::off());
        for _ in 0..1000 {
            off.admit("1.1.1.1", Some("sk_a")).unwrap();
            off.failed_auth("1.1.1.1");
        }
    }
}
