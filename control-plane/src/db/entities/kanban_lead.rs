//! A lead on a Kanban board: in one column at a position, `open`, `won` or `lost`, its value
//! in integer cents, linked to the contact and conversation of its number when they exist,
//! soft-deleted with `deleted_at`.

use sea_orm::entity::prelude::*;

use crate::db::TenantScoped;
use crate::domain::TenantId;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "kanban_leads")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    /// The board's instance (so `sk_` tokens are scoped without a join).
    pub instance_id: i64,
    pub board_id: i64,
    pub column_id: i64,
    /// Order in the column (0 first).
    pub position: i64,
    pub title: String,
    /// Digits with country code.
    pub phone_number: Option<String>,
    pub email: Option<String>,
    /// The value in cents (two decimals, exact).
    pub value_cents: Option<i64>,
    /// `low`, `medium`, `high` or `urgent`.
    pub priority: String,
    /// `open`, `won` or `lost`.
    pub status: String,
    /// `api`, `calendar`, `external_function` or `ai_agent`.
    pub source: String,
    /// A flat JSON object.
    pub custom_fields: Option<Json>,
    pub contact_id: Option<i64>,
    pub conversation_id: Option<i64>,
    /// The calendar appointment it came from (unique).
    pub appointment_id: Option<i64>,
    pub ai_score: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub ai_summary: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub ai_next_step: Option<String>,
    pub ai_qualified_at: Option<ChronoDateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub lost_reason: Option<String>,
    /// When it was won or lost.
    pub closed_at: Option<ChronoDateTimeUtc>,
    /// Seconds from creation to `closed_at` (for the board's average time to close).
    pub close_seconds: Option<i64>,
    pub deleted_at: Option<ChronoDateTimeUtc>,
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
