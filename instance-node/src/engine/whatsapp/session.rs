//! Connection life of the real engine: one "generation" per running `whatsapp-rust` client,
//! a supervisor task per generation that maps the crate's events, reports the connection,
//! notices an unreachable network or a silent "connected" session, and decides what happens
//! after the terminal events (logout, temporary ban, stream replaced, refused connects).
//!
//! The crate reconnects on its own after network failures (Fibonacci backoff from 1 s, capped
//! at 15 minutes, ±10 % jitter, as WhatsApp Web does). What it leaves to its embedder, this
//! module does: it never restarts a session in a loop after `LoggedOut`, `StreamReplaced` or a
//! ban (logout and stream-replaced wait for an explicit reconnect; a ban waits out its
//! expiry), restarts after refused connects with its own capped backoff, and records the
//! reason of every change on the instance.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio::sync::mpsc;
use whatsapp_rust::bot::{Bot, BotHandle};
use whatsapp_rust::store::SqliteStore;
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::types::events::{Event, EventHandler, EventInterest, EventKind};
use whatsapp_rust::{Client, TokioRuntime};
use zapini_shared::backoff::Backoff;
use zapini_shared::status::InstanceStatus;

use super::WhatsappEngine;
use super::http_client::ReqwestHttp;
use super::map;
use crate::engine::EngineError;
use crate::engine::types::*;

/// The crate's events the engine listens to; everything else is not even queued.
fn interest() -> EventInterest {
    EventInterest::of(&[
        EventKind::Connected,
        EventKind::Disconnected,
        EventKind::PairSuccess,
        EventKind::PairError,
        EventKind::LoggedOut,
        EventKind::PairingQrCode,
        EventKind::PairingQrCodesExhausted,
        EventKind::ClientOutdated,
        EventKind::Messages,
        EventKind::Receipt,
        EventKind::ServerAck,
        EventKind::GroupUpdate,
        EventKind::PushNameUpdate,
        EventKind::PictureUpdate,
        EventKind::StreamReplaced,
        EventKind::TemporaryBan,
        EventKind::ConnectFailure,
        EventKind::StreamError,
    ])
}

/// Forwards the crate's events (called on its dispatch path, so it only queues).
struct Forward(mpsc::UnboundedSender<Arc<Event>>);

impl EventHandler for Forward {
    fn handle_event(&self, event: Arc<Event>) {
        let _ = self.0.send(event);
    }

    fn interest(&self) -> EventInterest {
        interest()
    }
}

/// A running client.
pub(super) struct Generation {
    pub(super) id: u64,
    pub(super) client: Arc<Client>,
    pub(super) handle: Option<BotHandle>,
}

/// What the supervisor does once a generation ended on a terminal event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum After {
    /// Stay down until `start`/`reconnect` is called.
    Wait,
    /// Start a new generation after this long.
    RestartIn(Duration),
}

/// Where a terminal event leaves the instance: `(reason, what next, clear the session)`.
pub(super) fn terminal(
    event: &Event,
    failures: u32,
    cap: Duration,
) -> Option<(String, After, bool)> {
    let backoff = || {
        After::RestartIn(Backoff::nth_exact(
            Duration::from_secs(30),
            cap,
            failures.min(10),
        ))
    };
    Some(match event {
        Event::LoggedOut(_) => ("logged_out".to_owned(), After::Wait, true),
        Event::StreamReplaced(_) => ("stream_replaced".to_owned(), After::Wait, false),
        Event::TemporaryBan(b) => {
            let secs = u64::try_from(b.expire.num_seconds()).unwrap_or(0);
            (
                format!("temporary_ban: {} (for {secs} s)", b.code),
                After::RestartIn(Duration::from_secs(secs.max(60))),
                false,
            )
        }
        Event::ClientOutdated(_) => ("client_outdated".to_owned(), backoff(), false),
        Event::ConnectFailure(f) if !f.reason.should_reconnect() => (
            format!("connect_failure: {}", f.reason.code()),
            backoff(),
            false,
        ),
        Event::PairingQrCodesExhausted(_) => ("qr_expired".to_owned(), After::Wait, false),
        _ => return None,
    })
}

impl WhatsappEngine {
    /// Builds and spawns a new client generation; the previous one must be gone. Boxed: the
    /// supervisor it starts may call it again (a restart), and a recursive `async fn` has no
    /// nameable future type.
    pub(super) fn spawn_generation(
        self: &Arc<Self>,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), EngineError>> + Send + '_>>
    {
        Box::pin(self.spawn_generation_inner())
    }

    async fn spawn_generation_inner(self: &Arc<Self>) -> Result<(), EngineError> {
        let path = self.config.data_dir.join("whatsapp.db");
        // The session store holds the device's keys: a 0700 directory and a 0600 database,
        // created before the store opens it (SQLite gives its -wal and -shm the same mode).
        zapini_shared::private_fs::create_dir_all(&self.config.data_dir)
            .and_then(|()| zapini_shared::private_fs::touch(&path))
            .map_err(|e| {
                EngineError::Temporary(format!("cannot create the session directory: {e}"))
            })?;
        let store = SqliteStore::new(&path.to_string_lossy())
            .await
            .map_err(|e| EngineError::Temporary(format!("cannot open the session store: {e}")))?;
        let http = ReqwestHttp::new(self.config.media)
            .map_err(|e| EngineError::Temporary(format!("cannot build the HTTP client: {e}")))?;
        let mut transport = TokioWebSocketTransportFactory::new();
        if let Some(url) = &self.config.ws_url {
            transport = transport.with_url(url.clone());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let mut builder = Bot::builder()
            .with_backend(store)
            .with_transport_factory(transport)
            .with_http_client(http)
            .with_runtime(TokioRuntime)
            .with_event_handler(Forward(tx))
            .skip_history_sync();
        if let Some(name) = &self.config.push_name {
            builder = builder.with_push_name(name.clone());
        }
        let bot = builder.build().await.map_err(|e| {
            EngineError::Temporary(format!("cannot start the WhatsApp client: {e}"))
        })?;
        let client = bot.client();
        let handle = bot.spawn();
        let id = {
            let mut st = self.lock();
            st.generation += 1;
            st.running = Some(Generation {
                id: st.generation,
                client: client.clone(),
                handle: Some(handle),
            });
            st.connecting_since = Some(Instant::now());
            st.generation
        };
        tracing::info!(generation = id, "whatsapp client started");
        tokio::spawn(supervise(Arc::downgrade(self), id, client, rx));
        Ok(())
    }

    /// Stops the running generation (if any), gracefully within a few seconds.
    pub(super) async fn stop_generation(&self) {
        let running = self.lock().running.take();
        if let Some(mut generation) = running {
            generation.client.disconnect().await;
            if let Some(handle) = generation.handle.take() {
                // The run loop exits once the disconnect is through; bounded anyway.
                let abort = tokio::time::timeout(Duration::from_secs(5), handle).await;
                if abort.is_err() {
                    tracing::warn!(
                        generation = generation.id,
                        "whatsapp client did not stop in time"
                    );
                }
            }
        }
    }

    /// Deletes the session keys (after a logout): the next start shows a fresh QR.
    pub(super) fn clear_session(&self) {
        for name in ["whatsapp.db", "whatsapp.db-wal", "whatsapp.db-shm"] {
            let path = self.config.data_dir.join(name);
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(error = %e, path = %path.display(), "cannot delete the session file")
                }
            }
        }
    }

    /// Sets the status and reason and reports the change (once per change).
    pub(super) async fn set_status(&self, status: InstanceStatus, reason: &str) {
        let event = {
            let mut st = self.lock();
            if st.conn.status == status && st.conn.reason.as_deref() == Some(reason) {
                return;
            }
            st.conn.status = status;
            st.conn.reason = Some(reason.to_owned());
            st.conn.last_activity_at = Some(Utc::now());
            if status != InstanceStatus::QrReady {
                st.qr = None;
            }
            tracing::info!(status = status.as_str(), reason, "whatsapp connection");
            EngineEvent::Connection(st.conn.clone())
        };
        self.emit(event).await;
    }

    fn is_current(&self, generation: u64) -> bool {
        self.lock()
            .running
            .as_ref()
            .is_some_and(|g| g.id == generation)
    }

    /// Handles one crate event of generation `generation`; returns a terminal outcome.
    async fn on_event(
        self: &Arc<Self>,
        client: &Arc<Client>,
        event: &Event,
    ) -> Option<(String, After, bool)> {
        match event {
            Event::PairingQrCode(q) => {
                let now = Utc::now();
                let qr = QrCode {
                    code: q.code.clone(),
                    png_data_url: crate::engine::sandbox::ids::qr_png_data_url(&q.code),
                    generated_at: now,
                    expires_at: now
                        + chrono::Duration::from_std(q.timeout)
                            .unwrap_or_else(|_| chrono::Duration::seconds(20)),
                };
                {
                    let mut st = self.lock();
                    st.qr = Some(qr.clone());
                    // WhatsApp answered: not unreachable.
                    st.connecting_since = None;
                }
                self.set_status(InstanceStatus::QrReady, "pairing").await;
                self.emit(EngineEvent::Qr(qr)).await;
            }
            Event::PairSuccess(p) => {
                let mut st = self.lock();
                st.paired_now = true;
                st.conn.platform = Some(p.platform.clone()).filter(|s| !s.is_empty());
            }
            Event::PairError(p) => {
                tracing::warn!(error = %p.error, "pairing failed");
            }
            Event::Connected(_) => {
                let reason = {
                    let mut st = self.lock();
                    st.conn.phone_number = client.pn().map(|j| j.user.to_string());
                    let name = client.push_name();
                    st.conn.push_name = Some(name).filter(|s| !s.is_empty());
                    st.connecting_since = None;
                    if std::mem::take(&mut st.paired_now) {
                        "paired"
                    } else if st.conn.reason.as_deref() == Some("network")
                        || st.conn.reason.as_deref() == Some("unreachable")
                        || st.conn.reason.as_deref() == Some("watchdog")
                    {
                        "reconnected"
                    } else {
                        "restored"
                    }
                };
                self.set_status(InstanceStatus::Connected, reason).await;
            }
            Event::Disconnected(d) => {
                tracing::info!(reason = %d.reason, "whatsapp transport disconnected; the client reconnects");
                let was = {
                    let mut st = self.lock();
                    st.connecting_since = Some(Instant::now());
                    st.conn.status
                };
                // A dropped socket also ends the QR codes on offer.
                if matches!(was, InstanceStatus::Connected | InstanceStatus::QrReady) {
                    self.set_status(InstanceStatus::Disconnected, "network")
                        .await;
                }
            }
            Event::StreamError(e) => {
                tracing::warn!(code = %e.code, "whatsapp stream error");
            }
            Event::ConnectFailure(f) if f.reason.should_reconnect() => {
                tracing::warn!(
                    code = f.reason.code(),
                    "whatsapp refused the connection for now; the client retries"
                );
            }
            Event::Messages(batch) => {
                for m in batch.iter() {
                    if let Some(mapped) = map::message_event(&m.message, &m.info) {
                        self.note_message(&mapped, &m.message);
                        if let EngineEvent::MessageReceived(msg) = &mapped {
                            self.refresh_picture(client, &msg.sender);
                        }
                        self.emit(mapped).await;
                    }
                }
            }
            Event::Receipt(r) => {
                if let Some(mapped) = map::receipt_event(r) {
                    self.emit(mapped).await;
                }
            }
            Event::ServerAck(a) => {
                if let Some(mapped) = map::server_ack_event(a) {
                    self.emit(mapped).await;
                }
            }
            Event::GroupUpdate(_) => {
                if let Some(mapped) = map::group_event(event) {
                    self.emit(mapped).await;
                }
            }
            Event::PictureUpdate(p) => {
                if let Some(jid) = map::jid(&p.jid) {
                    self.pictures.changed(&jid, Instant::now());
                    self.refresh_picture(client, &jid);
                }
            }
            Event::PushNameUpdate(_) => {
                if let Some(mapped) = map::push_name_event(event) {
                    self.emit(mapped).await;
                }
            }
            _ => {}
        }
        let failures = self.lock().restart_failures;
        terminal(event, failures, self.config.restart_max)
    }
}

/// The supervisor of one generation: maps its events, watches deadlines, and after a
/// terminal event stops it and decides what comes next.
async fn supervise(
    engine: Weak<WhatsappEngine>,
    generation: u64,
    client: Arc<Client>,
    mut rx: mpsc::UnboundedReceiver<Arc<Event>>,
) {
    // How often deadlines are looked at; the loop sleeps otherwise (no polling of the network).
    const TICK: Duration = Duration::from_secs(5);
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let outcome = loop {
        let event = tokio::select! {
            e = rx.recv() => e,
            _ = tick.tick() => {
                let Some(engine) = engine.upgrade() else { return };
                if !engine.is_current(generation) {
                    return;
                }
                engine.check_deadlines(&client).await;
                continue;
            }
        };
        let Some(event) = event else {
            // The client is gone (stopped by us).
            return;
        };
        let Some(engine) = engine.upgrade() else {
            return;
        };
        if !engine.is_current(generation) {
            return;
        }
        if let Some(outcome) = engine.on_event(&client, &event).await {
            break outcome;
        }
    };
    let Some(engine) = engine.upgrade() else {
        return;
    };
    let (reason, after, clear) = outcome;
    tracing::warn!(%reason, ?after, "whatsapp session ended");
    engine.stop_generation().await;
    if clear {
        engine.clear_session();
        let mut st = engine.lock();
        st.conn.phone_number = None;
        st.conn.push_name = None;
        st.conn.platform = None;
    }
    engine
        .set_status(InstanceStatus::Disconnected, &reason)
        .await;
    if let After::RestartIn(delay) = after {
        let epoch = {
            let mut st = engine.lock();
            st.restart_failures = st.restart_failures.saturating_add(1);
            st.epoch
        };
        tracing::info!(?delay, "whatsapp session restarts later");
        let weak = Arc::downgrade(&engine);
        drop(engine);
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let Some(engine) = weak.upgrade() else { return };
            // Only if nothing (a disconnect, a reconnect, another restart) happened meanwhile.
            let fresh = {
                let st = engine.lock();
                st.epoch == epoch && st.running.is_none() && st.wanted
            };
            if fresh && let Err(e) = engine.spawn_generation().await {
                tracing::error!(error = %e, "cannot restart the whatsapp session");
            }
        });
    }
}

impl WhatsappEngine {
    /// The periodic checks: "cannot reach WhatsApp" and the silent-session watchdog.
    async fn check_deadlines(&self, client: &Arc<Client>) {
        let (status, connecting_since) = {
            let st = self.lock();
            (st.conn.status, st.connecting_since)
        };
        match status {
            InstanceStatus::Connected => {
                let stats = client.stats();
                let now_ms = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
                let silent_ms = now_ms.saturating_sub(stats.last_data_received_ms);
                let limit =
                    u64::try_from(self.config.watchdog_silence.as_millis()).unwrap_or(u64::MAX);
                if stats.last_data_received_ms > 0 && silent_ms > limit {
                    tracing::warn!(
                        silent_secs = silent_ms / 1000,
                        "connected but nothing received; restarting the connection"
                    );
                    self.set_status(InstanceStatus::Disconnected, "watchdog")
                        .await;
                    self.lock().connecting_since = Some(Instant::now());
                    client.reconnect().await;
                }
            }
            InstanceStatus::Pending | InstanceStatus::Disconnected => {
                let already = self.lock().conn.reason.as_deref() == Some("unreachable");
                if let Some(since) = connecting_since
                    && since.elapsed() >= self.config.unreachable_after
                    && !already
                {
                    let errors = client.stats().reconnect_errors;
                    tracing::warn!(
                        failed_attempts = errors,
                        "cannot reach WhatsApp; the client keeps retrying with backoff"
                    );
                    self.set_status(InstanceStatus::Disconnected, "unreachable")
                        .await;
                }
            }
            InstanceStatus::QrReady => {}
        }
    }
}
