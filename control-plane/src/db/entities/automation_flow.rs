//! A conversation flow of an instance: its graph of steps (`definition`, validated when saved
//! by `automation::flow`), the settings every automation has (`automation::settings`), and its
//! priority among the instance's automations. An active flow (or integration) makes the
//! instance's conversations automated (manual sends are blocked until a conversation is
//! paused).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "automation_flows")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub name: String,
    pub is_active: bool,
    pub definition: Option<Json>,
    pub settings: Option<Json>,
    pub priority: i32,
    /// Bumped on every change of `definition`; sessions keep a snapshot of the one they began.
    pub version: i32,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
