//! A media file in the library: uploaded by a client (`message_id` null) or received media
//! fetched from a node and kept for `GET /messages/{uuid}/media` (`message_id` set).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "media")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `media_` + 24 random characters: the id clients see.
    pub public_id: String,
    pub tenant_id: i64,
    pub instance_id: Option<i64>,
    pub message_id: Option<i64>,
    /// image, video, audio, document (or the message type for received media).
    pub kind: String,
    pub mime_type: String,
    pub size: i64,
    pub filename: String,
    pub storage_key: String,
    pub created_at: ChronoDateTimeUtc,
    pub expires_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
