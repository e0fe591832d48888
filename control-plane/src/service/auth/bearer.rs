//! Turning a bearer token into a [`Caller`]: `sk_...` instance tokens (looked up by their
//! SHA-256) and `{id}|{secret}` user tokens (the secret's hash compared in constant time),
//! each checked for revocation and expiry, with its last use recorded now and then.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use zapini_shared::error::ErrorCode;
use zapini_shared::signing::{constant_time_eq, sha256_hex};

use crate::db::entities::{instance, instance_token, user, user_token};
use crate::domain::{Caller, InstanceId, TenantId, UserId};
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// Last-used timestamps are refreshed at most this often, to keep reads from becoming writes.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

impl Services {
    /// Resolves a bearer token to a caller: `sk_...` instance tokens or `{id}|{secret}` user
    /// tokens. Every failure is a 401 whose message says what is wrong with the token.
    pub async fn authenticate(&self, bearer: &str) -> AppResult<Caller> {
        let now = Utc::now();
        if bearer.starts_with("sk_") {
            return self.authenticate_instance_token(bearer, now).await;
        }
        self.authenticate_user_token(bearer, now).await
    }

    async fn authenticate_instance_token(
        &self,
        bearer: &str,
        now: DateTime<Utc>,
    ) -> AppResult<Caller> {
        let hash = sha256_hex(bearer.as_bytes());
        let token = instance_token::Entity::find()
            .filter(instance_token::Column::TokenHash.eq(hash))
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::unauthenticated("Invalid token."))?;
        check_token_state(token.revoked_at, token.expires_at, now)?;
        let inst = instance::Entity::find_by_id(token.instance_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::unauthenticated("Invalid token."))?;
        self.touch_last_used::<instance_token::Entity>(
            instance_token::Column::Id,
            instance_token::Column::LastUsedAt,
            token.id,
            token.last_used_at,
            now,
        )
        .await?;
        Ok(Caller::Instance {
            tenant: TenantId(token.tenant_id),
            instance: InstanceId(inst.id),
            instance_uuid: inst.uuid,
            token_id: token.id,
        })
    }

    async fn authenticate_user_token(&self, bearer: &str, now: DateTime<Utc>) -> AppResult<Caller> {
        let (id, secret) = bearer
            .split_once('|')
            .and_then(|(id, secret)| Some((id.parse::<i64>().ok()?, secret)))
            .filter(|(_, secret)| !secret.is_empty())
            .ok_or_else(|| {
                AppError::unauthenticated(
                    "Malformed token: expected `{id}|{secret}` or an `sk_` instance token.",
                )
            })?;
        let token = user_token::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::unauthenticated("Invalid token."))?;
        if !constant_time_eq(
            sha256_hex(secret.as_bytes()).as_bytes(),
            token.token_hash.as_bytes(),
        ) {
            return Err(AppError::unauthenticated("Invalid token."));
        }
        check_token_state(token.revoked_at, token.expires_at, now)?;
        let user = user::Entity::find_by_id(token.user_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::unauthenticated("Invalid token."))?;
        self.touch_last_used::<user_token::Entity>(
            user_token::Column::Id,
            user_token::Column::LastUsedAt,
            token.id,
            token.last_used_at,
            now,
        )
        .await?;
        Ok(Caller::User {
            tenant: TenantId(user.tenant_id),
            user: UserId(user.id),
            token_id: token.id,
            role: user.role,
        })
    }

    /// Records that a token (of either kind) was used, at most once per
    /// [`LAST_USED_GRANULARITY_SECS`].
    async fn touch_last_used<E: EntityTrait>(
        &self,
        id: E::Column,
        last_used_at: E::Column,
        token_id: i64,
        last_used: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> AppResult<()> {
        if stale(last_used, now) {
            E::update_many()
                .col_expr(last_used_at, sea_orm::sea_query::Expr::value(now))
                .filter(id.eq(token_id))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }
}

fn check_token_state(
    revoked_at: Option<DateTime<Utc>>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> AppResult<()> {
    if revoked_at.is_some() {
        return Err(AppError::unauthenticated("Token has been revoked."));
    }
    if expires_at.is_some_and(|e| e <= now) {
        return Err(AppError::new(ErrorCode::TokenExpired, "Token has expired."));
    }
    Ok(())
}

fn stale(last_used: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    last_used.is_none_or(|t| (now - t).num_seconds() >= LAST_USED_GRANULARITY_SECS)
}
