//! An integration of an instance (`webhook`: the tenant's own bot; `ai_agent`: an
//! OpenAI-compatible model with AI Functions; `api`: kept for compatibility, it answers like
//! `webhook`): its configuration (secrets sealed), settings and priority, as for flows.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "automation_integrations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub name: String,
    /// `webhook`, `api` or `ai_agent`.
    pub integration_type: String,
    pub is_active: bool,
    /// Type-specific configuration; secrets inside are sealed (`crypto::SecretBox`).
    pub config: Option<Json>,
    pub settings: Option<Json>,
    pub priority: i32,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
