//! Inbox actions that go through the instance's node: mark-read (with the read receipt),
//! edit, revoke and reactions. Each change is applied through the ingest at once, so the
//! answer shows it; the node's own event for it arrives later and changes nothing.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;

use super::history::HistoryMessage;
use crate::db::TenantScoped;
use crate::db::entities::{conversation, instance, message};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;
use crate::service::message_types::{EventKind, MessageView};
use crate::service::sending::Outgoing;

/// The answer of mark-read.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ConversationMarkedRead)]
pub struct MarkedRead {
    pub conversation_id: Uuid,
    /// Always 0.
    pub unread_count: i32,
    /// How many unread incoming messages got a read receipt (at most 100).
    pub marked_messages: usize,
    /// Whether the read receipt reached WhatsApp through the node (it is best effort: a
    /// stopped or disconnected instance still gets the conversation marked read).
    pub read_receipt_sent: bool,
}

/// What a reaction call changes.
pub enum ReactionChange {
    Add(String),
    Remove,
}

impl Services {
    /// Marks a conversation read and sends read receipts for its unread incoming messages.
    pub async fn mark_read(&self, caller: &Caller, reference: &str) -> AppResult<MarkedRead> {
        let c = self.find_conversation(caller, reference).await?;
        let unread: Vec<message::Model> = if c.unread_count > 0 {
            message::Entity::find()
                .filter(message::Column::ConversationId.eq(c.id))
                .filter(message::Column::FromMe.eq(false))
                .order_by_desc(message::Column::Id)
                .limit(u64::try_from(c.unread_count.min(100)).unwrap_or(100))
                .all(&self.db)
                .await?
        } else {
            Vec::new()
        };
        {
            let _permit = self.write_gate.enter().await;
            conversation::Entity::update_many()
                .col_expr(conversation::Column::UnreadCount, Expr::value(0))
                .col_expr(conversation::Column::UpdatedAt, Expr::value(Utc::now()))
                .filter(conversation::Column::Id.eq(c.id))
                .exec(&self.db)
                .await?;
        }
        self.conversation_news(&c).await;
        let mut sent = unread.is_empty();
        if !unread.is_empty() {
            let inst = instance::Entity::find_by_id(c.instance_id)
                .one(&self.db)
                .await?
                .ok_or_else(|| AppError::internal("conversation without instance"))?;
            sent = self.send_read_receipts(&inst, &c, &unread).await;
        }
        Ok(MarkedRead {
            conversation_id: c.uuid,
            unread_count: 0,
            marked_messages: unread.len(),
            read_receipt_sent: sent,
        })
    }

    async fn send_read_receipts(
        &self,
        inst: &instance::Model,
        c: &conversation::Model,
        unread: &[message::Model],
    ) -> bool {
        let Ok(node) = self.require_node(inst).await else {
            return false;
        };
        // In groups a receipt names the author of the messages it covers.
        let mut by_sender: Vec<(String, Vec<String>)> = Vec::new();
        for m in unread {
            let sender = if c.is_group {
                m.sender_jid.clone().unwrap_or_default()
            } else {
                String::new()
            };
            match by_sender.iter_mut().find(|(s, _)| *s == sender) {
                Some((_, ids)) => ids.push(m.wa_message_id.clone()),
                None => by_sender.push((sender, vec![m.wa_message_id.clone()])),
            }
        }
        let mut ok = true;
        for (sender, ids) in by_sender {
            if let Err(e) = node.mark_read(&c.chat_jid, &ids, &sender).await {
                tracing::debug!(error = %e, conversation = %c.uuid, "read receipt not sent");
                ok = false;
            }
        }
        ok
    }

    /// Sends into a conversation (to its chat, through its instance's node), as
    /// `POST /chat/send` and `/messages/send-media` do: the daily limit and the
    /// `AUTOMATION_ACTIVE` guard apply.
    pub async fn send_in_conversation(
        &self,
        caller: &Caller,
        reference: &str,
        outgoing: Outgoing,
        reply_to: Option<&str>,
    ) -> AppResult<MessageView> {
        let c = self.find_conversation(caller, reference).await?;
        let inst = instance::Entity::find_by_id(c.instance_id)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "Conversation"))?;
        self.send_through_node(&inst, &c.chat_jid, outgoing, reply_to)
            .await
    }

    /// A message of the caller's tenant (and instance, for `sk_`) by our UUID or by its
    /// WhatsApp id, with its conversation and instance.
    pub(crate) async fn find_message(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<(message::Model, conversation::Model, instance::Model)> {
        let not_found = || AppError::not_found(ErrorCode::NotFound, "Message");
        let reference = reference.trim();
        if reference.is_empty() || reference.len() > 128 {
            return Err(not_found());
        }
        let mut query = message::Entity::scoped(caller.tenant());
        // WhatsApp ids are often 32 hex digits, which also parse as a UUID: try both.
        query = match Uuid::parse_str(reference) {
            Ok(u) => query.filter(
                sea_orm::Condition::any()
                    .add(message::Column::Uuid.eq(u))
                    .add(message::Column::WaMessageId.eq(reference)),
            ),
            Err(_) => query.filter(message::Column::WaMessageId.eq(reference)),
        };
        if let Some(bound) = caller.bound_instance() {
            query = query.filter(message::Column::InstanceId.eq(bound.0));
        }
        let m = query
            .order_by_desc(message::Column::Id)
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        let c = conversation::Entity::find_by_id(m.conversation_id)
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        let inst = instance::Entity::find_by_id(m.instance_id)
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        Ok((m, c, inst))
    }

    /// One message in the chat shape.
    pub async fn chat_message(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<HistoryMessage> {
        let (m, c, _) = self.find_message(caller, reference).await?;
        Ok(self
            .history_messages(&c, std::slice::from_ref(&m), true)
            .await?
            .remove(0))
    }

    /// The message as the chat API shows it, read again after a change.
    async fn reread(&self, id: i64, c: &conversation::Model) -> AppResult<HistoryMessage> {
        let m = message::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "Message"))?;
        Ok(self
            .history_messages(c, std::slice::from_ref(&m), true)
            .await?
            .remove(0))
    }

    fn own_message(m: &message::Model, what: &str) -> AppResult<()> {
        if !m.from_me {
            return Err(AppError::new(
                ErrorCode::Forbidden,
                format!("Only messages sent by this instance can be {what}."),
            ));
        }
        if m.is_deleted {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "The message was deleted.",
            ));
        }
        Ok(())
    }

    /// Edits a text message this instance sent.
    pub async fn edit_message(
        &self,
        caller: &Caller,
        reference: &str,
        text: String,
    ) -> AppResult<HistoryMessage> {
        let (m, c, inst) = self.find_message(caller, reference).await?;
        Self::own_message(&m, "edited")?;
        if m.message_type != "text" {
            return Err(AppError::validation(
                "message",
                "Only text messages can be edited.",
            ));
        }
        let node = self.require_node(&inst).await?;
        node.edit_message(&c.chat_jid, &m.wa_message_id, &text)
            .await?;
        self.ingest_external(
            &inst,
            vec![EventKind::Edit {
                message_id: m.wa_message_id.clone(),
                new_text: text,
            }],
        )
        .await?;
        self.reread(m.id, &c).await
    }

    /// Deletes a message this instance sent, for everyone.
    pub async fn revoke_message(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<HistoryMessage> {
        let (m, c, inst) = self.find_message(caller, reference).await?;
        Self::own_message(&m, "deleted")?;
        let node = self.require_node(&inst).await?;
        node.revoke_message(&c.chat_jid, &m.wa_message_id).await?;
        self.ingest_external(
            &inst,
            vec![EventKind::Revoke {
                message_id: m.wa_message_id.clone(),
            }],
        )
        .await?;
        self.reread(m.id, &c).await
    }

    /// Adds (or replaces) or removes this instance's reaction to a message.
    pub async fn react(
        &self,
        caller: &Caller,
        reference: &str,
        change: ReactionChange,
    ) -> AppResult<HistoryMessage> {
        let (m, c, inst) = self.find_message(caller, reference).await?;
        if m.is_deleted {
            return Err(AppError::new(
                ErrorCode::Conflict,
                "The message was deleted.",
            ));
        }
        let emoji = match change {
            ReactionChange::Add(e) => e,
            ReactionChange::Remove => String::new(),
        };
        let node = self.require_node(&inst).await?;
        let sent = node
            .send_reaction(&c.chat_jid, &m.wa_message_id, &emoji, m.from_me)
            .await?;
        self.ingest_external(
            &inst,
            vec![EventKind::Reaction {
                message_id: m.wa_message_id.clone(),
                chat_jid: c.chat_jid.clone(),
                sender_jid: inst
                    .phone_number
                    .as_ref()
                    .map(|p| format!("{p}@s.whatsapp.net"))
                    .unwrap_or_default(),
                emoji,
                from_me: true,
                timestamp: chrono::TimeZone::timestamp_millis_opt(&Utc, sent.timestamp_ms)
                    .single()
                    .unwrap_or_else(Utc::now),
            }],
        )
        .await?;
        self.reread(m.id, &c).await
    }
}
