//! An instance's outgoing webhook: where events go, how they are signed, which ones.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub tenant_id: i64,
    pub instance_id: i64,
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// The signing secret, sealed by `crypto::SecretBox`.
    #[sea_orm(column_type = "Text")]
    pub secret_enc: String,
    /// The secret before the last rotation; deliveries carry its signature too until
    /// `previous_secret_until`.
    #[sea_orm(column_type = "Text", nullable)]
    pub previous_secret_enc: Option<String>,
    pub previous_secret_until: Option<ChronoDateTimeUtc>,
    /// JSON array of subscribed event names as the user gave them; `None`: every event.
    #[sea_orm(column_type = "Text", nullable)]
    pub events: Option<String>,
    pub is_active: bool,
    /// When deliveries started failing without a success since.
    pub failing_since: Option<ChronoDateTimeUtc>,
    /// Set when the platform stopped delivering (410 Gone, failing for days).
    pub disabled_at: Option<ChronoDateTimeUtc>,
    #[sea_orm(column_type = "Text", nullable)]
    pub disabled_reason: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
