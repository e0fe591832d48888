//! A WhatsApp message, stored once per (instance, WhatsApp message id).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "messages")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub conversation_id: i64,
    pub wa_message_id: String,
    pub from_me: bool,
    pub sender_jid: Option<String>,
    pub sender_name: Option<String>,
    /// text, image, video, audio, voice, document, sticker, location, contact, other.
    pub message_type: String,
    #[sea_orm(column_type = "Text", nullable)]
    pub body: Option<String>,
    pub quoted_id: Option<String>,
    pub media: Option<Json>,
    pub mentioned_jids: Option<Json>,
    /// Reference status codes: 1 pending, 2 sent, 3 delivered, 4 read, 5 played.
    pub status: i16,
    pub is_edited: bool,
    pub is_deleted: bool,
    pub sent_at: ChronoDateTimeUtc,
    /// The automation session whose turn sent this message (`None`: a person or the API).
    pub automation_session_id: Option<i64>,
    /// The client reference the automation's send carried (`automation::intake::ClientRef`).
    pub automation_ref: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
