//! `/metrics` over HTTP: the layer counting API requests by route template, the
//! token-protected `/metrics` of the API port, and the metrics listener
//! (`ZAPINI_METRICS_ADDR`: `/metrics` and `/metrics/targets`).

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use secrecy::ExposeSecret;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::metrics::http::{HttpMetricsLayer, RouteLabel, UNMATCHED};

use super::Metrics;
use crate::http::AppState;
use crate::http::error::envelope;
use crate::service::Services;

/// A request's route label: the template axum matched (`/instances/{id}`), else the node
/// path the edge proxies (a fixed list), else `unmatched`.
pub enum Route {
    Matched(MatchedPath),
    Fixed(&'static str),
}

impl RouteLabel for Route {
    fn label(&self) -> &str {
        match self {
            Route::Matched(p) => p.as_str(),
            Route::Fixed(s) => s,
        }
    }
}

fn route_of(req: &Request) -> Route {
    match req.extensions().get::<MatchedPath>() {
        Some(p) => Route::Matched(p.clone()),
        None => Route::Fixed(
            zapini_shared::node_routes::route(req.uri().path()).map_or(UNMATCHED, |r| r.path),
        ),
    }
}

/// The layer for the API router (a pass-through when metrics are off).
pub fn layer(metrics: &Metrics) -> HttpMetricsLayer<fn(&Request) -> Route> {
    HttpMetricsLayer::new(metrics.enabled(), route_of as fn(&Request) -> Route)
}

/// Samples, then renders everything in the Prometheus text format.
async fn render(services: &Services) -> Response {
    let Some(handle) = services.metrics.handle() else {
        return (StatusCode::NOT_FOUND, "metrics are off\n").into_response();
    };
    super::sample::sample(services).await;
    let body = zapini_shared::metrics::render(handle);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static(zapini_shared::metrics::CONTENT_TYPE),
        )],
        body,
    )
        .into_response()
}

/// `GET /metrics` on the API port: only with `ZAPINI_METRICS_TOKEN` configured (404 like any
/// unknown route otherwise), and only for `Authorization: Bearer <that token>` (401).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Health",
    operation_id = "metrics_scrape",
    summary = "Prometheus metrics (with ZAPINI_METRICS_TOKEN only)",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "The Prometheus text format.", content_type = "text/plain", body = String),
        (status = 401, description = "The metrics token is missing or wrong (`UNAUTHENTICATED`).", body = zapini_shared::error::ErrorEnvelope),
        (status = 404, description = "No `ZAPINI_METRICS_TOKEN` is configured: not served on the API port (`NOT_FOUND`).", body = zapini_shared::error::ErrorEnvelope),
    )
)]
pub async fn api_scrape(State(state): State<AppState>, req: Request) -> Response {
    let Some(token) = &state.services.config.metrics.token else {
        return envelope(ErrorBody::new(
            ErrorCode::NotFound,
            format!("No route for {} {}.", req.method(), req.uri().path()),
        ));
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !zapini_shared::metrics::bearer_matches(presented, token.expose_secret()) {
        let mut resp = envelope(ErrorBody::new(
            ErrorCode::Unauthenticated,
            "The metrics token is missing or wrong (Authorization: Bearer <ZAPINI_METRICS_TOKEN>).",
        ));
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    render(&state.services).await
}

async fn listener_scrape(State(services): State<Services>) -> Response {
    render(&services).await
}

/// `GET /metrics/targets`: the nodes to scrape, for Prometheus's `http_sd_configs`.
async fn listener_targets(State(services): State<Services>) -> Response {
    match super::sample::targets(&services).await {
        Ok(groups) => axum::Json(groups).into_response(),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}

async fn listener_not_found(req: Request) -> Response {
    envelope(ErrorBody::new(
        ErrorCode::NotFound,
        format!(
            "No route for {} {} (this listener serves /metrics and /metrics/targets).",
            req.method(),
            req.uri().path()
        ),
    ))
}

/// Serves the metrics listener until `stop` turns true.
pub async fn serve(
    services: Services,
    listener: std::net::TcpListener,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let router: Router<()> = Router::new()
        .route("/metrics", get(listener_scrape))
        .route("/metrics/targets", get(listener_targets))
        .fallback(listener_not_found)
        .with_state(services);
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "metrics listener failed");
            return;
        }
    };
    tracing::info!(addr = ?addr, "metrics listening");
    let served = axum::serve(listener, router.into_make_service())
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await;
    if let Err(e) = served {
        tracing::error!(error = %e, "metrics listener failed");
    }
}
