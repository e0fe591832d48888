//! A tenant: the unit of isolation. Everything a customer owns hangs off one.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tenants")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub name: String,
    /// Overrides the configured per-token request budget when set.
    pub rate_limit_requests: Option<i32>,
    /// Quota overrides (`None`: the configured default; `0`: unlimited).
    pub max_instances: Option<i32>,
    pub max_instance_tokens: Option<i32>,
    pub max_media_bytes: Option<i64>,
    /// Overrides the configured tenant-wide request budget when set (`0`: none).
    pub tenant_rate_limit_requests: Option<i32>,
    /// Feature flags, set by the operator (`control-plane tenant set-features`).
    pub kanban_enabled: bool,
    pub voice_enabled: bool,
    /// CRM settings (`None`: BRL, pt-BR, UTC, the default reminder text).
    pub currency: Option<String>,
    pub locale: Option<String>,
    pub timezone: Option<String>,
    pub reminder_template: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
