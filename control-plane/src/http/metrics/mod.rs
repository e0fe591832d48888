//! `/metrics` over HTTP: the layer counting API requests by route template, the rendering
//! both `/metrics` share (the API port's token-protected one is a handler in `http::health`),
//! and the metrics listener (`ZAPINI_METRICS_ADDR`: `/metrics` and `/metrics/targets`).
//!
//! It knows nothing of the API router's state: the API's routes depend on it, not it on them.

pub mod sample;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use zapini_shared::error::ErrorCode;
use zapini_shared::metrics::http::{HttpMetricsLayer, RouteLabel, UNMATCHED};

use crate::error::AppError;
use crate::metrics::Metrics;
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
pub(crate) async fn render(services: &Services) -> Response {
    let Some(handle) = services.metrics.handle() else {
        return (StatusCode::NOT_FOUND, "metrics are off\n").into_response();
    };
    sample::sample(services).await;
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

async fn listener_scrape(State(services): State<Services>) -> Response {
    render(&services).await
}

/// `GET /metrics/targets`: the nodes to scrape, for Prometheus's `http_sd_configs`.
async fn listener_targets(State(services): State<Services>) -> Response {
    match sample::targets(&services).await {
        Ok(groups) => axum::Json(groups).into_response(),
        Err(e) => AppError::from(e).into_response(),
    }
}

async fn listener_not_found(req: Request) -> Response {
    AppError::new(
        ErrorCode::NotFound,
        format!(
            "No route for {} {} (this listener serves /metrics and /metrics/targets).",
            req.method(),
            req.uri().path()
        ),
    )
    .into_response()
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
