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
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
