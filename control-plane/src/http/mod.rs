//! The Universal API over HTTP: routing, extractors, one file per resource. Handlers extract,
//! call a service, and map the result; they never touch SQL or Redis.
//!
//! Every route is served twice, at the root (`/instances`) and under `/api/v1`, as the
//! reference shows both forms.

pub mod ai_functions;
pub mod auth;
pub mod automation_sessions;
pub mod automations;
pub mod calendar;
pub mod chat;
pub mod connection;
pub mod contacts;
pub mod conversations;
pub mod edge;
pub mod error;
pub mod external_functions;
pub mod extract;
pub mod flows;
pub mod groups;
pub mod health;
pub mod incoming;
pub mod instances;
pub mod kanban;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod tags;
pub mod tokens;
pub mod webhooks;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::HeaderName;
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
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

/// The API routes, without prefix; mounted at `/` and `/api/v1`. Every route is registered
/// through `routes!`, which reads the path and methods from the handler's `#[utoipa::path]`,
/// so a route cannot be served without being described (the drift test checks the rest).
fn api_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(auth::login))
        .routes(routes!(auth::me))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::refresh))
        .routes(routes!(instances::list, instances::create))
        .routes(routes!(
            instances::show,
            instances::update,
            instances::delete
        ))
        .routes(routes!(instances::stats))
        .routes(routes!(connection::qr))
        .routes(routes!(connection::status))
        .routes(routes!(connection::disconnect))
        .routes(routes!(connection::reconnect))
        .routes(routes!(connection::pair_code))
        .routes(routes!(connection::logout))
        .routes(routes!(messages::chat_send))
        .routes(routes!(messages::send_media))
        .routes(routes!(messages::chat_send_media))
        .routes(media_upload())
        .routes(routes!(media::show, media::delete))
        .routes(routes!(media::content))
        .routes(routes!(media::message_media))
        .routes(routes!(groups::list, groups::create))
        .routes(routes!(groups::show, groups::update))
        .routes(routes!(
            groups::add_participants,
            groups::remove_participants
        ))
        .routes(routes!(groups::promote, groups::demote))
        .routes(routes!(groups::leave))
        .routes(routes!(groups::invite, groups::revoke_invite))
        .routes(routes!(webhooks::get, webhooks::put, webhooks::delete))
        .routes(routes!(webhooks::deliveries))
        .routes(routes!(webhooks::delivery))
        .routes(routes!(webhooks::replay_one))
        .routes(routes!(webhooks::replay_many))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(conversations::list))
        .routes(routes!(conversations::archived))
        .routes(routes!(conversations::show, conversations::delete))
        .routes(routes!(conversations::messages))
        .routes(routes!(conversations::mark_read))
        .routes(routes!(conversations::archive, conversations::restore))
        .routes(routes!(conversations::set_tags))
        .routes(routes!(conversations::automation))
        .routes(routes!(conversations::pause))
        .routes(routes!(conversations::resume))
        .routes(routes!(conversations::bulk_pause))
        .routes(routes!(conversations::bulk_resume))
        .routes(routes!(conversations::chat_list))
        .routes(routes!(conversations::chat_show))
        .routes(routes!(conversations::chat_messages))
        .routes(routes!(conversations::chat_mark_read))
        .routes(routes!(
            conversations::chat_archive,
            conversations::chat_restore
        ))
        .routes(routes!(conversations::chat_pause))
        .routes(routes!(conversations::chat_resume))
        .routes(routes!(chat::edit, chat::delete))
        .routes(routes!(chat::react, chat::unreact))
        .routes(routes!(chat::transcription, chat::request_transcription))
        .routes(routes!(contacts::list, contacts::create))
        .routes(routes!(contacts::import))
        .routes(routes!(contacts::export))
        .routes(routes!(contacts::show, contacts::update, contacts::delete))
        .routes(routes!(tags::list, tags::create))
        .routes(routes!(tags::show, tags::update, tags::delete))
        .routes(routes!(automations::flows, automations::create_flow))
        .routes(routes!(automations::update_flow, automations::delete_flow))
        .routes(routes!(flows::test_flow))
        .routes(routes!(
            automations::integrations,
            automations::create_integration
        ))
        .routes(routes!(
            automations::update_integration,
            automations::delete_integration
        ))
        .routes(routes!(automations::settings, automations::put_settings))
        .routes(routes!(automation_sessions::list))
        .routes(routes!(automation_sessions::show))
        .routes(routes!(automation_sessions::set_status))
        .routes(routes!(ai_functions::list, ai_functions::create))
        .routes(routes!(
            ai_functions::show,
            ai_functions::update,
            ai_functions::delete
        ))
        .routes(routes!(ai_functions::toggle))
        .routes(routes!(ai_functions::test))
        .routes(routes!(ai_functions::executions))
        .routes(routes!(ai_functions::execution))
        .merge(kanban::routes())
        .merge(calendar::routes())
        .merge(external_functions::routes())
}

/// `/media/upload` takes bodies up to the largest media kind, above the global body limit.
fn media_upload() -> utoipa_axum::router::UtoipaMethodRouter<AppState> {
    let (schemas, paths, method_router) = routes!(media::upload);
    let limit = (crate::media::formats::max_any() + crate::media::formats::MB) as usize;
    (
        schemas,
        paths,
        method_router.layer(DefaultBodyLimit::max(limit)),
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

/// Every described route: the API at both URL forms behind authentication and rate limits,
/// health, the node-facing routes.
fn described_routes(state: &AppState) -> OpenApiRouter<AppState> {
    let limited = OpenApiRouter::new()
        .merge(api_routes())
        .nest("/api/v1", api_routes())
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::auth_and_rate_limit,
        ));
    OpenApiRouter::new()
        .merge(public_routes())
        .nest("/api/v1", public_routes())
        .routes(routes!(media::for_node))
        // Only with ZAPINI_METRICS_TOKEN, and only for that bearer token (404 / 401 otherwise).
        .routes(routes!(health::api_scrape))
        .merge(limited)
}

/// Routes without a user or `sk_` token: health, the API's own description, and what nodes
/// call (engine reports authenticate by signature, library media by the node secret).
fn public_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health::health))
        .routes(routes!(health::ready))
        .routes(routes!(openapi::document_json))
        .routes(routes!(openapi::docs_page))
        .routes(routes!(openapi::docs_script))
        .routes(routes!(incoming::report))
        .merge(external_functions::call_routes())
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    crate::error::AppError::internal("handler panicked").into_response()
}

/// The whole HTTP surface: the described API routes, `pages` (the dashboard's, which are not
/// API operations: see `web::page_paths`), and the layers every request goes through.
pub fn router(state: AppState, pages: Router<AppState>) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let (router, document) = described_routes(&state).split_for_parts();
    router
        .layer(axum::Extension(openapi::Document::new(document)))
        .merge(pages)
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
        .layer(metrics::layer(&state.services.metrics))
        .with_state(state)
}
