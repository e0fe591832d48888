//! The External Functions API's use-cases: list, create, show, update, delete, toggle,
//! regenerate the key, and the call log.
//!
//! Everything is behind the AI Agent gate (`AI_AGENT_NOT_ENABLED`, the AI Functions' check).
//! Functions are the tenant's, and for an `sk_` token its instance's; anything else is 404.

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Select,
};
use serde_json::json;
use uuid::Uuid;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::signing::sha256_hex;

use super::body::FunctionInput;
use super::model::{
    ActionType, Config, DEFAULT_RATE_LIMIT, KEY_PREFIX, KEY_SECRET_LEN, SHOWN_KEY_CHARS,
    parse_config,
};
use super::views::{FunctionView, FunctionWithKey, LogView};
use crate::automation::functions::model::FieldErrors;
use crate::automation::lookup::uuids_by_id;
use crate::crypto::random_secret;
use crate::db::entities::{external_function, external_function_log, instance};
use crate::domain::{Caller, InstanceId, TenantId, UserId};
use crate::error::{AppError, AppResult};
use crate::service::Services;
use crate::service::functions::Page;

/// The list filters.
#[derive(Debug, Default, Clone)]
pub struct FunctionFilter {
    /// An instance (UUID or numeric id).
    pub instance: Option<String>,
    pub action_type: Option<ActionType>,
    pub enabled: Option<bool>,
    pub search: Option<String>,
    pub page: u64,
    pub per_page: u64,
}

fn not_found() -> AppError {
    AppError::not_found(ErrorCode::NotFound, "External function")
}

fn duplicate_slug(slug: &str) -> AppError {
    AppError::Client(
        ErrorBody::new(
            ErrorCode::DuplicateSlug,
            format!(
                "An external function with the slug \"{slug}\" already exists in this account."
            ),
        )
        .with_details(json!({"slug": ["The slug has already been taken."]})),
    )
}

use crate::db::listing::page_of;

/// Today (UTC) as the call counter stores it.
pub(super) fn today() -> String {
    Utc::now().format("%Y-%m-%d").to_string()
}

/// A fresh key: the plaintext, its hash, and the prefix shown afterwards.
pub(super) fn new_key() -> (String, String, String) {
    let plain = format!("{KEY_PREFIX}{}", random_secret(KEY_SECRET_LEN));
    let hash = sha256_hex(plain.as_bytes());
    let prefix = plain[..SHOWN_KEY_CHARS].to_owned();
    (plain, hash, prefix)
}

/// The account as a caller, for what a function may use of the whole account (its media
/// library).
pub(super) fn account_caller(f: &external_function::Model) -> Caller {
    Caller::User {
        tenant: TenantId(f.tenant_id),
        user: UserId(0),
        token_id: 0,
        role: "external_function".into(),
    }
}

/// The function acting as its instance: services written for callers see it as an `sk_`
/// token of that instance (scoped to it, never to the rest of the tenant).
pub(super) fn acting_caller(f: &external_function::Model, instance_uuid: Uuid) -> Caller {
    Caller::Instance {
        tenant: TenantId(f.tenant_id),
        instance: InstanceId(f.instance_id),
        instance_uuid,
        token_id: 0,
    }
}

impl Services {
    /// The feature gate of External Functions: the AI Functions' check, with its own words.
    pub(super) async fn external_gate(
        &self,
        tenant: TenantId,
        instance: Option<InstanceId>,
    ) -> AppResult<()> {
        self.ai_gate_for(tenant, instance).await.map_err(|e| match e {
            AppError::Client(body) if body.code == ErrorCode::AiAgentNotEnabled => AppError::new(
                ErrorCode::AiAgentNotEnabled,
                "External Functions need an active AI Agent integration: create one (integration_type ai_agent) or activate it.",
            ),
            other => other,
        })
    }

    /// The gate in the caller's scope (the tenant, or an `sk_` token's instance).
    pub async fn external_functions_gate(&self, caller: &Caller) -> AppResult<()> {
        self.external_gate(caller.tenant(), caller.bound_instance())
            .await
    }

    fn external_functions_of(caller: &Caller) -> Select<external_function::Entity> {
        let mut q = external_function::Entity::find()
            .filter(external_function::Column::TenantId.eq(caller.tenant().0));
        if let Some(bound) = caller.bound_instance() {
            q = q.filter(external_function::Column::InstanceId.eq(bound.0));
        }
        q
    }

    pub(super) async fn find_external_function(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<external_function::Model> {
        let uuid = Uuid::parse_str(reference.trim()).map_err(|_| not_found())?;
        Self::external_functions_of(caller)
            .filter(external_function::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
            .ok_or_else(not_found)
    }

    async fn external_views(
        &self,
        rows: &[external_function::Model],
    ) -> AppResult<Vec<FunctionView>> {
        let ids: Vec<i64> = rows.iter().map(|r| r.instance_id).collect();
        let instances =
            uuids_by_id(&self.db, instance::Column::Id, instance::Column::Uuid, ids).await?;
        let today = today();
        Ok(rows
            .iter()
            .map(|m| {
                FunctionView::new(
                    m,
                    instances.get(&m.instance_id).copied().unwrap_or_default(),
                    &today,
                )
            })
            .collect())
    }

    pub(super) async fn external_view(
        &self,
        m: &external_function::Model,
    ) -> AppResult<FunctionView> {
        Ok(self
            .external_views(std::slice::from_ref(m))
            .await?
            .remove(0))
    }

    async fn slug_taken(&self, tenant: i64, slug: &str, except: Option<i64>) -> AppResult<bool> {
        let mut q = external_function::Entity::find()
            .filter(external_function::Column::TenantId.eq(tenant))
            .filter(external_function::Column::Slug.eq(slug));
        if let Some(id) = except {
            q = q.filter(external_function::Column::Id.ne(id));
        }
        Ok(q.count(&self.db).await? > 0)
    }

    /// A configuration checked for `action`, and what needs more than its shape: a
    /// `media_url` passes the URL guard, a library file (`media_id`) is one the caller may
    /// send (a user token: the account's files; an `sk_` token: its instance's).
    async fn checked_config(
        &self,
        action: ActionType,
        raw: Option<serde_json::Value>,
        caller: &Caller,
    ) -> AppResult<Config> {
        let mut e = FieldErrors::default();
        let config = parse_config(&mut e, action, raw);
        e.into_result()?;
        let config = config.unwrap_or_default();
        if let Some(url) = &config.media_url {
            // The URL guard at save (scheme, literal private and internal addresses); the
            // node's fetch checks the filled URL again when it connects.
            let sample = super::template::placeholders(url)
                .unwrap_or_default()
                .iter()
                .fold(url.clone(), |u, name| {
                    u.replace(&format!("{{{{{name}}}}}"), "x")
                });
            self.outbound.check(&sample).map_err(|refused| {
                AppError::validation(
                    "config.media_url",
                    format!("The config.media_url {refused}."),
                )
            })?;
        }
        if let Some(id) = &config.media_id {
            self.media_for_send(caller, id).await.map_err(|err| match err {
                AppError::Client(_) => AppError::validation(
                    "config.media_id",
                    "The config.media_id does not name a media file of this instance's account (it may have expired).",
                ),
                other => other,
            })?;
        }
        Ok(config)
    }

    pub async fn list_external_functions(
        &self,
        caller: &Caller,
        filter: FunctionFilter,
    ) -> AppResult<Page<FunctionView>> {
        self.external_functions_gate(caller).await?;
        let mut q = Self::external_functions_of(caller);
        if let Some(r) = &filter.instance {
            let inst = self.find_instance(caller, r).await?;
            q = q.filter(external_function::Column::InstanceId.eq(inst.id));
        }
        if let Some(t) = filter.action_type {
            q = q.filter(external_function::Column::ActionType.eq(t.as_str()));
        }
        if let Some(e) = filter.enabled {
            q = q.filter(external_function::Column::IsEnabled.eq(e));
        }
        if let Some(c) = crate::db::listing::search(
            filter.search.as_deref(),
            &[
                external_function::Column::Name,
                external_function::Column::Slug,
                external_function::Column::Description,
            ],
        ) {
            q = q.filter(c);
        }
        let (rows, total) = page_of(
            &self.db,
            q.order_by_desc(external_function::Column::Id),
            filter.page,
            filter.per_page,
        )
        .await?;
        Ok(Page {
            items: self.external_views(&rows).await?,
            total,
        })
    }

    pub async fn get_external_function(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<FunctionView> {
        self.external_functions_gate(caller).await?;
        let f = self.find_external_function(caller, reference).await?;
        self.external_view(&f).await
    }

    pub async fn create_external_function(
        &self,
        caller: &Caller,
        input: FunctionInput,
    ) -> AppResult<FunctionWithKey> {
        self.external_functions_gate(caller).await?;
        let (Some(instance_ref), Some(name), Some(slug), Some(action)) =
            (input.instance, input.name, input.slug, input.action_type)
        else {
            return Err(AppError::validation("body", "A required field is missing."));
        };
        let inst = self.find_instance(caller, &instance_ref).await?;
        let config = self.checked_config(action, input.config, caller).await?;
        if self.slug_taken(inst.tenant_id, &slug, None).await? {
            return Err(duplicate_slug(&slug));
        }
        let (plain, hash, prefix) = new_key();
        let now = Utc::now();
        let row = external_function::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(inst.tenant_id),
            instance_id: Set(inst.id),
            name: Set(name),
            slug: Set(slug.clone()),
            action_type: Set(action.as_str().into()),
            description: Set(input.description.flatten()),
            config: Set(json!(config)),
            rate_limit: Set(input.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT)),
            allowed_ips: Set(json!(input.allowed_ips.unwrap_or_default())),
            is_enabled: Set(input.is_enabled.unwrap_or(true)),
            api_key_hash: Set(hash),
            api_key_prefix: Set(prefix),
            calls_day: Set(None),
            calls_today: Set(0),
            calls_total: Set(0),
            last_called_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let saved = {
            let _permit = self.write_gate.enter().await;
            row.insert(&self.db).await
        };
        let saved = match saved {
            Ok(m) => m,
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                return Err(duplicate_slug(&slug));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(FunctionWithKey {
            function: self.external_view(&saved).await?,
            api_key: plain,
        })
    }

    /// `PUT`: the fields given replace the stored ones; the configuration is checked against
    /// the effective action type.
    pub async fn update_external_function(
        &self,
        caller: &Caller,
        reference: &str,
        input: FunctionInput,
    ) -> AppResult<FunctionView> {
        self.external_functions_gate(caller).await?;
        let f = self.find_external_function(caller, reference).await?;
        let inst = match &input.instance {
            Some(r) => self.find_instance(caller, r).await?,
            None => instance::Entity::find_by_id(f.instance_id)
                .one(&self.db)
                .await?
                .ok_or_else(not_found)?,
        };
        let action = input
            .action_type
            .or_else(|| ActionType::parse(&f.action_type))
            .unwrap_or(ActionType::SendMessage);
        let raw = input.config.clone().or_else(|| Some(f.config.clone()));
        let config =
            if input.config.is_some() || input.action_type.is_some() || inst.id != f.instance_id {
                Some(self.checked_config(action, raw, caller).await?)
            } else {
                None
            };
        let slug = input.slug.clone().unwrap_or_else(|| f.slug.clone());
        if slug != f.slug && self.slug_taken(f.tenant_id, &slug, Some(f.id)).await? {
            return Err(duplicate_slug(&slug));
        }
        let mut a: external_function::ActiveModel = f.clone().into();
        a.instance_id = Set(inst.id);
        a.slug = Set(slug.clone());
        a.action_type = Set(action.as_str().into());
        if let Some(c) = config {
            a.config = Set(json!(c));
        }
        if let Some(v) = input.name {
            a.name = Set(v);
        }
        if let Some(v) = input.description {
            a.description = Set(v);
        }
        if let Some(v) = input.rate_limit {
            a.rate_limit = Set(v);
        }
        if let Some(v) = input.allowed_ips {
            a.allowed_ips = Set(json!(v));
        }
        if let Some(v) = input.is_enabled {
            a.is_enabled = Set(v);
        }
        a.updated_at = Set(Utc::now());
        let saved = {
            let _permit = self.write_gate.enter().await;
            a.update(&self.db).await
        };
        let saved = match saved {
            Ok(m) => m,
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                return Err(duplicate_slug(&slug));
            }
            Err(e) => return Err(e.into()),
        };
        self.external_view(&saved).await
    }

    pub async fn toggle_external_function(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<FunctionView> {
        self.external_functions_gate(caller).await?;
        let f = self.find_external_function(caller, reference).await?;
        // One statement, so two concurrent toggles cannot both read the same state.
        let saved = {
            let _permit = self.write_gate.enter().await;
            external_function::Entity::update_many()
                .col_expr(
                    external_function::Column::IsEnabled,
                    Expr::col(external_function::Column::IsEnabled).not(),
                )
                .col_expr(
                    external_function::Column::UpdatedAt,
                    Expr::value(Utc::now()),
                )
                .filter(external_function::Column::Id.eq(f.id))
                .exec(&self.db)
                .await?;
            external_function::Entity::find_by_id(f.id)
                .one(&self.db)
                .await?
                .ok_or_else(not_found)?
        };
        self.external_view(&saved).await
    }

    /// A new key; the old one stops working with this write.
    pub async fn regenerate_external_function_key(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<FunctionWithKey> {
        self.external_functions_gate(caller).await?;
        let f = self.find_external_function(caller, reference).await?;
        let (plain, hash, prefix) = new_key();
        let mut a: external_function::ActiveModel = f.into();
        a.api_key_hash = Set(hash);
        a.api_key_prefix = Set(prefix);
        a.updated_at = Set(Utc::now());
        let saved = {
            let _permit = self.write_gate.enter().await;
            a.update(&self.db).await?
        };
        Ok(FunctionWithKey {
            function: self.external_view(&saved).await?,
            api_key: plain,
        })
    }

    /// Deletes a function and its log.
    pub async fn delete_external_function(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<()> {
        self.external_functions_gate(caller).await?;
        let f = self.find_external_function(caller, reference).await?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        external_function_log::Entity::delete_many()
            .filter(external_function_log::Column::FunctionId.eq(f.id))
            .exec(&txn)
            .await?;
        external_function::Entity::delete_by_id(f.id)
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// A function's calls, newest first; `success` filters on the outcome.
    pub async fn list_external_function_logs(
        &self,
        caller: &Caller,
        reference: &str,
        success: Option<bool>,
        page: u64,
        per_page: u64,
    ) -> AppResult<Page<LogView>> {
        self.external_functions_gate(caller).await?;
        let f = self.find_external_function(caller, reference).await?;
        let mut q = external_function_log::Entity::find()
            .filter(external_function_log::Column::FunctionId.eq(f.id));
        if let Some(s) = success {
            q = q.filter(external_function_log::Column::Success.eq(s));
        }
        let (rows, total) = page_of(
            &self.db,
            q.order_by_desc(external_function_log::Column::Id),
            page,
            per_page,
        )
        .await?;
        Ok(Page {
            items: rows.iter().map(|l| LogView::new(l, f.uuid)).collect(),
            total,
        })
    }
}
