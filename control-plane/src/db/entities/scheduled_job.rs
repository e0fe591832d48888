//! A job of the durable scheduler: one row per (`kind`, `subject`) with a due time, claimed
//! with a lease (`lease_owner`, `lease_until`) like webhook deliveries; `done` once handled.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "scheduled_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What to do (`appointment_reminder`).
    pub kind: String,
    /// What it is about (an appointment's UUID); unique per kind.
    pub subject: String,
    pub tenant_id: Option<i64>,
    pub due_at: ChronoDateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<ChronoDateTimeUtc>,
    /// Claims since it was last scheduled.
    pub attempts: i32,
    pub done: bool,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
