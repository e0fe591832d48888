//! Edge routing: requests for the Instance API reach the instance's node.
//!
//! - Host `instance-{id}.<ZAPINI_BASE_DOMAIN>[:port]` (numeric id or UUID) and a node path
//!   (`/send-message`, `/send-media`, `/send-reaction`, `/status`, `/qr`, `/health`,
//!   `/sandbox/...`): proxied to that instance's node. Every other path on an instance host
//!   is served here, as the reference shows the Universal API on instance hosts too.
//! - The apex with an `sk_` token on a node path (other than `/health`): proxied to the node
//!   of the token's instance.
//!
//! In production an ingress can route instance hosts straight to nodes; this keeps the
//! embedded default working with one address.
//!
//! The node paths are `zapini_shared::node_routes`, the list the node routes by, so a node
//! never sends one back. A proxied request carries `x-zapini-hop: control-plane`; one that
//! arrives with it already is refused (508 `LOOP_DETECTED`) rather than proxied again, and the
//! HTTP client gives up after `ZAPINI_PROXY_TIMEOUT_SECS` (504 `GATEWAY_TIMEOUT`).

use axum::body::Body;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::TryStreamExt;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::node_routes::{self, HOP_CONTROL_PLANE, HOP_HEADER, is_node_path};

use super::AppState;
use super::error::envelope;

/// The instance reference in `instance-{ref}.<base>[:port]`.
pub fn instance_host<'a>(host: &'a str, base_domain: &str) -> Option<&'a str> {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let rest = host.strip_prefix("instance-")?;
    let (reference, domain) = rest.split_once('.')?;
    (domain.eq_ignore_ascii_case(base_domain) && !reference.is_empty()).then_some(reference)
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap) {
    for (name, value) in from {
        if HOP_BY_HOP.contains(&name.as_str()) || name == header::HOST {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}

pub async fn route(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !is_node_path(path) {
        return next.run(req).await;
    }
    let hops = req.headers().get_all(HOP_HEADER);
    if node_routes::hop_seen(
        hops.iter().filter_map(|v| v.to_str().ok()),
        HOP_CONTROL_PLANE,
    ) {
        tracing::warn!(%path, "a proxied node request came back to the control plane; refused");
        return envelope(ErrorBody::from_code(ErrorCode::LoopDetected));
    }
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().host())
        .unwrap_or_default()
        .to_owned();
    let services = &state.services;
    let target = if let Some(reference) = instance_host(&host, &services.config.base_domain) {
        match services.node_route(reference).await {
            Ok(Some(url)) => url,
            Ok(None) => {
                return envelope(ErrorBody::new(
                    ErrorCode::NodeUnavailable,
                    format!(
                        "No running node serves instance {reference}; it registers within seconds of the instance's creation."
                    ),
                ));
            }
            Err(e) => return e.into_response(),
        }
    } else {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| t.starts_with("sk_"));
        match (bearer, path) {
            (_, "/health") | (None, _) => return next.run(req).await,
            (Some(token), _) => match services.node_route_for_token(token).await {
                Ok(Some(url)) => url,
                Ok(None) => return next.run(req).await,
                Err(e) => return e.into_response(),
            },
        }
    };
    proxy(&state, &target, &host, req).await
}

async fn proxy(state: &AppState, base: &str, host: &str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path_q = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let url = format!("{}{}", base.trim_end_matches('/'), path_q);
    let mut headers = HeaderMap::new();
    copy_headers(&parts.headers, &mut headers);
    if let Ok(v) = HeaderValue::from_str(host) {
        headers.insert(HeaderName::from_static("x-forwarded-host"), v);
    }
    headers.append(HOP_HEADER, HeaderValue::from_static(HOP_CONTROL_PLANE));
    // The client's address, appended as proxies do, so the node limits per client and not
    // per control plane.
    if let Some(ConnectInfo(peer)) = parts.extensions.get::<ConnectInfo<SocketAddr>>() {
        let xff = match parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
        {
            Some(prev) => format!("{prev}, {}", peer.ip()),
            None => peer.ip().to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&xff) {
            headers.insert(HeaderName::from_static("x-forwarded-for"), v);
        }
    }
    let body = reqwest::Body::wrap_stream(body.into_data_stream());
    let upstream = state
        .http
        .request(parts.method, url)
        .headers(headers)
        .body(body)
        .send()
        .await;
    let upstream = match upstream {
        Ok(r) => r,
        Err(e) if e.is_timeout() => {
            tracing::warn!(error = %e, node = %base, "node did not answer in time");
            return envelope(ErrorBody::new(
                ErrorCode::GatewayTimeout,
                "The instance node did not answer in time.",
            ));
        }
        Err(e) => {
            tracing::warn!(error = %e, node = %base, "node unreachable");
            return envelope(ErrorBody::new(
                ErrorCode::NodeUnavailable,
                "The instance node is unreachable; it is restarted automatically, try again shortly.",
            ));
        }
    };
    let mut response = Response::builder().status(upstream.status());
    if let Some(h) = response.headers_mut() {
        copy_headers(upstream.headers(), h);
    }
    response
        .body(Body::from_stream(
            upstream.bytes_stream().map_err(std::io::Error::other),
        ))
        .unwrap_or_else(|_| {
            envelope(ErrorBody::new(
                ErrorCode::NodeUnavailable,
                "Bad response from the instance node.",
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::instance_host;

    #[test]
    fn instance_hosts() {
        assert_eq!(
            instance_host("instance-777.localhost:8080", "localhost"),
            Some("777")
        );
        assert_eq!(
            instance_host("instance-777.zapini.app", "zapini.app"),
            Some("777")
        );
        assert_eq!(
            instance_host(
                "instance-550e8400-e29b-41d4-a716-446655440000.localhost",
                "localhost"
            ),
            Some("550e8400-e29b-41d4-a716-446655440000")
        );
        assert_eq!(instance_host("localhost:8080", "localhost"), None);
        assert_eq!(instance_host("instance-7.other.app", "zapini.app"), None);
        assert_eq!(instance_host("instance-.localhost", "localhost"), None);
    }
}
