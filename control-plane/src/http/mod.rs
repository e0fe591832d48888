//! The Universal API over HTTP: routing, extractors, one file per resource. Handlers extract,
//! call a service, and map the result; they never touch SQL or Redis.
//!
//! Every route is served twice, at the root (`/instances`) and under `/api/v1`, as the
//! reference shows both forms.

pub mod auth;
pub mod automations;
pub mod chat;
pub mod connection;
pub mod contacts;
pub mod conversations;
pub mod edge;
pub mod error;
pub mod extract;
pub mod groups;
pub mod health;
pub mod incoming;
pub mod instances;
pub mod media;
pub mod messages;
pub mod middleware;
pub mod tags;
pub mod tokens;
pub mod webhooks;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
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
        .route(
            "/media/upload",
            post(media::upload).layer(DefaultBodyLimit::max(
                (crate::media::formats::max_any() + crate::media::formats::MB) as usize,
            )),
        )
        .route("/media/{id}", get(media::show).delete(media::delete))
        .route("/media/{id}/content", get(media::content))
        .route("/messages/{id}/media", get(media::message_media))
        .route(
            "/instances/{id}/groups",
            get(groups::list).post(groups::create),
        )
        .route(
            "/instances/{id}/groups/{jid}",
            get(groups::show).patch(groups::update).put(groups::update),
        )
        .route(
            "/instances/{id}/groups/{jid}/participants",
            post(groups::add_participants).delete(groups::remove_participants),
        )
        .route(
            "/instances/{id}/groups/{jid}/admins",
            post(groups::promote).delete(groups::demote),
        )
        .route("/instances/{id}/groups/{jid}/leave", post(groups::leave))
        .route(
            "/instances/{id}/groups/{jid}/invite",
            get(groups::invite).delete(groups::revoke_invite),
        )
        .merge(inbox_routes())
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
        .route("/instances/{id}/tokens/{token_id}", delete(tokens::revoke))
}

/// Conversations, the chat API, automation control, contacts and tags.
fn inbox_routes() -> Router<AppState> {
    use conversations as conv;
    Router::new()
        .route("/conversations", get(conv::list))
        .route("/conversations/archived", get(conv::archived))
        .route("/conversations/{id}", get(conv::show).delete(conv::delete))
        .route("/conversations/{id}/messages", get(conv::messages))
        .route("/conversations/{id}/mark-read", post(conv::mark_read))
        .route(
            "/conversations/{id}/archive",
            post(conv::archive).delete(conv::restore),
        )
        .route("/conversations/{id}/tags", put(conv::set_tags))
        .route("/conversations/{id}/automation", get(conv::automation))
        .route("/conversations/{id}/automation/pause", post(conv::pause))
        .route("/conversations/{id}/automation/resume", post(conv::resume))
        .route(
            "/conversations/automation/bulk-pause",
            post(conv::bulk_pause),
        )
        .route(
            "/conversations/automation/bulk-resume",
            post(conv::bulk_resume),
        )
        .route("/chat/conversations", get(conv::chat_list))
        .route("/chat/conversations/{id}", get(conv::chat_show))
        .route(
            "/chat/conversations/{id}/messages",
            get(conv::chat_messages),
        )
        .route("/chat/conversations/{id}/mark-read", post(conv::mark_read))
        .route(
            "/chat/conversations/{id}/archive",
            post(conv::archive).delete(conv::restore),
        )
        .route(
            "/chat/conversations/{id}/pause-automation",
            post(conv::chat_pause),
        )
        .route(
            "/chat/conversations/{id}/resume-automation",
            post(conv::chat_resume),
        )
        .route(
            "/chat/messages/{id}",
            patch(chat::edit).delete(chat::delete),
        )
        .route(
            "/chat/messages/{id}/reaction",
            post(chat::react).delete(chat::unreact),
        )
        .route(
            "/chat/messages/{id}/transcription",
            get(chat::transcription).post(chat::request_transcription),
        )
        .route("/contacts", get(contacts::list).post(contacts::create))
        .route("/contacts/import", post(contacts::import))
        .route("/contacts/export", get(contacts::export))
        .route(
            "/contacts/{id}",
            get(contacts::show)
                .put(contacts::update)
                .patch(contacts::update)
                .delete(contacts::delete),
        )
        .route("/tags", get(tags::list).post(tags::create))
        .route(
            "/tags/{id}",
            get(tags::show)
                .patch(tags::update)
                .put(tags::update)
                .delete(tags::delete),
        )
        .route(
            "/automation/flows",
            get(automations::flows).post(automations::create_flow),
        )
        .route(
            "/automation/flows/{id}",
            patch(automations::update_flow).delete(automations::delete_flow),
        )
        .route(
            "/automation/integrations",
            get(automations::integrations).post(automations::create_integration),
        )
        .route(
            "/automation/integrations/{id}",
            patch(automations::update_integration).delete(automations::delete_integration),
        )
        .route(
            "/instances/{id}/inbox-settings",
            get(automations::settings).put(automations::put_settings),
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
        .route("/health/ready", get(health::ready))
        .route("/api/v1/health/ready", get(health::ready))
        // Only with ZAPINI_METRICS_TOKEN, and only for that bearer token (404 / 401 otherwise).
        .route("/metrics", get(crate::metrics::http::api_scrape))
        // Engine reports authenticate by signature, not by token or rate-limit identity.
        .route("/webhooks/instance/{uuid}/{kind}", post(incoming::report))
        .route(
            "/api/v1/webhooks/instance/{uuid}/{kind}",
            post(incoming::report),
        )
        // Nodes fetching a library file for a `media_id` send authenticate with the node secret.
        .route("/internal/media/{id}", get(media::for_node))
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
        .layer(crate::metrics::http::layer(&state.services.metrics))
        .with_state(state)
}
