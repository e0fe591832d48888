//! Sends through an instance's node on a caller's behalf: which instance a universal send
//! goes to, the daily limit and the automation guard, the send itself, and storing the sent
//! message at once so the answer can show it.

use sea_orm::EntityTrait;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;
use zapini_shared::jid::Jid;

use super::message_types::{InMessage, MessageView, message_view};
use super::{Services, datetime_from_millis};
use crate::db::entities::{conversation, instance};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::grpc::client::NodeMedia;

/// What to send through a node.
pub enum Outgoing {
    Text {
        text: String,
    },
    Media {
        media_type: String,
        /// Empty when sending a library file.
        url: String,
        caption: String,
        filename: String,
        /// A library file (`media_…`) instead of `url`; the node fetches it from us.
        library: Option<Box<crate::db::entities::media::Model>>,
    },
}

impl Services {
    /// Resolves the instance of a universal send: `instance_id` when given, else the one an
    /// `sk_` token is bound to.
    pub async fn send_target(
        &self,
        caller: &Caller,
        instance_id: Option<&str>,
    ) -> AppResult<instance::Model> {
        match (instance_id, caller) {
            (Some(r), _) => self.find_instance(caller, r).await,
            (None, Caller::Instance { instance_uuid, .. }) => {
                self.find_instance(caller, &instance_uuid.to_string()).await
            }
            (None, Caller::User { .. }) => Err(AppError::validation(
                "instance_id",
                "The instance_id field is required.",
            )),
        }
    }

    /// A universal send (`POST /chat/send`, `/messages/send-media`): to the instance named
    /// (else the one an `sk_` token is bound to), replying to `reply_to` unless it is empty.
    pub async fn send_universal(
        &self,
        caller: &Caller,
        instance_id: Option<&str>,
        recipient: &str,
        outgoing: Outgoing,
        reply_to: Option<&str>,
    ) -> AppResult<MessageView> {
        let inst = self.send_target(caller, instance_id).await?;
        self.send_through_node(
            &inst,
            recipient,
            outgoing,
            reply_to.filter(|r| !r.is_empty()),
        )
        .await
    }

    /// Sends through the instance's node and stores the message at once.
    pub async fn send_through_node(
        &self,
        inst: &instance::Model,
        recipient: &str,
        outgoing: Outgoing,
        reply_to: Option<&str>,
    ) -> AppResult<MessageView> {
        let to = Jid::parse_recipient(recipient)
            .map_err(|e| AppError::Client(e.into_error_body("recipient")))?;
        let sent_today = self.sent_today_count(inst.id).await?;
        if sent_today >= i64::from(inst.daily_limit) {
            return Err(AppError::Client(
                zapini_shared::error::ErrorBody::new(
                    ErrorCode::DailyLimitExceeded,
                    format!(
                        "Daily limit of {} messages reached for this instance; it resets at 00:00 UTC.",
                        inst.daily_limit
                    ),
                )
                .with_details(serde_json::json!({
                    "daily_limit": inst.daily_limit,
                    "messages_sent_today": sent_today,
                })),
            ));
        }
        let to_str = to.without_device().to_string();
        // The control plane has the authoritative automation state (and can name the
        // conversation); the node is told to skip its own copy of the check.
        self.check_manual_send(inst, &to_str).await?;
        let node = self.require_node(inst).await?;
        let (sent, record) = match outgoing {
            Outgoing::Text { text } => {
                let sent = node.send_text(&to_str, &text, reply_to, true, None).await?;
                (
                    sent,
                    InMessage {
                        message_type: "text".into(),
                        text,
                        ..InMessage::default()
                    },
                )
            }
            Outgoing::Media {
                media_type,
                url,
                caption,
                filename,
                library,
            } => {
                let filename = match (&library, filename.is_empty()) {
                    (Some(m), true) if media_type == "document" => m.filename.clone(),
                    _ => filename,
                };
                let sent = node
                    .send_media(
                        &to_str,
                        NodeMedia {
                            media_type: media_type.clone(),
                            url: url.clone(),
                            mime_type: library
                                .as_ref()
                                .map(|m| m.mime_type.clone())
                                .unwrap_or_default(),
                            caption: caption.clone(),
                            filename: filename.clone(),
                            media_id: library
                                .as_ref()
                                .map(|m| m.public_id.clone())
                                .unwrap_or_default(),
                        },
                        reply_to,
                        true,
                        None,
                    )
                    .await?;
                let media = match &library {
                    Some(m) => serde_json::json!({
                        "media_id": m.public_id,
                        "mime_type": m.mime_type,
                        "size": m.size,
                        "caption": (!caption.is_empty()).then_some(caption),
                        "filename": (!filename.is_empty()).then_some(filename),
                    }),
                    None => serde_json::json!({
                        "url": url,
                        "caption": (!caption.is_empty()).then_some(caption),
                        "filename": (!filename.is_empty()).then_some(filename),
                    }),
                };
                (
                    sent,
                    InMessage {
                        message_type: media_type,
                        media: Some(media),
                        ..InMessage::default()
                    },
                )
            }
        };
        let record = InMessage {
            id: sent.message_id,
            chat_jid: to_str,
            sender_jid: String::new(),
            from_me: true,
            quoted_id: reply_to.unwrap_or_default().to_owned(),
            timestamp: datetime_from_millis(sent.timestamp_ms),
            ..record
        };
        // The node's own message.sent event may be ingested at the same moment; the insert is
        // idempotent, so a refused concurrent write is simply retried.
        let row = super::retry_write("recording a sent message", || {
            self.record_message(inst, record.clone())
        })
        .await?;
        let conv = conversation::Entity::find_by_id(row.conversation_id)
            .one(&self.db)
            .await?
            .map_or(Uuid::nil(), |c| c.uuid);
        Ok(message_view(&row, conv, &self.media_urls))
    }
}
