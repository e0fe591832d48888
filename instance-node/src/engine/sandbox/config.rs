//! What a sandbox is built with ([`SandboxConfig`]: QR timings, the receipt schedule, which
//! numbers exist, pacing, where the pairing is kept) and what its controls take (faults,
//! inbound messages and their media).

use std::collections::HashSet;
use std::time::Duration;

use zapini_shared::jid::Jid;
use zapini_shared::phone::PhoneNumber;

use crate::engine::pacing::PacingConfig;
use crate::engine::types::*;

/// When the simulated recipient's phone acknowledges our messages, measured from the send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptSchedule {
    pub delivered_after: Option<Duration>,
    pub read_after: Option<Duration>,
    /// Only audio and voice messages are ever "played".
    pub played_after: Option<Duration>,
}

impl Default for ReceiptSchedule {
    fn default() -> Self {
        ReceiptSchedule {
            delivered_after: Some(Duration::from_secs(1)),
            read_after: Some(Duration::from_secs(3)),
            played_after: Some(Duration::from_secs(5)),
        }
    }
}

/// Which numbers `check_numbers` reports as being on WhatsApp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KnownNumbers {
    /// Every number exists.
    All,
    /// Every number exists except those ending in the suffix (default `0000`), so demos
    /// can show the "not on WhatsApp" path with an obvious number.
    AllExceptSuffix(String),
    /// Exactly these numbers (digits only, as `PhoneNumber::as_str`) exist.
    Only(HashSet<String>),
}

impl KnownNumbers {
    pub fn exists(&self, phone: &PhoneNumber) -> bool {
        match self {
            KnownNumbers::All => true,
            KnownNumbers::AllExceptSuffix(suffix) => !phone.as_str().ends_with(suffix.as_str()),
            KnownNumbers::Only(set) => set.contains(phone.as_str()),
        }
    }
}

impl Default for KnownNumbers {
    fn default() -> Self {
        KnownNumbers::AllExceptSuffix("0000".to_owned())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConfig {
    /// How long the first QR of a pairing attempt lives (60 s on WhatsApp).
    pub first_qr_lifetime: Duration,
    /// How long each later QR lives (20 s on WhatsApp).
    pub qr_rotation: Duration,
    /// `None`: only the immediate `sent` receipt; later ones come from `advance_receipt`.
    pub receipt_schedule: Option<ReceiptSchedule>,
    pub known_numbers: KnownNumbers,
    /// Our push name when a scan does not give one.
    pub push_name: String,
    /// Where the pairing is kept across restarts (written `0600` on pairing, removed on
    /// logout); `None` keeps it in memory only.
    pub session_file: Option<std::path::PathBuf>,
    /// The `whatsapp` engine's anti-ban pacing, applied to sends the same way (refusals
    /// included), to rehearse a client against it; `None`: sends go out at once.
    pub pacing: Option<PacingConfig>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            first_qr_lifetime: Duration::from_secs(60),
            qr_rotation: Duration::from_secs(20),
            receipt_schedule: Some(ReceiptSchedule::default()),
            known_numbers: KnownNumbers::default(),
            push_name: "Sandbox".to_owned(),
            session_file: None,
            pacing: None,
        }
    }
}

/// A failure the sandbox can be told to simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Network drop: disconnected, reason `network`; sends fail until `reconnect()`.
    Disconnect,
    /// The phone logged us out: session cleared, reason `logged_out`; the next start shows a QR.
    LoggedOut,
    /// Another client took over the session: disconnected, reason `stream_replaced`.
    StreamReplaced,
}

/// Media on an injected inbound message: its bytes (`data`), or made up to `size` bytes
/// (2 KiB when 0) with the format's leading bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMedia {
    pub kind: MessageKind,
    pub mime_type: String,
    pub caption: Option<String>,
    pub filename: Option<String>,
    pub size: u64,
    pub data: Option<bytes::Bytes>,
}

/// An inbound message to inject. Build with [`InboundSpec::new`] and the builder methods,
/// or fill the public fields directly.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundSpec {
    /// The author: a user or LID JID (use `Jid::from_phone` for a phone number).
    pub from: Jid,
    /// When set, the message arrives in this group and `from` is the participant.
    pub group: Option<Jid>,
    pub text: Option<String>,
    pub media: Option<InboundMedia>,
    pub quoted_id: Option<String>,
    pub mentioned_jids: Vec<Jid>,
    pub push_name: Option<String>,
    pub location: Option<LocationInfo>,
    pub contact: Option<ContactCard>,
}

impl InboundSpec {
    pub fn new(from: Jid) -> Self {
        InboundSpec {
            from,
            group: None,
            text: None,
            media: None,
            quoted_id: None,
            mentioned_jids: Vec::new(),
            push_name: None,
            location: None,
            contact: None,
        }
    }

    pub fn from_phone(phone: &PhoneNumber) -> Self {
        InboundSpec::new(Jid::from_phone(phone))
    }

    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    pub fn in_group(mut self, group: Jid) -> Self {
        self.group = Some(group);
        self
    }

    pub fn media(mut self, media: InboundMedia) -> Self {
        self.media = Some(media);
        self
    }

    pub fn quoting(mut self, id: impl Into<String>) -> Self {
        self.quoted_id = Some(id.into());
        self
    }

    pub fn mentioning(mut self, jids: Vec<Jid>) -> Self {
        self.mentioned_jids = jids;
        self
    }

    pub fn push_name(mut self, name: impl Into<String>) -> Self {
        self.push_name = Some(name.into());
        self
    }

    pub fn location(mut self, location: LocationInfo) -> Self {
        self.location = Some(location);
        self
    }

    pub fn contact(mut self, contact: ContactCard) -> Self {
        self.contact = Some(contact);
        self
    }
}
