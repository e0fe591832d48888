//! Applying events inside an ingest transaction. A [`Batch`] carries what one transaction
//! accumulates: counter changes, webhook occurrences, and the contacts and conversations it
//! has read, so a chat seen many times in a batch is read once and its conversation row is
//! written once, at the end.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
use zapini_shared::jid::Jid;
use zapini_shared::status::InstanceStatus;

use super::{EventKind, InMessage};
use crate::db::entities::{contact, conversation, instance, message};
use crate::error::AppResult;
use crate::service::Services;
use crate::webhooks::{Kind, Occurrence, Outbox, payloads};

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

/// Writes many conversations' changes in one statement: each column is a `CASE id WHEN …`
/// over the conversations that changed it.
async fn update_conversations<C: ConnectionTrait>(
    conn: &C,
    changes: &[(conversation::Model, ConvChange)],
) -> AppResult<()> {
    use sea_orm::sea_query::CaseStatement;
    let column = |col: conversation::Column,
                  pick: &dyn Fn(
        &conversation::Model,
        &ConvChange,
    ) -> Option<sea_orm::sea_query::Expr>| {
        let mut case = CaseStatement::new();
        let mut any = false;
        for (conv, change) in changes {
            if let Some(value) = pick(conv, change) {
                case = case.case(conversation::Column::Id.eq(conv.id), value);
                any = true;
            }
        }
        any.then(|| (col, case.finally(Expr::col(col))))
    };
    let columns = [
        column(conversation::Column::LastMessage, &|c, ch| {
            ch.last_message.then(|| Expr::value(c.last_message.clone()))
        }),
        column(conversation::Column::LastMessageAt, &|c, ch| {
            ch.last_message.then(|| Expr::value(c.last_message_at))
        }),
        column(conversation::Column::UnreadCount, &|_, ch| {
            (ch.unread > 0).then(|| Expr::col(conversation::Column::UnreadCount).add(ch.unread))
        }),
        column(conversation::Column::DisplayName, &|c, ch| {
            ch.display_name.then(|| Expr::value(c.display_name.clone()))
        }),
    ];
    let mut update = conversation::Entity::update_many()
        .col_expr(conversation::Column::UpdatedAt, Expr::value(Utc::now()));
    for (col, case) in columns.into_iter().flatten() {
        update = update.col_expr(col, case.into());
    }
    update
        .filter(conversation::Column::Id.is_in(changes.iter().map(|(c, _)| c.id)))
        .exec(conn)
        .await?;
    Ok(())
}

/// Changes to a conversation row made in memory during a batch, written once at its end.
#[derive(Default)]
struct ConvChange {
    last_message: bool,
    unread: i32,
    display_name: bool,
}

/// What one ingest transaction accumulates.
pub(super) struct Batch {
    totals: Totals,
    outbox: Outbox,
    /// WhatsApp ids among this batch's messages that were stored before it began.
    stored: HashSet<String>,
    /// Contacts and conversations by JID, as this transaction sees them.
    contacts: HashMap<String, contact::Model>,
    convs: HashMap<String, conversation::Model>,
    /// Keys looked up at the start; one missing from the caches does not exist yet.
    looked_up: HashSet<String>,
    dirty: HashMap<String, ConvChange>,
    /// Messages applied but not inserted yet.
    new_messages: Vec<message::ActiveModel>,
}

impl Batch {
    /// Reads what the events need up front: the instance's webhook, and which of their
    /// messages are already stored (one query instead of one per message).
    pub(super) async fn start<'a, C: ConnectionTrait>(
        conn: &C,
        instance: &instance::Model,
        kinds: impl Iterator<Item = &'a EventKind>,
    ) -> AppResult<Batch> {
        use sea_orm::QuerySelect;
        let mut ids = Vec::new();
        let mut chats = HashSet::new();
        let mut people = HashSet::new();
        for kind in kinds {
            let EventKind::Message(m) = kind else {
                continue;
            };
            if m.id.is_empty() {
                continue;
            }
            ids.push(m.id.clone());
            if let Ok(chat) = Jid::parse(&m.chat_jid) {
                let key = chat.without_device().to_string();
                if chat.is_group() {
                    if let Ok(sender) = Jid::parse(&m.sender_jid) {
                        people.insert(sender.without_device().to_string());
                    }
                } else {
                    people.insert(key.clone());
                }
                chats.insert(key);
            }
        }
        let mut stored = HashSet::new();
        for chunk in ids.chunks(500) {
            let found: Vec<String> = message::Entity::find()
                .select_only()
                .column(message::Column::WaMessageId)
                .filter(message::Column::InstanceId.eq(instance.id))
                .filter(message::Column::WaMessageId.is_in(chunk.to_vec()))
                .into_tuple()
                .all(conn)
                .await?;
            stored.extend(found);
        }
        // The batch's contacts and conversations in two queries; what is not found is new.
        let people: Vec<String> = people.into_iter().collect();
        let mut contacts = HashMap::new();
        for chunk in people.chunks(500) {
            for c in contact::Entity::find()
                .filter(contact::Column::InstanceId.eq(instance.id))
                .filter(contact::Column::Jid.is_in(chunk.to_vec()))
                .all(conn)
                .await?
            {
                contacts.insert(c.jid.clone(), c);
            }
        }
        let chat_keys: Vec<String> = chats.into_iter().collect();
        let mut convs = HashMap::new();
        for chunk in chat_keys.chunks(500) {
            for c in conversation::Entity::find()
                .filter(conversation::Column::InstanceId.eq(instance.id))
                .filter(conversation::Column::ChatJid.is_in(chunk.to_vec()))
                .all(conn)
                .await?
            {
                convs.insert(c.chat_jid.clone(), c);
            }
        }
        Ok(Batch {
            totals: Totals::default(),
            outbox: Outbox::load(conn, instance.id).await?,
            stored,
            contacts,
            convs,
            looked_up: people.into_iter().chain(chat_keys).collect(),
            dirty: HashMap::new(),
            new_messages: Vec::new(),
        })
    }

    /// Inserts the messages applied so far (one statement for many). Runs before any event
    /// that may refer to a message, and at the end.
    async fn insert_messages<C: ConnectionTrait>(&mut self, conn: &C) -> AppResult<()> {
        while !self.new_messages.is_empty() {
            let rest = self
                .new_messages
                .split_off(self.new_messages.len().min(300));
            let chunk = std::mem::replace(&mut self.new_messages, rest);
            message::Entity::insert_many(chunk)
                .on_conflict(
                    OnConflict::columns([
                        message::Column::InstanceId,
                        message::Column::WaMessageId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(conn)
                .await?;
        }
        Ok(())
    }

    pub(super) async fn apply<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        instance: &instance::Model,
        kind: EventKind,
    ) -> AppResult<()> {
        if !matches!(kind, EventKind::Message(_)) {
            self.insert_messages(conn).await?;
        }
        apply(conn, instance, kind, self).await
    }

    /// Writes the conversations changed in memory and queues the webhook deliveries;
    /// returns how many deliveries were queued.
    pub(super) async fn flush<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        instance: &instance::Model,
    ) -> AppResult<usize> {
        self.insert_messages(conn).await?;
        let changes: Vec<(conversation::Model, ConvChange)> = self
            .dirty
            .drain()
            .filter_map(|(key, change)| self.convs.get(&key).map(|c| (c.clone(), change)))
            .collect();
        for chunk in changes.chunks(100) {
            update_conversations(conn, chunk).await?;
        }
        let outbox = std::mem::replace(&mut self.outbox, Outbox::none());
        outbox.flush(conn, instance).await
    }

    /// The counter rows (daily stats, last activity): last, right before the commit.
    pub(super) async fn write_counters<C: ConnectionTrait>(
        self,
        conn: &C,
        instance: &instance::Model,
    ) -> AppResult<()> {
        self.totals.write(conn, instance).await
    }

    /// The contact for `jid`, created if new; a changed push name is stored. Returns whether
    /// anything changed.
    async fn contact<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        instance: &instance::Model,
        jid: &Jid,
        push_name: Option<String>,
    ) -> AppResult<(contact::Model, bool)> {
        let key = jid.without_device().to_string();
        let existing = match self.contacts.get(&key) {
            Some(c) => Some(c.clone()),
            None if self.looked_up.contains(&key) => None,
            None => {
                contact::Entity::find()
                    .filter(contact::Column::InstanceId.eq(instance.id))
                    .filter(contact::Column::Jid.eq(key.clone()))
                    .one(conn)
                    .await?
            }
        };
        let (model, changed) = match existing {
            Some(existing) if push_name.is_some() && push_name != existing.push_name => {
                let now = Utc::now();
                contact::Entity::update_many()
                    .col_expr(contact::Column::PushName, Expr::value(push_name.clone()))
                    .col_expr(contact::Column::UpdatedAt, Expr::value(now))
                    .filter(contact::Column::Id.eq(existing.id))
                    .exec(conn)
                    .await?;
                (
                    contact::Model {
                        push_name,
                        updated_at: now,
                        ..existing
                    },
                    true,
                )
            }
            Some(existing) => (existing, false),
            None => (
                insert_contact(conn, instance, jid, key.clone(), push_name).await?,
                true,
            ),
        };
        self.contacts.insert(key, model.clone());
        Ok((model, changed))
    }

    /// The conversation of `chat`, created if new.
    async fn conversation<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        instance: &instance::Model,
        chat: &Jid,
        contact_id: Option<i64>,
        display_name: Option<String>,
    ) -> AppResult<conversation::Model> {
        let key = chat.without_device().to_string();
        if let Some(conv) = self.convs.get(&key) {
            return Ok(conv.clone());
        }
        let found = if self.looked_up.contains(&key) {
            None
        } else {
            conversation::Entity::find()
                .filter(conversation::Column::InstanceId.eq(instance.id))
                .filter(conversation::Column::ChatJid.eq(key.clone()))
                .one(conn)
                .await?
        };
        let conv = match found {
            Some(existing) => existing,
            None => {
                insert_conversation(conn, instance, chat, key.clone(), contact_id, display_name)
                    .await?
            }
        };
        self.convs.insert(key, conv.clone());
        Ok(conv)
    }

    /// Records a new message on its conversation (in memory; written by `flush`) and returns
    /// the conversation as it now is.
    fn touch_conversation(
        &mut self,
        key: &str,
        m: &InMessage,
        push_name: Option<&String>,
    ) -> Option<conversation::Model> {
        let conv = self.convs.get_mut(key)?;
        let change = self.dirty.entry(key.to_owned()).or_default();
        if conv.last_message_at.is_none_or(|t| t <= m.timestamp) {
            conv.last_message = Some(preview(m));
            conv.last_message_at = Some(m.timestamp);
            change.last_message = true;
        }
        if !m.from_me {
            conv.unread_count += 1;
            change.unread += 1;
            if conv.display_name.is_none() && !conv.is_group && push_name.is_some() {
                conv.display_name = push_name.cloned();
                change.display_name = true;
            }
        }
        Some(conv.clone())
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
    batch: &mut Batch,
) -> AppResult<()> {
    let now = Utc::now();
    match kind {
        EventKind::Message(m) => apply_message(conn, instance, m, batch).await?,
        EventKind::Status {
            message_ids,
            status,
        } => apply_status(conn, instance, message_ids, status, &mut batch.outbox).await?,
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
            if batch.outbox.wants(Kind::Qr) && !code.is_empty() {
                batch.outbox.push(occurrence(
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
            if previous != status.as_str() && batch.outbox.wants(Kind::Connection) {
                let phone = phone.or_else(|| current.and_then(|i| i.phone_number));
                let mut o = occurrence(
                    Kind::Connection,
                    "instance".to_owned(),
                    payloads::connection(&previous, status.as_str(), phone.as_deref(), &reason),
                );
                o.connection = Some(status.as_str().to_owned());
                batch.outbox.push(o);
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
                && batch.outbox.wants(Kind::MessageEdited)
                && let Some((m, chat)) = find_message(conn, instance, &message_id).await?
            {
                batch.outbox.push(occurrence(
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
                && batch.outbox.wants(Kind::MessageDeleted)
                && let Some((m, chat)) = find_message(conn, instance, &message_id).await?
            {
                batch.outbox.push(occurrence(
                    Kind::MessageDeleted,
                    chat,
                    payloads::changed(&m, now, None),
                ));
            }
        }
        EventKind::Contact { jid, push_name } => {
            if let Ok(jid) = Jid::parse(&jid) {
                let (contact, changed) = batch
                    .contact(conn, instance, &jid, non_empty(&push_name))
                    .await?;
                if changed {
                    batch.outbox.push(occurrence(
                        Kind::ContactUpdate,
                        contact.jid.clone(),
                        payloads::contact(&contact),
                    ));
                }
            }
        }
        EventKind::Group { group_jid, subject } => {
            if let Ok(jid) = Jid::parse(&group_jid) {
                let conv = batch.conversation(conn, instance, &jid, None, None).await?;
                if let Some(subject) = non_empty(&subject) {
                    if let Some(cached) = batch.convs.get_mut(&conv.chat_jid) {
                        cached.display_name = Some(subject.clone());
                    }
                    conversation::Entity::update_many()
                        .col_expr(
                            conversation::Column::DisplayName,
                            Expr::value(subject.clone()),
                        )
                        .filter(conversation::Column::Id.eq(conv.id))
                        .exec(conn)
                        .await?;
                    if conv.display_name.as_deref() != Some(subject.as_str()) {
                        batch.outbox.push(occurrence(
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
            if batch.outbox.wants(Kind::MessageReaction) && !message_id.is_empty() {
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
                batch
                    .outbox
                    .push(occurrence(Kind::MessageReaction, chat, data));
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

async fn insert_contact<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    jid: &Jid,
    key: String,
    push_name: Option<String>,
) -> AppResult<contact::Model> {
    let now = Utc::now();
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

async fn insert_conversation<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    chat: &Jid,
    key: String,
    contact_id: Option<i64>,
    display_name: Option<String>,
) -> AppResult<conversation::Model> {
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
    batch: &mut Batch,
) -> AppResult<()> {
    if m.id.is_empty() {
        return Ok(());
    }
    let Ok(chat) = Jid::parse(&m.chat_jid) else {
        tracing::warn!(chat = %m.chat_jid, "message with an unparseable chat JID skipped");
        return Ok(());
    };
    if batch.stored.contains(&m.id) {
        return Ok(());
    }
    let push_name = (!m.from_me).then(|| non_empty(&m.push_name)).flatten();
    // The person on the other side: the chat for 1:1, the author in groups.
    let contact = if chat.is_group() {
        match (m.from_me, Jid::parse(&m.sender_jid)) {
            (false, Ok(sender)) => Some(
                batch
                    .contact(conn, instance, &sender, push_name.clone())
                    .await?,
            ),
            _ => None,
        }
    } else {
        Some(
            batch
                .contact(conn, instance, &chat, push_name.clone())
                .await?,
        )
    };
    // A contact that appeared or changed its name is a `contact.update` of its own.
    let contact = match contact {
        Some((c, true)) => {
            batch.outbox.push(occurrence(
                Kind::ContactUpdate,
                c.jid.clone(),
                payloads::contact(&c),
            ));
            Some(c)
        }
        Some((c, false)) => Some(c),
        None => None,
    };
    let conv = batch
        .conversation(
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
    batch.new_messages.push(active);
    batch.stored.insert(m.id.clone());
    let conv = batch
        .touch_conversation(&conv.chat_jid, &m, push_name.as_ref())
        .unwrap_or(conv);
    batch.totals.count(m.timestamp.date_naive(), m.from_me);
    let kind = if m.from_me {
        Kind::MessageSent
    } else {
        Kind::MessageReceived
    };
    if batch.outbox.wants(kind) {
        let data = if m.from_me {
            payloads::sent(&row, &conv)
        } else {
            payloads::received(&row, &conv)
        };
        batch
            .outbox
            .push(occurrence(kind, conv.chat_jid.clone(), data));
    }
    Ok(())
}
