//! Ingest of node events: each batch is applied in one transaction together with the
//! buffer's ack cursor and the webhook deliveries it causes, so an event is either committed,
//! acked and queued for webhooks, or none of these. Replays are harmless: events at or below
//! the cursor are skipped, a WhatsApp message id is stored once per instance, a message
//! status only moves forward, and only real changes queue webhooks.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
use zapini_shared::jid::Jid;
use zapini_shared::status::InstanceStatus;

use super::Services;
use crate::db::entities::{contact, conversation, instance, message, node_event_cursor};
use crate::error::AppResult;
use crate::webhooks::{Kind, Occurrence, Outbox, payloads};

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
    },
    Group {
        group_jid: String,
        subject: String,
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
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let acked = node_event_cursor::Entity::find_by_id((instance.id, buffer_id.to_owned()))
            .one(&txn)
            .await?
            .map_or(0, |c| u64::try_from(c.acked_seq).unwrap_or(0));
        let mut high = acked;
        let mut totals = Totals::default();
        let mut outbox = Outbox::load(&txn, instance.id).await?;
        for event in events {
            if event.seq <= high {
                continue;
            }
            apply(&txn, instance, event.kind, &mut totals, &mut outbox).await?;
            high = event.seq;
        }
        let queued = outbox.flush(&txn, instance).await?;
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
        totals.write(&txn, instance).await?;
        txn.commit().await?;
        if queued > 0 {
            self.webhook_signal.notify();
        }
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
        let mut totals = Totals::default();
        let mut outbox = Outbox::load(&txn, instance.id).await?;
        for kind in events {
            apply(&txn, instance, kind, &mut totals, &mut outbox).await?;
        }
        let queued = outbox.flush(&txn, instance).await?;
        totals.write(&txn, instance).await?;
        txn.commit().await?;
        if queued > 0 {
            self.webhook_signal.notify();
        }
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
        let mut totals = Totals::default();
        let mut outbox = Outbox::load(&txn, instance.id).await?;
        apply(
            &txn,
            instance,
            EventKind::Message(m),
            &mut totals,
            &mut outbox,
        )
        .await?;
        totals.write(&txn, instance).await?;
        let queued = outbox.flush(&txn, instance).await?;
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
        Ok(row)
    }
}

fn occurrence(kind: Kind, ordering_key: String, data: serde_json::Value) -> Occurrence {
    Occurrence {
        kind,
        connection: None,
        ordering_key,
        data,
        at: Utc::now(),
    }
}

/// The ordering key of a chat: deliveries about one conversation stay in order.
fn chat_key(jid: &str) -> String {
    Jid::parse(jid).map_or_else(|_| jid.to_owned(), |j| j.without_device().to_string())
}

async fn apply<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    kind: EventKind,
    totals: &mut Totals,
    outbox: &mut Outbox,
) -> AppResult<()> {
    let now = Utc::now();
    match kind {
        EventKind::Message(m) => apply_message(conn, instance, m, totals, outbox).await?,
        EventKind::Status {
            message_ids,
            status,
        } => apply_status(conn, instance, message_ids, status, outbox).await?,
        EventKind::Qr {
            code,
            image,
            generated_at,
            expires_at,
        } => {
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
            if outbox.wants(Kind::Qr) && !code.is_empty() {
                outbox.push(occurrence(
                    Kind::Qr,
                    "instance".to_owned(),
                    payloads::qr(&code, &image, generated_at, expires_at),
                ));
            }
        }
        EventKind::Connection {
            status,
            phone_number,
            push_name: _,
            reason,
        } => {
            let status = status
                .parse::<InstanceStatus>()
                .unwrap_or(InstanceStatus::Disconnected);
            let current = instance::Entity::find_by_id(instance.id).one(conn).await?;
            let previous = current
                .as_ref()
                .map_or_else(|| instance.status.clone(), |i| i.status.clone());
            let phone = non_empty(&phone_number);
            let mut update = instance::Entity::update_many()
                .col_expr(instance::Column::Status, Expr::value(status.as_str()))
                .col_expr(instance::Column::LastActivityAt, Expr::value(now))
                .col_expr(instance::Column::UpdatedAt, Expr::value(now));
            if let Some(phone) = &phone {
                update = update.col_expr(instance::Column::PhoneNumber, Expr::value(phone.clone()));
            }
            update
                .filter(instance::Column::Id.eq(instance.id))
                .exec(conn)
                .await?;
            if previous != status.as_str() && outbox.wants(Kind::Connection) {
                let phone = phone.or_else(|| current.and_then(|i| i.phone_number));
                let mut o = occurrence(
                    Kind::Connection,
                    "instance".to_owned(),
                    payloads::connection(&previous, status.as_str(), phone.as_deref(), &reason),
                );
                o.connection = Some(status.as_str().to_owned());
                outbox.push(o);
            }
        }
        EventKind::Edit {
            message_id,
            new_text,
        } => {
            let changed = message::Entity::update_many()
                .col_expr(message::Column::Body, Expr::value(new_text.clone()))
                .col_expr(message::Column::IsEdited, Expr::value(true))
                .col_expr(message::Column::UpdatedAt, Expr::value(now))
                .filter(message::Column::InstanceId.eq(instance.id))
                .filter(message::Column::WaMessageId.eq(message_id.clone()))
                .exec(conn)
                .await?
                .rows_affected;
            if changed > 0
                && outbox.wants(Kind::MessageEdited)
                && let Some((m, chat)) = find_message(conn, instance, &message_id).await?
            {
                outbox.push(occurrence(
                    Kind::MessageEdited,
                    chat,
                    payloads::changed(&m, now, Some(&new_text)),
                ));
            }
        }
        EventKind::Revoke { message_id } => {
            let changed = message::Entity::update_many()
                .col_expr(message::Column::IsDeleted, Expr::value(true))
                .col_expr(message::Column::UpdatedAt, Expr::value(now))
                .filter(message::Column::InstanceId.eq(instance.id))
                .filter(message::Column::WaMessageId.eq(message_id.clone()))
                .filter(message::Column::IsDeleted.eq(false))
                .exec(conn)
                .await?
                .rows_affected;
            if changed > 0
                && outbox.wants(Kind::MessageDeleted)
                && let Some((m, chat)) = find_message(conn, instance, &message_id).await?
            {
                outbox.push(occurrence(
                    Kind::MessageDeleted,
                    chat,
                    payloads::changed(&m, now, None),
                ));
            }
        }
        EventKind::Contact { jid, push_name } => {
            if let Ok(jid) = Jid::parse(&jid) {
                let (contact, changed) =
                    upsert_contact(conn, instance, &jid, non_empty(&push_name)).await?;
                if changed {
                    outbox.push(occurrence(
                        Kind::ContactUpdate,
                        contact.jid.clone(),
                        payloads::contact(&contact),
                    ));
                }
            }
        }
        EventKind::Group { group_jid, subject } => {
            if let Ok(jid) = Jid::parse(&group_jid) {
                let conv = upsert_conversation(conn, instance, &jid, None, None).await?;
                if let Some(subject) = non_empty(&subject) {
                    conversation::Entity::update_many()
                        .col_expr(
                            conversation::Column::DisplayName,
                            Expr::value(subject.clone()),
                        )
                        .filter(conversation::Column::Id.eq(conv.id))
                        .exec(conn)
                        .await?;
                    if conv.display_name.as_deref() != Some(subject.as_str()) {
                        outbox.push(occurrence(
                            Kind::GroupUpdate,
                            conv.chat_jid.clone(),
                            payloads::group(&conv, &subject, now),
                        ));
                    }
                }
            }
        }
        EventKind::Reaction {
            message_id,
            chat_jid,
            sender_jid,
            emoji,
            from_me,
            timestamp,
        } => {
            if outbox.wants(Kind::MessageReaction) && !message_id.is_empty() {
                let target = find_message(conn, instance, &message_id).await?;
                let chat = target
                    .as_ref()
                    .map_or_else(|| chat_key(&chat_jid), |(_, c)| c.clone());
                let data = payloads::reaction(&payloads::Reaction {
                    target: target.as_ref().map(|(m, _)| m),
                    target_wa_id: &message_id,
                    chat_jid: &chat,
                    sender_jid: &sender_jid,
                    emoji: &emoji,
                    from_me,
                    at: timestamp,
                });
                outbox.push(occurrence(Kind::MessageReaction, chat, data));
            }
        }
        EventKind::Other => {}
    }
    Ok(())
}

/// A stored message and its chat JID.
async fn find_message<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    wa_id: &str,
) -> AppResult<Option<(message::Model, String)>> {
    let Some(m) = message::Entity::find()
        .filter(message::Column::InstanceId.eq(instance.id))
        .filter(message::Column::WaMessageId.eq(wa_id))
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let chat = conversation::Entity::find_by_id(m.conversation_id)
        .one(conn)
        .await?
        .map(|c| c.chat_jid)
        .unwrap_or_default();
    Ok(Some((m, chat)))
}

/// Moves statuses forward; each message that really moved is one `message.status`.
async fn apply_status<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    message_ids: Vec<String>,
    status: u8,
    outbox: &mut Outbox,
) -> AppResult<()> {
    if message_ids.is_empty() || !(1..=5).contains(&status) {
        return Ok(());
    }
    let now = Utc::now();
    let new = i16::from(status);
    let moving = if outbox.wants(Kind::MessageStatus) {
        message::Entity::find()
            .filter(message::Column::InstanceId.eq(instance.id))
            .filter(message::Column::WaMessageId.is_in(message_ids.clone()))
            .filter(message::Column::Status.lt(new))
            .all(conn)
            .await?
    } else {
        Vec::new()
    };
    message::Entity::update_many()
        .col_expr(message::Column::Status, Expr::value(new))
        .col_expr(message::Column::UpdatedAt, Expr::value(now))
        .filter(message::Column::InstanceId.eq(instance.id))
        .filter(message::Column::WaMessageId.is_in(message_ids))
        .filter(message::Column::Status.lt(new))
        .exec(conn)
        .await?;
    if moving.is_empty() {
        return Ok(());
    }
    let mut conv_ids: Vec<i64> = moving.iter().map(|m| m.conversation_id).collect();
    conv_ids.sort_unstable();
    conv_ids.dedup();
    let chats: std::collections::HashMap<i64, String> = conversation::Entity::find()
        .filter(conversation::Column::Id.is_in(conv_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| (c.id, c.chat_jid))
        .collect();
    for m in moving {
        let chat = chats.get(&m.conversation_id).cloned().unwrap_or_default();
        let data = payloads::status(&m, &chat, m.status, new, now);
        outbox.push(occurrence(Kind::MessageStatus, chat, data));
    }
    Ok(())
}

async fn upsert_contact<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    jid: &Jid,
    push_name: Option<String>,
) -> AppResult<(contact::Model, bool)> {
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
            return Ok((
                contact::Model {
                    push_name,
                    updated_at: now,
                    ..existing
                },
                true,
            ));
        }
        return Ok((existing, false));
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
    Ok((
        contact::Entity::insert(model)
            .exec_with_returning(conn)
            .await?,
        true,
    ))
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
    outbox: &mut Outbox,
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
            (false, Ok(sender)) => Some(
                upsert_contact(conn, instance, &sender, push_name.clone())
                    .await?
                    .0,
            ),
            _ => None,
        }
    } else {
        Some(
            upsert_contact(conn, instance, &chat, push_name.clone())
                .await?
                .0,
        )
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
    let row = message::Model {
        id: 0,
        uuid: Uuid::new_v4(),
        tenant_id: instance.tenant_id,
        instance_id: instance.id,
        conversation_id: conv.id,
        wa_message_id: m.id.clone(),
        from_me: m.from_me,
        sender_jid: non_empty(&m.sender_jid),
        sender_name: push_name.clone(),
        message_type: if m.message_type.is_empty() {
            "text".to_owned()
        } else {
            m.message_type.clone()
        },
        body: (!m.text.is_empty()).then(|| m.text.clone()),
        quoted_id: non_empty(&m.quoted_id),
        media: m.media.clone(),
        mentioned_jids: (!m.mentioned_jids.is_empty()).then(|| serde_json::json!(m.mentioned_jids)),
        status,
        is_edited: false,
        is_deleted: false,
        sent_at: m.timestamp,
        created_at: now,
        updated_at: now,
    };
    let mut active: message::ActiveModel = row.clone().into();
    active.id = sea_orm::ActiveValue::NotSet;
    let inserted = message::Entity::insert(active)
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
    let kind = if m.from_me {
        Kind::MessageSent
    } else {
        Kind::MessageReceived
    };
    if outbox.wants(kind) {
        let data = if m.from_me {
            payloads::sent(&row, &conv)
        } else {
            payloads::received(&row, &conv)
        };
        outbox.push(occurrence(kind, conv.chat_jid.clone(), data));
    }
    Ok(())
}
