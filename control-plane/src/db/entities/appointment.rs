//! A Calendar appointment: on one instance, with its client, its time span, its status
//! (`scheduled`, `confirmed`, `completed`, `cancelled`, `no_show`) and its WhatsApp reminder.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "appointments")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub title: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub description: Option<String>,
    pub client_name: Option<String>,
    /// Digits only (country code first).
    pub client_phone: Option<String>,
    pub client_email: Option<String>,
    pub starts_at: ChronoDateTimeUtc,
    pub ends_at: ChronoDateTimeUtc,
    pub status: String,
    /// `#rrggbb`.
    pub color: String,
    /// Minutes before `starts_at` the client is reminded; `None`: no reminder.
    pub reminder_minutes: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub location: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub notes: Option<String>,
    /// When the last reminder went out.
    pub reminder_sent_at: Option<ChronoDateTimeUtc>,
    pub confirmed_at: Option<ChronoDateTimeUtc>,
    pub completed_at: Option<ChronoDateTimeUtc>,
    pub cancelled_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
