//! What one ingest transaction accumulates — counter changes, webhook occurrences, the
//! contacts and conversations it has read — so a chat seen many times in a batch is read
//! once and its conversation row is written once, at the end.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
use zapini_shared::jid::Jid;

use crate::db::entities::{contact, conversation, instance, message};
use crate::error::AppResult;
use crate::service::message_types::{EventKind, InMessage};
use crate::webhooks::Outbox;
use crate::webhooks::events::Kind;

mod rows;
mod writes;
use rows::{contact_row, conversation_row, create_contacts, create_conversations};
use writes::{ConvChange, Totals, message_size, update_conversations};

/// The conversation list's preview of a message: its text, else its caption, else its type.
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

/// What one ingest transaction accumulates.
pub(super) struct Batch {
    /// What the dashboard is told once the batch is committed.
    pub(super) live: crate::live::Changes,
    pub(super) totals: Totals,
    pub(super) outbox: Outbox,
    /// WhatsApp ids among this batch's messages that were stored before it began.
    pub(super) stored: HashSet<String>,
    /// Contacts and conversations by JID, as this transaction sees them.
    contacts: HashMap<String, contact::Model>,
    /// Contacts `create_new` inserted that `contact` has not reported as new yet.
    fresh_contacts: HashSet<String>,
    pub(super) convs: HashMap<String, conversation::Model>,
    /// Keys looked up at the start; one missing from the caches does not exist yet.
    looked_up: HashSet<String>,
    dirty: HashMap<String, ConvChange>,
    /// Messages applied but not inserted yet.
    pub(super) new_messages: Vec<message::ActiveModel>,
    /// Signs the media URLs stored with messages.
    pub(super) media_urls: crate::media::MediaUrls,
    /// WhatsApp ids of audio messages received in this batch (for auto-transcription).
    pub(super) audio: Vec<String>,
    /// Whether this batch queued transcriptions.
    pub(super) queued_transcriptions: bool,
    /// Turns and human take-overs for the automation engine.
    pub(super) automation: crate::automation::intake::Intake,
    /// What the automation intake did (after `flush`).
    pub(super) automation_outcome: crate::automation::intake::IntakeOutcome,
}

impl Batch {
    /// Reads what the events need up front: the instance's webhook, and which of their
    /// messages are already stored (one query instead of one per message).
    pub(super) async fn start<'a, C: ConnectionTrait>(
        conn: &C,
        instance: &instance::Model,
        kinds: impl Iterator<Item = &'a EventKind>,
        media_urls: &crate::media::MediaUrls,
    ) -> AppResult<Batch> {
        use sea_orm::QuerySelect;
        let mut ids = Vec::new();
        let mut chats = HashSet::new();
        let mut people = HashSet::new();
        let mut messages = Vec::new();
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
                messages.push(m);
            }
        }
        // Keys per `IN (…)` lookup: a few KiB of statement on PostgreSQL (see
        // `db::size_bounded_chunks`).
        let in_list = crate::db::rows_per_statement(conn.get_database_backend(), 500, 200);
        let mut stored = HashSet::new();
        for chunk in ids.chunks(in_list) {
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
        for chunk in people.chunks(in_list) {
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
        for chunk in chat_keys.chunks(in_list) {
            for c in conversation::Entity::find()
                .filter(conversation::Column::InstanceId.eq(instance.id))
                .filter(conversation::Column::ChatJid.is_in(chunk.to_vec()))
                .all(conn)
                .await?
            {
                convs.insert(c.chat_jid.clone(), c);
            }
        }
        let mut batch = Batch {
            live: Default::default(),
            totals: Totals::default(),
            outbox: Outbox::load(conn, instance.id).await?,
            stored,
            contacts,
            convs,
            fresh_contacts: HashSet::new(),
            looked_up: people.into_iter().chain(chat_keys).collect(),
            dirty: HashMap::new(),
            new_messages: Vec::new(),
            media_urls: media_urls.clone(),
            audio: Vec::new(),
            queued_transcriptions: false,
            automation: Default::default(),
            automation_outcome: Default::default(),
        };
        batch.create_new(conn, instance, &messages).await?;
        Ok(batch)
    }

    /// Creates the contacts and conversations that the batch's new messages need and that
    /// do not exist yet: one multi-row insert each, instead of two statements per new chat
    /// when `apply` meets it (a burst of first messages, a history sync). Rows get the values
    /// the first message needing them would have given them; later messages change them
    /// through `contact` and `touch_conversation` as usual.
    async fn create_new<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        instance: &instance::Model,
        messages: &[&InMessage],
    ) -> AppResult<()> {
        let mut new_contacts: Vec<(Jid, String, Option<String>)> = Vec::new();
        let mut new_convs: Vec<(Jid, String, Option<String>)> = Vec::new();
        let (mut planned_contacts, mut planned_convs) = (HashSet::new(), HashSet::new());
        let mut seen = HashSet::new();
        for m in messages {
            // As `apply` will see them: a message stored before, or earlier in this batch,
            // creates nothing.
            if self.stored.contains(&m.id) || !seen.insert(m.id.as_str()) {
                continue;
            }
            let Ok(chat) = Jid::parse(&m.chat_jid) else {
                continue;
            };
            let push_name = (!m.from_me)
                .then(|| Some(m.push_name.clone()).filter(|p| !p.is_empty()))
                .flatten();
            let person = if chat.is_group() {
                Jid::parse(&m.sender_jid).ok().filter(|_| !m.from_me)
            } else {
                Some(chat.clone())
            };
            if let Some(person) = person {
                let key = person.without_device().to_string();
                if !self.contacts.contains_key(&key) && planned_contacts.insert(key.clone()) {
                    new_contacts.push((person, key, push_name.clone()));
                }
            }
            let key = chat.without_device().to_string();
            if !self.convs.contains_key(&key) && planned_convs.insert(key.clone()) {
                let display_name = (!chat.is_group()).then_some(push_name).flatten();
                new_convs.push((chat, key, display_name));
            }
        }
        let rows = new_contacts
            .into_iter()
            .map(|(jid, key, push_name)| contact_row(instance, &jid, key, push_name))
            .collect::<Vec<_>>();
        let (inserted, found) = create_contacts(conn, instance, rows).await?;
        for c in inserted {
            self.fresh_contacts.insert(c.jid.clone());
            self.contacts.insert(c.jid.clone(), c);
        }
        for c in found {
            self.contacts.insert(c.jid.clone(), c);
        }
        let rows = new_convs
            .into_iter()
            .map(|(chat, key, display_name)| {
                // A 1:1 chat's conversation belongs to the contact of the chat's JID.
                let contact_id = (!chat.is_group())
                    .then(|| self.contacts.get(&key).map(|c| c.id))
                    .flatten();
                conversation_row(instance, &chat, key, contact_id, display_name)
            })
            .collect::<Vec<_>>();
        for c in create_conversations(conn, instance, rows).await? {
            self.convs.insert(c.chat_jid.clone(), c);
        }
        Ok(())
    }

    /// Inserts the messages applied so far (one statement for many). Runs before any event
    /// that may refer to a message, and at the end.
    pub(super) async fn insert_messages<C: ConnectionTrait>(&mut self, conn: &C) -> AppResult<()> {
        let rows = std::mem::take(&mut self.new_messages);
        let max_bytes = crate::db::statement_bytes(conn.get_database_backend());
        for chunk in crate::db::size_bounded_chunks(rows, 300, max_bytes, message_size) {
            let uuids: Vec<Uuid> = chunk
                .iter()
                .filter_map(|m| match &m.uuid {
                    sea_orm::ActiveValue::Set(u) | sea_orm::ActiveValue::Unchanged(u) => Some(*u),
                    sea_orm::ActiveValue::NotSet => None,
                })
                .collect();
            let inserted = message::Entity::insert_many(chunk)
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
            if inserted < uuids.len() as u64 {
                self.unannounce_skipped(conn, uuids).await?;
            }
        }
        Ok(())
    }

    /// Some rows were not inserted: another transaction stored the same WhatsApp message
    /// between this batch's read and its insert (the node's echo of a send racing the
    /// send's own record). The stored row was announced by that transaction; this one takes
    /// back its announcements of the rows that are not there.
    async fn unannounce_skipped<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        uuids: Vec<Uuid>,
    ) -> AppResult<()> {
        use sea_orm::QuerySelect;
        let present: HashSet<Uuid> = message::Entity::find()
            .select_only()
            .column(message::Column::Uuid)
            .filter(message::Column::Uuid.is_in(uuids.clone()))
            .into_tuple()
            .all(conn)
            .await?
            .into_iter()
            .collect();
        let skipped: HashSet<Uuid> = uuids.into_iter().filter(|u| !present.contains(u)).collect();
        tracing::debug!(
            skipped = skipped.len(),
            "messages stored meanwhile by another transaction"
        );
        self.outbox.retain(|o| {
            !matches!(o.kind, Kind::MessageSent | Kind::MessageReceived)
                || !o.data["message_id"]
                    .as_str()
                    .and_then(|id| Uuid::parse_str(id).ok())
                    .is_some_and(|id| skipped.contains(&id))
        });
        Ok(())
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
        // Each conversation adds a few `CASE` branches and its preview to the statement.
        let size = |(c, _): &(conversation::Model, ConvChange)| {
            300 + c.last_message.as_ref().map_or(0, String::len)
        };
        let max_bytes = crate::db::statement_bytes(conn.get_database_backend());
        for chunk in crate::db::size_bounded_chunks(changes, 100, max_bytes, size) {
            update_conversations(conn, &chunk).await?;
        }
        if !self.audio.is_empty() {
            let audio = std::mem::take(&mut self.audio);
            self.queued_transcriptions |=
                crate::service::transcription::queue_auto(conn, instance, &audio).await?;
        }
        let intake = std::mem::take(&mut self.automation);
        self.automation_outcome = intake.flush(conn, instance).await?;
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
    pub(super) async fn contact<C: ConnectionTrait>(
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
        let existing = match existing {
            Some(existing) => Some(existing),
            None => {
                let row = contact_row(instance, jid, key.clone(), push_name.clone());
                let (mut inserted, found) = create_contacts(conn, instance, vec![row]).await?;
                if let Some(model) = inserted.pop() {
                    self.contacts.insert(key, model.clone());
                    return Ok((model, true));
                }
                // Another transaction created it meanwhile.
                found.into_iter().next()
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
            None => {
                return Err(crate::error::AppError::internal(
                    "contact neither inserted nor found",
                ));
            }
        };
        // A contact created up front is new the first time a message asks for it.
        let changed = self.fresh_contacts.remove(&key) || changed;
        self.contacts.insert(key, model.clone());
        Ok((model, changed))
    }

    /// Stores a contact's new profile picture URL (`None`: removed).
    pub(super) async fn set_picture<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        contact: contact::Model,
        picture: Option<String>,
    ) -> AppResult<contact::Model> {
        let now = Utc::now();
        contact::Entity::update_many()
            .col_expr(
                contact::Column::ProfilePictureUrl,
                Expr::value(picture.clone()),
            )
            .col_expr(contact::Column::UpdatedAt, Expr::value(now))
            .filter(contact::Column::Id.eq(contact.id))
            .exec(conn)
            .await?;
        let model = contact::Model {
            profile_picture_url: picture,
            updated_at: now,
            ..contact
        };
        self.contacts.insert(model.jid.clone(), model.clone());
        Ok(model)
    }

    /// The conversation of `chat`, created if new.
    pub(super) async fn conversation<C: ConnectionTrait>(
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
                let row = conversation_row(instance, chat, key.clone(), contact_id, display_name);
                create_conversations(conn, instance, vec![row])
                    .await?
                    .pop()
                    .ok_or_else(|| {
                        crate::error::AppError::internal("conversation neither inserted nor found")
                    })?
            }
        };
        self.convs.insert(key, conv.clone());
        Ok(conv)
    }

    /// Records a new message on its conversation (in memory; written by `flush`) and returns
    /// the conversation as it now is.
    pub(super) fn touch_conversation(
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
            if conv.is_archived {
                conv.is_archived = false;
                conv.archived_at = None;
                change.unarchive = true;
            }
            if conv.display_name.is_none() && !conv.is_group && push_name.is_some() {
                conv.display_name = push_name.cloned();
                change.display_name = true;
            }
        }
        Some(conv.clone())
    }
}
