//! Ingest of node events: each batch is applied in one transaction together with the
//! buffer's ack cursor, so an event is either committed and acked or neither. Replays are
//! harmless: events at or below the cursor are skipped, a WhatsApp message id is stored once
//! per instance, and a message status only moves forward.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use uuid::Uuid;
use zapini_shared::jid::Jid;
use zapini_shared::status::InstanceStatus;

use super::Services;
use crate::db::entities::{contact, conversation, instance, message, node_event_cursor};
use crate::error::AppResult;

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
}

#[derive(Debug, Clone)]
pub enum EventKind {
    Message(InMessage),
    Status {
        message_ids: Vec<String>,
        status: u8,
    },
    Qr,
    Connection {
        status: String,
        phone_number: String,
        push_name: String,
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
    },
    Group {
        group_jid: String,
        subject: String,
    },
    /// Known to the protocol but not stored yet (reactions: issue 6).
    Other,
}

#[derive(Debug, Clone)]
pub struct NodeEvent {
    pub seq: u64,
    pub kind: EventKind,
}

/// Counter changes of a batch, written once at its end instead of once per message.
#[derive(Default)]
struct Totals {
    /// (day, sent, received)
    days: Vec<(chrono::NaiveDate, i32, i32)>,
    activity: bool,
}

impl Totals {
    fn count(&mut self, day: chrono::NaiveDate, from_me: bool) {
        let (sent, received) = if from_me { (1, 0) } else { (0, 1) };
        match self.days.iter_mut().find(|(d, _, _)| *d == day) {
            Some((_, s, r)) => {
                *s += sent;
                *r += received;
            }
            None => self.days.push((day, sent, received)),
        }
        self.activity = true;
    }

    async fn write<C: ConnectionTrait>(
        self,
        conn: &C,
        instance: &instance::Model,
    ) -> AppResult<()> {
        for (day, sent, received) in self.days {
            Services::bump_daily(conn, instance.id, day, sent, received).await?;
        }
        if self.activity {
            instance::Entity::update_many()
                .col_expr(instance::Column::LastActivityAt, Expr::value(Utc::now()))
                .filter(instance::Column::Id.eq(instance.id))
                .exec(conn)
                .await?;
        }
        Ok(())
    }
}

fn preview(m: &InMessage) -> String {
    if !m.text.is_empty() {
        return m.text.chars().take(500).collect();
    }
    if let Some(caption) = m
        .media
        .as_ref()
        .and_then(|v| v.get("caption"))
        .and_then(|c| c.as_str())
        .filter(|c| !c.is_empty())
    {
        return caption.chars().take(500).collect();
    }
    format!("[{}]", m.message_type)
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.chars().take(255).collect())
}

impl Services {
    /// Applies a batch from one node buffer; returns the buffer's new acked sequence.
    pub async fn ingest_batch(
        &self,
        instance: &instance::Model,
        buffer_id: &str,
        events: Vec<NodeEvent>,
    ) -> AppResult<u64> {
        let txn = self.db.begin().await?;
        let acked = node_event_cursor::Entity::find_by_id((instance.id, buffer_id.to_owned()))
            .one(&txn)
            .await?
            .map_or(0, |c| u64::try_from(c.acked_seq).unwrap_or(0));
        let mut high = acked;
        let mut totals = Totals::default();
        for event in events {
            if event.seq <= high {
                continue;
            }
            apply(&txn, instance, event.kind, &mut totals).await?;
            high = event.seq;
        }
        totals.write(&txn, instance).await?;
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
        txn.commit().await?;
        Ok(high)
    }

    /// Stores a message the control plane itself just sent through the node, so the
    /// response can show it; the node's later `message.sent` event finds it and is a no-op.
    pub async fn record_message(
        &self,
        instance: &instance::Model,
        m: InMessage,
    ) -> AppResult<message::Model> {
        let txn = self.db.begin().await?;
        let id = m.id.clone();
        let mut totals = Totals::default();
        apply(&txn, instance, EventKind::Message(m), &mut totals).await?;
        totals.write(&txn, instance).await?;
        let row = message::Entity::find()
            .filter(message::Column::InstanceId.eq(instance.id))
            .filter(message::Column::WaMessageId.eq(id))
            .one(&txn)
            .await?
            .ok_or_else(|| crate::error::AppError::internal("message vanished after insert"))?;
        txn.commit().await?;
        Ok(row)
    }
}

async fn apply<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    kind: EventKind,
    totals: &mut Totals,
) -> AppResult<()> {
    let now = Utc::now();
    match kind {
        EventKind::Message(m) => apply_message(conn, instance, m, totals).await?,
        EventKind::Status {
            message_ids,
            status,
        } => {
            if !message_ids.is_empty() && (1..=5).contains(&status) {
                message::Entity::update_many()
                    .col_expr(message::Column::Status, Expr::value(i16::from(status)))
                    .col_expr(message::Column::UpdatedAt, Expr::value(now))
                    .filter(message::Column::InstanceId.eq(instance.id))
                    .filter(message::Column::WaMessageId.is_in(message_ids))
                    .filter(message::Column::Status.lt(i16::from(status)))
                    .exec(conn)
                    .await?;
            }
        }
        EventKind::Qr => {
            instance::Entity::update_many()
                .col_expr(
                    instance::Column::Status,
                    Expr::value(InstanceStatus::QrReady.as_str()),
                )
                .col_expr(instance::Column::UpdatedAt, Expr::value(now))
                .filter(instance::Column::Id.eq(instance.id))
                .filter(instance::Column::Status.ne(InstanceStatus::Connected.as_str()))
                .exec(conn)
                .await?;
        }
        EventKind::Connection {
            status,
            phone_number,
            push_name: _,
        } => {
            let status = status
                .parse::<InstanceStatus>()
                .unwrap_or(InstanceStatus::Disconnected);
            let mut update = instance::Entity::update_many()
                .col_expr(instance::Column::Status, Expr::value(status.as_str()))
                .col_expr(instance::Column::LastActivityAt, Expr::value(now))
                .col_expr(instance::Column::UpdatedAt, Expr::value(now));
            if let Some(phone) = non_empty(&phone_number) {
                update = update.col_expr(instance::Column::PhoneNumber, Expr::value(phone));
            }
            update
                .filter(instance::Column::Id.eq(instance.id))
                .exec(conn)
                .await?;
        }
        EventKind::Edit {
            message_id,
            new_text,
        } => {
            message::Entity::update_many()
                .col_expr(message::Column::Body, Expr::value(new_text))
                .col_expr(message::Column::IsEdited, Expr::value(true))
                .col_expr(message::Column::UpdatedAt, Expr::value(now))
                .filter(message::Column::InstanceId.eq(instance.id))
                .filter(message::Column::WaMessageId.eq(message_id))
                .exec(conn)
                .await?;
        }
        EventKind::Revoke { message_id } => {
            message::Entity::update_many()
                .col_expr(message::Column::IsDeleted, Expr::value(true))
                .col_expr(message::Column::UpdatedAt, Expr::value(now))
                .filter(message::Column::InstanceId.eq(instance.id))
                .filter(message::Column::WaMessageId.eq(message_id))
                .exec(conn)
                .await?;
        }
        EventKind::Contact { jid, push_name } => {
            if let Ok(jid) = Jid::parse(&jid) {
                upsert_contact(conn, instance, &jid, non_empty(&push_name)).await?;
            }
        }
        EventKind::Group { group_jid, subject } => {
            if let Ok(jid) = Jid::parse(&group_jid) {
                let conv = upsert_conversation(conn, instance, &jid, None, None).await?;
                if let Some(subject) = non_empty(&subject) {
                    conversation::Entity::update_many()
                        .col_expr(conversation::Column::DisplayName, Expr::value(subject))
                        .filter(conversation::Column::Id.eq(conv.id))
                        .exec(conn)
                        .await?;
                }
            }
        }
        EventKind::Other => {}
    }
    Ok(())
}

async fn upsert_contact<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    jid: &Jid,
    push_name: Option<String>,
) -> AppResult<contact::Model> {
    let key = jid.without_device().to_string();
    let now = Utc::now();
    if let Some(existing) = contact::Entity::find()
        .filter(contact::Column::InstanceId.eq(instance.id))
        .filter(contact::Column::Jid.eq(key.clone()))
        .one(conn)
        .await?
    {
        if push_name.is_some() && push_name != existing.push_name {
            contact::Entity::update_many()
                .col_expr(contact::Column::PushName, Expr::value(push_name.clone()))
                .col_expr(contact::Column::UpdatedAt, Expr::value(now))
                .filter(contact::Column::Id.eq(existing.id))
                .exec(conn)
                .await?;
            return Ok(contact::Model {
                push_name,
                ..existing
            });
        }
        return Ok(existing);
    }
    let model = contact::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        tenant_id: Set(instance.tenant_id),
        instance_id: Set(instance.id),
        jid: Set(key),
        phone_number: Set(jid.phone_number().map(|p| p.into_string())),
        name: Set(None),
        push_name: Set(push_name),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    Ok(contact::Entity::insert(model)
        .exec_with_returning(conn)
        .await?)
}

async fn upsert_conversation<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    chat: &Jid,
    contact_id: Option<i64>,
    display_name: Option<String>,
) -> AppResult<conversation::Model> {
    let key = chat.without_device().to_string();
    if let Some(existing) = conversation::Entity::find()
        .filter(conversation::Column::InstanceId.eq(instance.id))
        .filter(conversation::Column::ChatJid.eq(key.clone()))
        .one(conn)
        .await?
    {
        return Ok(existing);
    }
    let now = Utc::now();
    let model = conversation::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        tenant_id: Set(instance.tenant_id),
        instance_id: Set(instance.id),
        contact_id: Set(contact_id),
        chat_jid: Set(key),
        is_group: Set(chat.is_group()),
        display_name: Set(display_name),
        last_message: Set(None),
        last_message_at: Set(None),
        unread_count: Set(0),
        is_archived: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    Ok(conversation::Entity::insert(model)
        .exec_with_returning(conn)
        .await?)
}

async fn apply_message<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    m: InMessage,
    totals: &mut Totals,
) -> AppResult<()> {
    if m.id.is_empty() {
        return Ok(());
    }
    let Ok(chat) = Jid::parse(&m.chat_jid) else {
        tracing::warn!(chat = %m.chat_jid, "message with an unparseable chat JID skipped");
        return Ok(());
    };
    if message::Entity::find()
        .filter(message::Column::InstanceId.eq(instance.id))
        .filter(message::Column::WaMessageId.eq(m.id.clone()))
        .one(conn)
        .await?
        .is_some()
    {
        return Ok(());
    }
    let push_name = (!m.from_me).then(|| non_empty(&m.push_name)).flatten();
    // The person on the other side: the chat for 1:1, the author in groups.
    let contact = if chat.is_group() {
        match (m.from_me, Jid::parse(&m.sender_jid)) {
            (false, Ok(sender)) => {
                Some(upsert_contact(conn, instance, &sender, push_name.clone()).await?)
            }
            _ => None,
        }
    } else {
        Some(upsert_contact(conn, instance, &chat, push_name.clone()).await?)
    };
    let conv = upsert_conversation(
        conn,
        instance,
        &chat,
        (!chat.is_group())
            .then(|| contact.as_ref().map(|c| c.id))
            .flatten(),
        (!chat.is_group()).then(|| push_name.clone()).flatten(),
    )
    .await?;
    let now = Utc::now();
    let status: i16 = if m.from_me { 2 } else { 3 };
    let inserted = message::Entity::insert(message::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        tenant_id: Set(instance.tenant_id),
        instance_id: Set(instance.id),
        conversation_id: Set(conv.id),
        wa_message_id: Set(m.id.clone()),
        from_me: Set(m.from_me),
        sender_jid: Set(non_empty(&m.sender_jid)),
        sender_name: Set(push_name.clone()),
        message_type: Set(if m.message_type.is_empty() {
            "text".to_owned()
        } else {
            m.message_type.clone()
        }),
        body: Set((!m.text.is_empty()).then(|| m.text.clone())),
        quoted_id: Set(non_empty(&m.quoted_id)),
        media: Set(m.media.clone()),
        mentioned_jids: Set(
            (!m.mentioned_jids.is_empty()).then(|| serde_json::json!(m.mentioned_jids))
        ),
        status: Set(status),
        is_edited: Set(false),
        is_deleted: Set(false),
        sent_at: Set(m.timestamp),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::columns([message::Column::InstanceId, message::Column::WaMessageId])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    if inserted == 0 {
        return Ok(());
    }
    let newer = conv.last_message_at.is_none_or(|t| t <= m.timestamp);
    let mut update = conversation::Entity::update_many()
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now));
    if newer {
        update = update
            .col_expr(conversation::Column::LastMessage, Expr::value(preview(&m)))
            .col_expr(
                conversation::Column::LastMessageAt,
                Expr::value(m.timestamp),
            );
    }
    if !m.from_me {
        update = update.col_expr(
            conversation::Column::UnreadCount,
            Expr::col(conversation::Column::UnreadCount).add(1),
        );
        if conv.display_name.is_none() && !chat.is_group() && push_name.is_some() {
            update = update.col_expr(conversation::Column::DisplayName, Expr::value(push_name));
        }
    }
    update
        .filter(conversation::Column::Id.eq(conv.id))
        .exec(conn)
        .await?;
    totals.count(m.timestamp.date_naive(), m.from_me);
    Ok(())
}
