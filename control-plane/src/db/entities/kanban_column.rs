//! A column of a Kanban board, at its `position` (0 is the first).

use sea_orm::entity::prelude::*;

use crate::db::TenantScoped;
use crate::domain::TenantId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kanban_columns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub board_id: i64,
    pub name: String,
    /// `#RRGGBB`.
    pub color: String,
    pub position: i32,
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
