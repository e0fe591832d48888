//! A Kanban board of an instance: its columns hold the leads. At most one board per instance
//! is the default (`default_instance_id` is the instance's id on that board only).

use sea_orm::entity::prelude::*;

use crate::db::TenantScoped;
use crate::domain::TenantId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kanban_boards")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub name: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub is_default: bool,
    /// `Some(instance_id)` on the instance's default board, `None` elsewhere (unique).
    pub default_instance_id: Option<i64>,
    /// Free-form settings object.
    pub settings: Option<Json>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl TenantScoped for Entity {
    fn scoped(tenant: TenantId) -> Select<Self> {
        Self::find().filter(Column::TenantId.eq(tenant.0))
    }
}
