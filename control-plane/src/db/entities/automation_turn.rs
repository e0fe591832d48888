//! A turn: an incoming message an automation must answer. Written in the ingest transaction
//! that stores the message (unique per message, so a replay adds nothing), claimed by the turn
//! worker with a lease after `not_before` (the debounce), one at a time per conversation. Its
//! `plan` (the replies decided) is recorded before anything is sent, and `sent_count` moves
//! after each send, so a retried turn neither asks again nor sends twice.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "automation_turns")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub conversation_id: i64,
    /// The incoming message (`messages.id`); `None` for a timer turn (a flow's wait or
    /// question timeout).
    pub message_id: Option<i64>,
    /// `pending`, `running`, `done`, `merged` (answered with a later turn), `skipped`, `failed`.
    pub status: String,
    pub not_before: ChronoDateTimeUtc,
    pub lease_owner: Option<String>,
    pub lease_until: Option<ChronoDateTimeUtc>,
    pub attempts: i32,
    pub session_id: Option<i64>,
    pub plan: Option<Json>,
    pub sent_count: i32,
    pub error: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
