//! An AI Function: a tool of an `ai_agent` integration that calls the tenant's endpoint
//! (its credentials sealed), with the parameters the agent fills in.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_functions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    /// The integration's instance (so `sk_` tokens are scoped without a join).
    pub instance_id: i64,
    pub integration_id: i64,
    /// The tool name the model calls; unique per integration.
    pub name: String,
    pub display_name: String,
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// `fetch_data`, `collect_submit` or `action`.
    pub function_type: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub endpoint_url: Option<String>,
    pub http_method: String,
    /// `none`, `bearer`, `basic`, `api_key` or `custom`.
    pub auth_type: String,
    /// The auth configuration as JSON, sealed by `crypto::SecretBox`.
    #[sea_orm(column_type = "Text", nullable)]
    pub auth_config_enc: Option<String>,
    /// JSON array of parameter definitions.
    pub parameters: Json,
    /// JSON object of static extra headers.
    pub headers: Option<Json>,
    pub is_enabled: bool,
    pub timeout_seconds: i32,
    pub executions_count: i64,
    pub last_executed_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
