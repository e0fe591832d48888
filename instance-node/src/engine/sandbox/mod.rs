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

mod config;
pub(crate) mod ids;
mod inject;
mod media;
pub use media::MAX_INBOUND_SIZE;
mod operations;
mod receipts;
mod session;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::mpsc;
use zapini_shared::jid::Jid;
use zapini_shared::phone::PhoneNumber;
use zapini_shared::status::{InstanceStatus, MessageStatus};

pub use self::config::*;
use self::operations::{check_subject, user_participants};
use self::session::Session;
use super::pacing::{Pacer, PacingReport};
use super::{Engine, EngineError};
use crate::engine::types::*;

/// WhatsApp caps group subjects at 100 characters.
const MAX_SUBJECT_CHARS: usize = 100;
/// How many of our sent messages the sandbox remembers for receipts, reactions and edits.
const SENT_KEPT: usize = 10_000;

/// WhatsApp caps group descriptions at 2048 characters.
const MAX_DESCRIPTION_CHARS: usize = 2048;

#[derive(Debug, Clone)]
struct SentRecord {
    chat: Jid,
    kind: MessageKind,
    status: MessageStatus,
    revoked: bool,
}

/// One presence we showed in a chat, as the contact's phone would see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceRecord {
    pub chat: Jid,
    pub presence: ChatPresence,
    pub at: chrono::DateTime<Utc>,
}

/// Presence records kept for the sandbox phone.
const PRESENCE_KEPT: usize = 1_000;

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
    /// What we showed in chats ("typing…"), oldest first; bounded by [`PRESENCE_KEPT`].
    presence: VecDeque<PresenceRecord>,
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
            let _queued = crate::metrics::PacingQueued::enter();
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
                presence: VecDeque::new(),
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

    /// The presence we showed in `chat` (all chats for `None`), oldest first.
    pub fn presence(&self, chat: Option<&Jid>) -> Vec<PresenceRecord> {
        self.lock()
            .presence
            .iter()
            .filter(|r| chat.is_none_or(|c| r.chat == *c))
            .cloned()
            .collect()
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
