//! The message shapes several use-cases share: what a node reports (the ingest's input), and
//! how a stored message is shown with its transcription fields. Only types and pure
//! conversions: no queries, no calls into other services, so every use-case can depend on it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::status::MessageStatus;
use zapini_shared::time::{format_micros, format_millis, format_secs};

use crate::db::entities::{message, message_transcription};

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

/// A message in the chat-optimised shape of the reference.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub uuid: Uuid,
    /// WhatsApp's message id (same as `message_id`).
    #[schema(example = "3EB0ABC123456789")]
    pub unique_id: String,
    #[schema(example = "3EB0ABC123456789")]
    pub message_id: String,
    /// The conversation's UUID.
    pub conversation_id: Uuid,
    #[schema(value_type = String, pattern = "^(incoming|outgoing)$", example = "outgoing")]
    pub direction: &'static str,
    pub is_from_me: bool,
    /// `text`, `image`, `video`, `audio`, `document`, …
    #[schema(example = "image")]
    pub message_type: String,
    pub message_body: Option<String>,
    /// The media's details (`url`: Zapini's signed URL of the file, `mime_type`, `size`,
    /// `caption`, `filename`, …), for media messages.
    #[schema(value_type = Option<Object>)]
    pub media: Option<serde_json::Value>,
    pub quoted_message_id: Option<String>,
    pub mentioned_jids: Vec<String>,
    pub sender_jid: Option<String>,
    pub sender_name: Option<String>,
    #[schema(value_type = String, pattern = "^(pending|sent|delivered|read|played)$", example = "sent")]
    pub status: &'static str,
    /// 1 pending, 2 sent, 3 delivered, 4 read, 5 played.
    #[schema(minimum = 1, maximum = 5, example = 2)]
    pub status_code: i16,
    pub is_edited: bool,
    pub is_deleted: bool,
    #[schema(format = DateTime, example = "2025-01-15T10:30:00.000Z")]
    pub timestamp: String,
    #[schema(format = DateTime, example = "2025-01-15T10:30:00Z")]
    pub created_at: String,
    /// Present on a message an automation sent: which one, in which session.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sent_by_automation: Option<crate::automation::intake::SentBy>,
}

pub fn message_view(
    m: &message::Model,
    conversation: Uuid,
    urls: &crate::media::MediaUrls,
) -> MessageView {
    let status = u8::try_from(m.status)
        .ok()
        .and_then(MessageStatus::from_code)
        .unwrap_or(MessageStatus::Pending);
    MessageView {
        id: m.id,
        uuid: m.uuid,
        unique_id: m.wa_message_id.clone(),
        message_id: m.wa_message_id.clone(),
        conversation_id: conversation,
        direction: if m.from_me { "outgoing" } else { "incoming" },
        is_from_me: m.from_me,
        message_type: m.message_type.clone(),
        message_body: m.body.clone(),
        media: crate::media::message_media::shown_media(
            urls,
            &m.message_type,
            m.uuid,
            m.media.as_ref(),
        ),
        quoted_message_id: m.quoted_id.clone(),
        mentioned_jids: m
            .mentioned_jids
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default(),
        sender_jid: m.sender_jid.clone(),
        sender_name: m.sender_name.clone(),
        status: status.as_str(),
        status_code: m.status,
        is_edited: m.is_edited,
        is_deleted: m.is_deleted,
        timestamp: format_millis(m.sent_at),
        created_at: format_secs(m.created_at),
        sent_by_automation: crate::automation::intake::SentBy::of(m.automation_ref.as_deref()),
    }
}

/// The transcription values, as the reference names them.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum TranscriptionStatus {
    Pending,
    Processing,
    Completed,
    Failed,
}

/// The transcription fields every message carries (null unless one was asked for).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct TranscriptionFields {
    /// The transcribed text (null if not yet completed).
    pub audio_transcription: Option<String>,
    #[schema(value_type = Option<TranscriptionStatus>)]
    pub transcription_status: Option<String>,
    /// Detected or configured language code (e.g. pt, en, es).
    pub transcription_language: Option<String>,
    /// Error message if transcription failed.
    pub transcription_error: Option<String>,
    /// When the transcription was completed.
    #[schema(format = DateTime)]
    pub transcription_completed_at: Option<String>,
}

impl From<&message_transcription::Model> for TranscriptionFields {
    fn from(t: &message_transcription::Model) -> Self {
        TranscriptionFields {
            audio_transcription: t.text.clone(),
            transcription_status: Some(t.status.clone()),
            transcription_language: t.language.clone(),
            transcription_error: t.error.clone(),
            transcription_completed_at: t.completed_at.map(format_micros),
        }
    }
}
