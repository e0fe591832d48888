//! Users, passwords and user tokens: login, logout, refresh, and turning a bearer token into
//! a [`Caller`]. Tokens are stored as SHA-256 only; passwords as argon2id.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::email::looks_like_email;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::signing::{constant_time_eq, sha256_hex};

use super::{Services, random_secret};
use crate::db::entities::{instance, instance_token, tenant, user, user_token};
use crate::domain::{Caller, InstanceId, TenantId, UserId};
use crate::error::{AppError, AppResult};

/// Last-used timestamps are refreshed at most this often, to keep reads from becoming writes.
const LAST_USED_GRANULARITY_SECS: i64 = 60;

/// A user as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserView {
    #[schema(example = 1)]
    pub id: i64,
    pub uuid: Uuid,
    #[schema(example = "User Name")]
    pub name: String,
    #[schema(example = "user@example.com")]
    pub email: String,
    /// `admin` or `member`.
    #[schema(example = "admin")]
    pub role: String,
}

impl From<&user::Model> for UserView {
    fn from(u: &user::Model) -> Self {
        UserView {
            id: u.id,
            uuid: u.uuid,
            name: u.name.clone(),
            email: u.email.clone(),
            role: u.role.clone(),
        }
    }
}

/// The user's tenant (account): every instance and resource belongs to one.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TenantView {
    pub id: i64,
    pub uuid: Uuid,
    pub name: String,
    /// Feature flags and CRM settings.
    #[serde(flatten)]
    pub features: super::tenant_settings::TenantFeatures,
}

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

pub struct LoginInput {
    pub email: String,
    pub password: String,
    pub device_name: Option<String>,
    pub client_ip: String,
}

pub fn hash_password(password: &str) -> AppResult<String> {
    let salt = SaltString::encode_b64(random_secret(16).as_bytes())
        .map_err(|e| AppError::internal(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::internal(format!("argon2: {e}")))
}

fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hash checked when the email is unknown, so a miss costs the same time as a wrong password.
const DUMMY_PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0vG+0lq7ANeIEeTJVKbVUXyy4pVqLZJ1e1iH5dm9xwY";

fn invalid_credentials() -> AppError {
    AppError::new(
        ErrorCode::InvalidCredentials,
        "The provided credentials are incorrect.",
    )
}

impl Services {
    fn login_keys(&self, email: &str, ip: &str) -> [(String, u64); 2] {
        [
            (
                format!("login:email:{email}"),
                u64::from(self.config.login_max_failures_per_email),
            ),
            (
                format!("login:ip:{ip}"),
                u64::from(self.config.login_max_failures_per_ip),
            ),
        ]
    }

    pub async fn login(&self, input: LoginInput) -> AppResult<(UserView, IssuedToken)> {
        let email = input.email.trim().to_ascii_lowercase();
        let window = self.config.login_window_secs;
        let keys = self.login_keys(&email, &input.client_ip);
        // Every attempt counts before its password is checked, so parallel attempts cannot
        // all pass the check; a successful login takes its count back.
        for (key, max) in &keys {
            let decision = self.limiter.hit(key, *max, window).await;
            if !decision.allowed {
                crate::metrics::rate_limit_refused("login");
                let retry_after = decision.retry_after();
                return Err(AppError::RateLimited {
                    body: ErrorBody::new(
                        ErrorCode::TooManyLoginAttempts,
                        format!(
                            "Too many failed login attempts. Try again in {retry_after} seconds."
                        ),
                    ),
                    retry_after,
                });
            }
        }

        let found = user::Entity::find()
            .filter(user::Column::Email.eq(email.clone()))
            .one(&self.db)
            .await?;
        let phc = found
            .as_ref()
            .map_or_else(|| DUMMY_PHC.to_owned(), |u| u.password_hash.clone());
        // Password checks are expensive on purpose; past the bound, refuse at once instead
        // of queueing without limit.
        let Ok(permit) = self.login_permits.clone().try_acquire_owned() else {
            for (key, _) in &keys {
                self.limiter.undo(key, window).await;
            }
            crate::metrics::rate_limit_refused("login_concurrency");
            return Err(AppError::RateLimited {
                body: ErrorBody::new(
                    ErrorCode::ServiceUnavailable,
                    "Too many logins are being checked right now. Retry in a second.",
                ),
                retry_after: 1,
            });
        };
        let password = input.password;
        let ok = tokio::task::spawn_blocking(move || {
            let ok = verify_password(&password, &phc);
            drop(permit);
            ok
        })
        .await
        .map_err(|e| AppError::internal(format!("password check: {e}")))?;
        let user = match (found, ok) {
            (Some(user), true) => user,
            _ => return Err(invalid_credentials()),
        };
        self.limiter.clear(&keys[0].0, window).await;
        self.limiter.undo(&keys[1].0, window).await;
        let name = input
            .device_name
            .map(|d| d.trim().chars().take(255).collect::<String>())
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "api".to_owned());
        let token = self.issue_user_token(&user, &name).await?;
        Ok((UserView::from(&user), token))
    }

    async fn issue_user_token(&self, user: &user::Model, name: &str) -> AppResult<IssuedToken> {
        let secret = random_secret(40);
        let now = Utc::now();
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
        .insert(&self.db)
        .await?;
        Ok(IssuedToken {
            plaintext: format!("{}|{}", row.id, secret),
            expires_at,
        })
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
        self.hub
            .push_all(&instances, super::nodes::NodePush::TokenRevoked(token_hash));
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
        let secret = random_secret(40);
        let now = Utc::now();
        let expires_at = match self.config.user_token_ttl_days {
            0 => None,
            days => Some(now + Duration::days(i64::from(days))),
        };
        let row = user_token::ActiveModel {
            user_id: Set(user.id),
            tenant_id: Set(user.tenant_id),
            name: Set(old.name.clone()),
            token_hash: Set(sha256_hex(secret.as_bytes())),
            last_used_at: Set(None),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        let old_hash = old.token_hash.clone();
        let mut old: user_token::ActiveModel = old.into();
        old.revoked_at = Set(Some(now));
        old.update(&txn).await?;
        txn.commit().await?;
        self.push_user_token_revoked(user.tenant_id, old_hash)
            .await?;
        Ok((
            UserView::from(&user),
            IssuedToken {
                plaintext: format!("{}|{}", row.id, secret),
                expires_at,
            },
        ))
    }

    pub async fn me(&self, caller: &Caller) -> AppResult<(UserView, TenantView)> {
        let Caller::User { user: uid, .. } = caller else {
            return Err(AppError::forbidden(
                "This endpoint needs a user token; instance tokens (sk_) have no user.",
            ));
        };
        let user = user::Entity::find_by_id(uid.0)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::unauthenticated("User no longer exists."))?;
        let tenant = tenant::Entity::find_by_id(user.tenant_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::internal("user without tenant"))?;
        Ok((
            UserView::from(&user),
            TenantView {
                id: tenant.id,
                uuid: tenant.uuid,
                features: super::tenant_settings::TenantFeatures::of(&tenant),
                name: tenant.name,
            },
        ))
    }

    /// Resolves a bearer token to a caller: `sk_...` instance tokens or `{id}|{secret}` user
    /// tokens. Every failure is a 401 whose message says what is wrong with the token.
    pub async fn authenticate(&self, bearer: &str) -> AppResult<Caller> {
        let now = Utc::now();
        if bearer.starts_with("sk_") {
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
            if stale(token.last_used_at, now) {
                instance_token::Entity::update_many()
                    .col_expr(
                        instance_token::Column::LastUsedAt,
                        sea_orm::sea_query::Expr::value(now),
                    )
                    .filter(instance_token::Column::Id.eq(token.id))
                    .exec(&self.db)
                    .await?;
            }
            return Ok(Caller::Instance {
                tenant: TenantId(token.tenant_id),
                instance: InstanceId(inst.id),
                instance_uuid: inst.uuid,
                token_id: token.id,
            });
        }
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
        if stale(token.last_used_at, now) {
            user_token::Entity::update_many()
                .col_expr(
                    user_token::Column::LastUsedAt,
                    sea_orm::sea_query::Expr::value(now),
                )
                .filter(user_token::Column::Id.eq(token.id))
                .exec(&self.db)
                .await?;
        }
        Ok(Caller::User {
            tenant: TenantId(user.tenant_id),
            user: UserId(user.id),
            token_id: token.id,
            role: user.role,
        })
    }

    /// The users of the caller's tenant (a user token only), oldest first.
    pub async fn tenant_users(&self, caller: &Caller) -> AppResult<Vec<UserView>> {
        let Caller::User { tenant, .. } = caller else {
            return Err(AppError::forbidden(
                "This needs a user token; instance tokens (sk_) have no users.",
            ));
        };
        let users = user::Entity::find()
            .filter(user::Column::TenantId.eq(tenant.0))
            .order_by_asc(user::Column::Id)
            .all(&self.db)
            .await?;
        Ok(users.iter().map(UserView::from).collect())
    }

    /// Creates a user; `tenant` None creates a new tenant named `tenant_name` for them.
    pub async fn create_user(
        &self,
        tenant: Option<TenantId>,
        tenant_name: &str,
        name: &str,
        email: &str,
        password: &str,
        role: &str,
    ) -> AppResult<(UserView, TenantView)> {
        let email = email.trim().to_ascii_lowercase();
        if !looks_like_email(&email) {
            return Err(AppError::validation(
                "email",
                "The email must be a valid email address.",
            ));
        }
        if password.chars().count() < 8 {
            return Err(AppError::validation(
                "password",
                "The password must be at least 8 characters.",
            ));
        }
        if !matches!(role, "admin" | "member") {
            return Err(AppError::validation(
                "role",
                "The role must be admin or member.",
            ));
        }
        let hash = {
            let password = password.to_owned();
            tokio::task::spawn_blocking(move || hash_password(&password))
                .await
                .map_err(|e| AppError::internal(format!("hashing: {e}")))??
        };
        let now = Utc::now();
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let tenant = match tenant {
            Some(id) => tenant::Entity::find_by_id(id.0)
                .one(&txn)
                .await?
                .ok_or_else(|| AppError::validation("tenant", "No such tenant."))?,
            None => {
                tenant::ActiveModel {
                    uuid: Set(Uuid::new_v4()),
                    name: Set(tenant_name.to_owned()),
                    rate_limit_requests: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(&txn)
                .await?
            }
        };
        let user = user::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(tenant.id),
            name: Set(name.to_owned()),
            email: Set(email),
            password_hash: Set(hash),
            role: Set(role.to_owned()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Client(b) if b.code == ErrorCode::DuplicateEntry => AppError::Client(
                ErrorBody::validation("email", "The email has already been taken.").with_details(
                    serde_json::json!({"email": ["The email has already been taken."]}),
                ),
            ),
            other => other,
        })?;
        txn.commit().await?;
        Ok((
            UserView::from(&user),
            TenantView {
                id: tenant.id,
                uuid: tenant.uuid,
                features: super::tenant_settings::TenantFeatures::of(&tenant),
                name: tenant.name,
            },
        ))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_round_trip() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", DUMMY_PHC));
    }
}
