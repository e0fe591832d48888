//! Tenant quotas (instances, active `sk_` tokens, stored media bytes) and request budgets:
//! the configured defaults, a tenant's own overrides, and the checks that refuse with
//! `QUOTA_EXCEEDED` (403) once a quota is used up.
//!
//! Checks that create something run inside the creating transaction, after locking the
//! tenant row on PostgreSQL (SQLite writers are serialized by the write gate), so concurrent
//! requests cannot overshoot a quota together.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, PaginatorTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;
use zapini_shared::error::{ErrorBody, ErrorCode};

use super::Services;
use crate::db::entities::{instance, instance_token, media, tenant};
use crate::domain::TenantId;
use crate::error::{AppError, AppResult};

/// A tenant's limits after applying its overrides to the defaults; `None`: unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TenantLimits {
    pub instances: Option<u64>,
    pub instance_tokens: Option<u64>,
    pub media_bytes: Option<u64>,
    /// Requests per window for each token.
    pub requests_per_token: u64,
    /// Requests per window for all of the tenant's tokens together.
    pub requests_per_tenant: Option<u64>,
}

/// What a tenant uses now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TenantUsage {
    pub instances: u64,
    pub instance_tokens: u64,
    pub media_bytes: u64,
}

/// A change of a tenant's overrides: `None` leaves a value, `Some(Override::Default)` returns
/// it to the configured default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    Default,
    /// `0` means unlimited.
    Value(u64),
}

#[derive(Debug, Clone, Copy, Default)]
pub struct QuotaChange {
    pub instances: Option<Override>,
    pub instance_tokens: Option<Override>,
    pub media_bytes: Option<Override>,
    pub requests_per_token: Option<Override>,
    pub requests_per_tenant: Option<Override>,
}

/// The configured default or the tenant's own value; `0` means unlimited.
fn resolve<T: TryInto<u64>>(own: Option<T>, default: u64) -> Option<u64> {
    let value = own.and_then(|v| v.try_into().ok()).unwrap_or(default);
    (value > 0).then_some(value)
}

pub(crate) fn limits_of(t: &tenant::Model, config: &crate::config::Config) -> TenantLimits {
    let d = &config.tenancy;
    let requests_per_token = t
        .rate_limit_requests
        .and_then(|n| u64::try_from(n).ok())
        .filter(|n| *n > 0)
        .unwrap_or(u64::from(config.rate_limit_requests));
    TenantLimits {
        instances: resolve(t.max_instances, u64::from(d.quota_instances)),
        instance_tokens: resolve(t.max_instance_tokens, u64::from(d.quota_instance_tokens)),
        media_bytes: resolve(t.max_media_bytes, d.quota_media_bytes),
        requests_per_token,
        // Never below one token's budget, which would make that one meaningless.
        requests_per_tenant: resolve(
            t.tenant_rate_limit_requests,
            u64::from(d.tenant_rate_limit_requests),
        )
        .map(|n| n.max(requests_per_token)),
    }
}

fn exceeded(quota: &str, what: &str, limit: u64, used: u64) -> AppError {
    AppError::Client(
        ErrorBody::new(
            ErrorCode::QuotaExceeded,
            format!("Quota exceeded: this account may have at most {limit} {what}."),
        )
        .with_details(serde_json::json!({
            "quota": quota,
            "limit": limit,
            "used": used,
        })),
    )
}

impl Services {
    async fn tenant_row<C: ConnectionTrait>(
        &self,
        conn: &C,
        t: TenantId,
    ) -> AppResult<tenant::Model> {
        let mut q = tenant::Entity::find_by_id(t.0);
        if conn.get_database_backend() == DbBackend::Postgres {
            // Serializes quota checks of one tenant until the transaction ends.
            q = q.lock_exclusive();
        }
        q.one(conn)
            .await?
            .ok_or_else(|| AppError::internal(format!("tenant {} is gone", t.0)))
    }

    /// The tenant's limits (overrides applied to the defaults).
    pub async fn tenant_limits(&self, t: TenantId) -> AppResult<TenantLimits> {
        Ok(limits_of(
            &self.tenant_row(&self.db, t).await?,
            &self.config,
        ))
    }

    pub async fn tenant_usage(&self, t: TenantId) -> AppResult<TenantUsage> {
        Ok(TenantUsage {
            instances: count_instances(&self.db, t).await?,
            instance_tokens: count_tokens(&self.db, t).await?,
            media_bytes: media_bytes(&self.db, t).await?,
        })
    }

    /// Refuses a new instance past the quota; call inside the creating transaction.
    pub(crate) async fn check_instance_quota<C: ConnectionTrait>(
        &self,
        txn: &C,
        t: TenantId,
    ) -> AppResult<()> {
        let limits = limits_of(&self.tenant_row(txn, t).await?, &self.config);
        if let Some(limit) = limits.instances {
            let used = count_instances(txn, t).await?;
            if used >= limit {
                return Err(exceeded("instances", "instances", limit, used));
            }
        }
        Ok(())
    }

    /// Refuses a new `sk_` token past the quota; call inside the creating transaction.
    pub(crate) async fn check_token_quota<C: ConnectionTrait>(
        &self,
        txn: &C,
        t: TenantId,
    ) -> AppResult<()> {
        let limits = limits_of(&self.tenant_row(txn, t).await?, &self.config);
        if let Some(limit) = limits.instance_tokens {
            let used = count_tokens(txn, t).await?;
            if used >= limit {
                return Err(exceeded(
                    "instance_tokens",
                    "active instance tokens",
                    limit,
                    used,
                ));
            }
        }
        Ok(())
    }

    /// The tenant's media quota and the bytes it uses now; `None`: unlimited.
    pub(crate) async fn media_quota(&self, t: TenantId) -> AppResult<Option<(u64, u64)>> {
        let limits = self.tenant_limits(t).await?;
        let Some(limit) = limits.media_bytes else {
            return Ok(None);
        };
        Ok(Some((limit, media_bytes(&self.db, t).await?)))
    }

    /// Refuses `adding` more bytes past the media quota; call inside the recording
    /// transaction.
    pub(crate) async fn check_media_quota<C: ConnectionTrait>(
        &self,
        txn: &C,
        t: TenantId,
        adding: u64,
    ) -> AppResult<()> {
        let limits = limits_of(&self.tenant_row(txn, t).await?, &self.config);
        if let Some(limit) = limits.media_bytes {
            let used = media_bytes(txn, t).await?;
            if used.saturating_add(adding) > limit {
                return Err(media_quota_error(limit, used));
            }
        }
        Ok(())
    }

    /// Changes a tenant's overrides.
    pub async fn set_tenant_quota(&self, t: TenantId, change: QuotaChange) -> AppResult<()> {
        fn int(o: Override) -> Option<i32> {
            match o {
                Override::Default => None,
                Override::Value(v) => Some(i32::try_from(v).unwrap_or(i32::MAX)),
            }
        }
        let mut update = tenant::Entity::update_many();
        let mut any = false;
        for (column, value) in [
            (tenant::Column::MaxInstances, change.instances),
            (tenant::Column::MaxInstanceTokens, change.instance_tokens),
            (tenant::Column::RateLimitRequests, change.requests_per_token),
            (
                tenant::Column::TenantRateLimitRequests,
                change.requests_per_tenant,
            ),
        ] {
            if let Some(v) = value {
                update = update.col_expr(column, Expr::value(int(v)));
                any = true;
            }
        }
        if let Some(v) = change.media_bytes {
            let bytes = match v {
                Override::Default => None,
                Override::Value(v) => Some(i64::try_from(v).unwrap_or(i64::MAX)),
            };
            update = update.col_expr(tenant::Column::MaxMediaBytes, Expr::value(bytes));
            any = true;
        }
        if any {
            update
                .filter(tenant::Column::Id.eq(t.0))
                .exec(&self.db)
                .await?;
        }
        self.forget_tenant_budgets(t).await;
        Ok(())
    }
}

pub(crate) fn media_quota_error(limit: u64, used: u64) -> AppError {
    exceeded("media_bytes", "bytes of media", limit, used)
}

async fn count_instances<C: ConnectionTrait>(conn: &C, t: TenantId) -> AppResult<u64> {
    Ok(instance::Entity::find()
        .filter(instance::Column::TenantId.eq(t.0))
        .count(conn)
        .await?)
}

async fn count_tokens<C: ConnectionTrait>(conn: &C, t: TenantId) -> AppResult<u64> {
    Ok(instance_token::Entity::find()
        .filter(instance_token::Column::TenantId.eq(t.0))
        .filter(instance_token::Column::RevokedAt.is_null())
        .count(conn)
        .await?)
}

async fn media_bytes<C: ConnectionTrait>(conn: &C, t: TenantId) -> AppResult<u64> {
    let sum: Option<i64> = media::Entity::find()
        .select_only()
        .column_as(
            Expr::cust("CAST(COALESCE(SUM(size), 0) AS BIGINT)"),
            "total",
        )
        .filter(media::Column::TenantId.eq(t.0))
        .into_tuple()
        .one(conn)
        .await?;
    Ok(sum.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}
