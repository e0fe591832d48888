//! The AI Functions API's use-cases: the feature gate, functions listed, read, created,
//! updated, toggled and deleted. Running them (the test call, the execution log, the AI
//! agent's entry points) is in `runs`, one execution and its log row in [`executor`]. Their
//! definitions and the call itself are `crate::automation::functions`.
//!
//! Everything is behind the feature gate: the caller's scope (the tenant, or an `sk_` token's
//! instance) must have an active `ai_agent` integration (`AI_AGENT_NOT_ENABLED`). Functions
//! and executions are scoped like their integration: the tenant's, and for an `sk_` token its
//! instance's; anything else is 404.

pub mod executor;
mod runs;

use chrono::{Duration as ChronoDuration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, Select,
};
use serde_json::json;
use uuid::Uuid;
use zapini_shared::error::{ErrorBody, ErrorCode};

use crate::automation::functions::auth::AuthConfig;
use crate::automation::functions::body::FunctionInput;
use crate::automation::functions::model::{AuthType, DEFAULT_TIMEOUT_SECONDS, FunctionType};
use crate::automation::functions::views::FunctionView;
use crate::automation::lookup::uuids_by_id;
use crate::db::TenantScoped;
use crate::db::entities::{ai_function, ai_function_execution, automation_integration, instance};
use crate::domain::{Caller, InstanceId, TenantId};
use crate::error::{AppError, AppResult};
use crate::service::Services;

pub const AI_AGENT: &str = "ai_agent";
/// A `running` execution older than this was cut short (a restart): it no longer blocks a
/// delete. Calls last at most 30 seconds.
const STALE_RUNNING_SECS: i64 = 120;

/// The list filters.
#[derive(Debug, Default, Clone)]
pub struct FunctionFilter {
    pub integration: Option<Uuid>,
    pub function_type: Option<FunctionType>,
    pub enabled: Option<bool>,
    pub search: Option<String>,
    pub page: u64,
    pub per_page: u64,
}

/// A page of rows and how many match.
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

pub(super) fn not_found() -> AppError {
    AppError::not_found(ErrorCode::NotFound, "AI function")
}

fn duplicate_name(name: &str) -> AppError {
    AppError::Client(
        ErrorBody::new(
            ErrorCode::DuplicateName,
            format!("A function named \"{name}\" already exists in this integration."),
        )
        .with_details(json!({"name": ["The name has already been taken."]})),
    )
}

/// A write's result, with a unique-name conflict (a concurrent save took the name) as
/// `DUPLICATE_NAME`.
fn unique_name(
    saved: Result<ai_function::Model, sea_orm::DbErr>,
    name: &str,
) -> AppResult<ai_function::Model> {
    match saved {
        Ok(m) => Ok(m),
        Err(e)
            if matches!(
                e.sql_err(),
                Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
            ) =>
        {
            Err(duplicate_name(name))
        }
        Err(e) => Err(e.into()),
    }
}

use crate::db::listing::page_of;

impl Services {
    /// The feature gate: an active `ai_agent` integration in the caller's scope, else
    /// `AI_AGENT_NOT_ENABLED`.
    pub async fn ai_gate(&self, caller: &Caller) -> AppResult<()> {
        self.ai_gate_for(caller.tenant(), caller.bound_instance())
            .await
    }

    /// The gate for a tenant, or for one of its instances when `instance` is given.
    pub async fn ai_gate_for(
        &self,
        tenant: TenantId,
        instance: Option<InstanceId>,
    ) -> AppResult<()> {
        let mut q = automation_integration::Entity::scoped(tenant)
            .filter(automation_integration::Column::IntegrationType.eq(AI_AGENT))
            .filter(automation_integration::Column::IsActive.eq(true));
        if let Some(bound) = instance {
            q = q.filter(automation_integration::Column::InstanceId.eq(bound.0));
        }
        if q.count(&self.db).await? == 0 {
            return Err(AppError::new(
                ErrorCode::AiAgentNotEnabled,
                "AI Functions need an active AI Agent integration: create one (integration_type ai_agent) or activate it.",
            ));
        }
        Ok(())
    }

    fn functions_of(caller: &Caller) -> Select<ai_function::Entity> {
        let mut q = ai_function::Entity::scoped(caller.tenant());
        if let Some(bound) = caller.bound_instance() {
            q = q.filter(ai_function::Column::InstanceId.eq(bound.0));
        }
        q
    }

    /// An integration the caller may see (404 otherwise).
    async fn find_integration(
        &self,
        caller: &Caller,
        uuid: Uuid,
    ) -> AppResult<automation_integration::Model> {
        let mut q = automation_integration::Entity::scoped(caller.tenant())
            .filter(automation_integration::Column::Uuid.eq(uuid));
        if let Some(bound) = caller.bound_instance() {
            q = q.filter(automation_integration::Column::InstanceId.eq(bound.0));
        }
        q.one(&self.db)
            .await?
            .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "Integration"))
    }

    /// The `ai_agent` integration named by `integration_uuid` (`INVALID_INTEGRATION_TYPE`
    /// for another kind).
    async fn agent_integration(
        &self,
        caller: &Caller,
        uuid: Uuid,
    ) -> AppResult<automation_integration::Model> {
        let i = self.find_integration(caller, uuid).await?;
        if i.integration_type != AI_AGENT {
            return Err(AppError::Client(
                ErrorBody::new(
                    ErrorCode::InvalidIntegrationType,
                    format!(
                        "The integration is of type {}; AI functions belong to ai_agent integrations.",
                        i.integration_type
                    ),
                )
                .with_details(json!({"integration_uuid": ["The integration is not of the AI Agent type."]})),
            ));
        }
        Ok(i)
    }

    pub(super) async fn find_function(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<ai_function::Model> {
        let uuid = Uuid::parse_str(reference.trim()).map_err(|_| not_found())?;
        Self::functions_of(caller)
            .filter(ai_function::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
            .ok_or_else(not_found)
    }

    async fn function_views(&self, rows: &[ai_function::Model]) -> AppResult<Vec<FunctionView>> {
        let integration_ids: Vec<i64> = rows.iter().map(|r| r.integration_id).collect();
        let instance_ids: Vec<i64> = rows.iter().map(|r| r.instance_id).collect();
        let integrations = uuids_by_id(
            &self.db,
            automation_integration::Column::Id,
            automation_integration::Column::Uuid,
            integration_ids,
        )
        .await?;
        let instances = uuids_by_id(
            &self.db,
            instance::Column::Id,
            instance::Column::Uuid,
            instance_ids,
        )
        .await?;
        Ok(rows
            .iter()
            .map(|m| FunctionView::new(m, &self.secrets, &integrations, &instances))
            .collect())
    }

    async fn function_view(&self, m: &ai_function::Model) -> AppResult<FunctionView> {
        Ok(self
            .function_views(std::slice::from_ref(m))
            .await?
            .remove(0))
    }

    async fn function_name_taken(
        &self,
        integration_id: i64,
        name: &str,
        except: Option<i64>,
    ) -> AppResult<bool> {
        let mut q = ai_function::Entity::find()
            .filter(ai_function::Column::IntegrationId.eq(integration_id))
            .filter(ai_function::Column::Name.eq(name));
        if let Some(id) = except {
            q = q.filter(ai_function::Column::Id.ne(id));
        }
        Ok(q.count(&self.db).await? > 0)
    }

    /// `endpoint_url` through the outbound guard (422 naming the field).
    fn check_endpoint(&self, url: &str) -> AppResult<()> {
        self.outbound.check(url).map(|_| ()).map_err(|refused| {
            AppError::validation("endpoint_url", format!("The endpoint_url {refused}."))
        })
    }

    pub async fn list_ai_functions(
        &self,
        caller: &Caller,
        filter: FunctionFilter,
    ) -> AppResult<Page<FunctionView>> {
        self.ai_gate(caller).await?;
        let mut q = Self::functions_of(caller);
        if let Some(u) = filter.integration {
            let i = self.find_integration(caller, u).await?;
            q = q.filter(ai_function::Column::IntegrationId.eq(i.id));
        }
        if let Some(t) = filter.function_type {
            q = q.filter(ai_function::Column::FunctionType.eq(t.as_str()));
        }
        if let Some(e) = filter.enabled {
            q = q.filter(ai_function::Column::IsEnabled.eq(e));
        }
        if let Some(c) = crate::db::listing::search(
            filter.search.as_deref(),
            &[
                ai_function::Column::Name,
                ai_function::Column::DisplayName,
                ai_function::Column::Description,
            ],
        ) {
            q = q.filter(c);
        }
        let (rows, total) = page_of(
            &self.db,
            q.order_by_desc(ai_function::Column::Id),
            filter.page,
            filter.per_page,
        )
        .await?;
        Ok(Page {
            items: self.function_views(&rows).await?,
            total,
        })
    }

    pub async fn get_ai_function(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<FunctionView> {
        self.ai_gate(caller).await?;
        let f = self.find_function(caller, reference).await?;
        self.function_view(&f).await
    }

    pub async fn create_ai_function(
        &self,
        caller: &Caller,
        input: FunctionInput,
    ) -> AppResult<FunctionView> {
        self.ai_gate(caller).await?;
        let (
            Some(integration_uuid),
            Some(name),
            Some(display_name),
            Some(description),
            Some(function_type),
        ) = (
            input.integration_uuid,
            input.name,
            input.display_name,
            input.description,
            input.function_type,
        )
        else {
            return Err(AppError::validation("body", "A required field is missing."));
        };
        let integration = self.agent_integration(caller, integration_uuid).await?;
        let auth_type = input.auth_type.unwrap_or(AuthType::None);
        let auth = AuthConfig::parse(auth_type, input.auth_config, None)?;
        let endpoint_url = input.endpoint_url.flatten();
        if let Some(url) = &endpoint_url {
            self.check_endpoint(url)?;
        }
        if self
            .function_name_taken(integration.id, &name, None)
            .await?
        {
            return Err(duplicate_name(&name));
        }
        let now = Utc::now();
        let row = ai_function::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(integration.tenant_id),
            instance_id: Set(integration.instance_id),
            integration_id: Set(integration.id),
            name: Set(name.clone()),
            display_name: Set(display_name),
            description: Set(description),
            function_type: Set(function_type.as_str().into()),
            endpoint_url: Set(endpoint_url),
            http_method: Set(input
                .http_method
                .unwrap_or_else(|| function_type.default_method())
                .as_str()
                .into()),
            auth_type: Set(auth_type.as_str().into()),
            auth_config_enc: Set(auth.seal(&self.secrets)),
            parameters: Set(json!(input.parameters.unwrap_or_default())),
            headers: Set(input.headers.flatten().map(|h| json!(h))),
            is_enabled: Set(input.is_enabled.unwrap_or(true)),
            timeout_seconds: Set(input
                .timeout_seconds
                .flatten()
                .unwrap_or(DEFAULT_TIMEOUT_SECONDS)),
            executions_count: Set(0),
            last_executed_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        };
        let saved = {
            let _permit = self.write_gate.enter().await;
            row.insert(&self.db).await
        };
        let saved = unique_name(saved, &name)?;
        self.function_view(&saved).await
    }

    /// `PUT`: the fields given replace the stored ones.
    pub async fn update_ai_function(
        &self,
        caller: &Caller,
        reference: &str,
        input: FunctionInput,
    ) -> AppResult<FunctionView> {
        self.ai_gate(caller).await?;
        let f = self.find_function(caller, reference).await?;
        let integration_id = match input.integration_uuid {
            Some(u) => self.agent_integration(caller, u).await?.id,
            None => f.integration_id,
        };
        let old_type = AuthType::parse(&f.auth_type).unwrap_or(AuthType::None);
        let old_auth = AuthConfig::open(&self.secrets, f.auth_config_enc.as_deref());
        let auth_type = input.auth_type.unwrap_or(old_type);
        let auth = if input.auth_type.is_some() || input.auth_config.is_some() {
            Some(AuthConfig::parse(
                auth_type,
                input.auth_config,
                Some(&old_auth),
            )?)
        } else {
            None
        };
        if let Some(Some(url)) = &input.endpoint_url {
            self.check_endpoint(url)?;
        }
        let name = input.name.clone().unwrap_or_else(|| f.name.clone());
        if (integration_id != f.integration_id || name != f.name)
            && self
                .function_name_taken(integration_id, &name, Some(f.id))
                .await?
        {
            return Err(duplicate_name(&name));
        }
        let mut a: ai_function::ActiveModel = f.clone().into();
        if integration_id != f.integration_id {
            let i = automation_integration::Entity::find_by_id(integration_id)
                .one(&self.db)
                .await?
                .ok_or_else(not_found)?;
            a.integration_id = Set(i.id);
            a.instance_id = Set(i.instance_id);
        }
        a.name = Set(name.clone());
        if let Some(v) = input.display_name {
            a.display_name = Set(v);
        }
        if let Some(v) = input.description {
            a.description = Set(v);
        }
        if let Some(v) = input.function_type {
            a.function_type = Set(v.as_str().into());
        }
        if let Some(v) = input.endpoint_url {
            a.endpoint_url = Set(v);
        }
        if let Some(v) = input.http_method {
            a.http_method = Set(v.as_str().into());
        }
        if let Some(auth) = auth {
            a.auth_type = Set(auth_type.as_str().into());
            a.auth_config_enc = Set(auth.seal(&self.secrets));
        }
        if let Some(v) = input.parameters {
            a.parameters = Set(json!(v));
        }
        if let Some(v) = input.headers {
            a.headers = Set(v.map(|h| json!(h)));
        }
        if let Some(v) = input.is_enabled {
            a.is_enabled = Set(v);
        }
        if let Some(v) = input.timeout_seconds {
            a.timeout_seconds = Set(v.unwrap_or(DEFAULT_TIMEOUT_SECONDS));
        }
        a.updated_at = Set(Utc::now());
        let saved = {
            let _permit = self.write_gate.enter().await;
            a.update(&self.db).await
        };
        let saved = unique_name(saved, &name)?;
        self.function_view(&saved).await
    }

    pub async fn toggle_ai_function(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<FunctionView> {
        self.ai_gate(caller).await?;
        let f = self.find_function(caller, reference).await?;
        let enabled = !f.is_enabled;
        let mut a: ai_function::ActiveModel = f.into();
        a.is_enabled = Set(enabled);
        a.updated_at = Set(Utc::now());
        let saved = {
            let _permit = self.write_gate.enter().await;
            a.update(&self.db).await?
        };
        self.function_view(&saved).await
    }

    /// Deletes a function and its executions; `ACTIVE_EXECUTIONS` while one is running.
    pub async fn delete_ai_function(&self, caller: &Caller, reference: &str) -> AppResult<()> {
        self.ai_gate(caller).await?;
        let f = self.find_function(caller, reference).await?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let running = ai_function_execution::Entity::find()
            .filter(ai_function_execution::Column::FunctionId.eq(f.id))
            .filter(ai_function_execution::Column::Status.eq("running"))
            .filter(
                ai_function_execution::Column::CreatedAt
                    .gt(Utc::now() - ChronoDuration::seconds(STALE_RUNNING_SECS)),
            )
            .count(&txn)
            .await?;
        if running > 0 {
            return Err(AppError::Client(
                ErrorBody::new(
                    ErrorCode::ActiveExecutions,
                    "The function has executions in progress; delete it when they have finished.",
                )
                .with_details(json!({"running": running})),
            ));
        }
        ai_function_execution::Entity::delete_many()
            .filter(ai_function_execution::Column::FunctionId.eq(f.id))
            .exec(&txn)
            .await?;
        ai_function::Entity::delete_by_id(f.id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }
}
