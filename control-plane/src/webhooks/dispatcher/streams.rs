//! The streams (endpoint, ordering key) this process is delivering, and the rules that keep
//! each in order between the claim loop, the streams' tasks and the outcome writer.
//!
//! A claim does not see deliveries this process holds as in the way (they are leased by us):
//! it may claim later deliveries of a stream whose task is still sending. Those are handed to
//! the task, which sends them after its own. When an attempt fails, the stream is held back
//! (`Failed`) until the writer has recorded the failure and its retry time; the deliveries
//! handed over meanwhile go back to the outbox and wait for the retry.
//!
//! The claim that read *before* that record reads the failed delivery as in flight, not as
//! waiting for a retry, so what it holds of the stream must go back too, even when it hands
//! over after the record: `Recorded` marks such a stream until the next claim starts (which
//! reads after the record).

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::mpsc;

use super::{StreamKey, lock};
use crate::db::entities::webhook_delivery;

type Queue = mpsc::UnboundedSender<webhook_delivery::Model>;
pub(super) type Taken = mpsc::UnboundedReceiver<webhook_delivery::Model>;

enum Slot {
    /// Its task is sending; deliveries claimed later are queued to it.
    Running(Queue),
    /// An attempt failed and is not recorded yet.
    Failed,
    /// The failure was recorded while a claim may have been reading.
    Recorded,
}

/// What becomes of a claimed stream.
#[derive(Debug)]
pub(super) enum Handover {
    /// Queued to the stream's running task.
    Queued,
    /// A new task sends it: these are its deliveries.
    Start(Taken),
    /// Back to the outbox (the stream waits for a retry): these ids.
    Release(Vec<i64>),
}

#[derive(Default)]
pub(super) struct Streams(Mutex<HashMap<StreamKey, Slot>>);

impl Streams {
    /// A claim is about to read: failures recorded by now are in what it reads.
    pub(super) fn claim_starts(&self) {
        lock(&self.0).retain(|_, slot| !matches!(slot, Slot::Recorded));
    }

    /// Hands over what a claim got of stream `key` (in id order).
    pub(super) fn hand_over(
        &self,
        key: &StreamKey,
        stream: Vec<webhook_delivery::Model>,
    ) -> Handover {
        let mut streams = lock(&self.0);
        match streams.get(key) {
            Some(Slot::Running(queue)) => {
                for d in stream {
                    let _ = queue.send(d);
                }
                Handover::Queued
            }
            Some(Slot::Failed | Slot::Recorded) => {
                Handover::Release(stream.iter().map(|d| d.id).collect())
            }
            None => {
                let (queue, taken) = mpsc::unbounded_channel();
                for d in stream {
                    let _ = queue.send(d);
                }
                streams.insert(key.clone(), Slot::Running(queue));
                Handover::Start(taken)
            }
        }
    }

    /// The next delivery of a running stream; `None` ends it (checked under the lock
    /// deliveries are handed over with, so none is left behind).
    pub(super) fn next(
        &self,
        key: &StreamKey,
        taken: &mut Taken,
    ) -> Option<webhook_delivery::Model> {
        if let Ok(d) = taken.try_recv() {
            return Some(d);
        }
        let mut streams = lock(&self.0);
        match taken.try_recv() {
            Ok(d) => Some(d),
            Err(_) => {
                streams.remove(key);
                None
            }
        }
    }

    /// Ends a running stream that will not be sent now; answers the ids it held.
    pub(super) fn give_back(&self, key: &StreamKey, taken: &mut Taken) -> Vec<i64> {
        let mut streams = lock(&self.0);
        streams.remove(key);
        drain(taken)
    }

    /// An attempt of the stream failed: it is held back until the failure is recorded.
    /// Answers the ids handed to it meanwhile, which go back to the outbox.
    pub(super) fn failed(&self, key: &StreamKey, taken: &mut Taken) -> Vec<i64> {
        let mut streams = lock(&self.0);
        streams.insert(key.clone(), Slot::Failed);
        drain(taken)
    }

    /// The writer recorded the failures of these streams (and their retry times).
    pub(super) fn recorded(&self, keys: impl IntoIterator<Item = StreamKey>) {
        let mut streams = lock(&self.0);
        for key in keys {
            if let Some(slot @ Slot::Failed) = streams.get_mut(&key) {
                *slot = Slot::Recorded;
            }
        }
    }
}

/// The ids of what is left in a stream's queue (called under the lock, so nothing is handed
/// over meanwhile).
fn drain(taken: &mut Taken) -> Vec<i64> {
    let mut ids = Vec::new();
    while let Ok(d) = taken.try_recv() {
        ids.push(d.id);
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::super::tests::row;
    use super::*;

    fn key(k: &str) -> StreamKey {
        (1, k.into())
    }

    fn started(h: Handover) -> Taken {
        match h {
            Handover::Start(t) => t,
            other => panic!("expected a start, got {other:?}"),
        }
    }

    /// The race behind an out-of-order delivery: a claim reads while the stream's first
    /// delivery is in flight, the attempt fails and is recorded, then the claim hands over
    /// the later delivery. It must go back, not start ahead of the retry.
    #[test]
    fn a_claim_that_read_before_a_failure_was_recorded_hands_its_deliveries_back() {
        let streams = Streams::default();
        let mut first = started(streams.hand_over(&key("a"), vec![row(1, "a")]));
        assert_eq!(streams.next(&key("a"), &mut first).unwrap().id, 1);
        // The claim starts and reads delivery 2 (1 is ours, in flight).
        streams.claim_starts();
        // 1 fails and is recorded before the claim hands 2 over.
        assert!(streams.failed(&key("a"), &mut first).is_empty());
        streams.recorded([key("a")]);
        match streams.hand_over(&key("a"), vec![row(2, "a")]) {
            Handover::Release(ids) => assert_eq!(ids, [2]),
            other => panic!("2 went ahead of 1's retry: {other:?}"),
        }
        // The next claim reads after the record (and sees 1 waiting): the stream is free.
        streams.claim_starts();
        let mut again = started(streams.hand_over(&key("a"), vec![row(1, "a"), row(2, "a")]));
        assert_eq!(streams.next(&key("a"), &mut again).unwrap().id, 1);
        assert_eq!(streams.next(&key("a"), &mut again).unwrap().id, 2);
        assert!(streams.next(&key("a"), &mut again).is_none());
    }

    #[test]
    fn deliveries_claimed_while_a_stream_runs_are_queued_to_it_and_a_failure_returns_them() {
        let streams = Streams::default();
        let mut taken = started(streams.hand_over(&key("a"), vec![row(1, "a")]));
        assert!(matches!(
            streams.hand_over(&key("a"), vec![row(2, "a"), row(3, "a")]),
            Handover::Queued
        ));
        // Another stream is not held up.
        let _b = started(streams.hand_over(&key("b"), vec![row(4, "b")]));
        assert_eq!(streams.next(&key("a"), &mut taken).unwrap().id, 1);
        assert_eq!(streams.failed(&key("a"), &mut taken), [2, 3]);
        // Not recorded yet: a claim hands back whatever it got of the stream.
        streams.claim_starts();
        assert!(matches!(
            streams.hand_over(&key("a"), vec![row(5, "a")]),
            Handover::Release(ids) if ids == [5]
        ));
    }

    #[test]
    fn a_stream_given_back_is_free_for_the_next_claim() {
        let streams = Streams::default();
        let mut taken = started(streams.hand_over(&key("a"), vec![row(1, "a"), row(2, "a")]));
        assert_eq!(streams.give_back(&key("a"), &mut taken), [1, 2]);
        let _again = started(streams.hand_over(&key("a"), vec![row(1, "a")]));
    }
}
