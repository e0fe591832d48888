//! The real engine: WhatsApp Web's multi-device protocol through `whatsapp-rust`. This module
//! (and its children) is the only place in the workspace where a `whatsapp_rust`, `wacore` or
//! `waproto` type appears; the rest of the node sees the [`Engine`] trait.
//!
//! - `session`: the connection life (client generations, supervisor, watchdog, backoff,
//!   terminal events).
//! - `map`: the crate's events and protocol messages -> [`EngineEvent`]s (pure, unit-tested).
//! - `send`: building outgoing protocol messages (text, replies, media uploads).
//! - `media`: the download handle of a message's media and the CDN download behind
//!   [`Engine::download_media`].
//! - `http_client`: the crate's HTTP client trait on reqwest.
//!
//! Session keys live in `<data dir>/whatsapp.db` (SQLite, one file per instance), so a node
//! restarted on the same data directory reconnects without a new scan.

mod http_client;
mod map;
#[cfg(test)]
mod map_tests;
mod media;
#[cfg(test)]
mod media_tests;
mod pictures;
mod send;
mod session;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use tokio::sync::mpsc;
use whatsapp_rust::Client;
use whatsapp_rust::waproto::whatsapp as wa;
use zapini_shared::jid::Jid;
use zapini_shared::phone::PhoneNumber;
use zapini_shared::status::InstanceStatus;

use super::pacing::{Pacer, PacingConfig, PacingReport};
use super::{Engine, EngineError};
use crate::engine::types::*;
use session::Generation;

/// Settings of the real engine (`ZAPINI_WA_*` and `ZAPINI_PACING_*` on the node).
#[derive(Debug, Clone)]
pub struct WhatsappConfig {
    /// Session keys (`whatsapp.db`) and the pacer's known chats live here.
    pub data_dir: PathBuf,
    /// The WebSocket endpoint; `None` = WhatsApp Web's (`wss://web.whatsapp.com/ws/chat`).
    pub ws_url: Option<String>,
    /// Our device's push name at pairing.
    pub push_name: Option<String>,
    pub pacing: PacingConfig,
    /// Without a QR code or a connection this long after a start (or a drop), the status
    /// becomes `disconnected` with reason `unreachable`; the client keeps retrying.
    pub unreachable_after: Duration,
    /// A "connected" session that received nothing for this long is reconnected.
    pub watchdog_silence: Duration,
    /// Cap of the backoff between restarts after refused connects.
    pub restart_max: Duration,
    /// What the engine's HTTP client (media hosts) may reach and download.
    pub media: MediaLimits,
}

/// Limits of the engine's HTTP client, which fetches from hosts a message or the server
/// names: the SSRF guard (unless `allow_private`, `ZAPINI_ALLOW_PRIVATE_URLS`) and the
/// largest response it reads (`ZAPINI_WA_MEDIA_MAX_MB`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaLimits {
    pub allow_private: bool,
    pub max_bytes: u64,
}

impl Default for MediaLimits {
    fn default() -> Self {
        MediaLimits {
            allow_private: false,
            max_bytes: 100 * 1024 * 1024,
        }
    }
}

impl WhatsappConfig {
    pub fn new(data_dir: PathBuf) -> WhatsappConfig {
        WhatsappConfig {
            data_dir,
            ws_url: None,
            push_name: None,
            pacing: PacingConfig::default(),
            unreachable_after: Duration::from_secs(30),
            watchdog_silence: Duration::from_secs(180),
            restart_max: Duration::from_secs(1800),
            media: MediaLimits::default(),
        }
    }
}

/// Recent messages kept for replies (WhatsApp shows a reply with the quoted content).
const QUOTES_KEPT: usize = 2_000;

struct State {
    conn: ConnectionState,
    qr: Option<QrCode>,
    generation: u64,
    running: Option<Generation>,
    /// `start`/`reconnect` asked for a session; `disconnect`/`logout` took it back.
    wanted: bool,
    /// Bumped by every explicit start/stop so a scheduled restart knows it is stale.
    epoch: u64,
    /// When connecting began without reaching QR or connected yet.
    connecting_since: Option<Instant>,
    /// The next `Connected` follows a pairing.
    paired_now: bool,
    /// Restarts after terminal events in a row (for the backoff).
    restart_failures: u32,
    /// id -> (chat, author, message) of recent messages, for quoting.
    quotes: HashMap<String, (Jid, Jid, wa::Message)>,
    quote_order: VecDeque<String>,
}

/// The real WhatsApp engine. Build with [`WhatsappEngine::new`], then [`Engine::start`].
pub struct WhatsappEngine {
    config: WhatsappConfig,
    events: mpsc::Sender<EngineEvent>,
    state: Mutex<State>,
    pacer: Pacer,
    /// Contacts' profile picture URLs (see [`pictures`]).
    pictures: pictures::Pictures,
    /// Serializes start/stop transitions.
    transition: tokio::sync::Mutex<()>,
    /// Ourselves, for the tasks the trait's `&self` methods start.
    me: std::sync::Weak<WhatsappEngine>,
}

impl WhatsappEngine {
    pub fn new(config: WhatsappConfig, events: mpsc::Sender<EngineEvent>) -> Arc<WhatsappEngine> {
        let pacer = Pacer::new(
            config.pacing.clone(),
            Some(config.data_dir.join("known_chats")),
        );
        Arc::new_cyclic(|me| WhatsappEngine {
            me: me.clone(),
            config,
            events,
            state: Mutex::new(State {
                conn: ConnectionState::pending(),
                qr: None,
                generation: 0,
                running: None,
                wanted: false,
                epoch: 0,
                connecting_since: None,
                paired_now: false,
                restart_failures: 0,
                quotes: HashMap::new(),
                quote_order: VecDeque::new(),
            }),
            pacer,
            pictures: pictures::Pictures::default(),
            transition: tokio::sync::Mutex::new(()),
        })
    }

    fn arc(&self) -> Arc<WhatsappEngine> {
        // `&self` comes from a live `Arc`, so the upgrade cannot fail while a method runs.
        self.me
            .upgrade()
            .expect("the engine is alive while one of its methods runs")
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn emit(&self, event: EngineEvent) {
        if self.events.send(event).await.is_err() {
            tracing::debug!("engine event dropped: the node is shutting down");
        }
    }

    /// The connected client, or `NotConnected`.
    fn client(&self) -> Result<Arc<Client>, EngineError> {
        let st = self.lock();
        match (&st.running, st.conn.status) {
            (Some(g), InstanceStatus::Connected) => Ok(g.client.clone()),
            _ => Err(EngineError::NotConnected),
        }
    }

    /// Remembers what a message tells the pacer and the quote cache.
    fn note_message(&self, event: &EngineEvent, message: &wa::Message) {
        if let EngineEvent::MessageReceived(m) | EngineEvent::MessageSent(m) = event {
            self.pacer.mark_known(&m.chat.to_string());
            self.remember_quote(&m.id, &m.chat, &m.sender, message.clone());
        }
    }

    fn remember_quote(&self, id: &str, chat: &Jid, author: &Jid, message: wa::Message) {
        let mut st = self.lock();
        if st
            .quotes
            .insert(id.to_owned(), (chat.clone(), author.clone(), message))
            .is_none()
        {
            st.quote_order.push_back(id.to_owned());
        }
        while st.quote_order.len() > QUOTES_KEPT {
            if let Some(old) = st.quote_order.pop_front() {
                st.quotes.remove(&old);
            }
        }
    }

    /// Starts a session unless one runs.
    async fn ensure_running(self: &Arc<Self>) -> Result<(), EngineError> {
        let _t = self.transition.lock().await;
        {
            let mut st = self.lock();
            st.wanted = true;
            st.epoch += 1;
            if st.running.is_some() {
                return Ok(());
            }
            st.restart_failures = 0;
        }
        self.spawn_generation().await
    }

    /// Pacing settings and counters for the status endpoint.
    pub fn pacing_report(&self) -> PacingReport {
        self.pacer.report(Instant::now())
    }
}

fn own_jid(client: &Client) -> Option<Jid> {
    client.pn().as_ref().and_then(map::jid)
}

#[async_trait]
impl Engine for WhatsappEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Whatsapp
    }

    async fn start(&self) -> Result<(), EngineError> {
        self.arc().ensure_running().await
    }

    async fn state(&self) -> ConnectionState {
        self.lock().conn.clone()
    }

    async fn current_qr(&self) -> Option<QrCode> {
        let st = self.lock();
        if st.conn.status == InstanceStatus::QrReady {
            st.qr.clone()
        } else {
            None
        }
    }

    async fn request_pair_code(&self, phone: &PhoneNumber) -> Result<String, EngineError> {
        let this = self.arc();
        this.ensure_running().await?;
        let client = {
            let st = self.lock();
            if st.conn.status == InstanceStatus::Connected {
                return Err(EngineError::Invalid(
                    "the instance is already paired; log out first".to_owned(),
                ));
            }
            if st.conn.reason.as_deref() == Some("unreachable") {
                return Err(EngineError::Temporary("cannot reach WhatsApp".to_owned()));
            }
            st.running.as_ref().map(|g| g.client.clone())
        }
        .ok_or(EngineError::NotConnected)?;
        client
            .wait_for_socket(Duration::from_secs(20))
            .await
            .map_err(|_| EngineError::Temporary("cannot reach WhatsApp".to_owned()))?;
        let options = whatsapp_rust::pair_code::PairCodeOptions {
            phone_number: phone.as_str().to_owned(),
            ..Default::default()
        };
        client
            .pair_with_code(options)
            .await
            .map_err(|e| EngineError::Temporary(format!("pair code request failed: {e}")))
    }

    async fn send_text(
        &self,
        to: &Jid,
        text: &str,
        options: &SendOptions,
    ) -> Result<SentMessage, EngineError> {
        if text.trim().is_empty() {
            return Err(EngineError::Invalid("the message text is empty".to_owned()));
        }
        let client = self.client()?;
        let message = self.text_message(text, options, to);
        self.paced_send(&client, to, message, options, text.chars().count(), false)
            .await
    }

    async fn send_media(
        &self,
        to: &Jid,
        media: &OutgoingMedia,
        options: &SendOptions,
    ) -> Result<SentMessage, EngineError> {
        let client = self.client()?;
        let message = send::media_message(&client, media, self.context(options, to)).await?;
        let chars = media.caption.as_deref().map_or(0, |c| c.chars().count());
        let voice = media.kind == MediaKind::Audio && media.mime_type.contains("ogg");
        self.paced_send(&client, to, message, options, chars, voice)
            .await
    }

    async fn react(
        &self,
        chat: &Jid,
        message_id: &str,
        from_me: bool,
        emoji: &str,
    ) -> Result<SentMessage, EngineError> {
        let client = self.client()?;
        let wa_chat = send::target(chat)?;
        let participant = if chat.is_group() && !from_me {
            self.lock()
                .quotes
                .get(message_id)
                .map(|(_, author, _)| author.to_string())
        } else {
            None
        };
        let key = wa::MessageKey {
            remote_jid: Some(wa_chat.to_string()),
            from_me: Some(from_me),
            id: Some(message_id.to_owned()),
            participant,
        };
        let sent = client
            .send_reaction(wa_chat, key, emoji)
            .await
            .map_err(send::send_error)?;
        let timestamp = Utc::now();
        let me = own_jid(&client).unwrap_or_else(|| chat.clone());
        self.emit(EngineEvent::Reaction {
            message_id: message_id.to_owned(),
            chat: chat.clone(),
            sender: me,
            emoji: emoji.to_owned(),
            from_me: true,
            timestamp,
        })
        .await;
        Ok(SentMessage {
            message_id: sent.message_id,
            timestamp,
        })
    }

    async fn edit(
        &self,
        chat: &Jid,
        message_id: &str,
        text: &str,
    ) -> Result<SentMessage, EngineError> {
        if text.trim().is_empty() {
            return Err(EngineError::Invalid("the new text is empty".to_owned()));
        }
        let client = self.client()?;
        let id = client
            .edit_message(
                send::target(chat)?,
                message_id,
                wa::Message {
                    conversation: Some(text.to_owned()),
                    ..Default::default()
                },
            )
            .await
            .map_err(send::send_error)?;
        self.emit(EngineEvent::MessageEdited {
            message_id: message_id.to_owned(),
            chat: chat.clone(),
            new_text: text.to_owned(),
            from_me: true,
        })
        .await;
        Ok(SentMessage {
            message_id: id,
            timestamp: Utc::now(),
        })
    }

    async fn revoke(&self, chat: &Jid, message_id: &str) -> Result<SentMessage, EngineError> {
        let client = self.client()?;
        client
            .revoke_message(
                send::target(chat)?,
                message_id,
                whatsapp_rust::RevokeType::Sender,
            )
            .await
            .map_err(send::send_error)?;
        self.emit(EngineEvent::MessageRevoked {
            message_id: message_id.to_owned(),
            chat: chat.clone(),
            from_me: true,
        })
        .await;
        Ok(SentMessage {
            message_id: message_id.to_owned(),
            timestamp: Utc::now(),
        })
    }

    async fn mark_read(
        &self,
        chat: &Jid,
        sender: Option<&Jid>,
        message_ids: &[String],
    ) -> Result<(), EngineError> {
        let client = self.client()?;
        let wa_chat = send::target(chat)?;
        let wa_sender = sender.map(send::target).transpose()?;
        let ids: Vec<&str> = message_ids.iter().map(String::as_str).collect();
        client
            .mark_as_read(&wa_chat, wa_sender.as_ref(), &ids)
            .await
            .map_err(|e| EngineError::Temporary(format!("{e:#}")))
    }

    async fn set_presence(&self, chat: &Jid, presence: ChatPresence) -> Result<(), EngineError> {
        let client = self.client()?;
        let wa_chat = send::target(chat)?;
        let chatstate = client.chatstate();
        match presence {
            ChatPresence::Composing => chatstate.send_composing(&wa_chat).await,
            ChatPresence::Recording => chatstate.send_recording(&wa_chat).await,
            ChatPresence::Paused => chatstate.send_paused(&wa_chat).await,
        }
        .map_err(|e| EngineError::Temporary(format!("{e:#}")))
    }

    async fn check_numbers(&self, phones: &[PhoneNumber]) -> Result<Vec<NumberCheck>, EngineError> {
        let client = self.client()?;
        send::check_numbers(&client, phones).await
    }

    async fn list_groups(&self) -> Result<Vec<GroupInfo>, EngineError> {
        let client = self.client()?;
        send::list_groups(&client).await
    }

    async fn create_group(
        &self,
        subject: &str,
        participants: &[Jid],
    ) -> Result<GroupInfo, EngineError> {
        let client = self.client()?;
        send::create_group(&client, subject, participants).await
    }

    async fn group_info(&self, group: &Jid) -> Result<GroupInfo, EngineError> {
        let client = self.client()?;
        send::group_info(&client, group).await
    }

    async fn set_group_subject(&self, group: &Jid, subject: &str) -> Result<(), EngineError> {
        let client = self.client()?;
        send::set_group_subject(&client, group, subject).await
    }

    async fn set_group_description(
        &self,
        group: &Jid,
        description: &str,
    ) -> Result<(), EngineError> {
        let client = self.client()?;
        send::set_group_description(&client, group, description).await
    }

    async fn update_participants(
        &self,
        group: &Jid,
        action: ParticipantAction,
        participants: &[Jid],
    ) -> Result<Vec<ParticipantResult>, EngineError> {
        let client = self.client()?;
        send::update_participants(&client, group, action, participants).await
    }

    async fn leave_group(&self, group: &Jid) -> Result<(), EngineError> {
        let client = self.client()?;
        send::leave_group(&client, group).await
    }

    async fn invite_link(&self, group: &Jid, reset: bool) -> Result<String, EngineError> {
        let client = self.client()?;
        send::invite_link(&client, group, reset).await
    }

    /// Received and sent media alike, from the handle `map` put in `media.url` (nothing is
    /// kept on the node). Connected: through the session, which knows the current media hosts
    /// and refreshes an expired route. Not connected: straight from WhatsApp's CDN hosts, which
    /// need no session for a download, so media stays downloadable while the instance is
    /// disconnected or logged out.
    async fn download_media(
        &self,
        _chat: &Jid,
        _message_id: &str,
        info: &MediaInfo,
    ) -> Result<bytes::Bytes, EngineError> {
        let handle = media::MediaHandle::from_info(info)?;
        match self.client() {
            Ok(client) => media::download_live(&client, &handle).await,
            Err(_) => {
                let http = http_client::ReqwestHttp::new(self.config.media).map_err(|e| {
                    EngineError::Temporary(format!("cannot build the HTTP client: {e}"))
                })?;
                media::download_via(
                    Arc::new(http),
                    whatsapp_rust::download::MediaRoute::default_hosts(),
                    &handle,
                )
                .await
            }
        }
    }

    async fn disconnect(&self) -> Result<(), EngineError> {
        let _t = self.transition.lock().await;
        {
            let mut st = self.lock();
            st.wanted = false;
            st.epoch += 1;
            st.connecting_since = None;
        }
        self.stop_generation().await;
        self.set_status(InstanceStatus::Disconnected, "requested")
            .await;
        Ok(())
    }

    async fn reconnect(&self) -> Result<(), EngineError> {
        self.arc().ensure_running().await
    }

    async fn logout(&self) -> Result<(), EngineError> {
        let _t = self.transition.lock().await;
        let running = {
            let mut st = self.lock();
            st.wanted = false;
            st.epoch += 1;
            st.connecting_since = None;
            st.running.take()
        };
        if let Some(mut generation) = running {
            // Deregisters this device on the phone when connected, then disconnects.
            generation.client.logout().await;
            if let Some(handle) = generation.handle.take() {
                let _ = tokio::time::timeout(Duration::from_secs(5), handle).await;
            }
        }
        self.clear_session();
        {
            let mut st = self.lock();
            st.conn.phone_number = None;
            st.conn.push_name = None;
            st.conn.platform = None;
        }
        self.set_status(InstanceStatus::Disconnected, "logged_out")
            .await;
        Ok(())
    }

    fn pacing(&self) -> Option<PacingReport> {
        Some(self.pacing_report())
    }
}
