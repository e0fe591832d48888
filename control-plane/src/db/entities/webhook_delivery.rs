//! One event for one endpoint: the outbox row the dispatcher delivers, retries and logs.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Sent as `X-Webhook-Delivery-Id`; stable across retries and replays.
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    /// Sent as `X-Instance-UUID`.
    pub instance_uuid: Uuid,
    pub endpoint_id: i64,
    /// The event name as delivered (`X-Webhook-Event`).
    pub event: String,
    /// Deliveries with the same key reach one endpoint in order (a conversation's chat).
    pub ordering_key: String,
    /// The exact body bytes that are signed and sent.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: ChronoDateTimeUtc,
    /// A dispatcher is working on it until then.
    pub leased_until: Option<ChronoDateTimeUtc>,
    pub lease_owner: Option<String>,
    pub last_status_code: Option<i32>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub last_latency_ms: Option<i32>,
    pub created_at: ChronoDateTimeUtc,
    pub delivered_at: Option<ChronoDateTimeUtc>,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
