//! Fixed-window request counters for rate limits and login brute-force protection.
//!
//! In-process (moka) by default; with `REDIS_URL` the counters live in Redis, updated by one
//! atomic script, so every control-plane replica draws from the same budget. A Redis outage
//! fails open (requests are allowed and a warning is logged): a rate limiter must not take the
//! API down with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use redis::aio::ConnectionManager;

/// The outcome of counting one request against a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub limit: u64,
    pub remaining: u64,
    /// Unix seconds when the current window ends.
    pub reset_at: u64,
    pub allowed: bool,
}

impl Decision {
    pub fn retry_after(&self) -> u64 {
        self.reset_at
            .saturating_sub(Utc::now().timestamp().max(0) as u64)
            .max(1)
    }
}

#[derive(Clone)]
pub struct Limiter {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Memory(moka::sync::Cache<String, Arc<AtomicU64>>),
    Redis {
        conn: ConnectionManager,
        prefix: String,
        script: Arc<redis::Script>,
        undo: Arc<redis::Script>,
    },
}

/// DECR the window's key if it is there and above 0.
const UNDO_SCRIPT: &str = r"
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then return redis.call('DECR', KEYS[1]) end
return 0
";

/// INCRBY the window's key (by 0 for a peek), set its expiry on first use, return the count.
const SCRIPT: &str = r"
local n = redis.call('INCRBY', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return n
";

fn window_of(window_secs: u64) -> (u64, u64) {
    let now = Utc::now().timestamp().max(0) as u64;
    let index = now / window_secs;
    (index, (index + 1) * window_secs)
}

impl Limiter {
    /// An in-process limiter; entries live at most `max_window` after their last use.
    pub fn memory(max_window: Duration) -> Self {
        let cache = moka::sync::Cache::builder()
            .time_to_live(max_window + Duration::from_secs(1))
            .max_capacity(1_000_000)
            .build();
        Limiter {
            backend: Backend::Memory(cache),
        }
    }

    pub fn redis(conn: ConnectionManager, prefix: String) -> Self {
        Limiter {
            backend: Backend::Redis {
                conn,
                prefix,
                script: Arc::new(redis::Script::new(SCRIPT)),
                undo: Arc::new(redis::Script::new(UNDO_SCRIPT)),
            },
        }
    }

    /// Counts one request for `key` and says whether it fits in `limit` per `window_secs`.
    pub async fn hit(&self, key: &str, limit: u64, window_secs: u64) -> Decision {
        let (index, reset_at) = window_of(window_secs);
        let count = self.add(key, index, window_secs, 1).await;
        Decision {
            limit,
            remaining: limit.saturating_sub(count),
            reset_at,
            allowed: count <= limit,
        }
    }

    /// The current count for `key` without adding to it.
    pub async fn peek(&self, key: &str, window_secs: u64) -> (u64, u64) {
        let (index, reset_at) = window_of(window_secs);
        (self.add(key, index, window_secs, 0).await, reset_at)
    }

    /// Forgets the current window of `key` (after a successful login, for example).
    pub async fn clear(&self, key: &str, window_secs: u64) {
        let (index, _) = window_of(window_secs);
        let full = format!("{key}:{index}");
        match &self.backend {
            Backend::Memory(cache) => cache.invalidate(&full),
            Backend::Redis { conn, prefix, .. } => {
                let mut conn = conn.clone();
                let res: redis::RedisResult<()> = redis::cmd("DEL")
                    .arg(format!("{prefix}rl:{full}"))
                    .query_async(&mut conn)
                    .await;
                if let Err(e) = res {
                    tracing::warn!(error = %e, "rate limiter: redis DEL failed");
                }
            }
        }
    }

    /// Takes one request back from the current window of `key` (one counted up front that
    /// turned out not to count, like a successful login).
    pub async fn undo(&self, key: &str, window_secs: u64) {
        let (index, _) = window_of(window_secs);
        let full = format!("{key}:{index}");
        match &self.backend {
            Backend::Memory(cache) => {
                if let Some(counter) = cache.get(&full) {
                    let _ = counter.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                        Some(n.saturating_sub(1))
                    });
                }
            }
            Backend::Redis {
                conn, prefix, undo, ..
            } => {
                let mut conn = conn.clone();
                let res: redis::RedisResult<i64> = undo
                    .key(format!("{prefix}rl:{full}"))
                    .invoke_async(&mut conn)
                    .await;
                if let Err(e) = res {
                    tracing::warn!(error = %e, "rate limiter: redis undo failed");
                }
            }
        }
    }

    async fn add(&self, key: &str, index: u64, window_secs: u64, by: u64) -> u64 {
        let full = format!("{key}:{index}");
        match &self.backend {
            Backend::Memory(cache) => {
                if by == 0 {
                    return cache.get(&full).map_or(0, |c| c.load(Ordering::Relaxed));
                }
                let counter = cache.get_with(full, || Arc::new(AtomicU64::new(0)));
                counter.fetch_add(by, Ordering::Relaxed) + by
            }
            Backend::Redis {
                conn,
                prefix,
                script,
                ..
            } => {
                let mut conn = conn.clone();
                let res: redis::RedisResult<u64> = script
                    .key(format!("{prefix}rl:{full}"))
                    .arg(by)
                    .arg(window_secs + 1)
                    .invoke_async(&mut conn)
                    .await;
                res.unwrap_or_else(|e| {
                    tracing::warn!(error = %e, "rate limiter: redis unavailable, failing open");
                    0
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_counts_and_blocks_past_the_limit() {
        let l = Limiter::memory(Duration::from_secs(60));
        for i in 1..=3 {
            let d = l.hit("k", 3, 60).await;
            assert!(d.allowed);
            assert_eq!(d.remaining, 3 - i);
        }
        let d = l.hit("k", 3, 60).await;
        assert!(!d.allowed);
        assert_eq!(d.remaining, 0);
        assert!(d.retry_after() >= 1 && d.retry_after() <= 60);
        assert_eq!(l.peek("k", 60).await.0, 4);
        l.undo("k", 60).await;
        assert_eq!(l.peek("k", 60).await.0, 3);
        l.clear("k", 60).await;
        l.undo("k", 60).await;
        assert_eq!(l.peek("k", 60).await.0, 0);
        assert!(l.hit("other", 3, 60).await.allowed);
    }
}
