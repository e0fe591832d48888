//! Instance tokens (`sk_...`): created with the plaintext shown once, listed masked, revoked.
//! Only a SHA-256 of the token is stored.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;
use zapini_shared::signing::sha256_hex;
use zapini_shared::time::format_secs;

use super::Services;
use crate::crypto::random_secret;
use crate::db::TenantScoped;
use crate::db::entities::instance_token;
use crate::domain::Caller;
use crate::error::{AppError, AppResult};

/// Random characters after `sk_`: 48 alphanumerics, about 285 bits.
const SECRET_LEN: usize = 48;
const MAX_EXPIRY_DAYS: i64 = 3650;

pub struct NewToken {
    pub name: Option<String>,
    pub expires_in_days: Option<i64>,
}

/// An instance token as listed: never the token itself.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TokenView {
    /// The token's id, for `DELETE /instances/{id}/tokens/{token_id}`.
    pub id: Uuid,
    #[schema(example = "my-bot")]
    pub name: String,
    /// `sk_AbCd…wxyz`: enough to recognise a token, not to use it.
    #[schema(example = "sk_AbCd…wxyz")]
    pub token_masked: String,
    /// The numeric id of the token's instance.
    #[schema(example = 777)]
    pub instance_id: i64,
    #[schema(format = DateTime)]
    pub last_used_at: Option<String>,
    /// `null`: the token does not expire.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A new instance token: its view plus the plaintext, shown this once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub view: TokenView,
    /// The plaintext (`sk_` and 48 characters): returned once, never stored.
    #[schema(example = "sk_xxxxxxxxxxxxxxxx")]
    pub token: String,
}

fn view(t: &instance_token::Model) -> TokenView {
    TokenView {
        id: t.uuid,
        name: t.name.clone(),
        token_masked: format!("{}…{}", t.token_prefix, t.token_last4),
        instance_id: t.instance_id,
        last_used_at: t.last_used_at.map(format_secs),
        expires_at: t.expires_at.map(format_secs),
        created_at: format_secs(t.created_at),
    }
}

fn require_user(caller: &Caller) -> AppResult<()> {
    match caller {
        Caller::User { .. } => Ok(()),
        Caller::Instance { .. } => Err(AppError::forbidden(
            "Instance tokens (sk_) cannot manage tokens; use a user token.",
        )),
    }
}

impl Services {
    pub async fn create_token(
        &self,
        caller: &Caller,
        instance_ref: &str,
        input: NewToken,
    ) -> AppResult<CreatedToken> {
        require_user(caller)?;
        let instance = self.find_instance(caller, instance_ref).await?;
        let name = input
            .name
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "API token".to_owned());
        if name.chars().count() > 255 {
            return Err(AppError::validation(
                "name",
                "The name may not be greater than 255 characters.",
            ));
        }
        let now = Utc::now();
        let expires_at: Option<DateTime<Utc>> = match input.expires_in_days {
            None => None,
            Some(d) if (1..=MAX_EXPIRY_DAYS).contains(&d) => Some(now + Duration::days(d)),
            Some(_) => {
                return Err(AppError::validation(
                    "expires_in_days",
                    format!("The expires_in_days must be between 1 and {MAX_EXPIRY_DAYS}."),
                ));
            }
        };
        let plaintext = format!("sk_{}", random_secret(SECRET_LEN));
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        self.check_token_quota(&txn, caller.tenant()).await?;
        let model = instance_token::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(instance.tenant_id),
            instance_id: Set(instance.id),
            name: Set(name),
            token_hash: Set(sha256_hex(plaintext.as_bytes())),
            token_prefix: Set(plaintext[..7].to_owned()),
            token_last4: Set(plaintext[plaintext.len() - 4..].to_owned()),
            last_used_at: Set(None),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
            created_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        drop(permit);
        Ok(CreatedToken {
            view: view(&model),
            token: plaintext,
        })
    }

    /// Active (not revoked) tokens of an instance, newest first.
    pub async fn list_tokens(
        &self,
        caller: &Caller,
        instance_ref: &str,
    ) -> AppResult<Vec<TokenView>> {
        require_user(caller)?;
        let instance = self.find_instance(caller, instance_ref).await?;
        let rows = instance_token::Entity::scoped(caller.tenant())
            .filter(instance_token::Column::InstanceId.eq(instance.id))
            .filter(instance_token::Column::RevokedAt.is_null())
            .order_by_desc(instance_token::Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows.iter().map(view).collect())
    }

    pub async fn revoke_token(
        &self,
        caller: &Caller,
        instance_ref: &str,
        token_ref: &str,
    ) -> AppResult<TokenView> {
        require_user(caller)?;
        let instance = self.find_instance(caller, instance_ref).await?;
        let not_found = || AppError::not_found(ErrorCode::NotFound, "Token");
        let token_uuid = Uuid::parse_str(token_ref.trim()).map_err(|_| not_found())?;
        let token = instance_token::Entity::scoped(caller.tenant())
            .filter(instance_token::Column::InstanceId.eq(instance.id))
            .filter(instance_token::Column::Uuid.eq(token_uuid))
            .filter(instance_token::Column::RevokedAt.is_null())
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        let mut active: instance_token::ActiveModel = token.into();
        active.revoked_at = Set(Some(Utc::now()));
        let token = active.update(&self.db).await?;
        self.hub.push(
            instance.uuid,
            super::nodes::NodePush::TokenRevoked(token.token_hash.clone()),
        );
        Ok(view(&token))
    }
}
