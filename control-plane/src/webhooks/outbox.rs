//! The outbox: deliveries are inserted in the same transaction as the state change that
//! caused them, so an event is queued exactly when its change commits — a crash can lose
//! neither one without the other. Instances without an active webhook pay one indexed read
//! per transaction and build no payloads.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::events::{Kind, Occurrence, Subscription, render};
use crate::db::entities::{instance, webhook_delivery, webhook_endpoint};
use crate::error::AppResult;

/// Rows per multi-row insert (well under SQLite's bound-parameter limit).
const INSERT_CHUNK: usize = 400;

/// Occurrences collected during one transaction for one instance's webhook.
pub struct Outbox {
    endpoint: Option<(i64, Subscription)>,
    pending: Vec<Occurrence>,
}

impl Outbox {
    /// A collector that queues nothing (no webhook to deliver to).
    pub fn none() -> Outbox {
        Outbox {
            endpoint: None,
            pending: Vec::new(),
        }
    }

    /// Reads the instance's webhook inside the transaction that will queue the events.
    /// Inactive or disabled endpoints receive nothing new.
    pub async fn load<C: ConnectionTrait>(conn: &C, instance_id: i64) -> AppResult<Outbox> {
        let endpoint = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::InstanceId.eq(instance_id))
            .filter(webhook_endpoint::Column::IsActive.eq(true))
            .filter(webhook_endpoint::Column::DisabledAt.is_null())
            .one(conn)
            .await?;
        Ok(Outbox {
            endpoint: endpoint.map(|e| (e.id, Subscription::from_stored(e.events.as_deref()))),
            pending: Vec::new(),
        })
    }

    /// Whether an occurrence of `kind` would be queued; callers skip building its payload
    /// (and the reads it needs) otherwise.
    pub fn wants(&self, kind: Kind) -> bool {
        self.endpoint.as_ref().is_some_and(|(_, s)| s.wants(kind))
    }

    pub fn push(&mut self, occurrence: Occurrence) {
        if self.wants(occurrence.kind) {
            self.pending.push(occurrence);
        }
    }

    /// Keeps only the occurrences `keep` accepts (taking back announcements of changes that
    /// did not happen after all).
    pub fn retain(&mut self, keep: impl FnMut(&Occurrence) -> bool) {
        self.pending.retain(keep);
    }

    /// Inserts the deliveries; returns how many were queued.
    pub async fn flush<C: ConnectionTrait>(
        self,
        conn: &C,
        instance: &instance::Model,
    ) -> AppResult<usize> {
        let Some((endpoint_id, subscription)) = self.endpoint else {
            return Ok(0);
        };
        let now = Utc::now();
        let rows: Vec<webhook_delivery::ActiveModel> = self
            .pending
            .iter()
            .filter_map(|o| {
                let name = subscription.name_for(o.kind, o.connection.as_deref())?;
                Some(webhook_delivery::ActiveModel {
                    uuid: Set(Uuid::now_v7()),
                    tenant_id: Set(instance.tenant_id),
                    instance_id: Set(instance.id),
                    instance_uuid: Set(instance.uuid),
                    endpoint_id: Set(endpoint_id),
                    event: Set(name.to_owned()),
                    ordering_key: Set(o.ordering_key.chars().take(160).collect()),
                    payload: Set(render(name, instance.uuid, o.at, &o.data)),
                    status: Set(super::PENDING.to_owned()),
                    attempts: Set(0),
                    next_attempt_at: Set(now),
                    leased_until: Set(None),
                    lease_owner: Set(None),
                    last_status_code: Set(None),
                    last_error: Set(None),
                    last_latency_ms: Set(None),
                    created_at: Set(now),
                    delivered_at: Set(None),
                    updated_at: Set(now),
                    ..Default::default()
                })
            })
            .collect();
        let count = rows.len();
        // SQL text and the other columns take about 400 bytes a row besides the payload.
        let size = |r: &webhook_delivery::ActiveModel| match &r.payload {
            sea_orm::ActiveValue::Set(p) | sea_orm::ActiveValue::Unchanged(p) => p.len() + 400,
            sea_orm::ActiveValue::NotSet => 400,
        };
        let max_bytes = crate::db::statement_bytes(conn.get_database_backend());
        for chunk in crate::db::size_bounded_chunks(rows, INSERT_CHUNK, max_bytes, size) {
            webhook_delivery::Entity::insert_many(chunk)
                .on_conflict(
                    OnConflict::column(webhook_delivery::Column::Uuid)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(conn)
                .await?;
        }
        Ok(count)
    }
}
