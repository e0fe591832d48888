//! Instances: create, list, read, update, delete, and usage statistics. Every query is scoped
//! to the caller's tenant, and an `sk_` caller only ever reaches its own instance.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, ModelTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;
use zapini_shared::ids::InstanceRef;
use zapini_shared::status::InstanceStatus;
use zapini_shared::time::format_secs;

use super::Services;
use crate::db::TenantScoped;
use crate::db::entities::{instance, instance_daily_stat};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};

/// How long deleting an instance waits for its node to log the session out.
const LOGOUT_ON_DELETE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

pub const DEFAULT_DAILY_LIMIT: i32 = 500;
pub const MAX_DAILY_LIMIT: i32 = 1_000_000;

/// The engine an instance runs on: `whatsapp` (a real WhatsApp session) or `sandbox` (a
/// simulated network: no phone, no ban risk).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Whatsapp,
    Sandbox,
}

impl Engine {
    pub fn parse(s: &str) -> AppResult<Engine> {
        match s {
            "whatsapp" => Ok(Engine::Whatsapp),
            "sandbox" => Ok(Engine::Sandbox),
            other => Err(AppError::validation(
                "engine",
                format!("The engine must be one of: whatsapp, sandbox (got `{other}`)."),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Whatsapp => "whatsapp",
            Engine::Sandbox => "sandbox",
        }
    }
}

/// A parsed request to create an instance.
pub struct NewInstance {
    pub name: String,
    pub daily_limit: Option<i64>,
    pub engine: Option<String>,
}

/// A parsed partial update; absent fields stay as they are.
pub struct InstanceChanges {
    pub name: Option<String>,
    pub daily_limit: Option<i64>,
}

/// An instance as the API shows it (fields of the reference plus id, name, engine, dates).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstanceView {
    /// The numeric id (shown on the instance card); the API accepts it or the UUID.
    #[schema(example = 777)]
    pub id: i64,
    pub uuid: Uuid,
    #[schema(example = "Support")]
    pub name: String,
    #[schema(value_type = Engine)]
    pub engine: String,
    /// The linked WhatsApp number, once paired.
    #[schema(example = "5511999999999")]
    pub phone_number: Option<String>,
    #[schema(value_type = InstanceStatus)]
    pub status: String,
    /// Beyond the reference: why the status last changed (`logged_out`, `unreachable`, …).
    pub status_reason: Option<String>,
    /// `status` is `connected`.
    pub connected: bool,
    /// Messages the instance may send per day (UTC).
    #[schema(minimum = 1, maximum = 1_000_000, example = 500)]
    pub daily_limit: i64,
    #[schema(minimum = 0, example = 50)]
    pub messages_sent_today: i64,
    /// `daily_limit - messages_sent_today`, at least 0.
    #[schema(minimum = 0, example = 450)]
    pub remaining_quota: i64,
    /// Connected and quota left.
    pub can_send_messages: bool,
    #[schema(format = DateTime, example = "2025-01-15T10:30:00Z")]
    pub last_activity_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// Usage statistics of an instance (days in UTC; the week starts on Monday).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InstanceStats {
    #[schema(minimum = 0, example = 50)]
    pub messages_sent_today: i64,
    #[schema(minimum = 0, example = 450)]
    pub remaining_quota: i64,
    #[schema(example = 500)]
    pub daily_limit: i64,
    #[schema(minimum = 0, example = 200)]
    pub messages_this_week: i64,
    #[schema(minimum = 0, example = 800)]
    pub messages_this_month: i64,
    #[schema(minimum = 0, example = 30)]
    pub messages_received_today: i64,
    #[schema(minimum = 0, example = 150)]
    pub conversations_count: i64,
    #[schema(minimum = 0, example = 500)]
    pub contacts_count: i64,
}

fn view(model: &instance::Model, sent_today: i64) -> InstanceView {
    let daily_limit = i64::from(model.daily_limit);
    let remaining = (daily_limit - sent_today).max(0);
    let connected = model.status == InstanceStatus::Connected.as_str();
    InstanceView {
        id: model.id,
        uuid: model.uuid,
        name: model.name.clone(),
        engine: model.engine.clone(),
        phone_number: model.phone_number.clone(),
        status: model.status.clone(),
        status_reason: model.status_reason.clone(),
        connected,
        daily_limit,
        messages_sent_today: sent_today,
        remaining_quota: remaining,
        can_send_messages: connected && remaining > 0,
        last_activity_at: model.last_activity_at.map(format_secs),
        created_at: format_secs(model.created_at),
        updated_at: format_secs(model.updated_at),
    }
}

fn validate_name(name: &str) -> AppResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(AppError::validation("name", "The name field is required."));
    }
    if name.chars().count() > 255 {
        return Err(AppError::validation(
            "name",
            "The name may not be greater than 255 characters.",
        ));
    }
    Ok(name.to_owned())
}

fn validate_daily_limit(limit: i64) -> AppResult<i32> {
    if !(1..=i64::from(MAX_DAILY_LIMIT)).contains(&limit) {
        return Err(AppError::validation(
            "daily_limit",
            format!("The daily_limit must be between 1 and {MAX_DAILY_LIMIT}."),
        ));
    }
    Ok(limit as i32)
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

fn require_user(caller: &Caller, action: &str) -> AppResult<()> {
    match caller {
        Caller::User { .. } => Ok(()),
        Caller::Instance { .. } => Err(AppError::forbidden(format!(
            "Instance tokens (sk_) cannot {action}; use a user token."
        ))),
    }
}

impl Services {
    /// Finds an instance the caller may see. Another tenant's instance is 404; for an `sk_`
    /// caller, any instance but its own is 403 before anything is looked up.
    pub async fn find_instance(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<instance::Model> {
        let not_found = || AppError::not_found(ErrorCode::InstanceNotFound, "Instance");
        let parsed = InstanceRef::parse(reference.trim()).map_err(|_| not_found())?;
        if let Caller::Instance {
            instance,
            instance_uuid,
            ..
        } = caller
        {
            let own = match parsed {
                InstanceRef::Numeric(id) => id == instance.0,
                InstanceRef::Uuid(u) => u == *instance_uuid,
            };
            if !own {
                return Err(AppError::new(
                    ErrorCode::InstanceForbidden,
                    "This token can only access its own instance.",
                ));
            }
        }
        let query = instance::Entity::scoped(caller.tenant());
        let query = match parsed {
            InstanceRef::Numeric(id) => query.filter(instance::Column::Id.eq(id)),
            InstanceRef::Uuid(u) => query.filter(instance::Column::Uuid.eq(u)),
        };
        query.one(&self.db).await?.ok_or_else(not_found)
    }

    async fn sent_today(&self, instance_id: i64) -> AppResult<i64> {
        Ok(
            instance_daily_stat::Entity::find_by_id((instance_id, today()))
                .one(&self.db)
                .await?
                .map_or(0, |s| i64::from(s.sent)),
        )
    }

    pub async fn create_instance(
        &self,
        caller: &Caller,
        input: NewInstance,
    ) -> AppResult<InstanceView> {
        require_user(caller, "create instances")?;
        let name = validate_name(&input.name)?;
        let daily_limit = match input.daily_limit {
            Some(l) => validate_daily_limit(l)?,
            None => DEFAULT_DAILY_LIMIT,
        };
        let engine = match input.engine.as_deref() {
            Some(e) => Engine::parse(e)?,
            None => Engine::parse(&self.config.default_engine)?,
        };
        let now = Utc::now();
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        self.check_instance_quota(&txn, caller.tenant()).await?;
        let model = instance::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(caller.tenant().0),
            name: Set(name),
            engine: Set(engine.as_str().to_owned()),
            status: Set(InstanceStatus::Pending.as_str().to_owned()),
            phone_number: Set(None),
            daily_limit: Set(daily_limit),
            last_activity_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        txn.commit().await?;
        drop(permit);
        if let Some(starter) = self.hub.starter() {
            starter.start(model.uuid, &model.engine);
        }
        self.live
            .instance(model.tenant_id, model.uuid, crate::live::Topic::Status);
        Ok(view(&model, 0))
    }

    pub async fn list_instances(
        &self,
        caller: &Caller,
        status: Option<InstanceStatus>,
    ) -> AppResult<Vec<InstanceView>> {
        let mut query = instance::Entity::scoped(caller.tenant());
        if let Some(instance) = caller.bound_instance() {
            query = query.filter(instance::Column::Id.eq(instance.0));
        }
        if let Some(status) = status {
            query = query.filter(instance::Column::Status.eq(status.as_str()));
        }
        let models = query
            .order_by_asc(instance::Column::Id)
            .all(&self.db)
            .await?;
        let ids: Vec<i64> = models.iter().map(|m| m.id).collect();
        let sent: std::collections::HashMap<i64, i64> = instance_daily_stat::Entity::find()
            .filter(instance_daily_stat::Column::InstanceId.is_in(ids))
            .filter(instance_daily_stat::Column::Day.eq(today()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|s| (s.instance_id, i64::from(s.sent)))
            .collect();
        Ok(models
            .iter()
            .map(|m| view(m, sent.get(&m.id).copied().unwrap_or(0)))
            .collect())
    }

    pub async fn get_instance(&self, caller: &Caller, reference: &str) -> AppResult<InstanceView> {
        let model = self.find_instance(caller, reference).await?;
        let sent = self.sent_today(model.id).await?;
        Ok(view(&model, sent))
    }

    pub async fn update_instance(
        &self,
        caller: &Caller,
        reference: &str,
        changes: InstanceChanges,
    ) -> AppResult<InstanceView> {
        require_user(caller, "change instances")?;
        let model = self.find_instance(caller, reference).await?;
        let mut active: instance::ActiveModel = model.into();
        if let Some(name) = changes.name {
            active.name = Set(validate_name(&name)?);
        }
        if let Some(limit) = changes.daily_limit {
            active.daily_limit = Set(validate_daily_limit(limit)?);
        }
        active.updated_at = Set(Utc::now());
        let model = active.update(&self.db).await?;
        let policy = self.policy_for(&model).await?;
        self.hub
            .push(model.uuid, super::nodes::NodePush::Policy(policy));
        let sent = self.sent_today(model.id).await?;
        self.live
            .instance(model.tenant_id, model.uuid, crate::live::Topic::Status);
        Ok(view(&model, sent))
    }

    pub async fn delete_instance(&self, caller: &Caller, reference: &str) -> AppResult<Uuid> {
        require_user(caller, "delete instances")?;
        let model = self.find_instance(caller, reference).await?;
        let uuid = model.uuid;
        self.log_out_for_deletion(&model).await;
        model.delete(&self.db).await?;
        if let Some(starter) = self.hub.starter() {
            starter.remove(uuid);
        }
        self.route_cache.clear();
        self.live
            .instance(caller.tenant().0, uuid, crate::live::Topic::Status);
        Ok(uuid)
    }

    /// Logs a deleted instance's session out while its node still runs: the real engine
    /// unlinks the device from the phone, the sandbox forgets its pairing. Best effort: a node
    /// that is not running, or does not answer in time, does not block the deletion (its
    /// session files go with its directory; the phone then lists the device until WhatsApp
    /// expires it).
    async fn log_out_for_deletion(&self, model: &instance::Model) {
        let node = match self.require_node(model).await {
            Ok(node) => node,
            Err(e) => {
                tracing::info!(instance = %model.uuid, error = %e, "deleting an instance whose node is not running; no logout");
                return;
            }
        };
        match tokio::time::timeout(LOGOUT_ON_DELETE_TIMEOUT, node.logout()).await {
            Ok(Ok(_)) => {
                tracing::info!(instance = %model.uuid, "session logged out before deletion")
            }
            Ok(Err(e)) => {
                tracing::warn!(instance = %model.uuid, error = %e, "logout before deletion failed")
            }
            Err(_) => {
                tracing::warn!(instance = %model.uuid, "logout before deletion timed out")
            }
        }
    }

    /// The UUIDs of a tenant's instances by id, for views that show instances by UUID.
    pub(crate) async fn tenant_instance_uuids(
        &self,
        tenant: crate::domain::TenantId,
    ) -> AppResult<std::collections::HashMap<i64, Uuid>> {
        Ok(instance::Entity::scoped(tenant)
            .all(&self.db)
            .await?
            .into_iter()
            .map(|i| (i.id, i.uuid))
            .collect())
    }

    /// The UUID of one instance by id (`None`: it is gone).
    pub(crate) async fn instance_uuid(&self, id: i64) -> AppResult<Option<Uuid>> {
        Ok(instance::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(|i| i.uuid))
    }

    /// Counts for `/instances/{id}/stats`.
    async fn instance_counts(&self, instance_id: i64) -> AppResult<(i64, i64)> {
        let conversations = crate::db::entities::conversation::Entity::find()
            .filter(crate::db::entities::conversation::Column::InstanceId.eq(instance_id))
            .count(&self.db)
            .await?;
        let contacts = crate::db::entities::contact::Entity::find()
            .filter(crate::db::entities::contact::Column::InstanceId.eq(instance_id))
            .count(&self.db)
            .await?;
        Ok((conversations as i64, contacts as i64))
    }

    pub async fn instance_stats(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<InstanceStats> {
        let model = self.find_instance(caller, reference).await?;
        let day = today();
        let week_start = day - Duration::days(i64::from(day.weekday().num_days_from_monday()));
        let month_start = day.with_day(1).unwrap_or(day);
        let from = week_start.min(month_start);
        let rows = instance_daily_stat::Entity::find()
            .filter(instance_daily_stat::Column::InstanceId.eq(model.id))
            .filter(instance_daily_stat::Column::Day.gte(from))
            .limit(64)
            .all(&self.db)
            .await?;
        let sum = |since: NaiveDate| -> i64 {
            rows.iter()
                .filter(|r| r.day >= since && r.day <= day)
                .map(|r| i64::from(r.sent))
                .sum()
        };
        let today_row = rows.iter().find(|r| r.day == day);
        let sent_today = today_row.map_or(0, |r| i64::from(r.sent));
        let daily_limit = i64::from(model.daily_limit);
        let (conversations_count, contacts_count) = self.instance_counts(model.id).await?;
        Ok(InstanceStats {
            messages_sent_today: sent_today,
            remaining_quota: (daily_limit - sent_today).max(0),
            daily_limit,
            messages_this_week: sum(week_start),
            messages_this_month: sum(month_start),
            messages_received_today: today_row.map_or(0, |r| i64::from(r.received)),
            conversations_count,
            contacts_count,
        })
    }
}

/// Time helper shared by views.
pub fn fmt_opt(dt: Option<DateTime<Utc>>) -> Option<String> {
    dt.map(format_secs)
}
