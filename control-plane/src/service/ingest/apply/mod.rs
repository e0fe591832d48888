//! Applying one event inside an ingest transaction: storing what it says and collecting the
//! webhook occurrence it causes into the [`Batch`].

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use zapini_shared::jid::Jid;
use zapini_shared::status::InstanceStatus;

mod messages;

use super::batch::Batch;
use crate::db::entities::{conversation, instance, message, message_reaction};
use crate::error::AppResult;
use crate::service::message_types::EventKind;
use crate::webhooks::{Kind, Occurrence, Outbox, payloads};

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

impl Batch {
    /// Applies one event: the messages applied so far are inserted first unless it is a
    /// message, and the dashboard is told what kind of thing changed.
    pub(super) async fn apply<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        instance: &instance::Model,
        kind: EventKind,
    ) -> AppResult<()> {
        if !matches!(kind, EventKind::Message(_)) {
            self.insert_messages(conn).await?;
        }
        // A message marks its own conversation (`apply_message`).
        match &kind {
            EventKind::Message(_) | EventKind::Other => {}
            EventKind::Qr { .. } | EventKind::Connection { .. } => self.live.status = true,
            EventKind::Contact { .. } | EventKind::Group { .. } => self.live.contacts = true,
            _ => self.live.messages = true,
        }
        apply(conn, instance, kind, self).await
    }
}

async fn apply<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    kind: EventKind,
    batch: &mut Batch,
) -> AppResult<()> {
    let now = Utc::now();
    match kind {
        EventKind::Message(m) => messages::apply_message(conn, instance, m, batch).await?,
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
                .col_expr(
                    instance::Column::StatusReason,
                    Expr::value(non_empty(&reason)),
                )
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
                // The same edit seen twice (applied by the control plane, then echoed by the
                // node) changes nothing the second time.
                .filter(
                    sea_orm::Condition::any()
                        .add(message::Column::IsEdited.eq(false))
                        .add(message::Column::Body.ne(new_text.clone())),
                )
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
        EventKind::Contact {
            jid,
            push_name,
            picture,
        } => {
            if let Ok(jid) = Jid::parse(&jid) {
                let (mut contact, mut changed) = batch
                    .contact(conn, instance, &jid, non_empty(&push_name))
                    .await?;
                if let Some(picture) = picture
                    && picture != contact.profile_picture_url
                {
                    contact = batch.set_picture(conn, contact, picture).await?;
                    changed = true;
                }
                if changed {
                    batch.outbox.push(occurrence(
                        Kind::ContactUpdate,
                        contact.jid.clone(),
                        payloads::contact(&contact),
                    ));
                }
            }
        }
        EventKind::Group {
            group_jid,
            subject,
            action,
            participants,
            description,
        } => {
            if let Ok(jid) = Jid::parse(&group_jid) {
                let conv = batch.conversation(conn, instance, &jid, None, None).await?;
                let subject = non_empty(&subject);
                if let Some(subject) = &subject {
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
                }
                let renamed = subject
                    .as_deref()
                    .is_some_and(|s| conv.display_name.as_deref() != Some(s));
                // Every membership, role, subject or description change is an update;
                // engines that do not name the change report subjects only.
                if renamed || !action.is_empty() {
                    let change = payloads::GroupChange {
                        subject: subject.as_deref().or(conv.display_name.as_deref()),
                        action: &action,
                        participants: &participants,
                        description: (!description.is_empty()).then_some(description.as_str()),
                    };
                    batch.outbox.push(occurrence(
                        Kind::GroupUpdate,
                        conv.chat_jid.clone(),
                        payloads::group(&conv, &change, now),
                    ));
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
            if message_id.is_empty() {
                return Ok(());
            }
            let target = find_message(conn, instance, &message_id).await?;
            // A reaction to a stored message is stored (one per reactor) and announced only
            // when it changes something, so the node's echo of a reaction the control plane
            // already applied is silent. One to an unknown message is only announced.
            let changed = match &target {
                Some((m, _)) => {
                    store_reaction(conn, m.id, &sender_jid, from_me, &emoji, timestamp).await?
                }
                None => true,
            };
            if changed && batch.outbox.wants(Kind::MessageReaction) {
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

/// Who reacted, as stored: `me` for this instance's own reactions, else the JID without
/// device.
fn reactor_key(sender_jid: &str, from_me: bool) -> String {
    if from_me {
        return "me".to_owned();
    }
    Jid::parse(sender_jid).map_or_else(
        |_| sender_jid.to_owned(),
        |j| j.without_device().to_string(),
    )
}

/// Adds, replaces or (empty emoji) removes one reactor's reaction; returns whether anything
/// changed. A removal is kept as a row with an empty emoji, and a change older than the
/// stored one is ignored: the node's echo of a reaction the control plane already applied
/// can arrive after a newer change and must not undo it.
async fn store_reaction<C: ConnectionTrait>(
    conn: &C,
    message_id: i64,
    sender_jid: &str,
    from_me: bool,
    emoji: &str,
    at: chrono::DateTime<Utc>,
) -> AppResult<bool> {
    use sea_orm::ActiveValue::Set;
    let reactor = reactor_key(sender_jid, from_me);
    // Conditional writes, not read-then-write: two transactions applying the same change at
    // once (the control plane's and the node's echo) must not both count it. The update
    // re-checks its condition on a row another writer just changed.
    let update = || {
        message_reaction::Entity::update_many()
            .col_expr(message_reaction::Column::Emoji, Expr::value(emoji))
            .col_expr(message_reaction::Column::CreatedAt, Expr::value(at))
            .filter(message_reaction::Column::MessageId.eq(message_id))
            .filter(message_reaction::Column::ReactorJid.eq(reactor.clone()))
            .filter(message_reaction::Column::CreatedAt.lte(at))
            .filter(message_reaction::Column::Emoji.ne(emoji))
            .exec(conn)
    };
    if update().await?.rows_affected > 0 {
        return Ok(true);
    }
    if emoji.is_empty() {
        return Ok(false);
    }
    let inserted = message_reaction::Entity::insert(message_reaction::ActiveModel {
        message_id: Set(message_id),
        reactor_jid: Set(reactor.clone()),
        from_me: Set(from_me),
        emoji: Set(emoji.to_owned()),
        created_at: Set(at),
        ..Default::default()
    })
    .on_conflict(
        sea_orm::sea_query::OnConflict::columns([
            message_reaction::Column::MessageId,
            message_reaction::Column::ReactorJid,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    if inserted > 0 {
        return Ok(true);
    }
    // Someone inserted it meanwhile: apply ours over theirs if it is newer and different.
    Ok(update().await?.rows_affected > 0)
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
