//! A WhatsApp instance (one number, one session, one node).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "instances")]
pub struct Model {
    /// The numeric id shown on the instance card (777 in the reference).
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub name: String,
    /// `whatsapp` or `sandbox`.
    pub engine: String,
    /// `connected`, `disconnected`, `qr_ready` or `pending`.
    pub status: String,
    /// Why the status last changed, as the node reported it (`logged_out`, `unreachable`, …).
    pub status_reason: Option<String>,
    pub phone_number: Option<String>,
    pub daily_limit: i32,
    pub last_activity_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
