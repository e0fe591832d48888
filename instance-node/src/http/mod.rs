//! The node's HTTP server: the Instance API hot path (send-message, send-media,
//! send-reaction, status, qr, health), the sandbox controls, and a forwarding fallback that
//! sends every other path to the control plane (a node path with another method is 405 here). Handlers parse, call the
//! use-cases in `service`/the engine, and map errors; they never talk gRPC.

pub mod body;
pub mod error;
pub mod forward;
pub mod health;
pub mod limit;
pub mod messages;
pub mod metrics;
pub mod sandbox;
pub mod status;

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::auth::TokenCache;
use crate::service::Node;
use error::ApiError;
use forward::Forwarder;

/// Shared state of every handler: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub node: Arc<Node>,
    pub tokens: TokenCache,
    pub forward: Arc<Forwarder>,
    pub limiter: Arc<limit::EdgeLimiter>,
    pub metrics: Arc<metrics::NodeMetrics>,
}

async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match state.tokens.check_header(header).await {
        Ok(()) => next.run(req).await,
        Err(body) => ApiError(body).into_response(),
    }
}

/// Builds the router.
pub fn router(state: AppState) -> Router {
    let authed = Router::new()
        .route("/send-message", post(messages::send_message))
        .route("/send-media", post(messages::send_media))
        .route("/send-reaction", post(messages::send_reaction))
        .route("/status", get(status::status))
        .route("/qr", get(status::qr))
        .route("/sandbox/scan", post(sandbox::scan))
        .route("/sandbox/pair-code", post(sandbox::pair_code))
        .route("/sandbox/inbound", post(sandbox::inbound))
        .route("/sandbox/reaction", post(sandbox::reaction))
        .route("/sandbox/edit", post(sandbox::edit))
        .route("/sandbox/revoke", post(sandbox::revoke))
        .route("/sandbox/receipt", post(sandbox::receipt))
        .route("/sandbox/fault", post(sandbox::fault))
        .route("/sandbox/groups", post(sandbox::groups))
        .route("/sandbox/presence", get(sandbox::presence))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/health", get(health::health))
        // Never forwarded: 404 without ZAPINI_METRICS_TOKEN, 401 without that bearer token.
        .route("/metrics", get(metrics::scrape))
        .merge(authed)
        .fallback(forward::fallback)
        .method_not_allowed_fallback(forward::method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), limit::limit))
        .layer(metrics::http_layer(&state.metrics))
        .with_state(state)
}
