//! Engine-neutral data: what goes into an engine call and what comes out as events. These are
//! the node's own types; the gRPC layer converts them to and from the proto messages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use zapini_shared::jid::Jid;
use zapini_shared::status::{InstanceStatus, MessageStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Sandbox,
    Whatsapp,
}

impl EngineKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Sandbox => "sandbox",
            EngineKind::Whatsapp => "whatsapp",
        }
    }
}

/// The session's connection, as the status endpoints report it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionState {
    pub status: InstanceStatus,
    /// Our own number, once paired.
    pub phone_number: Option<String>,
    pub push_name: Option<String>,
    /// `android`, `iphone`, ... as the phone reports it.
    pub platform: Option<String>,
    /// Why the state last changed: `paired`, `requested`, `logged_out`, `network`, ...
    pub reason: Option<String>,
    pub last_activity_at: Option<DateTime<Utc>>,
}

impl ConnectionState {
    pub fn pending() -> Self {
        ConnectionState {
            status: InstanceStatus::Pending,
            phone_number: None,
            push_name: None,
            platform: None,
            reason: None,
            last_activity_at: None,
        }
    }
}

/// A pairing QR code as WhatsApp rotates them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QrCode {
    /// The text encoded in the QR (`2@...`).
    pub code: String,
    /// `data:image/png;base64,...`
    pub png_data_url: String,
    pub generated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Options common to every send.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendOptions {
    /// WhatsApp id of the message being replied to.
    pub quoted_id: Option<String>,
    pub mentioned_jids: Vec<Jid>,
    /// The sender's reference for this send (its idempotency key). Engines copy it onto the
    /// send's `MessageSent` event, so the control plane can tell whose send it was.
    pub client_ref: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl MediaKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
            MediaKind::Sticker => "sticker",
        }
    }
}

/// Media to send: the bytes are already fetched (and size-checked) by the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMedia {
    pub kind: MediaKind,
    pub data: bytes::Bytes,
    pub mime_type: String,
    pub caption: Option<String>,
    pub filename: Option<String>,
}

/// What WhatsApp answered to a send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMessage {
    pub message_id: String,
    pub timestamp: DateTime<Utc>,
}

/// What we show in a chat while preparing a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChatPresence {
    /// "typing…"
    Composing,
    /// "recording audio…"
    Recording,
    /// Neither (also what sending a message does).
    Paused,
}

impl ChatPresence {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatPresence::Composing => "composing",
            ChatPresence::Recording => "recording",
            ChatPresence::Paused => "paused",
        }
    }

    pub fn parse(s: &str) -> Option<ChatPresence> {
        match s {
            "composing" => Some(ChatPresence::Composing),
            "recording" => Some(ChatPresence::Recording),
            "paused" => Some(ChatPresence::Paused),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MessageKind {
    Text,
    Image,
    Video,
    Audio,
    Voice,
    Document,
    Sticker,
    Location,
    Contact,
    Other,
}

/// Media attached to a received or sent message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub mime_type: String,
    pub caption: Option<String>,
    pub filename: Option<String>,
    pub size: u64,
    /// The engine's own reference to the bytes, handed back on download (the WhatsApp
    /// engine's `wa-media:` handle, which holds the decryption key: never shown to clients).
    pub url: Option<String>,
    pub sha256: Option<String>,
    pub duration_secs: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationInfo {
    pub latitude: f64,
    pub longitude: f64,
    pub name: Option<String>,
    pub address: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactCard {
    pub display_name: String,
    pub vcard: String,
}

/// A message, received or sent, as the pipeline stores it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WaMessage {
    pub id: String,
    /// The chat: a user JID or a group JID.
    pub chat: Jid,
    /// The author: the contact, the group participant, or ourselves.
    pub sender: Jid,
    /// The sender's phone-number JID when `sender` is a LID and the engine knows the number.
    pub sender_pn: Option<Jid>,
    pub from_me: bool,
    pub push_name: Option<String>,
    pub kind: MessageKind,
    pub text: Option<String>,
    pub quoted_id: Option<String>,
    pub media: Option<MediaInfo>,
    pub location: Option<LocationInfo>,
    pub contact: Option<ContactCard>,
    pub mentioned_jids: Vec<Jid>,
    pub timestamp: DateTime<Utc>,
    /// On `MessageSent` of a send through this node: the send's [`SendOptions::client_ref`].
    /// `None` for received messages and for messages sent from the phone.
    #[serde(default)]
    pub client_ref: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ParticipantAction {
    Add,
    Remove,
    Promote,
    Demote,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantResult {
    pub jid: Jid,
    pub ok: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupParticipant {
    pub jid: Jid,
    pub is_admin: bool,
    pub is_super_admin: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    pub jid: Jid,
    pub subject: String,
    pub description: Option<String>,
    pub owner: Option<Jid>,
    pub created_at: DateTime<Utc>,
    pub participants: Vec<GroupParticipant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberCheck {
    pub phone_number: String,
    pub exists: bool,
    pub jid: Option<Jid>,
}

/// Everything an engine observes, in the order it observed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EngineEvent {
    Qr(QrCode),
    Connection(ConnectionState),
    MessageReceived(WaMessage),
    MessageSent(WaMessage),
    Receipt {
        message_ids: Vec<String>,
        chat: Jid,
        status: MessageStatus,
        participant: Option<Jid>,
        timestamp: DateTime<Utc>,
    },
    Reaction {
        message_id: String,
        chat: Jid,
        sender: Jid,
        /// Empty when the reaction was removed.
        emoji: String,
        from_me: bool,
        timestamp: DateTime<Utc>,
    },
    MessageEdited {
        message_id: String,
        chat: Jid,
        new_text: String,
        from_me: bool,
    },
    MessageRevoked {
        message_id: String,
        chat: Jid,
        from_me: bool,
    },
    ContactUpdate {
        jid: Jid,
        push_name: Option<String>,
        /// News of the profile picture: `Some(Some(url))` a (new) picture, `Some(None)` the
        /// picture was removed, `None` nothing known.
        profile_picture: Option<Option<String>>,
    },
    GroupUpdate {
        group: Jid,
        action: String,
        participants: Vec<Jid>,
        subject: Option<String>,
        actor: Option<Jid>,
    },
}
