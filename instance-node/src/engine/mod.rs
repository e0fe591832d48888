//! The engine seam: one trait for a WhatsApp session, with two implementations — `sandbox`
//! (a simulated WhatsApp network) and `whatsapp` (the real protocol via `whatsapp-rust`, the
//! only module that sees the crate's types). The rest of the node sees only these types; no protocol crate
//! type ever crosses this boundary.
//!
//! An engine reports everything that happens (QR codes, connection changes, messages,
//! receipts, reactions, edits, revokes, group changes) as [`EngineEvent`]s on the channel it
//! was built with; the node appends them to its durable buffer before they count.

pub mod pacing;
pub mod sandbox;
pub mod types;
pub mod whatsapp;

use async_trait::async_trait;
use zapini_shared::jid::Jid;
use zapini_shared::phone::PhoneNumber;

pub use types::*;

/// Why an engine call failed. Each maps to a clear 4xx/5xx at the node's edge.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EngineError {
    /// The session is not connected (not paired yet, logged out, or the network is down).
    #[error("the WhatsApp session is not connected")]
    NotConnected,
    /// The recipient/group/message does not exist on WhatsApp.
    #[error("{0} not found")]
    NotFound(String),
    /// We lack the rights for a group operation (not an admin, not a participant).
    #[error("not allowed: {0}")]
    NotAllowed(String),
    /// The input cannot be sent as is (unsupported media, empty text, too large).
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The operation is not offered by this engine.
    #[error("not supported by this engine: {0}")]
    Unsupported(&'static str),
    /// A transient failure (timeout, network); the caller may retry.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// Refused to protect the number (anti-ban pacing); retry after `retry_after`.
    #[error("{reason}; retry in {}s", retry_after.as_secs().max(1))]
    RateLimited {
        reason: String,
        retry_after: std::time::Duration,
    },
}

/// One WhatsApp session. Implementations are cheap to share behind an `Arc`.
#[async_trait]
pub trait Engine: Send + Sync + 'static {
    /// `sandbox` or `whatsapp`.
    fn kind(&self) -> EngineKind;

    /// Starts connecting: restores a stored session or begins pairing (QR events follow).
    async fn start(&self) -> Result<(), EngineError>;

    /// The connection as of now.
    async fn state(&self) -> ConnectionState;

    /// The QR code currently on offer, while pairing.
    async fn current_qr(&self) -> Option<QrCode>;

    /// Pairs by phone code instead of QR: returns the code to type on the phone.
    async fn request_pair_code(&self, phone: &PhoneNumber) -> Result<String, EngineError>;

    async fn send_text(
        &self,
        to: &Jid,
        text: &str,
        options: &SendOptions,
    ) -> Result<SentMessage, EngineError>;

    async fn send_media(
        &self,
        to: &Jid,
        media: &OutgoingMedia,
        options: &SendOptions,
    ) -> Result<SentMessage, EngineError>;

    /// Reacts to a message; an empty emoji removes our reaction.
    async fn react(
        &self,
        chat: &Jid,
        message_id: &str,
        from_me: bool,
        emoji: &str,
    ) -> Result<SentMessage, EngineError>;

    /// Edits one of our own text messages.
    async fn edit(
        &self,
        chat: &Jid,
        message_id: &str,
        text: &str,
    ) -> Result<SentMessage, EngineError>;

    /// Deletes one of our messages for everyone.
    async fn revoke(&self, chat: &Jid, message_id: &str) -> Result<SentMessage, EngineError>;

    /// Sends read receipts for messages in a chat.
    async fn mark_read(
        &self,
        chat: &Jid,
        sender: Option<&Jid>,
        message_ids: &[String],
    ) -> Result<(), EngineError>;

    /// Shows or clears "typing…" / "recording audio…" in a chat.
    async fn set_presence(&self, chat: &Jid, presence: ChatPresence) -> Result<(), EngineError>;

    /// Which numbers have WhatsApp.
    async fn check_numbers(&self, phones: &[PhoneNumber]) -> Result<Vec<NumberCheck>, EngineError>;

    async fn list_groups(&self) -> Result<Vec<GroupInfo>, EngineError>;

    async fn create_group(
        &self,
        subject: &str,
        participants: &[Jid],
    ) -> Result<GroupInfo, EngineError>;

    async fn group_info(&self, group: &Jid) -> Result<GroupInfo, EngineError>;

    async fn set_group_subject(&self, group: &Jid, subject: &str) -> Result<(), EngineError>;

    async fn set_group_description(
        &self,
        group: &Jid,
        description: &str,
    ) -> Result<(), EngineError>;

    async fn update_participants(
        &self,
        group: &Jid,
        action: ParticipantAction,
        participants: &[Jid],
    ) -> Result<Vec<ParticipantResult>, EngineError>;

    async fn leave_group(&self, group: &Jid) -> Result<(), EngineError>;

    /// The group's invite link; `reset` revokes the old one first.
    async fn invite_link(&self, group: &Jid, reset: bool) -> Result<String, EngineError>;

    /// The bytes of a message's media, received or sent by us. `media` is what the engine
    /// reported with the message (its `url` is the engine's own handle, if it set one: an
    /// engine that downloads from WhatsApp's servers keeps what it needs there). Engines that
    /// cannot download answer `Unsupported`; media that is gone is `NotFound`.
    async fn download_media(
        &self,
        chat: &Jid,
        message_id: &str,
        media: &MediaInfo,
    ) -> Result<bytes::Bytes, EngineError> {
        let _ = (chat, message_id, media);
        Err(EngineError::Unsupported("media download"))
    }

    /// Drops the connection but keeps the session (reconnect resumes without a scan).
    async fn disconnect(&self) -> Result<(), EngineError>;

    /// Connects again after a disconnect.
    async fn reconnect(&self) -> Result<(), EngineError>;

    /// Ends the session: the next start needs a new scan.
    async fn logout(&self) -> Result<(), EngineError>;

    /// The anti-ban pacing this engine applies to sends, with live counters (reported on the
    /// status endpoint). `None`: no pacing (the sandbox has no ban to avoid).
    fn pacing(&self) -> Option<pacing::PacingReport> {
        None
    }
}
