//! Prometheus metrics, shared by both binaries: the one recorder a process installs
//! ([`install`]), what `/metrics` answers ([`render`], [`CONTENT_TYPE`]), the bearer check that
//! guards `/metrics` on a port the public can reach ([`bearer_matches`]), HTTP request series
//! recorded by a tower layer and kept in atomic buckets of their own ([`http`]), and the
//! process's own figures read from `/proc` ([`process`]).
//!
//! The `metrics` crate's design is one global recorder per process. It is built once (a
//! `OnceLock`) the first time a control plane or node with metrics configured is built, and
//! its handle is kept; several apps in one process (tests) share it. Nothing is recorded
//! before: without metrics configured every `metrics::counter!` is the crate's no-op.

pub mod http;
pub mod process;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets (seconds) for request and delivery latencies: from a quarter of a
/// millisecond (a node's answer to a send) to 30 s (a webhook attempt timing out).
pub const LATENCY_BUCKETS: [f64; 16] = [
    0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    10.0, 30.0,
];

/// Histogram buckets for counts of events per batch (at most 256 per ingest transaction).
pub const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

/// Histograms whose values are counts rather than seconds.
pub const COUNT_HISTOGRAMS: &[&str] = &["zapini_ingest_batch_events"];

/// The `Content-Type` of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are folded into their buckets when nobody scrapes, so memory
/// stays flat.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs this process's recorder (the first call; later calls return the same handle)
/// and sets `zapini_build_info`. `component` names the binary (`control-plane`,
/// `instance-node`); in a process that runs both (tests) the first one names it.
pub fn install(component: &'static str) -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let mut builder = PrometheusBuilder::new();
            for name in COUNT_HISTOGRAMS {
                builder = builder
                    .set_buckets_for_metric(Matcher::Full((*name).to_owned()), BATCH_BUCKETS)
                    .expect("buckets are not empty");
            }
            let recorder = builder
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
                .expect("buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            // Fails only when something else installed a recorder first; ours then renders
            // the process figures and whatever is recorded through its own handles.
            let _ = metrics::set_global_recorder(recorder);
            let upkeep = handle.clone();
            let _ = std::thread::Builder::new()
                .name("metrics-upkeep".to_owned())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
            describe();
            metrics::gauge!("zapini_build_info", "version" => env!("CARGO_PKG_VERSION"), "component" => component)
                .set(1.0);
            handle
        })
        .clone()
}

/// The `# HELP` lines of the series both binaries record.
fn describe() {
    use metrics::{describe_counter, describe_gauge};
    describe_gauge!(
        "zapini_build_info",
        "Always 1; the version and component as labels."
    );
    describe_counter!(
        "zapini_rate_limit_refusals_total",
        "Requests refused by a rate limit, by limiter."
    );
}

/// Whether [`install`] ran in this process.
pub fn installed() -> bool {
    HANDLE.get().is_some()
}

/// The Prometheus text: the recorder's series, the HTTP series, the process figures.
pub fn render(handle: &PrometheusHandle) -> String {
    let mut out = handle.render();
    http::HttpMetrics::global().render_into(&mut out);
    process::render_into(&mut out);
    out
}

/// Whether an `Authorization` header value is `Bearer <token>`, compared in constant time.
pub fn bearer_matches(header: Option<&[u8]>, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let Some(presented) = header.and_then(|h| h.strip_prefix(b"Bearer ")) else {
        return false;
    };
    let presented = presented.trim_ascii();
    !token.is_empty() && bool::from(presented.ct_eq(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        let token = "s3cr3t-metrics-token";
        assert!(bearer_matches(Some(b"Bearer s3cr3t-metrics-token"), token));
        assert!(bearer_matches(
            Some(b"Bearer  s3cr3t-metrics-token "),
            token
        ));
        for bad in [
            &b"Bearer s3cr3t-metrics-toke"[..],
            b"Bearer s3cr3t-metrics-tokenX",
            b"Basic s3cr3t-metrics-token",
            b"s3cr3t-metrics-token",
            b"Bearer ",
        ] {
            assert!(!bearer_matches(Some(bad), token));
        }
        assert!(!bearer_matches(None, token));
        assert!(!bearer_matches(Some(b"Bearer "), ""));
    }

    #[test]
    fn renders_recorded_series_and_process_figures() {
        let handle = install("test");
        assert!(installed());
        metrics::counter!("zapini_test_total", "kind" => "a").increment(2);
        metrics::histogram!("zapini_test_duration_seconds").record(0.003);
        let text = render(&handle);
        assert!(text.contains("zapini_test_total{kind=\"a\"} 2"), "{text}");
        assert!(
            text.contains("zapini_test_duration_seconds_bucket{le=\"0.005\"} 1"),
            "{text}"
        );
        assert!(text.contains("zapini_build_info{"), "{text}");
        #[cfg(target_os = "linux")]
        assert!(
            text.contains("zapini_process_resident_memory_bytes "),
            "{text}"
        );
    }
}
