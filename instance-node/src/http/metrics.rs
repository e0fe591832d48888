//! The node's `/metrics`: on its HTTP listener behind `ZAPINI_METRICS_TOKEN` (the edge's rate
//! limits count a wrong token like any rejected one), and on `ZAPINI_NODE_METRICS_ADDR`
//! without auth when set; HTTP requests counted by route template. Read when scraped: the
//! event buffer's size on disk and how far the control plane's acks are behind what was
//! written.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use secrecy::{ExposeSecret, SecretString};
use zapini_shared::error::ErrorCode;
use zapini_shared::metrics::http::{HttpMetricsLayer, RouteLabel, UNMATCHED};

use super::AppState;
use super::error::ApiError;
use crate::buffer::EventBuffer;
use crate::config::MetricsSettings;

/// What `/metrics` needs: the recorder's handle (when metrics are on), the token, the buffer.
pub struct NodeMetrics {
    handle: Option<PrometheusHandle>,
    token: Option<SecretString>,
    buffer: EventBuffer,
}

impl NodeMetrics {
    /// Installs the process's recorder when anything serves metrics.
    pub fn new(settings: &MetricsSettings, buffer: EventBuffer) -> NodeMetrics {
        NodeMetrics {
            handle: settings.enabled().then(|| {
                let handle = zapini_shared::metrics::install("instance-node");
                crate::metrics::describe();
                handle
            }),
            token: settings.token.clone(),
            buffer,
        }
    }

    pub fn enabled(&self) -> bool {
        self.handle.is_some()
    }

    /// Reads the buffer's figures, then renders everything.
    fn render(&self) -> Response {
        let Some(handle) = &self.handle else {
            return ApiError::new(ErrorCode::NotFound, "Metrics are off.").into_response();
        };
        let b = &self.buffer;
        let written = b.next_seq().saturating_sub(1);
        let acked = b.acked_seq().min(written);
        let synced = b.synced_seq().min(written);
        metrics::gauge!("zapini_node_buffer_bytes").set(b.disk_bytes() as f64);
        metrics::gauge!("zapini_node_buffer_unacked_events").set((written - acked) as f64);
        metrics::gauge!("zapini_node_buffer_unsynced_events").set((written - synced) as f64);
        metrics::counter!("zapini_node_buffer_written_events_total").absolute(written);
        metrics::counter!("zapini_node_buffer_acked_events_total").absolute(acked);
        // Present from the first scrape on, before any send was paced.
        metrics::gauge!("zapini_node_pacing_queued_sends").increment(0.0);
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(zapini_shared::metrics::CONTENT_TYPE),
            )],
            zapini_shared::metrics::render(handle),
        )
            .into_response()
    }
}

/// `GET /metrics` on the HTTP listener: 404 without `ZAPINI_METRICS_TOKEN` (a route all the
/// same, so the path is never forwarded to the control plane), 401 without that bearer token.
pub async fn scrape(State(state): State<AppState>, req: Request) -> Response {
    let metrics = &state.metrics;
    let Some(token) = &metrics.token else {
        return ApiError::new(
            ErrorCode::NotFound,
            format!("No route for {} {}.", req.method(), req.uri().path()),
        )
        .into_response();
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !zapini_shared::metrics::bearer_matches(presented, token.expose_secret()) {
        let mut resp = ApiError::new(
            ErrorCode::Unauthenticated,
            "The metrics token is missing or wrong (Authorization: Bearer <ZAPINI_METRICS_TOKEN>).",
        )
        .into_response();
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    metrics.render()
}

async fn open_scrape(State(metrics): State<Arc<NodeMetrics>>) -> Response {
    metrics.render()
}

/// Serves `ZAPINI_NODE_METRICS_ADDR` until `stop` resolves.
pub async fn serve(
    metrics: Arc<NodeMetrics>,
    listener: tokio::net::TcpListener,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = Router::new()
        .route("/metrics", get(open_scrape))
        .with_state(metrics);
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stop)
    .await
}

/// A request's route label: the template axum matched, else `unmatched` (on a node, what it
/// forwards to the control plane).
pub enum Route {
    Matched(MatchedPath),
    Unmatched,
}

impl RouteLabel for Route {
    fn label(&self) -> &str {
        match self {
            Route::Matched(p) => p.as_str(),
            Route::Unmatched => UNMATCHED,
        }
    }
}

fn route_of(req: &Request) -> Route {
    req.extensions()
        .get::<MatchedPath>()
        .map_or(Route::Unmatched, |p| Route::Matched(p.clone()))
}

/// The HTTP layer (a pass-through when metrics are off).
pub fn http_layer(metrics: &NodeMetrics) -> HttpMetricsLayer<fn(&Request) -> Route> {
    HttpMetricsLayer::new(metrics.enabled(), route_of as fn(&Request) -> Route)
}
