//! Ingest of node events: each batch is applied in one transaction together with the
//! buffer's ack cursor and the webhook deliveries it causes, so an event is either committed,
//! acked and queued for webhooks, or none of these. Replays are harmless: events at or below
//! the cursor are skipped, a WhatsApp message id is stored once per instance, a message
//! status only moves forward, and only real changes queue webhooks.

mod apply;
mod batch;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};

use super::Services;
use crate::db::entities::{instance, message, node_event_cursor};
use crate::error::AppResult;
use batch::Batch;

/// A message as a node reports it (received, or sent by this instance).
#[derive(Debug, Clone, Default)]
pub struct InMessage {
    pub id: String,
    pub chat_jid: String,
    pub sender_jid: String,
    pub from_me: bool,
    pub push_name: String,
    /// text, image, video, audio, voice, document, sticker, location, contact, reaction, other.
    pub message_type: String,
    pub text: String,
    pub quoted_id: String,
    pub media: Option<serde_json::Value>,
    pub mentioned_jids: Vec<String>,
    pub timestamp: DateTime<Utc>,
    /// The client reference of one of our sends (an automation's, see
    /// `automation::intake::ClientRef`), carried back by the node's `message.sent` event.
    pub client_ref: Option<String>,
}

#[derive(Debug, Clone)]
pub enum EventKind {
    Message(InMessage),
    Status {
        message_ids: Vec<String>,
        status: u8,
    },
    Qr {
        code: String,
        image: String,
        generated_at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    },
    Connection {
        status: String,
        phone_number: String,
        push_name: String,
        reason: String,
    },
    Edit {
        message_id: String,
        new_text: String,
    },
    Revoke {
        message_id: String,
    },
    Contact {
        jid: String,
        push_name: String,
        /// News of the profile picture: `Some(Some(url))` set, `Some(None)` removed.
        picture: Option<Option<String>>,
    },
    Group {
        group_jid: String,
        subject: String,
        /// create, subject, description, add, remove, promote, demote, leave, invite_reset
        /// (empty from engines that do not say).
        action: String,
        participants: Vec<String>,
        description: String,
    },
    /// A reaction added (or removed: empty emoji). Delivered as a webhook; stored with the
    /// inbox.
    Reaction {
        message_id: String,
        chat_jid: String,
        sender_jid: String,
        emoji: String,
        from_me: bool,
        timestamp: DateTime<Utc>,
    },
    /// Known to the protocol but nothing to store.
    Other,
}

#[derive(Debug, Clone)]
pub struct NodeEvent {
    pub seq: u64,
    pub kind: EventKind,
}

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
