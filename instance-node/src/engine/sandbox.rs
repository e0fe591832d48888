//! The sandbox engine: a simulated WhatsApp network for development, demos and tests, the way
//! a payment provider offers a test mode. It pairs by a fake QR scan or pair code, "sends"
//! messages that get receipts on a schedule, accepts injected inbound traffic, keeps an
//! in-memory group model and can be told to fail (network drop, logout, stream replaced).
//! There is no phone and no ban risk.
//!
//! It must not touch the network or any real WhatsApp account. Everything lives in memory and
//! disappears with the engine, except the pairing: with [`SandboxConfig::session_file`] set (the
//! node sets it inside its data directory, as the real engine keeps its session store there),
//! the paired phone and push name are written there, so a restarted node comes back connected. Background tasks (QR rotation, receipts) hold only
//! a `Weak` reference and a generation number, so they stop when the engine is dropped or the
//! session they belong to ends.
//!
//! Build it with [`SandboxEngine::new`], which returns an `Arc` because the background tasks
//! need a weak handle to it. The inherent `pub async` methods (`scan`, `enter_pair_code`,
//! `inject_*`, `advance_receipt`, `fault`) are the controls the sandbox HTTP endpoints drive.

pub(crate) mod ids;
mod media;
pub use media::MAX_INBOUND_SIZE;
mod receipts;
mod session;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::mpsc;
use zapini_shared::jid::Jid;
use zapini_shared::phone::PhoneNumber;
use zapini_shared::status::{InstanceStatus, MessageStatus};

use self::session::Session;
use super::pacing::{Pacer, PacingConfig, PacingReport};
use super::{Engine, EngineError};
use crate::engine::types::*;

/// WhatsApp caps group subjects at 100 characters.
const MAX_SUBJECT_CHARS: usize = 100;
/// How many of our sent messages the sandbox remembers for receipts, reactions and edits.
const SENT_KEPT: usize = 10_000;

/// WhatsApp caps group descriptions at 2048 characters.
const MAX_DESCRIPTION_CHARS: usize = 2048;

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

#[derive(Debug, Clone)]
struct SentRecord {
    chat: Jid,
    kind: MessageKind,
    status: MessageStatus,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct InboundRecord {
    chat: Jid,
    sender: Jid,
    revoked: bool,
}

#[derive(Debug, Clone)]
struct Group {
    info: GroupInfo,
    invite_code: String,
}

impl Group {
    fn participant(&self, jid: &Jid) -> Option<&GroupParticipant> {
        self.info.participants.iter().find(|p| &p.jid == jid)
    }

    fn is_admin(&self, jid: &Jid) -> bool {
        self.participant(jid).is_some_and(|p| p.is_admin)
    }
}

struct State {
    conn: ConnectionState,
    session: Option<Session>,
    qr: Option<QrCode>,
    /// Bumped whenever a pairing attempt ends, so a sleeping rotation task knows to stop.
    qr_generation: u64,
    /// Bumped on logout, so scheduled receipts of the old session never fire.
    session_epoch: u64,
    /// The pair code on offer and the phone it was requested for.
    pair_code: Option<(String, PhoneNumber)>,
    sent: HashMap<String, SentRecord>,
    /// Oldest first; bounded by [`SENT_KEPT`].
    sent_order: VecDeque<String>,
    inbound: HashMap<String, InboundRecord>,
    read_marks: Vec<String>,
    groups: BTreeMap<Jid, Group>,
    /// Senders whose made-up profile picture was reported (bounded by [`SENT_KEPT`]).
    pictured: HashSet<Jid>,
}

impl State {
    fn touch(&mut self) {
        self.conn.last_activity_at = Some(Utc::now());
    }

    fn set_status(&mut self, status: InstanceStatus, reason: &str) -> EngineEvent {
        self.conn.status = status;
        self.conn.reason = Some(reason.to_owned());
        self.touch();
        EngineEvent::Connection(self.conn.clone())
    }

    /// Ends any pairing attempt: the QR and pair code on offer become void.
    fn end_pairing(&mut self) {
        self.qr = None;
        self.pair_code = None;
        self.qr_generation += 1;
    }

    /// Our JID, only while connected: every network operation starts here.
    fn connected_jid(&self) -> Result<Jid, EngineError> {
        match (&self.session, self.conn.status) {
            (Some(session), InstanceStatus::Connected) => Ok(session.jid()),
            _ => Err(EngineError::NotConnected),
        }
    }

    /// Checks a chat we send to and returns it without a device part.
    fn check_chat(&self, to: &Jid, me: &Jid) -> Result<Jid, EngineError> {
        if to.is_broadcast() || to.is_newsletter() {
            return Err(EngineError::Invalid(format!(
                "cannot send to {to}: broadcast and newsletter chats are not supported"
            )));
        }
        let chat = to.without_device();
        if chat.is_group() {
            let in_group = self
                .groups
                .get(&chat)
                .is_some_and(|g| g.participant(me).is_some());
            if !in_group {
                return Err(EngineError::NotFound(format!("group {chat}")));
            }
        }
        Ok(chat)
    }

    fn group(&self, jid: &Jid) -> Result<&Group, EngineError> {
        self.groups
            .get(jid)
            .ok_or_else(|| EngineError::NotFound(format!("group {jid}")))
    }

    fn group_mut(&mut self, jid: &Jid) -> Result<&mut Group, EngineError> {
        self.groups
            .get_mut(jid)
            .ok_or_else(|| EngineError::NotFound(format!("group {jid}")))
    }
}

/// A simulated WhatsApp session. See the module docs.
pub struct SandboxEngine {
    config: SandboxConfig,
    events: mpsc::Sender<EngineEvent>,
    state: Mutex<State>,
    /// Bytes of received and sent media, for `download_media`.
    media: Mutex<media::MediaStore>,
    /// A weak handle to ourselves for background tasks, so they never keep us alive.
    me: Weak<SandboxEngine>,
    /// Receipts waiting for their time (see [`receipts`]).
    receipts: Arc<receipts::ReceiptQueue>,
    /// Pacing of sends when [`SandboxConfig::pacing`] is set.
    pacer: Option<Pacer>,
}

impl Drop for SandboxEngine {
    fn drop(&mut self) {
        self.receipts.close();
    }
}

impl SandboxEngine {
    /// Applies pacing (when configured) to a send to `to` of a connected session: waits the
    /// gaps and typing time, or refuses with a retry time.
    async fn pace(&self, to: &Jid, text_chars: usize) -> Result<(), EngineError> {
        let Some(pacer) = &self.pacer else {
            return Ok(());
        };
        self.lock().connected_jid()?;
        let plan = pacer.admit(
            &to.to_string(),
            to.is_group(),
            text_chars,
            std::time::Instant::now(),
        )?;
        let total = plan.total();
        if !total.is_zero() {
            tokio::time::sleep(total).await;
        }
        Ok(())
    }

    /// Builds an unpaired engine (status `pending`) that reports to `events`.
    pub fn new(config: SandboxConfig, events: mpsc::Sender<EngineEvent>) -> Arc<SandboxEngine> {
        let receipts = Arc::new(receipts::ReceiptQueue::new(
            config.receipt_schedule.as_ref(),
        ));
        let session = config.session_file.as_deref().and_then(session::load);
        let pacer = config.pacing.clone().map(|p| Pacer::new(p, None));
        Arc::new_cyclic(|me| SandboxEngine {
            receipts,
            pacer,
            config,
            events,
            media: Mutex::new(media::MediaStore::default()),
            state: Mutex::new(State {
                conn: ConnectionState::pending(),
                session,
                qr: None,
                qr_generation: 0,
                session_epoch: 0,
                pair_code: None,
                sent: HashMap::new(),
                sent_order: VecDeque::new(),
                inbound: HashMap::new(),
                read_marks: Vec::new(),
                groups: BTreeMap::new(),
                pictured: HashSet::new(),
            }),
            me: me.clone(),
        })
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Short critical sections only; a panic elsewhere must not wedge the sandbox.
    fn media_lock(&self) -> MutexGuard<'_, media::MediaStore> {
        self.media.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn emit(&self, events: Vec<EngineEvent>) {
        for event in events {
            if self.events.send(event).await.is_err() {
                tracing::debug!("sandbox event receiver is gone; dropping event");
            }
        }
    }

    /// Shows a fresh QR (status `qr_ready`) and starts rotating it.
    fn begin_pairing(&self, st: &mut State) -> Vec<EngineEvent> {
        st.end_pairing();
        let qr = ids::qr_code(self.config.first_qr_lifetime);
        st.qr = Some(qr.clone());
        st.conn.phone_number = None;
        st.conn.push_name = None;
        st.conn.platform = None;
        let conn = st.set_status(InstanceStatus::QrReady, "qr");
        self.spawn_qr_rotation(st.qr_generation);
        vec![conn, EngineEvent::Qr(qr)]
    }

    fn spawn_qr_rotation(&self, generation: u64) {
        let weak = self.me.clone();
        let rotation = self.config.qr_rotation;
        let mut wait = self.config.first_qr_lifetime;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(wait).await;
                wait = rotation;
                let Some(engine) = weak.upgrade() else { return };
                let qr = {
                    let mut st = engine.lock();
                    if st.qr_generation != generation || st.conn.status != InstanceStatus::QrReady {
                        return;
                    }
                    let qr = ids::qr_code(rotation);
                    st.qr = Some(qr.clone());
                    qr
                };
                engine.emit(vec![EngineEvent::Qr(qr)]).await;
            }
        });
    }

    fn complete_pairing(
        &self,
        st: &mut State,
        phone: &PhoneNumber,
        push_name: Option<&str>,
    ) -> EngineEvent {
        st.end_pairing();
        let session = Session {
            phone: phone.clone(),
            push_name: push_name
                .map(str::to_owned)
                .unwrap_or_else(|| self.config.push_name.clone()),
        };
        st.conn.phone_number = Some(phone.as_str().to_owned());
        st.conn.push_name = Some(session.push_name.clone());
        st.conn.platform = Some("android".to_owned());
        self.save_session(Some(&session));
        st.session = Some(session);
        st.set_status(InstanceStatus::Connected, "paired")
    }

    /// Connects with the stored session, or starts pairing when there is none.
    async fn connect(&self, restored_reason: &str) -> Result<(), EngineError> {
        let events = {
            let mut st = self.lock();
            match st.conn.status {
                InstanceStatus::Connected => return Ok(()),
                // A pairing attempt in progress keeps its QR or pair code.
                InstanceStatus::QrReady => return Ok(()),
                InstanceStatus::Pending if st.pair_code.is_some() => return Ok(()),
                _ => {}
            }
            if st.session.is_some() {
                st.end_pairing();
                vec![st.set_status(InstanceStatus::Connected, restored_reason)]
            } else {
                self.begin_pairing(&mut st)
            }
        };
        self.emit(events).await;
        Ok(())
    }

    /// Simulates the phone scanning the QR on offer. Only while a QR (or pair code) is shown.
    pub async fn scan(
        &self,
        phone: &PhoneNumber,
        push_name: Option<&str>,
    ) -> Result<ConnectionState, EngineError> {
        let (event, state) = {
            let mut st = self.lock();
            let pairing = st.conn.status == InstanceStatus::QrReady
                || (st.conn.status == InstanceStatus::Pending && st.pair_code.is_some());
            if !pairing {
                return Err(EngineError::Invalid(
                    "no pairing in progress: call start() first".to_owned(),
                ));
            }
            let event = self.complete_pairing(&mut st, phone, push_name);
            (event, st.conn.clone())
        };
        self.emit(vec![event]).await;
        Ok(state)
    }

    /// Simulates typing the pair code on the phone; pairs when it matches the one on offer.
    pub async fn enter_pair_code(&self, code: &str) -> Result<ConnectionState, EngineError> {
        let (event, state) = {
            let mut st = self.lock();
            let Some((expected, phone)) = st.pair_code.clone() else {
                return Err(EngineError::Invalid(
                    "no pair code was requested".to_owned(),
                ));
            };
            if ids::normalize_pair_code(code) != ids::normalize_pair_code(&expected) {
                return Err(EngineError::Invalid(
                    "the pair code does not match".to_owned(),
                ));
            }
            let event = self.complete_pairing(&mut st, &phone, None);
            (event, st.conn.clone())
        };
        self.emit(vec![event]).await;
        Ok(state)
    }

    /// Simulates a message arriving from someone else, emitting `MessageReceived`.
    pub async fn inject_message(&self, spec: InboundSpec) -> Result<WaMessage, EngineError> {
        let message = {
            let mut st = self.lock();
            st.connected_jid()?;
            if !(spec.from.is_user() || spec.from.is_lid()) {
                return Err(EngineError::Invalid(format!(
                    "sender {} must be a user or LID JID",
                    spec.from
                )));
            }
            let sender = spec.from.without_device();
            let chat = match &spec.group {
                Some(group) => {
                    let g = st.group(group)?;
                    if g.participant(&sender).is_none() {
                        return Err(EngineError::Invalid(format!(
                            "{sender} is not a participant of {group}"
                        )));
                    }
                    group.clone()
                }
                None => sender.clone(),
            };
            let kind = if let Some(media) = &spec.media {
                media.kind
            } else if spec.location.is_some() {
                MessageKind::Location
            } else if spec.contact.is_some() {
                MessageKind::Contact
            } else if spec.text.as_deref().is_some_and(|t| !t.is_empty()) {
                MessageKind::Text
            } else {
                return Err(EngineError::Invalid(
                    "an inbound message needs text, media, a location or a contact".to_owned(),
                ));
            };
            if let Some(m) = &spec.media {
                let given = m.data.as_ref().map_or(0, |d| d.len() as u64);
                if m.size.max(given) > media::MAX_INBOUND_SIZE {
                    return Err(EngineError::Invalid(format!(
                        "inbound media may be at most {} MB",
                        media::MAX_INBOUND_SIZE >> 20
                    )));
                }
            }
            let id = ids::their_message_id();
            let media_info = spec.media.map(|m| {
                let data = m.data.unwrap_or_else(|| {
                    let size = usize::try_from(m.size)
                        .ok()
                        .filter(|s| *s > 0)
                        .unwrap_or(media::DEFAULT_SIZE);
                    media::synthesize(&m.mime_type, size, &id)
                });
                let info = MediaInfo {
                    mime_type: m.mime_type,
                    caption: m.caption,
                    filename: m.filename,
                    size: data.len() as u64,
                    url: None,
                    sha256: None,
                    duration_secs: None,
                };
                self.media_lock().insert(&id, data);
                info
            });
            let message = WaMessage {
                id,
                chat: chat.clone(),
                sender: sender.clone(),
                sender_pn: None,
                from_me: false,
                push_name: spec.push_name,
                kind,
                text: spec.text,
                quoted_id: spec.quoted_id,
                media: media_info,
                location: spec.location,
                contact: spec.contact,
                mentioned_jids: spec.mentioned_jids,
                timestamp: Utc::now(),
            };
            st.inbound.insert(
                message.id.clone(),
                InboundRecord {
                    chat,
                    sender,
                    revoked: false,
                },
            );
            st.touch();
            message
        };
        let mut events = vec![EngineEvent::MessageReceived(message.clone())];
        // As the real engine fetches a new contact's picture, the sandbox makes one up.
        let first_from_sender = {
            let mut st = self.lock();
            if st.pictured.len() >= SENT_KEPT {
                st.pictured.clear();
            }
            st.pictured.insert(message.sender.clone())
        };
        if first_from_sender {
            events.push(EngineEvent::ContactUpdate {
                jid: message.sender.clone(),
                push_name: None,
                profile_picture: Some(Some(ids::profile_picture_url(&message.sender))),
            });
        }
        self.emit(events).await;
        Ok(message)
    }

    /// Simulates someone reacting to a message (ours or theirs) in `chat`.
    pub async fn inject_reaction(
        &self,
        from: &Jid,
        chat: &Jid,
        message_id: &str,
        emoji: &str,
    ) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            st.connected_jid()?;
            let known = st.sent.get(message_id).map(|r| &r.chat) == Some(chat)
                || st.inbound.get(message_id).map(|r| &r.chat) == Some(chat);
            if !known {
                return Err(EngineError::NotFound(format!("message {message_id}")));
            }
            st.touch();
            EngineEvent::Reaction {
                message_id: message_id.to_owned(),
                chat: chat.clone(),
                sender: from.without_device(),
                emoji: emoji.to_owned(),
                from_me: false,
                timestamp: Utc::now(),
            }
        };
        self.emit(vec![event]).await;
        Ok(())
    }

    /// Finds an injected message that `from` may edit or revoke.
    fn their_message<'a>(
        st: &'a mut State,
        from: &Jid,
        chat: &Jid,
        message_id: &str,
    ) -> Result<&'a mut InboundRecord, EngineError> {
        let from = from.without_device();
        match st.inbound.get_mut(message_id) {
            Some(r) if &r.chat == chat && r.sender == from && !r.revoked => Ok(r),
            _ => Err(EngineError::NotFound(format!("message {message_id}"))),
        }
    }

    /// Simulates the author editing one of their injected messages.
    pub async fn inject_edit(
        &self,
        from: &Jid,
        chat: &Jid,
        message_id: &str,
        new_text: &str,
    ) -> Result<(), EngineError> {
        if new_text.is_empty() {
            return Err(EngineError::Invalid("the new text is empty".to_owned()));
        }
        {
            let mut st = self.lock();
            st.connected_jid()?;
            Self::their_message(&mut st, from, chat, message_id)?;
            st.touch();
        }
        self.emit(vec![EngineEvent::MessageEdited {
            message_id: message_id.to_owned(),
            chat: chat.clone(),
            new_text: new_text.to_owned(),
            from_me: false,
        }])
        .await;
        Ok(())
    }

    /// Simulates the author deleting one of their injected messages for everyone.
    pub async fn inject_revoke(
        &self,
        from: &Jid,
        chat: &Jid,
        message_id: &str,
    ) -> Result<(), EngineError> {
        {
            let mut st = self.lock();
            st.connected_jid()?;
            Self::their_message(&mut st, from, chat, message_id)?.revoked = true;
            st.touch();
        }
        self.emit(vec![EngineEvent::MessageRevoked {
            message_id: message_id.to_owned(),
            chat: chat.clone(),
            from_me: false,
        }])
        .await;
        Ok(())
    }

    /// Emits a receipt for one of our messages now. Receipts never go backwards: a status at
    /// or below the current one is a no-op returning `Ok(false)`. `played` is audio-only.
    pub async fn advance_receipt(
        &self,
        message_id: &str,
        status: MessageStatus,
    ) -> Result<bool, EngineError> {
        let event = {
            let mut st = self.lock();
            let Some(record) = st.sent.get_mut(message_id) else {
                return Err(EngineError::NotFound(format!("message {message_id}")));
            };
            if status == MessageStatus::Played
                && !matches!(record.kind, MessageKind::Audio | MessageKind::Voice)
            {
                return Err(EngineError::Invalid(
                    "only audio messages can be played".to_owned(),
                ));
            }
            if status <= record.status {
                return Ok(false);
            }
            record.status = status;
            let chat = record.chat.clone();
            st.touch();
            EngineEvent::Receipt {
                message_ids: vec![message_id.to_owned()],
                chat,
                status,
                participant: None,
                timestamp: Utc::now(),
            }
        };
        self.emit(vec![event]).await;
        Ok(true)
    }

    /// Simulates a failure of the connection or the session.
    pub async fn fault(&self, fault: Fault) -> Result<ConnectionState, EngineError> {
        let (event, state) = {
            let mut st = self.lock();
            if st.conn.status != InstanceStatus::Connected
                && !(fault == Fault::LoggedOut && st.session.is_some())
            {
                return Err(EngineError::Invalid(
                    "faults apply to a connected (or paired) session".to_owned(),
                ));
            }
            let event = match fault {
                Fault::Disconnect => st.set_status(InstanceStatus::Disconnected, "network"),
                Fault::StreamReplaced => {
                    st.set_status(InstanceStatus::Disconnected, "stream_replaced")
                }
                Fault::LoggedOut => self.clear_session(&mut st),
            };
            (event, st.conn.clone())
        };
        self.emit(vec![event]).await;
        Ok(state)
    }

    fn save_session(&self, session: Option<&Session>) {
        if let Some(path) = self.config.session_file.as_deref() {
            session::save(path, session);
        }
    }

    fn clear_session(&self, st: &mut State) -> EngineEvent {
        self.save_session(None);
        st.end_pairing();
        st.session = None;
        st.session_epoch += 1;
        st.conn.phone_number = None;
        st.conn.push_name = None;
        st.conn.platform = None;
        st.set_status(InstanceStatus::Disconnected, "logged_out")
    }

    /// Creates a group someone else made and added us to, e.g. one where we are not admin.
    /// The first participant is its creator unless we are admin (then we are).
    pub async fn inject_group(
        &self,
        subject: &str,
        participants: &[Jid],
        we_are_admin: bool,
    ) -> Result<GroupInfo, EngineError> {
        let (info, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let others = user_participants(participants, &me)?;
            check_subject(subject)?;
            let owner = if we_are_admin {
                me.clone()
            } else {
                others.first().cloned().ok_or_else(|| {
                    EngineError::Invalid("a group we do not own needs an owner".to_owned())
                })?
            };
            let mut members = vec![GroupParticipant {
                jid: me.clone(),
                is_admin: we_are_admin,
                is_super_admin: we_are_admin,
            }];
            members.extend(others.iter().map(|jid| GroupParticipant {
                jid: jid.clone(),
                is_admin: jid == &owner,
                is_super_admin: jid == &owner,
            }));
            let info = self.insert_group(&mut st, subject, owner.clone(), members);
            let event = EngineEvent::GroupUpdate {
                group: info.jid.clone(),
                action: "add".to_owned(),
                participants: vec![me],
                subject: Some(subject.to_owned()),
                actor: Some(owner),
            };
            (info, event)
        };
        self.emit(vec![event]).await;
        Ok(info)
    }

    fn insert_group(
        &self,
        st: &mut State,
        subject: &str,
        owner: Jid,
        participants: Vec<GroupParticipant>,
    ) -> GroupInfo {
        let mut jid = ids::group_jid();
        while st.groups.contains_key(&jid) {
            jid = ids::group_jid();
        }
        let info = GroupInfo {
            jid: jid.clone(),
            subject: subject.to_owned(),
            description: None,
            owner: Some(owner),
            created_at: Utc::now(),
            participants,
        };
        st.groups.insert(
            jid,
            Group {
                info: info.clone(),
                invite_code: ids::invite_code(),
            },
        );
        st.touch();
        info
    }

    /// The status of one of our sent messages, as the receipts so far have moved it.
    pub fn message_status(&self, message_id: &str) -> Option<MessageStatus> {
        self.lock().sent.get(message_id).map(|r| r.status)
    }

    /// Ids of our sent messages, oldest first.
    pub fn sent_ids(&self) -> Vec<String> {
        self.lock().sent_order.iter().cloned().collect()
    }

    /// Message ids we marked as read, in order.
    pub fn read_marks(&self) -> Vec<String> {
        self.lock().read_marks.clone()
    }

    /// Whether a paired session is stored (what lets `start()` skip the QR).
    pub fn has_session(&self) -> bool {
        self.lock().session.is_some()
    }

    /// Records and announces one of our sends, then schedules its receipts.
    async fn record_send(&self, message: WaMessage) -> SentMessage {
        let epoch = {
            let mut st = self.lock();
            st.sent.insert(
                message.id.clone(),
                SentRecord {
                    chat: message.chat.clone(),
                    kind: message.kind,
                    status: MessageStatus::Pending,
                    revoked: false,
                },
            );
            st.sent_order.push_back(message.id.clone());
            // Receipts and reactions only concern recent sends; memory stays flat.
            while st.sent_order.len() > SENT_KEPT {
                if let Some(old) = st.sent_order.pop_front() {
                    st.sent.remove(&old);
                }
            }
            st.touch();
            st.session_epoch
        };
        let sent = SentMessage {
            message_id: message.id.clone(),
            timestamp: message.timestamp,
        };
        let audio = matches!(message.kind, MessageKind::Audio | MessageKind::Voice);
        self.emit(vec![EngineEvent::MessageSent(message)]).await;
        // The server ack is immediate on WhatsApp, so the `sent` receipt is not scheduled.
        if let Err(err) = self
            .advance_receipt(&sent.message_id, MessageStatus::Sent)
            .await
        {
            tracing::debug!(%err, "sandbox could not record the sent receipt");
        }
        self.schedule_receipts(sent.message_id.clone(), audio, epoch);
        sent
    }

    fn schedule_receipts(&self, message_id: String, audio: bool, epoch: u64) {
        if !self.receipts.push(&message_id, audio, epoch) {
            return;
        }
        // The first receipt queued: start the one task that gives them all.
        let weak = self.me.clone();
        let queue = self.receipts.clone();
        tokio::spawn(async move {
            while let Some(due) = queue.next_batch().await {
                let Some(engine) = weak.upgrade() else { return };
                let epoch = engine.lock().session_epoch;
                for receipt in due.into_iter().filter(|d| d.epoch == epoch) {
                    // A no-op when an on-demand receipt already moved the message further.
                    if let Err(err) = engine
                        .advance_receipt(&receipt.message_id, receipt.status)
                        .await
                    {
                        tracing::debug!(%err, "sandbox scheduled receipt skipped");
                    }
                }
            }
        });
    }

    /// A person's chat must be a number on WhatsApp (per `known_numbers`).
    fn check_exists(&self, chat: &Jid) -> Result<(), EngineError> {
        if chat.is_user()
            && let Some(phone) = chat.phone_number()
            && !self.config.known_numbers.exists(&phone)
        {
            return Err(EngineError::NotFound(format!(
                "{} is not on WhatsApp",
                phone.as_str()
            )));
        }
        Ok(())
    }

    /// Our own previously sent, not revoked, message in `chat`.
    fn own_message<'a>(
        st: &'a mut State,
        chat: &Jid,
        message_id: &str,
    ) -> Result<&'a mut SentRecord, EngineError> {
        match st.sent.get_mut(message_id) {
            Some(r) if &r.chat == chat && !r.revoked => Ok(r),
            _ => Err(EngineError::NotFound(format!("message {message_id}"))),
        }
    }
}

/// Validates group participants: user JIDs only, without devices, deduplicated, not us.
fn user_participants(participants: &[Jid], me: &Jid) -> Result<Vec<Jid>, EngineError> {
    let mut out: Vec<Jid> = Vec::new();
    for jid in participants {
        if !jid.is_user() {
            return Err(EngineError::Invalid(format!(
                "participant {jid} is not a user JID"
            )));
        }
        let jid = jid.without_device();
        if &jid != me && !out.contains(&jid) {
            out.push(jid);
        }
    }
    Ok(out)
}

fn check_subject(subject: &str) -> Result<(), EngineError> {
    let len = subject.trim().chars().count();
    if len == 0 {
        return Err(EngineError::Invalid(
            "the group subject is empty".to_owned(),
        ));
    }
    if subject.chars().count() > MAX_SUBJECT_CHARS {
        return Err(EngineError::Invalid(format!(
            "the group subject is longer than {MAX_SUBJECT_CHARS} characters"
        )));
    }
    Ok(())
}

fn outgoing_kind(media: &OutgoingMedia) -> MessageKind {
    match media.kind {
        MediaKind::Image => MessageKind::Image,
        MediaKind::Video => MessageKind::Video,
        // WhatsApp voice notes are Opus in Ogg; other audio is a plain audio file.
        MediaKind::Audio if media.mime_type.contains("opus") => MessageKind::Voice,
        MediaKind::Audio => MessageKind::Audio,
        MediaKind::Document => MessageKind::Document,
        MediaKind::Sticker => MessageKind::Sticker,
    }
}

fn group_event(group: &Jid, action: &str, participants: Vec<Jid>, me: &Jid) -> EngineEvent {
    EngineEvent::GroupUpdate {
        group: group.clone(),
        action: action.to_owned(),
        participants,
        subject: None,
        actor: Some(me.clone()),
    }
}

#[async_trait]
impl Engine for SandboxEngine {
    fn pacing(&self) -> Option<PacingReport> {
        self.pacer
            .as_ref()
            .map(|p| p.report(std::time::Instant::now()))
    }

    fn kind(&self) -> EngineKind {
        EngineKind::Sandbox
    }

    async fn start(&self) -> Result<(), EngineError> {
        self.connect("restored").await
    }

    async fn state(&self) -> ConnectionState {
        self.lock().conn.clone()
    }

    async fn current_qr(&self) -> Option<QrCode> {
        self.lock().qr.clone()
    }

    async fn request_pair_code(&self, phone: &PhoneNumber) -> Result<String, EngineError> {
        let (code, event) = {
            let mut st = self.lock();
            let waiting = st.conn.status == InstanceStatus::QrReady
                || (st.conn.status == InstanceStatus::Pending && st.pair_code.is_some());
            if !waiting {
                return Err(EngineError::Invalid(
                    "a pair code needs a pairing in progress: call start() first".to_owned(),
                ));
            }
            // Asking for a code replaces the QR, as on WhatsApp's "link with phone number".
            st.end_pairing();
            let code = ids::pair_code();
            st.pair_code = Some((code.clone(), phone.clone()));
            (code, st.set_status(InstanceStatus::Pending, "pair_code"))
        };
        self.emit(vec![event]).await;
        Ok(code)
    }

    async fn send_text(
        &self,
        to: &Jid,
        text: &str,
        options: &SendOptions,
    ) -> Result<SentMessage, EngineError> {
        self.pace(to, text.chars().count()).await?;
        let message = {
            let st = self.lock();
            let me = st.connected_jid()?;
            let chat = st.check_chat(to, &me)?;
            self.check_exists(&chat)?;
            if text.trim().is_empty() {
                return Err(EngineError::Invalid("the text is empty".to_owned()));
            }
            WaMessage {
                id: ids::own_message_id(),
                chat,
                sender: me,
                sender_pn: None,
                from_me: true,
                push_name: st.session.as_ref().map(|s| s.push_name.clone()),
                kind: MessageKind::Text,
                text: Some(text.to_owned()),
                quoted_id: options.quoted_id.clone(),
                media: None,
                location: None,
                contact: None,
                mentioned_jids: options.mentioned_jids.clone(),
                timestamp: Utc::now(),
            }
        };
        Ok(self.record_send(message).await)
    }

    async fn send_media(
        &self,
        to: &Jid,
        media: &OutgoingMedia,
        options: &SendOptions,
    ) -> Result<SentMessage, EngineError> {
        let caption_chars = media.caption.as_deref().map_or(0, |c| c.chars().count());
        self.pace(to, caption_chars).await?;
        let message = {
            let st = self.lock();
            let me = st.connected_jid()?;
            let chat = st.check_chat(to, &me)?;
            self.check_exists(&chat)?;
            if media.data.is_empty() {
                return Err(EngineError::Invalid("the media is empty".to_owned()));
            }
            if media.mime_type.trim().is_empty() {
                return Err(EngineError::Invalid(
                    "the media has no MIME type".to_owned(),
                ));
            }
            let id = ids::own_message_id();
            self.media_lock().insert(&id, media.data.clone());
            WaMessage {
                id,
                chat,
                sender: me,
                sender_pn: None,
                from_me: true,
                push_name: st.session.as_ref().map(|s| s.push_name.clone()),
                kind: outgoing_kind(media),
                text: None,
                quoted_id: options.quoted_id.clone(),
                media: Some(MediaInfo {
                    mime_type: media.mime_type.clone(),
                    caption: media.caption.clone(),
                    filename: media.filename.clone(),
                    size: media.data.len() as u64,
                    url: None,
                    sha256: None,
                    duration_secs: None,
                }),
                location: None,
                contact: None,
                mentioned_jids: options.mentioned_jids.clone(),
                timestamp: Utc::now(),
            }
        };
        Ok(self.record_send(message).await)
    }

    async fn react(
        &self,
        chat: &Jid,
        message_id: &str,
        from_me: bool,
        emoji: &str,
    ) -> Result<SentMessage, EngineError> {
        let (sent, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let chat = st.check_chat(chat, &me)?;
            if message_id.is_empty() {
                return Err(EngineError::Invalid("the message id is empty".to_owned()));
            }
            // Like WhatsApp, the target is not verified: reactions to unknown ids are accepted.
            let _ = from_me;
            st.touch();
            let sent = SentMessage {
                message_id: ids::own_message_id(),
                timestamp: Utc::now(),
            };
            let event = EngineEvent::Reaction {
                message_id: message_id.to_owned(),
                chat,
                sender: me,
                emoji: emoji.to_owned(),
                from_me: true,
                timestamp: sent.timestamp,
            };
            (sent, event)
        };
        self.emit(vec![event]).await;
        Ok(sent)
    }

    async fn edit(
        &self,
        chat: &Jid,
        message_id: &str,
        text: &str,
    ) -> Result<SentMessage, EngineError> {
        let (sent, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let chat = st.check_chat(chat, &me)?;
            if text.trim().is_empty() {
                return Err(EngineError::Invalid("the new text is empty".to_owned()));
            }
            Self::own_message(&mut st, &chat, message_id)?;
            st.touch();
            let sent = SentMessage {
                message_id: ids::own_message_id(),
                timestamp: Utc::now(),
            };
            let event = EngineEvent::MessageEdited {
                message_id: message_id.to_owned(),
                chat,
                new_text: text.to_owned(),
                from_me: true,
            };
            (sent, event)
        };
        self.emit(vec![event]).await;
        Ok(sent)
    }

    async fn revoke(&self, chat: &Jid, message_id: &str) -> Result<SentMessage, EngineError> {
        let (sent, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let chat = st.check_chat(chat, &me)?;
            Self::own_message(&mut st, &chat, message_id)?.revoked = true;
            st.touch();
            let sent = SentMessage {
                message_id: ids::own_message_id(),
                timestamp: Utc::now(),
            };
            let event = EngineEvent::MessageRevoked {
                message_id: message_id.to_owned(),
                chat,
                from_me: true,
            };
            (sent, event)
        };
        self.emit(vec![event]).await;
        Ok(sent)
    }

    async fn mark_read(
        &self,
        chat: &Jid,
        _sender: Option<&Jid>,
        message_ids: &[String],
    ) -> Result<(), EngineError> {
        let mut st = self.lock();
        let me = st.connected_jid()?;
        st.check_chat(chat, &me)?;
        st.read_marks.extend(message_ids.iter().cloned());
        st.touch();
        Ok(())
    }

    async fn check_numbers(&self, phones: &[PhoneNumber]) -> Result<Vec<NumberCheck>, EngineError> {
        let mut st = self.lock();
        st.connected_jid()?;
        st.touch();
        Ok(phones
            .iter()
            .map(|phone| {
                let exists = self.config.known_numbers.exists(phone);
                NumberCheck {
                    phone_number: phone.as_str().to_owned(),
                    exists,
                    jid: exists.then(|| Jid::from_phone(phone)),
                }
            })
            .collect())
    }

    async fn list_groups(&self) -> Result<Vec<GroupInfo>, EngineError> {
        let mut st = self.lock();
        st.connected_jid()?;
        st.touch();
        Ok(st.groups.values().map(|g| g.info.clone()).collect())
    }

    async fn create_group(
        &self,
        subject: &str,
        participants: &[Jid],
    ) -> Result<GroupInfo, EngineError> {
        let (info, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            check_subject(subject)?;
            let others = user_participants(participants, &me)?;
            if others.is_empty() {
                return Err(EngineError::Invalid(
                    "a group needs at least one other participant".to_owned(),
                ));
            }
            let mut members = vec![GroupParticipant {
                jid: me.clone(),
                is_admin: true,
                is_super_admin: true,
            }];
            members.extend(others.iter().map(|jid| GroupParticipant {
                jid: jid.clone(),
                is_admin: false,
                is_super_admin: false,
            }));
            let info = self.insert_group(&mut st, subject, me.clone(), members);
            let event = EngineEvent::GroupUpdate {
                group: info.jid.clone(),
                action: "create".to_owned(),
                participants: others,
                subject: Some(subject.to_owned()),
                actor: Some(me),
            };
            (info, event)
        };
        self.emit(vec![event]).await;
        Ok(info)
    }

    async fn group_info(&self, group: &Jid) -> Result<GroupInfo, EngineError> {
        let mut st = self.lock();
        st.connected_jid()?;
        let info = st.group(group)?.info.clone();
        st.touch();
        Ok(info)
    }

    async fn set_group_subject(&self, group: &Jid, subject: &str) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            check_subject(subject)?;
            st.group_mut(group)?.info.subject = subject.to_owned();
            st.touch();
            EngineEvent::GroupUpdate {
                group: group.clone(),
                action: "subject".to_owned(),
                participants: Vec::new(),
                subject: Some(subject.to_owned()),
                actor: Some(me),
            }
        };
        self.emit(vec![event]).await;
        Ok(())
    }

    async fn set_group_description(
        &self,
        group: &Jid,
        description: &str,
    ) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            if description.chars().count() > MAX_DESCRIPTION_CHARS {
                return Err(EngineError::Invalid(format!(
                    "the group description is longer than {MAX_DESCRIPTION_CHARS} characters"
                )));
            }
            // An empty description clears it, as on WhatsApp.
            st.group_mut(group)?.info.description =
                (!description.is_empty()).then(|| description.to_owned());
            st.touch();
            group_event(group, "description", Vec::new(), &me)
        };
        self.emit(vec![event]).await;
        Ok(())
    }

    async fn update_participants(
        &self,
        group: &Jid,
        action: ParticipantAction,
        participants: &[Jid],
    ) -> Result<Vec<ParticipantResult>, EngineError> {
        let (results, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let g = st.group_mut(group)?;
            // WhatsApp's default group settings: only admins change membership and roles.
            if !g.is_admin(&me) {
                return Err(EngineError::NotAllowed(format!(
                    "we are not an admin of {group}"
                )));
            }
            let mut results = Vec::new();
            let mut changed = Vec::new();
            for jid in participants {
                let jid = jid.without_device();
                let outcome = apply_participant(g, action, &jid, &me);
                if outcome.is_ok() {
                    changed.push(jid.clone());
                }
                results.push(ParticipantResult {
                    jid,
                    ok: outcome.is_ok(),
                    error: outcome.err().map(str::to_owned),
                });
            }
            st.touch();
            let event = (!changed.is_empty()).then(|| {
                let name = match action {
                    ParticipantAction::Add => "add",
                    ParticipantAction::Remove => "remove",
                    ParticipantAction::Promote => "promote",
                    ParticipantAction::Demote => "demote",
                };
                group_event(group, name, changed, &me)
            });
            (results, event)
        };
        self.emit(event.into_iter().collect()).await;
        Ok(results)
    }

    async fn leave_group(&self, group: &Jid) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            st.group(group)?;
            // Once we leave, the group is gone from our point of view.
            st.groups.remove(group);
            st.touch();
            group_event(group, "leave", vec![me.clone()], &me)
        };
        self.emit(vec![event]).await;
        Ok(())
    }

    async fn invite_link(&self, group: &Jid, reset: bool) -> Result<String, EngineError> {
        let (link, event) = {
            let mut st = self.lock();
            let me = st.connected_jid()?;
            let g = st.group_mut(group)?;
            if !g.is_admin(&me) {
                return Err(EngineError::NotAllowed(format!(
                    "only admins can see the invite link of {group}"
                )));
            }
            if reset {
                g.invite_code = ids::invite_code();
            }
            let link = ids::invite_link(&g.invite_code);
            st.touch();
            let event = reset.then(|| group_event(group, "invite_reset", Vec::new(), &me));
            (link, event)
        };
        self.emit(event.into_iter().collect()).await;
        Ok(link)
    }

    async fn download_media(
        &self,
        _chat: &Jid,
        message_id: &str,
        _media: &MediaInfo,
    ) -> Result<bytes::Bytes, EngineError> {
        self.lock().connected_jid()?;
        self.media_lock()
            .get(message_id)
            .ok_or_else(|| EngineError::NotFound(format!("media of message {message_id}")))
    }

    async fn disconnect(&self) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            st.end_pairing();
            st.set_status(InstanceStatus::Disconnected, "requested")
        };
        self.emit(vec![event]).await;
        Ok(())
    }

    async fn reconnect(&self) -> Result<(), EngineError> {
        self.connect("reconnected").await
    }

    async fn logout(&self) -> Result<(), EngineError> {
        let event = {
            let mut st = self.lock();
            self.clear_session(&mut st)
        };
        self.emit(vec![event]).await;
        Ok(())
    }
}

/// Applies one participant change; the error is the per-participant reason.
fn apply_participant(
    g: &mut Group,
    action: ParticipantAction,
    jid: &Jid,
    me: &Jid,
) -> Result<(), &'static str> {
    let members = &mut g.info.participants;
    let index = members.iter().position(|p| &p.jid == jid);
    match (action, index) {
        (ParticipantAction::Add, Some(_)) => Err("already a participant"),
        (ParticipantAction::Add, None) if !jid.is_user() => Err("not a user JID"),
        (ParticipantAction::Add, None) => {
            members.push(GroupParticipant {
                jid: jid.clone(),
                is_admin: false,
                is_super_admin: false,
            });
            Ok(())
        }
        (_, None) => Err("not a participant"),
        (ParticipantAction::Remove, Some(_)) if jid == me => Err("use leave_group to leave"),
        (ParticipantAction::Remove, Some(i)) if members[i].is_super_admin => {
            Err("the group creator cannot be removed")
        }
        (ParticipantAction::Remove, Some(i)) => {
            members.remove(i);
            Ok(())
        }
        (ParticipantAction::Promote, Some(i)) => {
            members[i].is_admin = true;
            Ok(())
        }
        (ParticipantAction::Demote, Some(i)) if members[i].is_super_admin => {
            Err("the group creator cannot be demoted")
        }
        (ParticipantAction::Demote, Some(i)) => {
            members[i].is_admin = false;
            Ok(())
        }
    }
}
