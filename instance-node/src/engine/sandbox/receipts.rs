//! The sandbox's scheduled receipts: one queue per step of the [`ReceiptSchedule`] and one
//! task that works through them, instead of a task per send.
//!
//! Every send of a step waits the same time, so each queue is in due order by construction
//! (push at the back, pop at the front). Each queue holds at most [`SENT_KEPT`] entries: the
//! sandbox only remembers that many sends, so a receipt for an older one could not be given
//! anyway, and memory stays flat however fast sends come (a 25,000 sends/s burst used to
//! leave 125,000 sleeping tasks behind).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;
use zapini_shared::status::MessageStatus;

use super::{ReceiptSchedule, SENT_KEPT};

struct Step {
    after: Duration,
    status: MessageStatus,
    /// Only audio and voice messages are ever "played".
    audio_only: bool,
    /// (sent at, message id, session epoch), oldest first.
    pending: VecDeque<(Instant, Arc<str>, u64)>,
}

#[derive(Default)]
struct Queues {
    steps: Vec<Step>,
    /// Whether the task that delivers them runs.
    running: bool,
    /// Set when the engine goes away: the task ends.
    closed: bool,
}

/// A receipt that is due now.
pub(super) struct Due {
    pub message_id: Arc<str>,
    pub status: MessageStatus,
    pub epoch: u64,
}

/// See the module docs.
#[derive(Default)]
pub(super) struct ReceiptQueue {
    queues: Mutex<Queues>,
    wake: Notify,
}

impl ReceiptQueue {
    pub fn new(schedule: Option<&ReceiptSchedule>) -> ReceiptQueue {
        let mut steps = Vec::new();
        if let Some(s) = schedule {
            for (after, status, audio_only) in [
                (s.delivered_after, MessageStatus::Delivered, false),
                (s.read_after, MessageStatus::Read, false),
                (s.played_after, MessageStatus::Played, true),
            ] {
                if let Some(after) = after {
                    steps.push(Step {
                        after,
                        status,
                        audio_only,
                        pending: VecDeque::new(),
                    });
                }
            }
        }
        // Earliest step first, so one message's receipts of one batch come in order.
        steps.sort_by_key(|s| s.after);
        ReceiptQueue {
            queues: Mutex::new(Queues {
                steps,
                ..Queues::default()
            }),
            wake: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues the receipts of one send. Returns true when the delivering task must be
    /// started (the first time anything is queued).
    pub fn push(&self, message_id: &str, audio: bool, epoch: u64) -> bool {
        let now = Instant::now();
        let mut q = self.lock();
        let id: Arc<str> = Arc::from(message_id);
        let mut queued = false;
        for step in &mut q.steps {
            if step.audio_only && !audio {
                continue;
            }
            if step.pending.len() >= SENT_KEPT {
                step.pending.pop_front();
            }
            step.pending.push_back((now, id.clone(), epoch));
            queued = true;
        }
        let start = queued && !q.running;
        if start {
            q.running = true;
        }
        drop(q);
        if queued {
            self.wake.notify_one();
        }
        start
    }

    /// Takes every receipt due at `now`, earliest step first, and the next due time.
    fn take_due(&self, now: Instant) -> (Vec<Due>, Option<Instant>) {
        let mut q = self.lock();
        let mut due = Vec::new();
        let mut next: Option<Instant> = None;
        for step in &mut q.steps {
            while let Some((sent, _, _)) = step.pending.front() {
                let at = *sent + step.after;
                if at > now {
                    next = Some(next.map_or(at, |n| n.min(at)));
                    break;
                }
                if let Some((_, message_id, epoch)) = step.pending.pop_front() {
                    due.push(Due {
                        message_id,
                        status: step.status,
                        epoch,
                    });
                }
            }
        }
        (due, next)
    }

    /// Ends the delivering task (the engine is gone).
    pub fn close(&self) {
        self.lock().closed = true;
        self.wake.notify_one();
    }

    /// Waits for the next batch of due receipts; `None` once closed.
    pub async fn next_batch(&self) -> Option<Vec<Due>> {
        loop {
            // Registered before looking, so a push in between is not missed.
            let woken = self.wake.notified();
            if self.lock().closed {
                return None;
            }
            let (due, next) = self.take_due(Instant::now());
            if !due.is_empty() {
                return Some(due);
            }
            match next {
                Some(at) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(at) => {}
                        () = woken => {}
                    }
                }
                None => woken.await,
            }
        }
    }

    /// Receipts waiting, over all steps (tests).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().steps.iter().map(|s| s.pending.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> ReceiptSchedule {
        ReceiptSchedule {
            delivered_after: Some(Duration::from_secs(1)),
            read_after: Some(Duration::from_secs(3)),
            played_after: Some(Duration::from_secs(5)),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn due_in_order_and_audio_only_played() {
        let q = ReceiptQueue::new(Some(&schedule()));
        assert!(q.push("a", false, 0));
        assert!(!q.push("b", true, 0));
        assert_eq!(q.len(), 5);
        let first = q.next_batch().await.unwrap();
        assert_eq!(
            first
                .iter()
                .map(|d| (&*d.message_id, d.status))
                .collect::<Vec<_>>(),
            [
                ("a", MessageStatus::Delivered),
                ("b", MessageStatus::Delivered)
            ]
        );
        let second = q.next_batch().await.unwrap();
        assert!(second.iter().all(|d| d.status == MessageStatus::Read));
        let third = q.next_batch().await.unwrap();
        assert_eq!(third.len(), 1);
        assert_eq!(&*third[0].message_id, "b");
        assert_eq!(third[0].status, MessageStatus::Played);
        assert_eq!(q.len(), 0);
        q.close();
        assert!(q.next_batch().await.is_none());
    }

    #[test]
    fn bounded_by_the_sends_remembered() {
        let q = ReceiptQueue::new(Some(&schedule()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            for i in 0..(SENT_KEPT * 3) {
                q.push(&i.to_string(), false, 0);
            }
        });
        // Two steps apply to text: at most SENT_KEPT each, the newest kept.
        assert_eq!(q.len(), 2 * SENT_KEPT);
        let newest = (SENT_KEPT * 3 - 1).to_string();
        let st = q.lock();
        let used: Vec<_> = st.steps.iter().filter(|s| !s.pending.is_empty()).collect();
        assert_eq!(used.len(), 2, "delivered and read, not played");
        assert!(
            used.iter()
                .all(|s| s.pending.back().is_some_and(|(_, id, _)| **id == *newest))
        );
    }

    #[test]
    fn nothing_scheduled_starts_nothing() {
        let q = ReceiptQueue::new(None);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        rt.block_on(async {
            assert!(!q.push("a", true, 0));
        });
        assert_eq!(q.len(), 0);
    }
}
