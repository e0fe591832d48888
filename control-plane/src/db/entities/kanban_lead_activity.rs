//! One entry of a lead's timeline: created, a field changed (old and new value), moved, won,
//! lost, a note, qualified by the AI, deleted; with who did it.

use sea_orm::entity::prelude::*;

use crate::db::TenantScoped;
use crate::domain::TenantId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kanban_lead_activities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub lead_id: i64,
    /// `created`, `updated`, `moved`, `won`, `lost`, `reopened`, `note`, `qualified`,
    /// `deleted`.
    pub kind: String,
    /// The field an `updated` entry is about.
    pub field: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub old_value: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub new_value: Option<String>,
    /// A note's text, a lost reason, a qualification's summary.
    #[sea_orm(column_type = "Text", nullable)]
    pub content: Option<String>,
    /// `user`, `api_token`, `ai_agent`, `calendar`, `external_function` or `system`.
    pub actor_type: String,
    pub actor_name: Option<String>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TenantScoped for Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(Column::TenantId.eq(tenant.0))
    }
}
