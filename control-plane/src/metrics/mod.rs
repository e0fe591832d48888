//! Prometheus metrics of the control plane, and the state `/health/ready` reads.
//!
//! Events are counted where they happen, through the `metrics` facade (the recorder is the
//! process's one, `zapini_shared::metrics::install`): HTTP requests by route template (the
//! layer in `http::metrics`), gRPC calls by method and code ([`grpc`]), ingest batches,
//! webhook attempts, rate-limit refusals. Figures that live in the database or in memory
//! (instances by status and engine, the webhook outbox, connected nodes, database pools) are
//! read when `/metrics` is scraped (`http::metrics::sample`): a few indexed queries per
//! scrape, fresh every time, no background task.
//!
//! Served on `ZAPINI_METRICS_ADDR` (its own listener, no auth) and, with `ZAPINI_METRICS_TOKEN`,
//! on the API port behind that bearer token; never on the API port unauthenticated.

pub mod grpc;

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use sea_orm::DatabaseConnection;

use crate::config::MetricsSettings;

/// The gRPC listener's state, for readiness.
const GRPC_NONE: u8 = 0;
const GRPC_BOUND: u8 = 1;
const GRPC_SERVING: u8 = 2;
const GRPC_STOPPED: u8 = 3;

/// One app's metrics state: the recorder's handle when metrics are on, what the scrape-time
/// sampler needs, and the gRPC listener's state. Cheap to clone.
#[derive(Clone, Default)]
pub struct Metrics {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    handle: Option<PrometheusHandle>,
    grpc: AtomicU8,
    /// The webhook dispatcher's own pool (PostgreSQL), when it has one.
    dispatcher_db: OnceLock<DatabaseConnection>,
    /// Instance (status, engine) series this app reported, so one that disappears is zeroed.
    instance_series: Mutex<Vec<(String, String)>>,
}

impl Metrics {
    /// Installs the process's recorder when anything serves metrics; otherwise every
    /// recording is the facade's no-op and the HTTP layer only forwards.
    pub fn new(settings: &MetricsSettings) -> Metrics {
        let handle = settings.enabled().then(|| {
            let handle = zapini_shared::metrics::install("control-plane");
            describe();
            handle
        });
        Metrics {
            inner: Arc::new(Inner {
                handle,
                ..Inner::default()
            }),
        }
    }

    pub fn enabled(&self) -> bool {
        self.inner.handle.is_some()
    }

    pub(crate) fn handle(&self) -> Option<&PrometheusHandle> {
        self.inner.handle.as_ref()
    }

    /// Reports the dispatcher's pool too (`pool="dispatcher"`).
    pub fn set_dispatcher_db(&self, db: DatabaseConnection) {
        let _ = self.inner.dispatcher_db.set(db);
    }

    pub(crate) fn dispatcher_db(&self) -> Option<&DatabaseConnection> {
        self.inner.dispatcher_db.get()
    }

    pub(crate) fn instance_series(&self) -> &Mutex<Vec<(String, String)>> {
        &self.inner.instance_series
    }

    /// The gRPC listener was handed to the app (it accepts connections from now on).
    pub fn grpc_bound(&self) {
        self.inner.grpc.store(GRPC_BOUND, Ordering::Relaxed);
    }

    /// The gRPC server runs (`true`) or has stopped (`false`).
    pub fn grpc_serving(&self, serving: bool) {
        let state = if serving { GRPC_SERVING } else { GRPC_STOPPED };
        self.inner.grpc.store(state, Ordering::Relaxed);
    }

    /// For readiness: `None` when this app serves no gRPC (CLI tools, some tests), else
    /// whether its server is running.
    pub fn grpc_listening(&self) -> Option<bool> {
        match self.inner.grpc.load(Ordering::Relaxed) {
            GRPC_NONE => None,
            state => Some(state == GRPC_SERVING),
        }
    }
}

/// The `# HELP` lines of the control plane's series.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "zapini_grpc_requests_total",
        "gRPC calls of nodes on the ControlPlane service, by method and status code."
    );
    describe_histogram!(
        "zapini_grpc_request_duration_seconds",
        Unit::Seconds,
        "Time to the response head of a gRPC call (a stream: its opening)."
    );
    describe_counter!(
        "zapini_ingest_batches_total",
        "Transactions applying node events, by result (ok, error)."
    );
    describe_counter!(
        "zapini_ingest_events_total",
        "Node events in committed batches."
    );
    describe_histogram!("zapini_ingest_batch_events", "Events per ingest batch.");
    describe_histogram!(
        "zapini_ingest_batch_duration_seconds",
        Unit::Seconds,
        "Time to apply one batch of node events, retries included."
    );
    describe_counter!(
        "zapini_webhook_attempts_total",
        "Webhook delivery attempts by outcome (delivered, retry, failed)."
    );
    describe_histogram!(
        "zapini_webhook_attempt_duration_seconds",
        Unit::Seconds,
        "Time from sending a webhook to the end of the receiver's answer."
    );
    describe_gauge!(
        "zapini_webhook_outbox_pending",
        "Webhook deliveries pending (due now or waiting for a retry)."
    );
    describe_gauge!(
        "zapini_webhook_outbox_oldest_pending_age_seconds",
        Unit::Seconds,
        "Age of the oldest pending webhook delivery (0 when none)."
    );
    describe_gauge!(
        "zapini_nodes_connected",
        "Nodes holding an event stream to this control plane."
    );
    describe_gauge!("zapini_instances", "Instances by status and engine.");
    describe_gauge!(
        "zapini_db_pool_connections",
        "Database pool connections by pool and state (in_use, idle)."
    );
    describe_gauge!(
        "zapini_db_pool_max_connections",
        "The most connections a database pool opens."
    );
}

/// A rate limit refused a request: `token` (a token's budget), `tenant` (the tenant-wide
/// one), `address` (anonymous requests per client address), `login` (failed logins per
/// email or address) or `login_concurrency` (password checks at once).
pub fn rate_limit_refused(limiter: &'static str) {
    metrics::counter!("zapini_rate_limit_refusals_total", "limiter" => limiter).increment(1);
}

/// One ingest transaction of node events: its size, how long it took (retries included),
/// whether it committed.
pub fn ingest_batch(events: usize, took: Duration, committed: bool) {
    let result = if committed { "ok" } else { "error" };
    metrics::counter!("zapini_ingest_batches_total", "result" => result).increment(1);
    if committed {
        metrics::counter!("zapini_ingest_events_total").increment(events as u64);
    }
    metrics::histogram!("zapini_ingest_batch_events").record(events as f64);
    metrics::histogram!("zapini_ingest_batch_duration_seconds").record(took.as_secs_f64());
}

/// What one webhook attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx: delivered.
    Delivered,
    /// Failed; retried later.
    Retry,
    /// Failed for good (the retries ran out, or the receiver answered 410).
    Failed,
}

/// One webhook attempt, with the time from sending to the end of the answer.
pub fn webhook_attempt(outcome: AttemptOutcome, took: Duration) {
    let outcome = match outcome {
        AttemptOutcome::Delivered => "delivered",
        AttemptOutcome::Retry => "retry",
        AttemptOutcome::Failed => "failed",
    };
    metrics::counter!("zapini_webhook_attempts_total", "outcome" => outcome).increment(1);
    metrics::histogram!("zapini_webhook_attempt_duration_seconds", "outcome" => outcome)
        .record(took.as_secs_f64());
}
