//! The transcription of an audio message; a `pending` row is a queued job.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "message_transcriptions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub message_id: i64,
    pub tenant_id: i64,
    /// `pending`, `processing`, `completed` or `failed`.
    pub status: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub text: Option<String>,
    pub language: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub attempts: i32,
    /// A worker holds a `processing` row until then; past it, the job is taken again.
    pub leased_until: Option<ChronoDateTimeUtc>,
    pub completed_at: Option<ChronoDateTimeUtc>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
