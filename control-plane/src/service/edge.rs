//! Edge routing: which node's HTTP base serves an instance (named by id or UUID, or by the
//! `sk_` token it is bound to), cached for a few seconds. Any tenant: the node authenticates
//! every request itself.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use zapini_shared::ids::InstanceRef;

use super::Services;
use crate::db::entities::instance;
use crate::domain::Caller;
use crate::error::AppResult;

/// Routing answers (a key → a node's URL, or `None`: no node serves it), kept a few seconds.
/// A node registering or leaving clears them all ([`RouteCache::clear`]), and an answer read
/// from the database before such a clearing is never kept after it: without that, a lookup
/// that read the old node's row while the new node registered would route to the dead node
/// until the entry expired.
#[derive(Clone)]
pub struct RouteCache {
    routes: moka::sync::Cache<String, Option<String>>,
    /// Bumped by every clearing; a lookup keeps its answer only if none happened meanwhile.
    generation: Arc<AtomicU64>,
}

impl RouteCache {
    pub fn new(ttl: Duration, capacity: u64) -> RouteCache {
        RouteCache {
            routes: moka::sync::Cache::builder()
                .time_to_live(ttl)
                .max_capacity(capacity)
                .build(),
            generation: Arc::default(),
        }
    }

    /// The cached answer for `key`, or `load`'s (kept unless a clearing happened while it ran).
    pub async fn get_or_load<F, Fut>(&self, key: &str, load: F) -> AppResult<Option<String>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = AppResult<Option<String>>>,
    {
        if let Some(hit) = self.routes.get(key) {
            return Ok(hit);
        }
        let seen = self.generation.load(Ordering::SeqCst);
        let route = load().await?;
        self.routes.insert(key.to_owned(), route.clone());
        // A clearing that bumped the generation after `seen` may have run before the insert;
        // one that bumps it after this check clears the insert itself.
        if self.generation.load(Ordering::SeqCst) != seen {
            self.routes.invalidate(key);
        }
        Ok(route)
    }

    /// Forgets every answer: a node registered or left, or an instance was deleted.
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.routes.invalidate_all();
    }
}

impl Services {
    /// Edge routing: the node HTTP base serving an instance named by id or UUID (any tenant:
    /// the node authenticates the request itself).
    pub async fn node_route(&self, reference: &str) -> AppResult<Option<String>> {
        self.route_cache
            .get_or_load(reference, || async {
                let Ok(parsed) = InstanceRef::parse(reference) else {
                    return Ok(None);
                };
                let query = instance::Entity::find();
                let inst = match parsed {
                    InstanceRef::Numeric(id) => query.filter(instance::Column::Id.eq(id)),
                    InstanceRef::Uuid(u) => query.filter(instance::Column::Uuid.eq(u)),
                }
                .one(&self.db)
                .await?;
                Ok(match inst {
                    Some(inst) => self.node_of(&inst).await?.map(|n| n.http_url),
                    None => None,
                })
            })
            .await
    }

    /// Edge routing for the apex: the node of the instance an `sk_` token belongs to.
    /// The token is looked up once per cache period; the node authenticates every request.
    pub async fn node_route_for_token(&self, token: &str) -> AppResult<Option<String>> {
        let key = format!(
            "sk:{}",
            zapini_shared::signing::sha256_hex(token.as_bytes())
        );
        self.route_cache
            .get_or_load(&key, || async {
                Ok(match self.authenticate(token).await {
                    Ok(Caller::Instance { instance_uuid, .. }) => {
                        self.node_route(&instance_uuid.to_string()).await?
                    }
                    _ => None,
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    #[tokio::test]
    async fn answers_are_kept_until_cleared() {
        let cache = RouteCache::new(Duration::from_secs(60), 100);
        let loads = AtomicU32::new(0);
        let load = || async {
            loads.fetch_add(1, Ordering::SeqCst);
            Ok(Some("http://node-a".to_owned()))
        };
        assert_eq!(
            cache.get_or_load("i", load).await.unwrap().as_deref(),
            Some("http://node-a")
        );
        cache.get_or_load("i", load).await.unwrap();
        assert_eq!(
            loads.load(Ordering::SeqCst),
            1,
            "the second lookup is a hit"
        );
        cache.clear();
        cache.get_or_load("i", load).await.unwrap();
        assert_eq!(
            loads.load(Ordering::SeqCst),
            2,
            "a clearing forgets the answer"
        );
    }

    #[tokio::test]
    async fn an_answer_read_before_a_clearing_is_not_kept_after_it() {
        let cache = RouteCache::new(Duration::from_secs(60), 100);
        // The lookup reads the old node's row, then the new node registers (clearing the
        // cache) before the lookup stores what it read.
        let stale = cache
            .get_or_load("i", || async {
                cache.clear();
                Ok(Some("http://old-node".to_owned()))
            })
            .await
            .unwrap();
        assert_eq!(stale.as_deref(), Some("http://old-node"));
        let fresh = cache
            .get_or_load("i", || async { Ok(Some("http://new-node".to_owned())) })
            .await
            .unwrap();
        assert_eq!(fresh.as_deref(), Some("http://new-node"));
    }
}
