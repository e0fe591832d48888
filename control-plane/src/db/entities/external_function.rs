//! An External Function: an endpoint an outside system calls with the function's own key to
//! run one action through one instance. Only the key's SHA-256 is stored; the day's calls are
//! counted on the row (`calls_day`, `calls_today`) by one conditional update.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "external_functions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub name: String,
    /// Unique per tenant: lowercase letters, digits and hyphens.
    pub slug: String,
    /// One of `crm::external::model::ActionType`.
    pub action_type: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    /// The action's configuration, as validated when saved.
    pub config: Json,
    /// Calls per UTC day.
    pub rate_limit: i64,
    /// JSON array of addresses and CIDR networks; empty allows every address.
    pub allowed_ips: Json,
    pub is_enabled: bool,
    /// Hex SHA-256 of the key; unique, so a call finds its function by it.
    pub api_key_hash: String,
    /// The key's first characters, to recognise it (not enough to use it).
    pub api_key_prefix: String,
    /// The UTC day (`YYYY-MM-DD`) `calls_today` counts.
    pub calls_day: Option<String>,
    pub calls_today: i64,
    pub calls_total: i64,
    pub last_called_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
