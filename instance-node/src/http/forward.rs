//! Everything that is not the hot path goes to the control plane: same method, path, query
//! and headers (minus hop-by-hop ones and `Host`; plus `X-Forwarded-Host`/`-For`/`-Proto`),
//! bodies streamed both ways. One instance base URL thus serves the whole reference. The
//! control plane authenticates these requests itself.
//!
//! Never forwarded: a node path (`zapini_shared::node_routes`, the list the control plane
//! proxies by) is answered here, 405 with `Allow` or 404; a request that already carries this
//! node's hop marker (`x-zapini-hop: node`) is refused with 508 `LOOP_DETECTED`. The client
//! gives up after `ZAPINI_PROXY_TIMEOUT_SECS` (504 `GATEWAY_TIMEOUT`).

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri, header};
use axum::response::{IntoResponse, Response};
use zapini_shared::error::ErrorCode;
use zapini_shared::node_routes::{self, HOP_HEADER, HOP_NODE};

use super::AppState;
use super::error::ApiError;
use crate::outbound::LazyClient;

/// Sends requests on to the control plane's HTTP API.
pub struct Forwarder {
    /// Built on the first forwarded request.
    client: LazyClient,
    /// The control plane's base URL without a trailing slash.
    base: String,
}

impl Forwarder {
    pub fn new(base: &reqwest::Url, timeout: Duration) -> Forwarder {
        Forwarder {
            client: LazyClient::new(move || {
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(timeout)
                    .redirect(reqwest::redirect::Policy::none())
                    .pool_max_idle_per_host(8)
            }),
            base: base.as_str().trim_end_matches('/').to_owned(),
        }
    }
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "proxy-connection"
            | "te"
            | "trailer"
            | "transfer-encoding"
            | "upgrade"
    )
}

/// Headers named in `Connection` are hop-by-hop too.
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect()
}

fn copy_headers(from: &HeaderMap, to: &mut HeaderMap, skip_host: bool) {
    let listed = connection_listed(from);
    for (name, value) in from {
        if is_hop_by_hop(name)
            || (skip_host && name == header::HOST)
            || listed.iter().any(|l| l == name.as_str())
        {
            continue;
        }
        to.append(name.clone(), value.clone());
    }
}

/// 405 for a node path and a method it does not answer, with the methods it does.
pub async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let allow = node_routes::route(uri.path()).map(node_routes::allow_header);
    let message = match &allow {
        Some(allow) => format!("{} does not accept {method}; use {allow}.", uri.path()),
        None => format!("{} does not accept {method}.", uri.path()),
    };
    let mut response = ApiError::new(ErrorCode::MethodNotAllowed, message).into_response();
    if let Some(v) = allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
        response.headers_mut().insert(header::ALLOW, v);
    }
    response
}

/// The fallback handler: a node path this router does not serve is answered here (405 or
/// 404); anything else is proxied to the control plane.
pub async fn fallback(
    state: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let path = req.uri().path();
    if node_routes::route(path).is_some() {
        return method_not_allowed(req.method().clone(), req.uri().clone()).await;
    }
    if node_routes::is_node_path(path) {
        return ApiError::new(
            ErrorCode::NotFound,
            format!("No such instance endpoint: {path}."),
        )
        .into_response();
    }
    forward(state, peer, req).await
}

/// Proxies the request to the control plane.
async fn forward(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response {
    let hops = req.headers().get_all(HOP_HEADER);
    if node_routes::hop_seen(hops.iter().filter_map(|v| v.to_str().ok()), HOP_NODE) {
        tracing::warn!(path = %req.uri().path(), "a forwarded request came back to the node; refused");
        return ApiError::from(zapini_shared::error::ErrorBody::from_code(
            ErrorCode::LoopDetected,
        ))
        .into_response();
    }
    let fwd = &state.forward;
    let (parts, body) = req.into_parts();
    let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let url = format!("{}{}", fwd.base, path_and_query);

    let mut headers = HeaderMap::with_capacity(parts.headers.len() + 3);
    copy_headers(&parts.headers, &mut headers, true);
    if let Some(host) = parts.headers.get(header::HOST) {
        headers.insert("x-forwarded-host", host.clone());
    }
    let client_ip = peer.ip().to_string();
    let xff = match parts
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
    {
        Some(prev) => format!("{prev}, {client_ip}"),
        None => client_ip,
    };
    if let Ok(v) = HeaderValue::from_str(&xff) {
        headers.insert("x-forwarded-for", v);
    }
    if !headers.contains_key("x-forwarded-proto") {
        headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    }
    headers.append(HOP_HEADER, HeaderValue::from_static(HOP_NODE));

    let upstream = match fwd.client.get() {
        Ok(client) => {
            client
                .request(parts.method, url)
                .headers(headers)
                .body(reqwest::Body::wrap_stream(body.into_data_stream()))
                .send()
                .await
        }
        Err(err) => Err(err),
    };
    let upstream = match upstream {
        Ok(r) => r,
        Err(err) if err.is_timeout() => {
            tracing::warn!(error = %err, "the control plane did not answer a forwarded request in time");
            return ApiError::new(
                ErrorCode::GatewayTimeout,
                "The control plane did not answer in time; retry shortly.",
            )
            .into_response();
        }
        Err(err) => {
            tracing::warn!(error = %err, "could not forward a request to the control plane");
            return ApiError::new(
                ErrorCode::ServiceUnavailable,
                "The control plane is unreachable right now; retry shortly.",
            )
            .into_response();
        }
    };
    let mut response = Response::builder().status(upstream.status());
    if let Some(h) = response.headers_mut() {
        copy_headers(upstream.headers(), h, false);
    }
    response
        .body(Body::from_stream(upstream.bytes_stream()))
        .unwrap_or_else(|_| {
            ApiError::new(
                ErrorCode::ServiceUnavailable,
                "Bad response from the control plane.",
            )
            .into_response()
        })
}
