//! Ingest of node events: each batch is applied in one transaction together with the
//! buffer's ack cursor and the webhook deliveries it causes, so an event is either committed,
//! acked and queued for webhooks, or none of these. Replays are harmless: events at or below
//! the cursor are skipped, a WhatsApp message id is stored once per instance, a message
//! status only moves forward, and only real changes queue webhooks.

mod apply;
mod batch;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::Services;
pub use super::message_types::{EventKind, InMessage, NodeEvent};
use crate::db::entities::{instance, message, node_event_cursor};
use crate::error::AppResult;
use batch::Batch;

impl Services {
    /// Applies a batch from one node buffer; returns the buffer's new acked sequence.
    pub async fn ingest_batch(
        &self,
        instance: &instance::Model,
        buffer_id: &str,
        events: Vec<NodeEvent>,
    ) -> AppResult<u64> {
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let acked = node_event_cursor::Entity::find_by_id((instance.id, buffer_id.to_owned()))
            .one(&txn)
            .await?
            .map_or(0, |c| u64::try_from(c.acked_seq).unwrap_or(0));
        let events: Vec<NodeEvent> = events.into_iter().filter(|e| e.seq > acked).collect();
        let mut high = acked;
        let mut batch = Batch::start(
            &txn,
            instance,
            events.iter().map(|e| &e.kind),
            &self.media_urls,
        )
        .await?;
        for event in events {
            if event.seq <= high {
                continue;
            }
            batch.apply(&txn, instance, event.kind).await?;
            high = event.seq;
        }
        let queued = batch.flush(&txn, instance).await?;
        let transcribe = batch.queued_transcriptions;
        let automation = std::mem::take(&mut batch.automation_outcome);
        let live = std::mem::take(&mut batch.live);
        if high > acked {
            node_event_cursor::Entity::insert(node_event_cursor::ActiveModel {
                instance_id: Set(instance.id),
                buffer_id: Set(buffer_id.to_owned()),
                acked_seq: Set(i64::try_from(high).unwrap_or(i64::MAX)),
                updated_at: Set(Utc::now()),
            })
            .on_conflict(
                OnConflict::columns([
                    node_event_cursor::Column::InstanceId,
                    node_event_cursor::Column::BufferId,
                ])
                .update_columns([
                    node_event_cursor::Column::AckedSeq,
                    node_event_cursor::Column::UpdatedAt,
                ])
                .to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        }
        // The counters are rows every batch of the instance updates: touched last, their
        // locks are held only until the commit right after.
        batch.write_counters(&txn, instance).await?;
        txn.commit().await?;
        if queued > 0 {
            self.webhook_signal.notify();
        }
        if transcribe {
            self.transcription_signal.notify_one();
        }
        live.send(&self.live, instance.tenant_id, instance.uuid);
        self.after_intake(instance, automation);
        Ok(high)
    }

    /// Applies events reported by an external engine (the incoming webhook endpoints). They
    /// carry no sequence numbers; idempotency comes from the WhatsApp message id and the
    /// forward-only statuses.
    pub async fn ingest_external(
        &self,
        instance: &instance::Model,
        events: Vec<EventKind>,
    ) -> AppResult<()> {
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let mut batch = Batch::start(&txn, instance, events.iter(), &self.media_urls).await?;
        for kind in events {
            batch.apply(&txn, instance, kind).await?;
        }
        let queued = batch.flush(&txn, instance).await?;
        let transcribe = batch.queued_transcriptions;
        let automation = std::mem::take(&mut batch.automation_outcome);
        let live = std::mem::take(&mut batch.live);
        batch.write_counters(&txn, instance).await?;
        txn.commit().await?;
        if queued > 0 {
            self.webhook_signal.notify();
        }
        if transcribe {
            self.transcription_signal.notify_one();
        }
        live.send(&self.live, instance.tenant_id, instance.uuid);
        self.after_intake(instance, automation);
        Ok(())
    }

    /// Stores a message the control plane itself just sent through the node, so the
    /// response can show it; the node's later `message.sent` event finds it and is a no-op.
    pub async fn record_message(
        &self,
        instance: &instance::Model,
        m: InMessage,
    ) -> AppResult<message::Model> {
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let id = m.id.clone();
        let event = EventKind::Message(m);
        let mut batch =
            Batch::start(&txn, instance, std::iter::once(&event), &self.media_urls).await?;
        batch.apply(&txn, instance, event).await?;
        let queued = batch.flush(&txn, instance).await?;
        let automation = std::mem::take(&mut batch.automation_outcome);
        let live = std::mem::take(&mut batch.live);
        batch.write_counters(&txn, instance).await?;
        let row = message::Entity::find()
            .filter(message::Column::InstanceId.eq(instance.id))
            .filter(message::Column::WaMessageId.eq(id))
            .one(&txn)
            .await?
            .ok_or_else(|| crate::error::AppError::internal("message vanished after insert"))?;
        txn.commit().await?;
        if queued > 0 {
            self.webhook_signal.notify();
        }
        live.send(&self.live, instance.tenant_id, instance.uuid);
        self.after_intake(instance, automation);
        Ok(row)
    }

    /// After an ingest commit: wakes the turn worker, and tells the node about the chats a
    /// person took over.
    fn after_intake(
        &self,
        instance: &instance::Model,
        outcome: crate::automation::intake::IntakeOutcome,
    ) {
        if outcome.queued_turns {
            self.automation_signal.notify_one();
        }
        for chat_jid in outcome.paused_chats {
            self.hub.push(
                instance.uuid,
                super::nodes::NodePush::ChatPolicy {
                    chat_jid,
                    paused: true,
                },
            );
        }
    }
}
