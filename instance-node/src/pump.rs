//! The event pump: engine events -> the durable buffer. Everything the engine observes is
//! appended (fsync'd) before it counts; events that queue up while an fsync runs are written
//! together in the next one (group commit), so a burst of sends costs a few fsyncs, not one
//! each.
//!
//! It also tells the hot path when the `message.sent` event of a send is durable
//! ([`SentLog::wait_durable`]), so `Message sent successfully` is only answered once the
//! control plane is guaranteed to hear about the message.

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{Notify, mpsc};

use crate::buffer::{BufferError, EventBuffer};
use crate::engine::EngineEvent;
use crate::grpc::convert::encode_event;

/// Most events written by one group commit.
const MAX_BATCH: usize = 512;
/// Ids of durable sent messages remembered for late waiters.
const RECENT_SENT: usize = 8192;

/// Which of our sent messages are durable in the buffer.
#[derive(Debug, Default)]
pub struct SentLog {
    recent: Mutex<(HashSet<String>, VecDeque<String>)>,
    changed: Notify,
}

impl SentLog {
    fn lock(&self) -> std::sync::MutexGuard<'_, (HashSet<String>, VecDeque<String>)> {
        self.recent.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        {
            let mut guard = self.lock();
            let (set, order) = &mut *guard;
            for id in ids {
                if set.insert(id.clone()) {
                    order.push_back(id);
                }
            }
            while order.len() > RECENT_SENT {
                if let Some(old) = order.pop_front() {
                    set.remove(&old);
                }
            }
        }
        self.changed.notify_waiters();
    }

    fn contains(&self, id: &str) -> bool {
        self.lock().0.contains(id)
    }

    /// Waits until the `message_sent` event for `message_id` is in the buffer, at most
    /// `timeout`. Returns false on timeout (the buffer is failing; the pump keeps retrying).
    pub async fn wait_durable(&self, message_id: &str, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.contains(message_id) {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.contains(message_id);
            }
        }
    }
}

/// Runs until the engine drops its sender. Append failures are retried (the engine is held
/// back by the bounded channel meanwhile) rather than losing events.
pub async fn run(mut events: mpsc::Receiver<EngineEvent>, buffer: EventBuffer, sent: &SentLog) {
    let mut batch: Vec<EngineEvent> = Vec::with_capacity(16);
    loop {
        if events.recv_many(&mut batch, MAX_BATCH).await == 0 {
            return;
        }
        let payloads: Vec<Bytes> = batch.iter().map(|e| Bytes::from(encode_event(e))).collect();
        let sent_ids: Vec<String> = batch
            .iter()
            .filter_map(|e| match e {
                EngineEvent::MessageSent(m) => Some(m.id.clone()),
                _ => None,
            })
            .collect();
        batch.clear();
        let mut delay = Duration::from_millis(100);
        loop {
            match buffer.append_batch_async(payloads.clone()).await {
                Ok(_) => break,
                Err(err) => {
                    log_append_error(&err);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(5));
                }
            }
        }
        sent.record(sent_ids);
    }
}

fn log_append_error(err: &BufferError) {
    tracing::error!(error = %err, "could not append engine events to the buffer; retrying");
}
