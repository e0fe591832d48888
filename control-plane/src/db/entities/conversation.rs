//! One chat of an instance: a contact (1:1) or a group.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversations")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub contact_id: Option<i64>,
    pub chat_jid: String,
    pub is_group: bool,
    pub display_name: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_message: Option<String>,
    pub last_message_at: Option<ChronoDateTimeUtc>,
    pub unread_count: i32,
    pub is_archived: bool,
    pub archived_at: Option<ChronoDateTimeUtc>,
    /// The automation of the instance leaves this conversation alone (a person took over).
    pub automation_paused: bool,
    pub automation_paused_at: Option<ChronoDateTimeUtc>,
    pub automation_paused_by: Option<String>,
    pub automation_pause_reason: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
