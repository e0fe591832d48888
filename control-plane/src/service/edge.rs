//! Edge routing: which node's HTTP base serves an instance (named by id or UUID, or by the
//! `sk_` token it is bound to), cached for a few seconds. Any tenant: the node authenticates
//! every request itself.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use zapini_shared::ids::InstanceRef;

use super::Services;
use crate::db::entities::instance;
use crate::domain::Caller;
use crate::error::AppResult;

impl Services {
    /// Edge routing: the node HTTP base serving an instance named by id or UUID (any tenant:
    /// the node authenticates the request itself).
    pub async fn node_route(&self, reference: &str) -> AppResult<Option<String>> {
        if let Some(hit) = self.route_cache.get(reference) {
            return Ok(hit);
        }
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
        let url = match inst {
            Some(inst) => self.node_of(&inst).await?.map(|n| n.http_url),
            None => None,
        };
        self.route_cache.insert(reference.to_owned(), url.clone());
        Ok(url)
    }

    /// Edge routing for the apex: the node of the instance an `sk_` token belongs to.
    /// The token is looked up once per cache period; the node authenticates every request.
    pub async fn node_route_for_token(&self, token: &str) -> AppResult<Option<String>> {
        let key = format!(
            "sk:{}",
            zapini_shared::signing::sha256_hex(token.as_bytes())
        );
        if let Some(hit) = self.route_cache.get(&key) {
            return Ok(hit);
        }
        let route = match self.authenticate(token).await {
            Ok(Caller::Instance { instance_uuid, .. }) => {
                self.node_route(&instance_uuid.to_string()).await?
            }
            _ => None,
        };
        self.route_cache.insert(key, route.clone());
        Ok(route)
    }
}
