//! The event pump: engine events -> the event buffer. Everything the engine observes is
//! written to the buffer, whose sync thread fsyncs it in groups before the control plane
//! hears of it; events that queue up while a write runs are written together in the next one.
//!
//! It also tells the send path where the `message.sent` event of a send is
//! ([`SentLog::wait_written`], [`SentLog::wait_synced`]), so `Message sent successfully` is
//! answered at the point `ZAPINI_SEND_ACK` asks for.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::{Notify, mpsc};
use zapini_shared::backoff::Backoff;

use crate::buffer::{BufferError, EventBuffer};
use crate::engine::EngineEvent;
use crate::grpc::convert::encode_event;

/// Most events written by one write.
const MAX_BATCH: usize = 512;
/// Ids of written sent messages remembered for late waiters.
const RECENT_SENT: usize = 8192;

#[derive(Debug, Default)]
struct Recent {
    /// Message id -> sequence number of its `message.sent` record.
    seqs: HashMap<String, u64>,
    order: VecDeque<String>,
}

/// Which of our sent messages have their `message.sent` event in the buffer, and where.
#[derive(Debug)]
pub struct SentLog {
    recent: Mutex<Recent>,
    changed: Notify,
    buffer: EventBuffer,
}

impl SentLog {
    /// A log of the sends written to `buffer` (by [`run`]).
    pub fn new(buffer: EventBuffer) -> SentLog {
        SentLog {
            recent: Mutex::new(Recent::default()),
            changed: Notify::new(),
            buffer,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Recent> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, written: impl IntoIterator<Item = (String, u64)>) {
        let mut any = false;
        {
            let mut guard = self.lock();
            let Recent { seqs, order } = &mut *guard;
            for (id, seq) in written {
                any = true;
                if seqs.insert(id.clone(), seq).is_none() {
                    order.push_back(id);
                }
            }
            while order.len() > RECENT_SENT {
                if let Some(old) = order.pop_front() {
                    seqs.remove(&old);
                }
            }
        }
        if any {
            self.changed.notify_waiters();
        }
    }

    fn seq_of(&self, id: &str) -> Option<u64> {
        self.lock().seqs.get(id).copied()
    }

    /// Waits until the `message.sent` event for `message_id` is written to the buffer, at
    /// most `timeout`, and returns its sequence number. `None` on timeout (the buffer is
    /// failing; the pump keeps retrying).
    pub async fn wait_written(&self, message_id: &str, timeout: Duration) -> Option<u64> {
        self.wait_written_until(message_id, tokio::time::Instant::now() + timeout)
            .await
    }

    async fn wait_written_until(
        &self,
        message_id: &str,
        deadline: tokio::time::Instant,
    ) -> Option<u64> {
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(seq) = self.seq_of(message_id) {
                return Some(seq);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.seq_of(message_id);
            }
        }
    }

    /// Waits until the `message.sent` event for `message_id` is fsynced, at most `timeout`.
    /// Returns false on timeout.
    pub async fn wait_synced(&self, message_id: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        let Some(seq) = self.wait_written_until(message_id, deadline).await else {
            return false;
        };
        let mut synced = self.buffer.subscribe_synced();
        if *synced.borrow() >= seq {
            return true;
        }
        // Waiting out the sync interval would only add to this send's latency.
        self.buffer.sync_soon();
        matches!(
            tokio::time::timeout_at(deadline, synced.wait_for(|s| *s >= seq)).await,
            Ok(Ok(_))
        )
    }
}

/// Runs until the engine drops its sender. Write failures are retried (the engine is held
/// back by the bounded channel meanwhile) rather than losing events.
pub async fn run(mut events: mpsc::Receiver<EngineEvent>, buffer: EventBuffer, sent: &SentLog) {
    let mut batch: Vec<EngineEvent> = Vec::with_capacity(16);
    loop {
        if events.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        // (position in the batch, message id) of our sends, to map to sequence numbers.
        let mut sends: Vec<(usize, String)> = Vec::new();
        let payloads: Vec<Vec<u8>> = batch
            .drain(..)
            .enumerate()
            .map(|(i, event)| {
                let payload = encode_event(&event);
                if let EngineEvent::MessageSent(m) = event {
                    sends.push((i, m.id));
                }
                payload
            })
            .collect();
        let refs: Vec<&[u8]> = payloads.iter().map(|p| p.as_ref()).collect();
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        let seqs = loop {
            // Written right here rather than on the blocking pool: a `write(2)` into the page
            // cache takes ~20 µs (the fsync runs on the buffer's own thread), while a hop to
            // the blocking pool and back costs more than that on a busy 2-core host, and a
            // send in `written` mode waits for exactly this.
            match buffer.write_batch(&refs) {
                Ok(seqs) => break seqs,
                Err(err) => {
                    log_write_error(&err);
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        };
        sent.record(sends.into_iter().map(|(i, id)| (id, seqs[i])));
    }
}

fn log_write_error(err: &BufferError) {
    tracing::error!(error = %err, "could not write engine events to the buffer; retrying");
}
