//! User tokens (`{id}|{secret}`): issued at login and refresh, listed, revoked (the one in
//! use at logout, or any of the user's own), and the revocation pushed to the tenant's nodes,
//! which may have cached it. Only a SHA-256 of the secret is stored.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde::Serialize;
use zapini_shared::error::ErrorCode;
use zapini_shared::signing::sha256_hex;

use super::UserView;
use crate::crypto::random_secret;
use crate::db::entities::{instance, user, user_token};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// A freshly issued user token: the plaintext exists only in this value.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub plaintext: String,
    pub expires_at: Option<DateTime<Utc>>,
}

/// One of a user's own tokens, as the dashboard's account page lists them (never the secret).
#[derive(Debug, Clone, Serialize)]
pub struct UserTokenView {
    pub id: i64,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub expires_at: Option<String>,
    /// The token the caller is using.
    pub current: bool,
}

impl Services {
    /// Stores a new token for `user` (created at `now`, expiring after the configured days)
    /// through `conn`; the plaintext is returned once, only its hash is kept.
    async fn insert_user_token<C: ConnectionTrait>(
        &self,
        conn: &C,
        user: &user::Model,
        name: &str,
        now: DateTime<Utc>,
    ) -> AppResult<IssuedToken> {
        let secret = random_secret(40);
        let expires_at = match self.config.user_token_ttl_days {
            0 => None,
            days => Some(now + Duration::days(i64::from(days))),
        };
        let row = user_token::ActiveModel {
            user_id: Set(user.id),
            tenant_id: Set(user.tenant_id),
            name: Set(name.to_owned()),
            token_hash: Set(sha256_hex(secret.as_bytes())),
            last_used_at: Set(None),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(conn)
        .await?;
        Ok(IssuedToken {
            plaintext: format!("{}|{}", row.id, secret),
            expires_at,
        })
    }

    pub(super) async fn issue_user_token(
        &self,
        user: &user::Model,
        name: &str,
    ) -> AppResult<IssuedToken> {
        self.insert_user_token(&self.db, user, name, Utc::now())
            .await
    }

    /// Revokes the token the caller used.
    pub async fn logout(&self, caller: &Caller) -> AppResult<()> {
        let Caller::User { token_id, .. } = caller else {
            return Err(AppError::forbidden(
                "Instance tokens cannot log out; revoke them through the tokens endpoint.",
            ));
        };
        self.revoke_user_token(*token_id).await
    }

    async fn revoke_user_token(&self, token_id: i64) -> AppResult<()> {
        user_token::Entity::update_many()
            .col_expr(
                user_token::Column::RevokedAt,
                sea_orm::sea_query::Expr::value(Utc::now()),
            )
            .filter(user_token::Column::Id.eq(token_id))
            .exec(&self.db)
            .await?;
        if let Some(token) = user_token::Entity::find_by_id(token_id)
            .one(&self.db)
            .await?
        {
            self.push_user_token_revoked(token.tenant_id, token.token_hash)
                .await?;
        }
        Ok(())
    }

    /// The caller's user's tokens that still work (not revoked, not expired), newest first.
    /// The API issues them (`POST /auth/login`, `/auth/refresh`) and revokes the one in use
    /// (`/auth/logout`); this is how a person sees and ends the others.
    pub async fn list_user_tokens(&self, caller: &Caller) -> AppResult<Vec<UserTokenView>> {
        let Caller::User {
            user: uid,
            token_id: current,
            ..
        } = caller
        else {
            return Err(AppError::forbidden(
                "This needs a user token; instance tokens (sk_) have no user.",
            ));
        };
        let now = Utc::now();
        let rows = user_token::Entity::find()
            .filter(user_token::Column::UserId.eq(uid.0))
            .filter(user_token::Column::RevokedAt.is_null())
            .order_by_desc(user_token::Column::Id)
            .all(&self.db)
            .await?;
        let fmt = zapini_shared::time::format_secs;
        Ok(rows
            .into_iter()
            .filter(|t| t.expires_at.is_none_or(|at| at > now))
            .map(|t| UserTokenView {
                id: t.id,
                current: t.id == *current,
                name: t.name,
                created_at: fmt(t.created_at),
                last_used_at: t.last_used_at.map(fmt),
                expires_at: t.expires_at.map(fmt),
            })
            .collect())
    }

    /// Revokes one of the caller's user's own tokens (any other id: 404 `NOT_FOUND`), at
    /// once on the tenant's nodes too, as `/auth/logout` does for the token in use.
    pub async fn revoke_own_user_token(&self, caller: &Caller, token: &str) -> AppResult<()> {
        let Caller::User { user: uid, .. } = caller else {
            return Err(AppError::forbidden(
                "This needs a user token; instance tokens (sk_) have no user.",
            ));
        };
        let not_found = || AppError::not_found(ErrorCode::NotFound, "Token");
        let id = token.trim().parse::<i64>().map_err(|_| not_found())?;
        user_token::Entity::find_by_id(id)
            .filter(user_token::Column::UserId.eq(uid.0))
            .filter(user_token::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        self.revoke_user_token(id).await
    }

    /// Nodes of the tenant may have a revoked user token cached: tell the ones streaming to
    /// us.
    async fn push_user_token_revoked(&self, tenant_id: i64, token_hash: String) -> AppResult<()> {
        let instances: Vec<uuid::Uuid> = instance::Entity::find()
            .filter(instance::Column::TenantId.eq(tenant_id))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|i| i.uuid)
            .collect();
        self.hub.push_all(
            &instances,
            crate::service::nodes::NodePush::TokenRevoked(token_hash),
        );
        Ok(())
    }

    /// Issues a new token for the caller's user and revokes the one used, atomically.
    pub async fn refresh(&self, caller: &Caller) -> AppResult<(UserView, IssuedToken)> {
        let Caller::User {
            token_id,
            user: uid,
            ..
        } = caller
        else {
            return Err(AppError::forbidden(
                "Instance tokens cannot be refreshed; create a new one through the tokens endpoint.",
            ));
        };
        let user = user::Entity::find_by_id(uid.0)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::unauthenticated("User no longer exists."))?;
        let old = user_token::Entity::find_by_id(*token_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::unauthenticated("Token no longer exists."))?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let now = Utc::now();
        let issued = self.insert_user_token(&txn, &user, &old.name, now).await?;
        let old_hash = old.token_hash.clone();
        let mut old: user_token::ActiveModel = old.into();
        old.revoked_at = Set(Some(now));
        old.update(&txn).await?;
        txn.commit().await?;
        self.push_user_token_revoked(user.tenant_id, old_hash)
            .await?;
        Ok((UserView::from(&user), issued))
    }
}
