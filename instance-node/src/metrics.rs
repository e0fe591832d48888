//! The node's Prometheus series counted where they happen (through the process's one
//! recorder, `zapini_shared::metrics::install`): edge rate-limit and pacing refusals, sends
//! waiting for their pacing turn, and the `# HELP` lines of the node's own series. Serving
//! `/metrics` is `http::metrics`.

/// The `# HELP` lines of the node's series.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_gauge!(
        "zapini_node_buffer_bytes",
        Unit::Bytes,
        "Event buffer segments on disk."
    );
    describe_gauge!(
        "zapini_node_buffer_unacked_events",
        "Events written to the buffer and not yet acknowledged by the control plane."
    );
    describe_gauge!(
        "zapini_node_buffer_unsynced_events",
        "Events written to the buffer and not yet fsynced."
    );
    describe_counter!(
        "zapini_node_buffer_written_events_total",
        "Events ever written to this buffer (its last sequence number)."
    );
    describe_counter!(
        "zapini_node_buffer_acked_events_total",
        "Events the control plane acknowledged (the acked sequence number)."
    );
    describe_gauge!(
        "zapini_node_pacing_queued_sends",
        "Sends waiting for their anti-ban pacing turn (gaps, typing indicator)."
    );
}

/// A rate limit refused a request: `node_address`, `node_token`, `node_auth_failures` (the
/// edge's budgets) or `pacing` (anti-ban pacing).
pub fn rate_limit_refused(limiter: &'static str) {
    metrics::counter!("zapini_rate_limit_refusals_total", "limiter" => limiter).increment(1);
}

/// A send waiting for its pacing turn (gaps, typing), counted in
/// `zapini_node_pacing_queued_sends` while this lives.
pub struct PacingQueued(());

impl PacingQueued {
    pub fn enter() -> PacingQueued {
        metrics::gauge!("zapini_node_pacing_queued_sends").increment(1.0);
        PacingQueued(())
    }
}

impl Drop for PacingQueued {
    fn drop(&mut self) {
        metrics::gauge!("zapini_node_pacing_queued_sends").decrement(1.0);
    }
}
