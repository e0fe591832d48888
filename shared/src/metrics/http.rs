//! HTTP request metrics, recorded by a tower layer both binaries put around their routers:
//! `zapini_http_requests_total` and `zapini_http_request_duration_seconds`, labelled by route
//! template (never the raw path: the binary's `route_of` names it, from axum's `MatchedPath`
//! or a fixed label), method and status.
//!
//! Recording is on every request's path, so these two series are kept here rather than in the
//! `metrics` recorder, whose histograms keep every sample until the next upkeep: each (route,
//! method, status) has fixed buckets of atomic counters, created on its first request. A
//! request looks its series up by the route's `&str` under a read lock and adds to two
//! atomics: no allocation, no label string built. [`render_into`] writes them in the
//! Prometheus text format next to the recorder's output. Without metrics configured the
//! layer only forwards.

use std::collections::HashMap;
use std::fmt::Write;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{OnceLock, RwLock};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};

use super::LATENCY_BUCKETS;

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// What a request's route label is read from when it completes (the binary's `MatchedPath`
/// wrapper, or a fixed label).
pub trait RouteLabel: Send + 'static {
    fn label(&self) -> &str;
}

impl RouteLabel for &'static str {
    fn label(&self) -> &str {
        self
    }
}

/// [`LATENCY_BUCKETS`] in nanoseconds, for integer comparisons on the hot path.
const BOUNDS: usize = LATENCY_BUCKETS.len();

fn bounds_nanos() -> &'static [u64; BOUNDS] {
    static NANOS: OnceLock<[u64; BOUNDS]> = OnceLock::new();
    NANOS.get_or_init(|| LATENCY_BUCKETS.map(|b| (b * 1e9).round() as u64))
}

/// One (route, method, status): requests per bucket (the last one is `+Inf`, past every
/// bound) and the sum of their durations.
struct Series {
    method: &'static str,
    status: u16,
    /// `method="GET",status="200"`, rendered once.
    labels: String,
    buckets: [AtomicU64; BOUNDS + 1],
    sum_nanos: AtomicU64,
}

impl Series {
    fn observe(&self, nanos: u64) {
        let bucket = bounds_nanos().partition_point(|b| *b < nanos);
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

/// The cached series of this process.
#[derive(Default)]
pub struct HttpMetrics {
    routes: RwLock<HashMap<Box<str>, Vec<Series>>>,
}

static GLOBAL: OnceLock<HttpMetrics> = OnceLock::new();

impl HttpMetrics {
    /// The process's series.
    pub fn global() -> &'static HttpMetrics {
        GLOBAL.get_or_init(HttpMetrics::default)
    }

    /// Counts one request and its duration.
    pub fn record(&self, route: &str, method: &'static str, status: u16, elapsed: Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        {
            let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
            if let Some(s) = routes.get(route).and_then(|list| {
                list.iter()
                    .find(|s| s.status == status && s.method == method)
            }) {
                s.observe(nanos);
                return;
            }
        }
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        if !routes.contains_key(route) {
            routes.insert(route.into(), Vec::new());
        }
        let list = routes.get_mut(route).expect("inserted above");
        let index = match list
            .iter()
            .position(|s| s.status == status && s.method == method)
        {
            Some(i) => i,
            None => {
                list.push(Series {
                    method,
                    status,
                    labels: format!("method=\"{method}\",status=\"{status}\""),
                    buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                    sum_nanos: AtomicU64::new(0),
                });
                list.len() - 1
            }
        };
        list[index].observe(nanos);
    }

    /// Appends both series in the Prometheus text format (nothing before the first request).
    pub fn render_into(&self, out: &mut String) {
        let routes = self.routes.read().unwrap_or_else(|e| e.into_inner());
        if routes.is_empty() {
            return;
        }
        let mut requests = String::new();
        let mut durations = String::new();
        for (route, list) in routes.iter() {
            let route = escape(route);
            for s in list {
                let counts: Vec<u64> = s
                    .buckets
                    .iter()
                    .map(|b| b.load(Ordering::Relaxed))
                    .collect();
                let total: u64 = counts.iter().sum();
                let labels = format!("route=\"{route}\",{}", s.labels);
                let _ = writeln!(requests, "zapini_http_requests_total{{{labels}}} {total}");
                let mut cumulative = 0;
                for (bound, count) in LATENCY_BUCKETS.iter().zip(&counts) {
                    cumulative += count;
                    let _ = writeln!(
                        durations,
                        "zapini_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                    );
                }
                let sum = s.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
                let _ = writeln!(
                    durations,
                    "zapini_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {total}\n\
                     zapini_http_request_duration_seconds_sum{{{labels}}} {sum}\n\
                     zapini_http_request_duration_seconds_count{{{labels}}} {total}"
                );
            }
        }
        let _ = write!(
            out,
            "# HELP zapini_http_requests_total HTTP requests by route template (`unmatched`: no route), method and status.\n\
             # TYPE zapini_http_requests_total counter\n{requests}\n\
             # HELP zapini_http_request_duration_seconds Time to the response head, by route template, method and status.\n\
             # TYPE zapini_http_request_duration_seconds histogram\n{durations}\n"
        );
    }
}

/// A label value in the text format: `\`, `"` and newlines escaped.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains(['\\', '"', '\n']) {
        value
            .replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
            .into()
    } else {
        value.into()
    }
}

/// The method label: the standard methods by name, anything else `OTHER`.
pub fn method_label(method: &http::Method) -> &'static str {
    use http::Method as M;
    match *method {
        M::GET => "GET",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::HEAD => "HEAD",
        M::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

/// The layer: `route_of` names each request's route before it is handled; `enabled` false
/// (no metrics configured) makes it a plain pass-through.
#[derive(Clone)]
pub struct HttpMetricsLayer<F> {
    metrics: Option<&'static HttpMetrics>,
    route_of: F,
}

impl<F> HttpMetricsLayer<F> {
    pub fn new(enabled: bool, route_of: F) -> Self {
        HttpMetricsLayer {
            metrics: enabled.then(HttpMetrics::global),
            route_of,
        }
    }
}

impl<S, F: Clone> tower::Layer<S> for HttpMetricsLayer<F> {
    type Service = HttpMetricsService<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpMetricsService {
            inner,
            metrics: self.metrics,
            route_of: self.route_of.clone(),
        }
    }
}

#[derive(Clone)]
pub struct HttpMetricsService<S, F> {
    inner: S,
    metrics: Option<&'static HttpMetrics>,
    route_of: F,
}

impl<S, F, R, ReqBody, ResBody> tower::Service<http::Request<ReqBody>> for HttpMetricsService<S, F>
where
    S: tower::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    F: Fn(&http::Request<ReqBody>) -> R,
    R: RouteLabel,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Timed<S::Future, R>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<ReqBody>) -> Self::Future {
        let pending = self.metrics.map(|metrics| Pending {
            metrics,
            route: (self.route_of)(&req),
            method: method_label(req.method()),
            started: Instant::now(),
        });
        Timed {
            inner: self.inner.call(req),
            pending,
        }
    }
}

struct Pending<R> {
    metrics: &'static HttpMetrics,
    route: R,
    method: &'static str,
    started: Instant,
}

pin_project_lite::pin_project! {
    /// The inner service's future; records the request when its response is ready (the
    /// time to the response head; a body streams on afterwards).
    pub struct Timed<Fut, R> {
        #[pin]
        inner: Fut,
        pending: Option<Pending<R>>,
    }
}

impl<Fut, R, ResBody, E> Future for Timed<Fut, R>
where
    Fut: Future<Output = Result<http::Response<ResBody>, E>>,
    R: RouteLabel,
{
    type Output = Fut::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let out = ready!(this.inner.poll(cx));
        if let Some(p) = this.pending.take() {
            let status = out.as_ref().map_or(500, |r| r.status().as_u16());
            p.metrics
                .record(p.route.label(), p.method, status, p.started.elapsed());
        }
        Poll::Ready(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::{Layer, Service, ServiceExt};

    #[tokio::test]
    async fn the_layer_counts_by_route_label_method_and_status() {
        let handle = super::super::install("test");
        let svc = tower::service_fn(|req: http::Request<()>| async move {
            let status = if req.uri().path() == "/missing" {
                404
            } else {
                200
            };
            Ok::<_, std::convert::Infallible>(
                http::Response::builder().status(status).body(()).unwrap(),
            )
        });
        let route_of = |req: &http::Request<()>| -> &'static str {
            if req.uri().path().starts_with("/things/") {
                "/things/{id}"
            } else {
                UNMATCHED
            }
        };
        let mut svc = HttpMetricsLayer::new(true, route_of).layer(svc);
        for path in ["/things/1", "/things/2", "/missing"] {
            let req = http::Request::get(path).body(()).unwrap();
            svc.ready().await.unwrap().call(req).await.unwrap();
        }
        let text = super::super::render(&handle);
        assert!(
            text.contains(
                "zapini_http_requests_total{route=\"/things/{id}\",method=\"GET\",status=\"200\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "zapini_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains("zapini_http_request_duration_seconds_bucket{route=\"/things/{id}\"")
        );
        assert!(!text.contains("/things/1"));

        // Off: a pass-through that records nothing.
        let mut off = HttpMetricsLayer::new(false, route_of).layer(tower::service_fn(
            |_: http::Request<()>| async {
                Ok::<_, std::convert::Infallible>(http::Response::new(()))
            },
        ));
        let req = http::Request::post("/things/3").body(()).unwrap();
        off.ready().await.unwrap().call(req).await.unwrap();
        assert!(!super::super::render(&handle).contains("method=\"POST\""));
        assert_eq!(escape("a\"b\\c"), "a\\\"b\\\\c");
    }
}
