//! Users and passwords: login, who the caller is, the tenant's users. User tokens (issue,
//! list, revoke, refresh) live in [`user_tokens`], turning a bearer token into a [`Caller`] in
//! [`bearer`]. Tokens are stored as SHA-256 only; passwords as argon2id.

mod bearer;
mod user_tokens;

pub use user_tokens::{IssuedToken, UserTokenView};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::email::looks_like_email;
use zapini_shared::error::{ErrorBody, ErrorCode};

use super::Services;
use crate::crypto::random_secret;
use crate::db::entities::{tenant, user};
use crate::domain::{Caller, TenantId};
use crate::error::{AppError, AppResult};

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

/// What a login gives: the credentials and where they came from.
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
