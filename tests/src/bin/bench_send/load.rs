//! The load `bench-send` puts on the node: the hot-path client ([`Sender`]), a closed loop of
//! clients sending back to back and an open loop at a fixed rate, and what a run measured
//! ([`Outcome`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tokio::task::JoinSet;
use tokio::time::Instant;
use zapini_e2e::bench::percentile;

use super::{RECIPIENT, WARMUP};

/// Latencies (µs) and errors of one run.
#[derive(Default)]
pub(crate) struct Outcome {
    pub(crate) latencies_us: Vec<u32>,
    pub(crate) errors: u64,
    pub(crate) first_error: Option<String>,
    pub(crate) elapsed: Duration,
}

impl Outcome {
    pub(crate) fn merge(&mut self, other: Outcome) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    pub(crate) fn record(&mut self, result: Result<u32, String>) {
        match result {
            Ok(us) => self.latencies_us.push(us),
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(e);
                }
            }
        }
    }

    /// Successful requests per second over the measured window.
    pub(crate) fn rate(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// `(p50, p90, p99, max)` in µs; sorts the samples.
    pub(crate) fn percentiles(&mut self) -> (u32, u32, u32, u32) {
        self.latencies_us.sort_unstable();
        let s = &self.latencies_us;
        (
            percentile(s, 0.50),
            percentile(s, 0.90),
            percentile(s, 0.99),
            s.last().copied().unwrap_or(0),
        )
    }
}

/// The hot-path client: hyper 1 over HTTP/1.1 keep-alive, one connection per in-flight request.
#[derive(Clone)]
pub(crate) struct Sender {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    auth: HeaderValue,
    body: Bytes,
}

impl Sender {
    pub(crate) fn new(port: u16, token: &str) -> anyhow::Result<Sender> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        Ok(Sender {
            client,
            uri: format!("http://127.0.0.1:{port}/send-message").parse()?,
            auth: HeaderValue::from_str(&format!("Bearer {token}"))?,
            body: Bytes::from(
                serde_json::to_vec(&json!({"recipient": RECIPIENT, "message": "bench"}))
                    .expect("json"),
            ),
        })
    }

    /// Sends one message; `Err` describes a non-200 answer or a transport failure.
    pub(crate) async fn send(&self) -> Result<(), String> {
        let req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(self.body.clone()))
            .map_err(|e| format!("building the request: {e}"))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("transport: {e:?}"))?;
        let status = resp.status();
        // Read the whole body so the connection goes back to the pool.
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        if status.as_u16() == 200 {
            Ok(())
        } else {
            Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
        }
    }
}

fn micros_since(start: Instant) -> u32 {
    u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// `concurrency` clients sending back to back: a warm-up, then `duration` measured.
pub(crate) async fn closed_loop(
    sender: &Sender,
    concurrency: usize,
    duration: Duration,
) -> Outcome {
    let measure_from = Instant::now() + WARMUP;
    let end = measure_from + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let sender = sender.clone();
        tasks.spawn(async move {
            let mut out = Outcome::default();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let result = sender.send().await;
                if t0 >= measure_from {
                    out.record(result.map(|()| micros_since(t0)));
                }
            }
            out
        });
    }
    let mut total = Outcome::default();
    while let Some(joined) = tasks.join_next().await {
        total.merge(joined.expect("closed-loop task"));
    }
    total.elapsed = Instant::now().saturating_duration_since(measure_from);
    total
}

/// What an open-loop run measured.
pub(crate) struct OpenLoop {
    pub(crate) outcome: Outcome,
    /// Most requests in flight at once.
    pub(crate) in_flight_max: u64,
    /// How late each request's task started running after its scheduled instant (µs): the
    /// load generator's own share of the latencies.
    pub(crate) start_lags_us: Vec<u32>,
}

/// Requests started on a fixed schedule of `rate` per second for `duration`, each timed from
/// its scheduled start, so time a request spends waiting for the node counts even when the
/// node falls behind.
///
/// The schedule is kept by a thread of its own that sleeps with `std::thread::sleep` (a
/// high-resolution timer) and spawns each request onto the runtime. Pacing with
/// `tokio::time::interval` instead started every request 0-1 ms late, because tokio's timers
/// fire on a 1 ms wheel; that lateness is a per-run phase offset which was counted as node
/// latency (p50 moved between ~0.6 and ~1.3 ms from one run to the next).
pub(crate) async fn open_loop(
    sender: &Sender,
    rate: u32,
    duration: Duration,
) -> anyhow::Result<OpenLoop> {
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let total = (duration.as_secs_f64() * f64::from(rate)).round() as u64;
    let in_flight_max = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(AtomicU64::new(0));
    let results = Arc::new(Mutex::new(Outcome::default()));
    let lags = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let runtime = tokio::runtime::Handle::current();
    let (spawned_tx, spawned) = tokio::sync::oneshot::channel();
    let start = std::time::Instant::now();
    {
        let sender = sender.clone();
        let results = results.clone();
        let lags = lags.clone();
        let in_flight = in_flight.clone();
        let in_flight_max = in_flight_max.clone();
        std::thread::Builder::new()
            .name("bench-pacer".to_owned())
            .spawn(move || {
                let mut tasks = Vec::with_capacity(total as usize);
                for k in 0..total {
                    let scheduled = start + period.mul_f64(k as f64);
                    if let Some(wait) = scheduled.checked_duration_since(std::time::Instant::now())
                    {
                        std::thread::sleep(wait);
                    }
                    // Late wake-ups (a busy host) start the missed requests at once, each still
                    // timed from its own slot.
                    let scheduled = Instant::from_std(scheduled);
                    let sender = sender.clone();
                    let results = results.clone();
                    let lags = lags.clone();
                    let in_flight = in_flight.clone();
                    let in_flight_max = in_flight_max.clone();
                    let now = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
                    in_flight_max.fetch_max(now, Ordering::Relaxed);
                    tasks.push(runtime.spawn(async move {
                        let lag = micros_since(scheduled);
                        let result = sender.send().await;
                        let us = micros_since(scheduled);
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                        results.lock().expect("results").record(result.map(|()| us));
                        lags.lock().expect("lags").push(lag);
                    }));
                }
                let _ = spawned_tx.send(tasks);
            })
            .context("starting the pacing thread")?;
    }
    let tasks = spawned.await.context("the pacing thread stopped early")?;
    for task in tasks {
        task.await.context("an open-loop request task")?;
    }
    let elapsed = start.elapsed();
    let mut outcome = std::mem::take(&mut *results.lock().expect("results"));
    outcome.elapsed = elapsed;
    let start_lags_us = std::mem::take(&mut *lags.lock().expect("lags"));
    Ok(OpenLoop {
        outcome,
        in_flight_max: in_flight_max.load(Ordering::Relaxed),
        start_lags_us,
    })
}
