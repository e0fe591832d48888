//! Use-cases shared by the HTTP hot path and the `InstanceNode` gRPC service: sends with the
//! policy checks (automation guard, daily limit), the wait for the `message.sent` event to
//! reach the event buffer (as far as `ZAPINI_SEND_ACK` asks), sends made once per client
//! reference ([`sent_refs`]), and media preparation. Transports parse their input into these
//! types and map the errors; neither builds engine calls on its own for sends.

pub mod sent_refs;

use std::sync::Arc;
use std::time::{Duration, Instant};

use zapini_shared::jid::Jid;

use crate::config::SendAck;
use crate::engine::sandbox::SandboxEngine;
use crate::engine::{Engine, EngineError, MediaKind, OutgoingMedia, SendOptions, SentMessage};
use crate::media::{self, MediaError, MediaFetcher};
use crate::policy::{PolicyDenied, PolicyState};
use crate::pump::SentLog;
use sent_refs::SentRefs;

/// How long a send waits for its `message.sent` event to be written or synced.
const SEND_ACK_WAIT: Duration = Duration::from_secs(10);

/// Why a send failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SendError {
    #[error("{0:?}")]
    Policy(PolicyDenied),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Media(#[from] MediaError),
}

/// Where the bytes of an outgoing media message come from.
pub enum MediaSource {
    Url(String),
    /// A file of the control plane's media library (`media_…`).
    Library(String),
    Inline {
        data: bytes::Bytes,
        mime_type: Option<String>,
    },
}

/// A media send request, parsed. Owned, so a send with a client reference can run on its own
/// task.
pub struct MediaRequest {
    pub kind: MediaKind,
    pub source: MediaSource,
    pub caption: Option<String>,
    pub filename: Option<String>,
}

/// The node's use-cases.
pub struct Node {
    pub engine: Arc<dyn Engine>,
    /// Set when the engine is the sandbox: its controls back the `/sandbox/*` endpoints.
    pub sandbox: Option<Arc<SandboxEngine>>,
    pub policy: Arc<PolicyState>,
    pub sent_log: Arc<SentLog>,
    pub media: MediaFetcher,
    pub started: Instant,
    /// How far a send's `message.sent` event must be before the send is answered.
    pub send_ack: SendAck,
    /// Sends remembered by their client reference.
    pub sent_refs: SentRefs,
}

impl Node {
    fn reserve(&self, to: &Jid, bypass_automation: bool) -> Result<(), SendError> {
        let chat = to.without_device().to_string();
        self.policy
            .try_reserve(&chat, bypass_automation)
            .map_err(SendError::Policy)
    }

    async fn finish(
        &self,
        result: Result<SentMessage, EngineError>,
    ) -> Result<SentMessage, SendError> {
        match result {
            Ok(sent) => {
                let reached = match self.send_ack {
                    SendAck::None => true,
                    SendAck::Written => self
                        .sent_log
                        .wait_written(&sent.message_id, SEND_ACK_WAIT)
                        .await
                        .is_some(),
                    SendAck::Synced => {
                        self.sent_log
                            .wait_synced(&sent.message_id, SEND_ACK_WAIT)
                            .await
                    }
                };
                if !reached {
                    tracing::error!(
                        message_id = %sent.message_id,
                        send_ack = self.send_ack.as_str(),
                        "sent, but the message.sent event has not reached the event buffer yet"
                    );
                }
                Ok(sent)
            }
            Err(err) => {
                self.policy.release();
                Err(err.into())
            }
        }
    }

    /// Sends a text after the policy checks; counts toward the daily limit. With
    /// `options.client_ref`, at most once per reference (see [`sent_refs`]): a repeat answers
    /// the first send without a policy check.
    pub async fn send_text(
        self: &Arc<Self>,
        to: &Jid,
        text: &str,
        options: &SendOptions,
        bypass_automation: bool,
    ) -> Result<SentMessage, SendError> {
        let Some(client_ref) = options.client_ref.clone() else {
            return self
                .send_text_now(to, text, options, bypass_automation)
                .await;
        };
        let node = Arc::clone(self);
        let (to, text, options) = (to.clone(), text.to_owned(), options.clone());
        let send = async move {
            node.send_text_now(&to, &text, &options, bypass_automation)
                .await
        };
        self.sent_refs.once(client_ref, send).await
    }

    async fn send_text_now(
        &self,
        to: &Jid,
        text: &str,
        options: &SendOptions,
        bypass_automation: bool,
    ) -> Result<SentMessage, SendError> {
        self.reserve(to, bypass_automation)?;
        let result = self.engine.send_text(to, text, options).await;
        self.finish(result).await
    }

    /// Fetches or checks the media, then sends it after the policy checks; at most once per
    /// `options.client_ref`, as [`Node::send_text`].
    pub async fn send_media(
        self: &Arc<Self>,
        to: &Jid,
        request: MediaRequest,
        options: &SendOptions,
        bypass_automation: bool,
    ) -> Result<SentMessage, SendError> {
        let Some(client_ref) = options.client_ref.clone() else {
            return self
                .send_media_now(to, request, options, bypass_automation)
                .await;
        };
        let node = Arc::clone(self);
        let (to, options) = (to.clone(), options.clone());
        let send = async move {
            node.send_media_now(&to, request, &options, bypass_automation)
                .await
        };
        self.sent_refs.once(client_ref, send).await
    }

    async fn send_media_now(
        &self,
        to: &Jid,
        request: MediaRequest,
        options: &SendOptions,
        bypass_automation: bool,
    ) -> Result<SentMessage, SendError> {
        // Policy first: no download for a send that would be refused anyway.
        self.reserve(to, bypass_automation)?;
        let outgoing = match self.prepare_media(request).await {
            Ok(m) => m,
            Err(e) => {
                self.policy.release();
                return Err(e.into());
            }
        };
        let result = self.engine.send_media(to, &outgoing, options).await;
        self.finish(result).await
    }

    async fn prepare_media(&self, request: MediaRequest) -> Result<OutgoingMedia, MediaError> {
        let MediaRequest {
            kind,
            source,
            caption,
            filename,
        } = request;
        let (data, mime_type, filename) = match source {
            MediaSource::Url(url) => {
                let fetched = self.media.fetch(&url, kind, filename.as_deref()).await?;
                let filename = filename.or(match kind {
                    MediaKind::Document => fetched.url_filename,
                    _ => None,
                });
                (fetched.data, fetched.mime_type, filename)
            }
            MediaSource::Library(id) => {
                let fetched = self
                    .media
                    .fetch_library(&id, kind, filename.as_deref())
                    .await?;
                let filename = match kind {
                    MediaKind::Document => filename.or(fetched.url_filename),
                    _ => filename,
                };
                (fetched.data, fetched.mime_type, filename)
            }
            MediaSource::Inline { data, mime_type } => {
                if data.is_empty() {
                    return Err(MediaError::Format("The media data is empty.".to_owned()));
                }
                let mime = media::check_inline(
                    kind,
                    data.len(),
                    filename.as_deref(),
                    mime_type.as_deref(),
                )?;
                (data, mime, filename)
            }
        };
        Ok(OutgoingMedia {
            kind,
            data,
            mime_type: mime_type.to_owned(),
            caption,
            filename,
        })
    }
}
