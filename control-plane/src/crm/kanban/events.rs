//! The `lead.*` webhook events (`webhooks::events::Kind::Lead`; the occurrence's sub-event
//! picks the name): their `data` ([`LeadEvent`]) and their queueing through the instance's
//! outbox inside the transaction that made the change.

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, EntityTrait};
use serde::Serialize;
use utoipa::ToSchema;

use super::views::{ColumnRef, LeadView};
use crate::db::entities::instance;
use crate::error::AppResult;
use crate::webhooks::events::{Kind, Occurrence, timestamp};
use crate::webhooks::outbox::Outbox;

/// A changed field of `lead.updated`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = WebhookLeadChange)]
pub struct FieldChange {
    #[schema(example = "value")]
    pub field: String,
    #[schema(required = true, example = "299.00")]
    pub old_value: Option<String>,
    #[schema(required = true, example = "349.00")]
    pub new_value: Option<String>,
}

/// `data` of `lead.created`, `lead.updated`, `lead.moved`, `lead.won` and `lead.lost`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = WebhookLead)]
pub struct LeadEvent {
    /// `created`, `updated`, `moved`, `won` or `lost` (the event name's second part).
    #[schema(example = "created")]
    pub action: &'static str,
    /// The lead after the change.
    pub lead: LeadView,
    /// `lead.updated`: the fields that changed; empty otherwise.
    pub changes: Vec<FieldChange>,
    /// `lead.moved`: the column it left; `null` otherwise.
    #[schema(required = true)]
    pub from_column: Option<ColumnRef>,
    /// `lead.moved`: the column it is in now; `null` otherwise.
    #[schema(required = true)]
    pub to_column: Option<ColumnRef>,
    /// When it happened (RFC 3339, UTC offset).
    #[schema(format = DateTime, example = "2025-01-15T10:30:00+00:00")]
    pub timestamp: String,
}

impl LeadEvent {
    pub fn new(action: &'static str, lead: LeadView, at: DateTime<Utc>) -> LeadEvent {
        LeadEvent {
            action,
            lead,
            changes: Vec::new(),
            from_column: None,
            to_column: None,
            timestamp: timestamp(at),
        }
    }
}

/// Queues `events` for the instance's webhook in `conn`'s transaction; whether any was
/// queued (the caller wakes the dispatcher after the commit).
pub(super) async fn queue<C: ConnectionTrait>(
    conn: &C,
    instance_id: i64,
    events: Vec<LeadEvent>,
    at: DateTime<Utc>,
) -> AppResult<bool> {
    if events.is_empty() {
        return Ok(false);
    }
    let mut outbox = Outbox::load(conn, instance_id).await?;
    if !outbox.wants(Kind::Lead) {
        return Ok(false);
    }
    let Some(inst) = instance::Entity::find_by_id(instance_id).one(conn).await? else {
        return Ok(false);
    };
    for e in events {
        outbox.push(Occurrence {
            kind: Kind::Lead,
            connection: Some(e.action.to_owned()),
            ordering_key: format!("lead:{}", e.lead.uuid),
            data: serde_json::to_value(&e).expect("lead events serialize"),
            at,
        });
    }
    Ok(outbox.flush(conn, &inst).await? > 0)
}
