//! First start: with an empty database, create the first tenant and its admin user, from
//! `ZAPINI_ADMIN_EMAIL` / `ZAPINI_ADMIN_PASSWORD` or with a generated password logged once.

use sea_orm::{EntityTrait, PaginatorTrait};
use secrecy::ExposeSecret;

use super::Services;
use crate::crypto::random_secret;
use crate::db::entities::user;
use crate::error::AppResult;

pub const DEFAULT_ADMIN_EMAIL: &str = "admin@zapini.local";

impl Services {
    /// Creates the first admin when there are no users; a no-op otherwise.
    pub async fn bootstrap_admin(&self) -> AppResult<()> {
        if user::Entity::find().count(&self.db).await? > 0 {
            return Ok(());
        }
        let email = self
            .config
            .admin_email
            .clone()
            .unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_owned());
        let (password, generated) = match &self.config.admin_password {
            Some(p) => (p.expose_secret().to_owned(), false),
            None => (random_secret(20), true),
        };
        let (user, tenant) = self
            .create_user(None, "Default", "Administrator", &email, &password, "admin")
            .await?;
        if generated {
            tracing::warn!(
                email = %user.email,
                password = %password,
                "created the first admin with a generated password; it is shown only this once"
            );
        } else {
            tracing::info!(email = %user.email, tenant = %tenant.uuid, "created the first admin");
        }
        Ok(())
    }
}
