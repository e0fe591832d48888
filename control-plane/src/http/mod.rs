//! The Universal API over HTTP: routing, extractors, one file per resource. Handlers extract,
//! call a service, and map the result; they never touch SQL or Redis.
//!
//! Every route is served twice, at the root (`/instances`) and under `/api/v1`, as the
//! reference shows both forms.

pub mod auth;
pub mod connection;
pub mod conversations;
pub mod edge;
pub mod error;
pub mod extract;
pub mod health;
pub mod incoming;
pub mod instances;
pub mod messages;
pub mod middleware;
pub mod tokens;
pub mod webhooks;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use zapini_shared::error::{ErrorBody, ErrorCode};

use crate::service::Services;

/// Shared by every handler: cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    pub started_at: Instant,
    /// Outbound HTTP for edge routing to nodes.
    pub http: reqwest::Client,
}

/// The API routes, without prefix; mounted at `/` and `/api/v1`.
fn api_routes() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(auth::login))
        .route("/auth/me", get(auth::me))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/refresh", post(auth::refresh))
        .route("/instances", get(instances::list).post(instances::create))
        .route(
            "/instances/{id}",
            get(instances::show)
                .put(instances::update)
                .patch(instances::update)
                .delete(instances::delete),
        )
        .route("/instances/{id}/stats", get(instances::stats))
        .route("/instances/{id}/qr", get(connection::qr))
        .route("/instances/{id}/status", get(connection::status))
        .route("/instances/{id}/disconnect", post(connection::disconnect))
        .route("/instances/{id}/reconnect", post(connection::reconnect))
        .route("/instances/{id}/pair-code", post(connection::pair_code))
        .route("/instances/{id}/logout", post(connection::logout))
        .route("/chat/send", post(messages::chat_send))
        .route("/chat/send-media", post(messages::send_media))
        .route("/messages/send-media", post(messages::send_media))
        .route("/conversations", get(conversations::list))
        .route("/conversations/{id}", get(conversations::show))
        .route("/conversations/{id}/messages", get(conversations::messages))
        .route(
            "/instances/{id}/webhook",
            get(webhooks::get)
                .put(webhooks::put)
                .delete(webhooks::delete),
        )
        .route(
            "/instances/{id}/webhook/deliveries",
            get(webhooks::deliveries),
        )
        .route(
            "/instances/{id}/webhook/deliveries/{delivery}",
            get(webhooks::delivery),
        )
        .route(
            "/instances/{id}/webhook/deliveries/{delivery}/replay",
            post(webhooks::replay_one),
        )
        .route(
            "/instances/{id}/webhook/replay",
            post(webhooks::replay_many),
        )
        .route(
            "/instances/{id}/tokens",
            get(tokens::list).post(tokens::create),
        )
        .route(
            "/instances/{id}/tokens/{token_id}",
            axum::routing::delete(tokens::revoke),
        )
}

async fn not_found(req: Request) -> Response {
    error::envelope(ErrorBody::new(
        ErrorCode::NotFound,
        format!("No route for {} {}.", req.method(), req.uri().path()),
    ))
}

async fn method_not_allowed(req: Request) -> Response {
    error::envelope(ErrorBody::new(
        ErrorCode::MethodNotAllowed,
        format!("{} is not allowed on {}.", req.method(), req.uri().path()),
    ))
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    crate::error::AppError::internal("handler panicked").into_response()
}

pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let limited = Router::new()
        .merge(api_routes())
        .nest("/api/v1", api_routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::auth_and_rate_limit,
        ));
    Router::new()
        .route("/health", get(health::health))
        .route("/api/v1/health", get(health::health))
        // Engine reports authenticate by signature, not by token or rate-limit identity.
        .route("/webhooks/instance/{uuid}/{kind}", post(incoming::report))
        .route(
            "/api/v1/webhooks/instance/{uuid}/{kind}",
            post(incoming::report),
        )
        .merge(limited)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.services.config.max_body_bytes))
        .layer(axum::middleware::from_fn(middleware::log_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            edge::route,
        ))
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}
