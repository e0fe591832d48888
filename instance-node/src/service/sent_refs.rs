//! Sends remembered by their client reference (an idempotency key such as the automation
//! engine's `auto:<turn id>:<index>`, or an integrator's `Idempotency-Key`). The first send
//! with a key runs; for the next [`REMEMBER_FOR`] the same key answers that send's message id
//! and timestamp without sending again or counting toward the daily limit. Concurrent sends
//! with one key send once: moka's `try_get_with` runs a single initialisation and hands its
//! answer to every caller waiting on it. A failed send is not remembered, so the same key can
//! be retried.
//!
//! It owns the bounded cache and nothing else: what a send does (policy, engine, ack wait) is
//! the caller's future. Keys are per node, that is per instance.

use std::future::Future;
use std::time::Duration;

use moka::future::Cache;

use super::SendError;
use crate::engine::{EngineError, SentMessage};

/// How long a send is remembered by its client reference.
pub const REMEMBER_FOR: Duration = Duration::from_secs(30 * 60);
/// Most client references remembered at once (the least useful go first beyond it).
pub const MAX_REMEMBERED: u64 = 20_000;
/// Longest client reference accepted, in characters.
pub const MAX_CLIENT_REF_CHARS: usize = 128;

/// A client reference that is not 1 to [`MAX_CLIENT_REF_CHARS`] visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "The {field} must be 1 to 128 visible ASCII characters (letters, digits and punctuation, no spaces)."
)]
pub struct InvalidClientRef {
    /// How the transport calls it: `client_ref` (gRPC) or `Idempotency-Key` (HTTP).
    pub field: &'static str,
}

/// Checks a client reference as a transport received it under `field`.
pub fn parse_client_ref(field: &'static str, raw: &str) -> Result<String, InvalidClientRef> {
    let visible = |b: u8| b.is_ascii_graphic();
    if raw.is_empty() || raw.len() > MAX_CLIENT_REF_CHARS || !raw.bytes().all(visible) {
        return Err(InvalidClientRef { field });
    }
    Ok(raw.to_owned())
}

/// The node's remembered sends. Cheap to clone (the cache is shared).
#[derive(Clone)]
pub struct SentRefs {
    cache: Cache<String, SentMessage>,
}

impl Default for SentRefs {
    fn default() -> Self {
        SentRefs::with_limits(REMEMBER_FOR, MAX_REMEMBERED)
    }
}

impl SentRefs {
    /// Remembers up to `capacity` sends for `ttl` each.
    pub fn with_limits(ttl: Duration, capacity: u64) -> SentRefs {
        SentRefs {
            cache: Cache::builder()
                .max_capacity(capacity)
                .time_to_live(ttl)
                .build(),
        }
    }

    /// Runs `send` unless a send with `client_ref` already succeeded within the window (its
    /// answer is returned) or is running (its answer is awaited).
    ///
    /// The send runs on its own task: a caller that goes away (a client's timeout, a dropped
    /// connection) does not cut it in half, and its answer is still remembered for the retry
    /// that follows. A retry that arrives while such an orphaned send is still running is not
    /// coalesced with it.
    pub async fn once<F>(&self, client_ref: String, send: F) -> Result<SentMessage, SendError>
    where
        F: Future<Output = Result<SentMessage, SendError>> + Send + 'static,
    {
        let cache = self.cache.clone();
        let key = client_ref.clone();
        let run = async move {
            let task = tokio::spawn(async move {
                let result = send.await;
                if let Ok(sent) = &result {
                    cache.insert(key, sent.clone()).await;
                }
                result
            });
            match task.await {
                Ok(result) => result,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => Err(SendError::Engine(EngineError::Temporary(
                    "the node is shutting down".to_owned(),
                ))),
            }
        };
        self.cache
            .try_get_with(client_ref, run)
            .await
            .map_err(|e| SendError::clone(&e))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use chrono::Utc;
    use tokio::sync::oneshot;

    use super::*;

    /// A send that counts its runs and answers a fresh id.
    fn counted(
        runs: &Arc<AtomicUsize>,
    ) -> impl Future<Output = Result<SentMessage, SendError>> + Send + 'static + use<> {
        let runs = runs.clone();
        async move {
            let n = runs.fetch_add(1, Ordering::SeqCst);
            Ok(SentMessage {
                message_id: format!("3EB0{n:016}"),
                timestamp: Utc::now(),
            })
        }
    }

    #[tokio::test]
    async fn the_same_ref_answers_the_first_send() {
        let refs = SentRefs::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let first = refs.once("auto:1:0".into(), counted(&runs)).await.unwrap();
        let again = refs.once("auto:1:0".into(), counted(&runs)).await.unwrap();
        assert_eq!(first, again);
        assert_eq!(runs.load(Ordering::SeqCst), 1);

        let other = refs.once("auto:1:1".into(), counted(&runs)).await.unwrap();
        assert_ne!(other.message_id, first.message_id);
        assert_eq!(runs.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn concurrent_sends_with_one_ref_send_once() {
        let refs = SentRefs::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let (release, released) = oneshot::channel::<()>();
        let held = {
            let runs = runs.clone();
            async move {
                let _ = released.await;
                counted(&runs).await
            }
        };
        let first = {
            let refs = refs.clone();
            tokio::spawn(async move { refs.once("k".into(), held).await })
        };
        let others: Vec<_> = (0..8)
            .map(|_| {
                let (refs, runs) = (refs.clone(), runs.clone());
                tokio::spawn(async move { refs.once("k".into(), counted(&runs)).await })
            })
            .collect();
        // Let every caller reach the cache before the first send may finish.
        for _ in 0..16 {
            tokio::task::yield_now().await;
        }
        let _ = release.send(());
        let first = first.await.unwrap().unwrap();
        for other in others {
            assert_eq!(other.await.unwrap().unwrap(), first);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_failed_send_is_not_remembered() {
        let refs = SentRefs::default();
        let failed = refs
            .once("k".into(), async {
                Err(SendError::Engine(EngineError::NotConnected))
            })
            .await;
        assert!(matches!(
            failed,
            Err(SendError::Engine(EngineError::NotConnected))
        ));
        let runs = Arc::new(AtomicUsize::new(0));
        refs.once("k".into(), counted(&runs)).await.unwrap();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_send_whose_caller_went_away_completes_and_is_remembered() {
        let refs = SentRefs::default();
        let runs = Arc::new(AtomicUsize::new(0));
        let (started_tx, started) = oneshot::channel::<()>();
        let (release, released) = oneshot::channel::<()>();
        let held = {
            let runs = runs.clone();
            async move {
                let _ = started_tx.send(());
                let _ = released.await;
                counted(&runs).await
            }
        };
        let caller = {
            let refs = refs.clone();
            tokio::spawn(async move { refs.once("k".into(), held).await })
        };
        started.await.unwrap();
        caller.abort();
        assert!(caller.await.unwrap_err().is_cancelled());
        release.send(()).unwrap();
        // The orphaned send finishes on its own task and stores its answer.
        let stored = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(sent) = refs.cache.get("k").await {
                    return sent;
                }
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the orphaned send is remembered");
        let again = refs.once("k".into(), counted(&runs)).await.unwrap();
        assert_eq!(again, stored);
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn client_refs_are_visible_ascii_up_to_128() {
        assert_eq!(
            parse_client_ref("client_ref", "auto:0193a3b2-7c1e:0").unwrap(),
            "auto:0193a3b2-7c1e:0"
        );
        assert!(parse_client_ref("client_ref", &"a".repeat(128)).is_ok());
        for bad in ["", " ", "has space", "tab\t", "é", "\u{7f}"] {
            let err = parse_client_ref("Idempotency-Key", bad).unwrap_err();
            assert_eq!(err.field, "Idempotency-Key");
        }
        let err = parse_client_ref("client_ref", &"a".repeat(129)).unwrap_err();
        assert!(err.to_string().contains("client_ref"), "{err}");
    }
}
