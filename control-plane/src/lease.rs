//! Instance leases: exactly one node owns an instance at a time.
//!
//! In SQL by default (the `instance_nodes` row carries the lease id and its expiry, changed by
//! compare-and-set updates); with `REDIS_URL` the lease is a Redis key with a TTL, set and
//! renewed by atomic scripts, so replicas of the control plane agree without a SQL round trip.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use redis::aio::ConnectionManager;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::db::entities::instance_node;
use crate::error::AppResult;

#[derive(Clone)]
pub enum Leases {
    Sql,
    Redis {
        conn: ConnectionManager,
        prefix: String,
        acquire: Arc<redis::Script>,
        renew: Arc<redis::Script>,
        release: Arc<redis::Script>,
    },
}

/// Take the key if it is free or still holds the lease we consider dead (ARGV[2]).
const ACQUIRE: &str = r"
local v = redis.call('GET', KEYS[1])
if (not v) or v == ARGV[2] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
";
const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
";
const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
";

impl Leases {
    pub fn redis(conn: ConnectionManager, prefix: String) -> Leases {
        Leases::Redis {
            conn,
            prefix,
            acquire: Arc::new(redis::Script::new(ACQUIRE)),
            renew: Arc::new(redis::Script::new(RENEW)),
            release: Arc::new(redis::Script::new(RELEASE)),
        }
    }

    fn key(prefix: &str, instance: Uuid) -> String {
        format!("{prefix}lease:{instance}")
    }

    /// The lease currently held on the instance, if any is unexpired.
    pub async fn holder(
        &self,
        db: &DatabaseConnection,
        instance_id: i64,
        instance: Uuid,
    ) -> AppResult<Option<String>> {
        match self {
            Leases::Sql => Ok(instance_node::Entity::find_by_id(instance_id)
                .one(db)
                .await?
                .filter(|row| row.lease_expires_at > Utc::now())
                .map(|row| row.lease_id)),
            Leases::Redis { conn, prefix, .. } => {
                let mut conn = conn.clone();
                let v: Option<String> = redis::cmd("GET")
                    .arg(Self::key(prefix, instance))
                    .query_async(&mut conn)
                    .await?;
                Ok(v)
            }
        }
    }

    /// Takes the lease for `new_lease` if it is free or still held by `replacing` (a holder
    /// found dead). In SQL mode the caller writes the row; this only guards the swap.
    pub async fn acquire(
        &self,
        db: &DatabaseConnection,
        instance_id: i64,
        instance: Uuid,
        new_lease: &str,
        replacing: Option<&str>,
        ttl: Duration,
    ) -> AppResult<bool> {
        match self {
            Leases::Sql => {
                // The row is written by `claim_row`, which compares the old lease id.
                let _ = (db, instance_id, new_lease, replacing, ttl);
                Ok(true)
            }
            Leases::Redis {
                conn,
                prefix,
                acquire,
                ..
            } => {
                let mut conn = conn.clone();
                let ok: i64 = acquire
                    .key(Self::key(prefix, instance))
                    .arg(new_lease)
                    .arg(replacing.unwrap_or(""))
                    .arg(ttl.as_millis() as u64)
                    .invoke_async(&mut conn)
                    .await?;
                Ok(ok == 1)
            }
        }
    }

    /// Extends a lease; false when it is no longer ours.
    pub async fn renew(
        &self,
        db: &DatabaseConnection,
        instance_id: i64,
        instance: Uuid,
        lease: &str,
        ttl: Duration,
    ) -> AppResult<bool> {
        match self {
            Leases::Sql => {
                let expires = Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default();
                let res = instance_node::Entity::update_many()
                    .col_expr(instance_node::Column::LeaseExpiresAt, Expr::value(expires))
                    .filter(instance_node::Column::InstanceId.eq(instance_id))
                    .filter(instance_node::Column::LeaseId.eq(lease))
                    .exec(db)
                    .await?;
                Ok(res.rows_affected == 1)
            }
            Leases::Redis {
                conn,
                prefix,
                renew,
                ..
            } => {
                let mut conn = conn.clone();
                let ok: i64 = renew
                    .key(Self::key(prefix, instance))
                    .arg(lease)
                    .arg(ttl.as_millis() as u64)
                    .invoke_async(&mut conn)
                    .await?;
                Ok(ok == 1)
            }
        }
    }

    /// Gives a lease up (a node stopped by its launcher).
    pub async fn release(
        &self,
        db: &DatabaseConnection,
        instance_id: i64,
        instance: Uuid,
        lease: &str,
    ) -> AppResult<()> {
        match self {
            Leases::Sql => {
                instance_node::Entity::update_many()
                    .col_expr(
                        instance_node::Column::LeaseExpiresAt,
                        Expr::value(Utc::now() - chrono::Duration::seconds(1)),
                    )
                    .filter(instance_node::Column::InstanceId.eq(instance_id))
                    .filter(instance_node::Column::LeaseId.eq(lease))
                    .exec(db)
                    .await?;
            }
            Leases::Redis {
                conn,
                prefix,
                release,
                ..
            } => {
                let mut conn = conn.clone();
                let _: i64 = release
                    .key(Self::key(prefix, instance))
                    .arg(lease)
                    .invoke_async(&mut conn)
                    .await?;
            }
        }
        Ok(())
    }
}
