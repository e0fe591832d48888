//! One automation session per conversation at a time: which automation holds it, its status
//! (`active`, `paused`, `closed`), its state (a flow's position and variables, an agent's
//! pending questions), the flow snapshot it began with, and usage counters.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "automation_sessions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub conversation_id: i64,
    /// `flow` or `integration`.
    pub automation_kind: String,
    pub automation_id: i64,
    /// `active`, `paused` or `closed`.
    pub status: String,
    pub state: Json,
    /// The flow definition the session began with (editing the flow does not move it).
    pub snapshot: Option<Json>,
    pub pause_reason: Option<String>,
    /// Why it closed: `expired`, `finish_keyword`, `ended`, `replaced`, `manual`, ...
    pub close_reason: Option<String>,
    pub turn_count: i32,
    pub reply_count: i32,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    pub last_message_at: ChronoDateTimeUtc,
    pub expires_at: Option<ChronoDateTimeUtc>,
    /// When a flow's wait step or question timeout is due (a timer turn is queued then).
    pub wake_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
    pub closed_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
