//! The node's side of the control-plane link: `Register` (with calm, jittered exponential
//! backoff while the control plane is away), lease renewal every ttl/3, and the `Events`
//! stream that replays the event buffer from the last ack and then follows its synced
//! watermark (only fsynced events are ever sent).
//! Acks drop events from the buffer; token revocations and policy changes pushed down the
//! stream update the token cache and the send policy.
//!
//! A refusal (`ALREADY_EXISTS`: another node holds the lease, asked again for 10 s since the
//! holder is often a node still shutting down; `NOT_FOUND`: unknown instance)
//! ends the link with [`RegistrationRefused`]; everything else is retried.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use zapini_proto::v1;
use zapini_proto::v1::{control_message, node_message};

use crate::auth::TokenCache;
use crate::buffer::EventBuffer;
use crate::grpc::client::ControlPlaneApi;
use crate::grpc::convert;
use zapini_shared::backoff::Backoff;

use crate::config::RetryPolicy;
use crate::engine::Engine;
use crate::policy::PolicyState;

/// Events sent on the stream but not acked yet, at most. Keeps memory flat during a replay.
const MAX_IN_FLIGHT: u64 = 1024;
/// Records read from the buffer per step.
const READ_CHUNK: usize = 256;
/// Least time between two ack writes to the buffer's meta file.
const ACK_PERSIST_INTERVAL: Duration = Duration::from_millis(500);

/// The control plane refused this node; `main` exits with a distinct code for each.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RegistrationRefused {
    /// `ALREADY_EXISTS`: another live node holds the lease (exit code 3).
    #[error(
        "registration refused: another node holds the lease for instance {instance}: {message}"
    )]
    LeaseHeld { instance: String, message: String },
    /// `NOT_FOUND`: the control plane does not know the instance (exit code 4).
    #[error("registration refused: the control plane does not know instance {instance}: {message}")]
    UnknownInstance { instance: String, message: String },
}

impl RegistrationRefused {
    /// The process exit code `main` uses for this refusal.
    pub fn exit_code(&self) -> i32 {
        match self {
            RegistrationRefused::LeaseHeld { .. } => 3,
            RegistrationRefused::UnknownInstance { .. } => 4,
        }
    }
}

/// What the node announces when it registers.
#[derive(Debug, Clone)]
pub struct Announcement {
    pub instance_uuid: String,
    pub node_id: String,
    pub http_url: String,
    pub grpc_url: String,
    pub engine: String,
    pub buffer_id: String,
}

/// Everything the link works with.
pub struct Link {
    pub api: ControlPlaneApi,
    pub announce: Announcement,
    pub buffer: EventBuffer,
    pub policy: Arc<PolicyState>,
    pub tokens: TokenCache,
    pub engine: Arc<dyn Engine>,
    pub retry: RetryPolicy,
}

struct Session {
    lease_id: String,
    ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
enum StreamError {
    #[error("{0}")]
    Status(#[from] tonic::Status),
    #[error("event buffer: {0}")]
    Buffer(#[from] crate::buffer::BufferError),
    #[error("the stream's send side closed")]
    Closed,
}

/// How often a registration refused because another node holds the lease is tried again.
const LEASE_HELD_RETRY: Duration = Duration::from_millis(250);

impl Link {
    /// Registers, then keeps the lease and the events stream alive until refused. Only returns
    /// on a refusal; cancel the future to stop.
    pub async fn run(self: Arc<Self>) -> RegistrationRefused {
        let mut engine_started = false;
        loop {
            let session = match self.register().await {
                Ok(s) => s,
                Err(refused) => return refused,
            };
            if !engine_started {
                engine_started = true;
                if let Err(err) = self.engine.start().await {
                    tracing::error!(error = %err, "the engine did not start");
                }
            }
            tokio::select! {
                () = self.keep_lease(&session) => {
                    tracing::warn!("lease lost; registering again");
                }
                () = self.stream_forever(&session) => {}
            }
        }
    }

    async fn register(&self) -> Result<Session, RegistrationRefused> {
        let a = &self.announce;
        let mut backoff = Backoff::jittered(self.retry.initial, self.retry.max);
        let lease_held_since = std::time::Instant::now();
        loop {
            let mut client = self.api.client.clone();
            let req = v1::RegisterRequest {
                instance_uuid: a.instance_uuid.clone(),
                node_id: a.node_id.clone(),
                http_url: a.http_url.clone(),
                grpc_url: a.grpc_url.clone(),
                engine: a.engine.clone(),
                protocol_version: zapini_proto::PROTOCOL_VERSION,
                buffer_id: a.buffer_id.clone(),
            };
            let outcome = tokio::time::timeout(Duration::from_secs(10), client.register(req)).await;
            let status = match outcome {
                Ok(Ok(resp)) => {
                    let resp = resp.into_inner();
                    tracing::info!(
                        lease_id = %resp.lease_id,
                        ttl = resp.lease_ttl_secs,
                        acked_seq = resp.acked_seq,
                        "registered with the control plane"
                    );
                    if let Some(p) = resp.policy {
                        self.policy.replace(convert::policy_update(p));
                    }
                    if let Err(err) = self.buffer.ack_async(resp.acked_seq).await {
                        tracing::error!(error = %err, "could not apply the registration ack");
                    }
                    return Ok(Session {
                        lease_id: resp.lease_id,
                        ttl: Duration::from_secs(u64::from(resp.lease_ttl_secs.max(3))),
                    });
                }
                Ok(Err(status)) => status,
                Err(_) => tonic::Status::deadline_exceeded("Register timed out"),
            };
            match status.code() {
                // Often the node we replace, still shutting down (its parent just died):
                // asked again every 250 ms it is gone within a second or two. A holder that
                // stays alive that long is a real second node, and we give way.
                tonic::Code::AlreadyExists
                    if lease_held_since.elapsed() < self.retry.lease_patience =>
                {
                    tracing::info!(error = %status.message(), "another node still holds the lease; asking again shortly");
                    tokio::time::sleep(LEASE_HELD_RETRY).await;
                    continue;
                }
                tonic::Code::AlreadyExists => {
                    return Err(RegistrationRefused::LeaseHeld {
                        instance: a.instance_uuid.clone(),
                        message: status.message().to_owned(),
                    });
                }
                tonic::Code::NotFound => {
                    return Err(RegistrationRefused::UnknownInstance {
                        instance: a.instance_uuid.clone(),
                        message: status.message().to_owned(),
                    });
                }
                _ => {}
            }
            let delay = backoff.next_delay();
            tracing::warn!(
                attempt = backoff.attempt(),
                retry_in_ms = delay.as_millis() as u64,
                code = ?status.code(),
                error = %status.message(),
                "registration with the control plane failed"
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Renews every ttl/3; returns when the lease is gone.
    async fn keep_lease(&self, session: &Session) {
        let mut ttl = session.ttl;
        loop {
            tokio::time::sleep(ttl / 3).await;
            let mut client = self.api.client.clone();
            let req = v1::RenewLeaseRequest {
                instance_uuid: self.announce.instance_uuid.clone(),
                lease_id: session.lease_id.clone(),
            };
            match tokio::time::timeout(ttl / 3, client.renew_lease(req)).await {
                Ok(Ok(resp)) => {
                    let resp = resp.into_inner();
                    if !resp.renewed {
                        return;
                    }
                    if resp.lease_ttl_secs > 0 {
                        ttl = Duration::from_secs(u64::from(resp.lease_ttl_secs.max(3)));
                    }
                }
                Ok(Err(status))
                    if matches!(
                        status.code(),
                        tonic::Code::NotFound
                            | tonic::Code::FailedPrecondition
                            | tonic::Code::AlreadyExists
                    ) =>
                {
                    return;
                }
                Ok(Err(status)) => {
                    tracing::warn!(code = ?status.code(), error = %status.message(), "lease renewal failed");
                }
                Err(_) => tracing::warn!("lease renewal timed out"),
            }
        }
    }

    /// Keeps an events stream open, reconnecting with backoff. Never returns.
    async fn stream_forever(&self, session: &Session) {
        let mut backoff = Backoff::jittered(self.retry.initial, self.retry.max);
        loop {
            let mut progressed = false;
            match self.stream_once(session, &mut progressed).await {
                Ok(()) => tracing::info!("the control plane closed the events stream"),
                Err(err) => tracing::warn!(error = %err, "events stream failed"),
            }
            if progressed {
                backoff.reset();
            }
            let delay = backoff.next_delay();
            tracing::warn!(
                attempt = backoff.attempt(),
                retry_in_ms = delay.as_millis() as u64,
                "reconnecting the events stream"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn stream_once(
        &self,
        session: &Session,
        progressed: &mut bool,
    ) -> Result<(), StreamError> {
        let (tx, rx) = mpsc::channel::<v1::NodeMessage>(READ_CHUNK);
        tx.send(v1::NodeMessage {
            kind: Some(node_message::Kind::Hello(v1::StreamHello {
                instance_uuid: self.announce.instance_uuid.clone(),
                lease_id: session.lease_id.clone(),
                buffer_id: self.announce.buffer_id.clone(),
            })),
        })
        .await
        .map_err(|_| StreamError::Closed)?;
        let mut client = self.api.client.clone();
        let mut inbound = client.events(ReceiverStream::new(rx)).await?.into_inner();
        let (acked_tx, acked_rx) = watch::channel(self.buffer.acked_seq());
        let send = stream_synced(&self.buffer, tx, acked_rx.clone());
        let receive = async {
            while let Some(msg) = inbound.message().await? {
                *progressed = true;
                self.handle_control(msg, &acked_tx).await?;
            }
            Ok::<(), StreamError>(())
        };
        let persist = self.persist_acks(acked_rx.clone());
        let result = tokio::select! {
            r = send => r,
            r = receive => r,
            r = persist => r,
        };
        // Whatever was acked last is durable before the next stream replays from it.
        let last = *acked_rx.borrow();
        self.buffer.ack_async(last).await?;
        result
    }

    /// Applies acks to the buffer, coalesced: each ack persists the meta file (fsyncs), so
    /// while one is written later acks pile up and the next write covers them all. Acks are
    /// monotonic; one that is not yet persisted when the node dies only means a few events
    /// are replayed, which the control plane deduplicates by seq.
    async fn persist_acks(&self, mut acked: watch::Receiver<u64>) -> Result<(), StreamError> {
        loop {
            acked.changed().await.map_err(|_| StreamError::Closed)?;
            let up_to = *acked.borrow_and_update();
            self.buffer.ack_async(up_to).await?;
            tokio::time::sleep(ACK_PERSIST_INTERVAL).await;
        }
    }

    async fn handle_control(
        &self,
        msg: v1::ControlMessage,
        acked: &watch::Sender<u64>,
    ) -> Result<(), StreamError> {
        match msg.kind {
            Some(control_message::Kind::Ack(ack)) => {
                // Never past what was synced, the most that can have been sent (the buffer
                // clamps the same way).
                let up_to = ack.up_to_seq.min(self.buffer.synced_seq());
                acked.send_if_modified(|cur| {
                    let advance = up_to > *cur;
                    if advance {
                        *cur = up_to;
                    }
                    advance
                });
            }
            Some(control_message::Kind::TokenRevoked(t)) => {
                self.tokens.evict(&t.token_hash).await;
            }
            Some(control_message::Kind::Policy(p)) => {
                self.policy.replace(convert::policy_update(p));
            }
            Some(control_message::Kind::ChatPolicy(c)) => {
                self.policy.set_chat_paused(&c.chat_jid, c.paused);
            }
            None => {}
        }
        Ok(())
    }
}

/// Replays every unacked event, then follows the synced watermark, never more than
/// [`MAX_IN_FLIGHT`] ahead of the acks. Records that are written but not yet fsynced are never
/// sent: `read_from` stops at the same watermark.
async fn stream_synced(
    buffer: &EventBuffer,
    tx: mpsc::Sender<v1::NodeMessage>,
    mut acked: watch::Receiver<u64>,
) -> Result<(), StreamError> {
    let mut synced = buffer.subscribe_synced();
    let mut sent_up_to = buffer.acked_seq();
    loop {
        synced.borrow_and_update();
        let acked_seq = *acked.borrow_and_update();
        let in_flight = sent_up_to.saturating_sub(acked_seq);
        if in_flight >= MAX_IN_FLIGHT {
            acked.changed().await.map_err(|_| StreamError::Closed)?;
            continue;
        }
        let room = (MAX_IN_FLIGHT - in_flight).min(READ_CHUNK as u64) as usize;
        let records = buffer.read_from_async(sent_up_to, room).await?;
        if records.is_empty() {
            tokio::select! {
                r = synced.changed() => r.map_err(|_| StreamError::Closed)?,
                // Acks can only shrink what is owed, but keep the watch drained.
                r = acked.changed() => r.map_err(|_| StreamError::Closed)?,
            }
            continue;
        }
        for (seq, payload) in records {
            sent_up_to = seq;
            match convert::decode_event(seq, &payload) {
                Ok(event) => tx
                    .send(v1::NodeMessage {
                        kind: Some(node_message::Kind::Event(event)),
                    })
                    .await
                    .map_err(|_| StreamError::Closed)?,
                Err(err) => {
                    tracing::error!(seq, error = %err, "skipping an undecodable buffer record");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::buffer::BufferOptions;
    use crate::engine::EngineEvent;
    use zapini_shared::jid::Jid;

    fn contact_event(name: &str) -> Vec<u8> {
        convert::encode_event(&EngineEvent::ContactUpdate {
            jid: Jid::parse("5511999999999@s.whatsapp.net").unwrap(),
            push_name: Some(name.to_owned()),
            profile_picture: None,
        })
    }

    fn seq_of(msg: &v1::NodeMessage) -> u64 {
        match &msg.kind {
            Some(node_message::Kind::Event(e)) => e.seq,
            other => panic!("expected an event, got {other:?}"),
        }
    }

    /// The stream follows the synced watermark: a record that is only written is not sent
    /// until the sync thread has fsynced it.
    #[tokio::test]
    async fn only_synced_records_are_streamed() {
        let dir = tempfile::tempdir().unwrap();
        let buffer = EventBuffer::open(dir.path(), BufferOptions::default()).unwrap();
        buffer.write(&contact_event("one")).unwrap();
        buffer.sync().unwrap();
        buffer.hold_sync(true);
        buffer.write(&contact_event("two")).unwrap();
        assert_eq!(buffer.synced_seq(), 1);

        let (tx, mut rx) = mpsc::channel(16);
        let (_acked_tx, acked_rx) = watch::channel(0);
        let streaming = buffer.clone();
        let task = tokio::spawn(async move { stream_synced(&streaming, tx, acked_rx).await });

        let first = rx.recv().await.unwrap();
        assert_eq!(seq_of(&first), 1);
        // On this single-threaded runtime the stream ran until it had to wait, so anything
        // else it read in the same step would be queued by now.
        assert!(rx.try_recv().is_err(), "an unsynced record was streamed");

        buffer.hold_sync(false);
        let second = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seq_of(&second), 2);
        task.abort();
    }
}
