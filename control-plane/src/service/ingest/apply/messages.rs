//! Applying a message event: the contact and conversation it needs, the row (inserted with
//! the batch's others), the conversation's preview and counters, the automation intake and
//! the webhook; or, for the echo of a message already stored, the engine's media handle.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
use zapini_shared::jid::Jid;

use super::{non_empty, occurrence};
use crate::db::entities::{instance, message};
use crate::error::AppResult;
use crate::service::ingest::batch::Batch;
use crate::service::message_types::InMessage;
use crate::webhooks::{Kind, payloads};

/// The engine's echo of a message the control plane already stored (a send through the API)
/// may carry the engine's private download handle for its media (the WhatsApp engine's
/// `wa-media:`), which the stored row, written from the API request, lacks: adopt it, so the
/// media can be downloaded again from WhatsApp once the kept copy expires.
async fn adopt_engine_handle<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    m: &InMessage,
    batch: &mut Batch,
) -> AppResult<()> {
    let Some(handle) = m
        .media
        .as_ref()
        .and_then(|v| v.get("url"))
        .and_then(serde_json::Value::as_str)
        .filter(|u| !u.is_empty() && !crate::media::message_media::is_link(u))
    else {
        return Ok(());
    };
    batch.insert_messages(conn).await?;
    let Some(stored) = message::Entity::find()
        .filter(message::Column::InstanceId.eq(instance.id))
        .filter(message::Column::WaMessageId.eq(m.id.clone()))
        .one(conn)
        .await?
    else {
        return Ok(());
    };
    if let Some(media) =
        crate::media::message_media::adopt_engine_handle(stored.media.as_ref(), handle)
    {
        message::Entity::update_many()
            .col_expr(message::Column::Media, Expr::value(media))
            .filter(message::Column::Id.eq(stored.id))
            .exec(conn)
            .await?;
    }
    Ok(())
}

pub(super) async fn apply_message<C: ConnectionTrait>(
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
        if m.from_me {
            adopt_engine_handle(conn, instance, &m, batch).await?;
        }
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
    let uuid = Uuid::new_v4();
    let message_type = if m.message_type.is_empty() {
        "text".to_owned()
    } else {
        m.message_type.clone()
    };
    let media = crate::media::message_media::with_signed_url(
        &batch.media_urls,
        &message_type,
        uuid,
        m.media.clone(),
    );
    let automation_ref = m
        .client_ref
        .as_deref()
        .and_then(crate::automation::intake::ClientRef::parse);
    if m.from_me {
        if automation_ref.is_none() {
            batch.automation.human(conv.id, m.timestamp);
        }
    } else {
        batch.automation.incoming(&m.id, conv.id, m.timestamp);
    }
    let row = message::Model {
        id: 0,
        uuid,
        tenant_id: instance.tenant_id,
        instance_id: instance.id,
        conversation_id: conv.id,
        wa_message_id: m.id.clone(),
        from_me: m.from_me,
        sender_jid: non_empty(&m.sender_jid),
        sender_name: push_name.clone(),
        message_type,
        body: (!m.text.is_empty()).then(|| m.text.clone()),
        quoted_id: non_empty(&m.quoted_id),
        media,
        mentioned_jids: (!m.mentioned_jids.is_empty()).then(|| serde_json::json!(m.mentioned_jids)),
        status,
        is_edited: false,
        is_deleted: false,
        sent_at: m.timestamp,
        automation_session_id: automation_ref.as_ref().map(|r| r.session_id),
        automation_ref: automation_ref.as_ref().and(m.client_ref.clone()),
        created_at: now,
        updated_at: now,
    };
    let mut active: message::ActiveModel = row.clone().into();
    active.id = sea_orm::ActiveValue::NotSet;
    batch.new_messages.push(active);
    batch.stored.insert(m.id.clone());
    batch.live.conversation(conv.id);
    if !m.from_me && (row.message_type == "audio" || row.message_type == "voice") {
        batch.audio.push(m.id.clone());
    }
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
