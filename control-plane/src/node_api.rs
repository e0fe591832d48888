//! The `ControlPlane` gRPC service nodes call: node registration and leases, the acked event
//! stream, token checks. A transport over the services, like `http` for tenants.

use std::pin::Pin;
use std::time::Duration;

use futures::{FutureExt, Stream};
use secrecy::ExposeSecret;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;
use zapini_proto::v1;
use zapini_proto::v1::control_plane_server::{ControlPlane, ControlPlaneServer};
use zapini_shared::error::ErrorCode;

use crate::error::AppError;
use crate::service::Services;
use crate::service::ingest::{EventKind, InMessage, NodeEvent};
use crate::service::nodes::{NodePolicy, NodePush, RegisterInput};

/// How long an events stream may wait for its first message (the hello naming the instance,
/// which its credential is checked against).
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

/// Events applied per transaction at most.
const MAX_BATCH: usize = 256;

pub struct ControlPlaneService {
    services: Services,
}

pub fn server(services: Services) -> ControlPlaneServer<ControlPlaneService> {
    ControlPlaneServer::new(ControlPlaneService { services })
        .max_decoding_message_size(16 * 1024 * 1024)
}

fn to_status(err: AppError) -> Status {
    match err {
        AppError::Client(body) => {
            let msg = body.message.clone();
            // Every code listed, so a new one is a build error rather than a silent default.
            match body.code {
                ErrorCode::InstanceNotFound
                | ErrorCode::NotFound
                | ErrorCode::NumberNotFound
                | ErrorCode::CallNotFound => Status::not_found(msg),
                ErrorCode::Conflict
                | ErrorCode::DuplicateEntry
                | ErrorCode::DuplicateName
                | ErrorCode::DuplicateSlug => Status::already_exists(msg),
                ErrorCode::Unauthenticated
                | ErrorCode::InvalidCredentials
                | ErrorCode::TokenExpired => Status::unauthenticated(msg),
                ErrorCode::Forbidden
                | ErrorCode::InstanceForbidden
                | ErrorCode::NoVoiceAccess
                | ErrorCode::AiAgentNotEnabled
                | ErrorCode::KanbanNotEnabled => Status::permission_denied(msg),
                ErrorCode::DailyLimitExceeded
                | ErrorCode::RateLimitExceeded
                | ErrorCode::TooManyLoginAttempts
                | ErrorCode::QuotaExceeded
                | ErrorCode::MinutesExceeded => Status::resource_exhausted(msg),
                ErrorCode::InstanceNotConnected
                | ErrorCode::AutomationActive
                | ErrorCode::ActiveExecutions
                | ErrorCode::CallNotActive
                | ErrorCode::CallbackExpired
                | ErrorCode::IvrNotEnabled
                | ErrorCode::NoCredentials => Status::failed_precondition(msg),
                ErrorCode::NodeUnavailable | ErrorCode::ServiceUnavailable => {
                    Status::unavailable(msg)
                }
                ErrorCode::GatewayTimeout => Status::deadline_exceeded(msg),
                ErrorCode::InternalError | ErrorCode::LoopDetected => Status::internal(msg),
                ErrorCode::MethodNotAllowed => Status::unimplemented(msg),
                ErrorCode::BadRequest
                | ErrorCode::InvalidJson
                | ErrorCode::PayloadTooLarge
                | ErrorCode::UnsupportedMediaType
                | ErrorCode::ValidationError
                | ErrorCode::InvalidIntegrationType => Status::invalid_argument(msg),
            }
        }
        AppError::RateLimited { body, .. } => Status::resource_exhausted(body.message),
        AppError::Unavailable(m) => Status::unavailable(m),
        AppError::Internal(e) => {
            tracing::error!(error = %e, "gRPC call failed");
            Status::internal("internal error")
        }
    }
}

fn parse_uuid(s: &str) -> Result<Uuid, Status> {
    Uuid::parse_str(s).map_err(|_| Status::invalid_argument("instance_uuid is not a UUID"))
}

fn policy_msg(p: NodePolicy) -> v1::Policy {
    v1::Policy {
        daily_limit: p.daily_limit,
        messages_sent_today: p.messages_sent_today,
        automation_active: p.automation_active,
        paused_chats: p.paused_chats,
        day: p.day,
    }
}

fn push_msg(p: NodePush) -> v1::ControlMessage {
    use v1::control_message::Kind;
    let kind = match p {
        NodePush::TokenRevoked(token_hash) => Kind::TokenRevoked(v1::TokenRevoked { token_hash }),
        NodePush::Policy(p) => Kind::Policy(policy_msg(p)),
        NodePush::ChatPolicy { chat_jid, paused } => {
            Kind::ChatPolicy(v1::ChatPolicy { chat_jid, paused })
        }
    };
    v1::ControlMessage { kind: Some(kind) }
}

fn message_type(t: i32) -> &'static str {
    use v1::MessageType as T;
    match T::try_from(t).unwrap_or(T::Unspecified) {
        T::Text | T::Unspecified => "text",
        T::Image => "image",
        T::Video => "video",
        T::Audio => "audio",
        T::Voice => "voice",
        T::Document => "document",
        T::Sticker => "sticker",
        T::Location => "location",
        T::Contact => "contact",
        T::Reaction => "reaction",
        T::Other => "other",
    }
}

fn in_message(m: v1::WaMessage) -> InMessage {
    let media = m.media.map(|media| {
        serde_json::json!({
            "mime_type": media.mime_type,
            "caption": (!media.caption.is_empty()).then_some(media.caption),
            "filename": (!media.filename.is_empty()).then_some(media.filename),
            "size": media.size,
            "url": (!media.url.is_empty()).then_some(media.url),
            "sha256": (!media.sha256.is_empty()).then_some(media.sha256),
            "duration_secs": (media.duration_secs > 0).then_some(media.duration_secs),
        })
    });
    let media = match (media, m.location, m.contact) {
        (Some(v), _, _) => Some(v),
        (None, Some(l), _) => Some(serde_json::json!({
            "latitude": l.latitude, "longitude": l.longitude, "name": l.name, "address": l.address,
        })),
        (None, None, Some(c)) => Some(serde_json::json!({
            "display_name": c.display_name, "vcard": c.vcard,
        })),
        _ => None,
    };
    let timestamp = chrono::DateTime::from_timestamp_millis(m.timestamp_ms)
        .filter(|_| m.timestamp_ms > 0)
        .unwrap_or_else(chrono::Utc::now);
    InMessage {
        id: m.id,
        chat_jid: m.chat_jid,
        sender_jid: m.sender_jid,
        from_me: m.from_me,
        push_name: m.push_name,
        message_type: message_type(m.r#type).to_owned(),
        text: m.text,
        quoted_id: m.quoted_id,
        media,
        mentioned_jids: m.mentioned_jids,
        timestamp,
        client_ref: (!m.client_ref.is_empty()).then_some(m.client_ref),
    }
}

/// A positive millisecond timestamp; `None` for 0 (unset) or out of range.
fn millis(ms: i64) -> Option<chrono::DateTime<chrono::Utc>> {
    (ms > 0)
        .then(|| chrono::DateTime::from_timestamp_millis(ms))
        .flatten()
}

fn node_event(e: v1::Event) -> NodeEvent {
    use v1::event::Kind;
    let kind = match e.kind {
        Some(Kind::MessageReceived(m)) | Some(Kind::MessageSent(m)) => {
            EventKind::Message(in_message(m))
        }
        Some(Kind::Status(r)) => EventKind::Status {
            message_ids: r.message_ids,
            status: u8::try_from(r.status).unwrap_or(0),
        },
        Some(Kind::Qr(q)) => EventKind::Qr {
            code: q.code,
            image: q.png_data_url,
            generated_at: millis(q.generated_at_ms).unwrap_or_else(chrono::Utc::now),
            expires_at: millis(q.expires_at_ms),
        },
        Some(Kind::Connection(c)) => EventKind::Connection {
            status: c.status,
            phone_number: c.phone_number,
            push_name: c.push_name,
            reason: c.reason,
        },
        Some(Kind::MessageEdited(m)) => EventKind::Edit {
            message_id: m.message_id,
            new_text: m.new_text,
        },
        Some(Kind::MessageRevoked(m)) => EventKind::Revoke {
            message_id: m.message_id,
        },
        Some(Kind::ContactUpdate(c)) => EventKind::Contact {
            jid: c.jid,
            push_name: c.push_name,
            picture: if c.profile_picture_removed {
                Some(None)
            } else if c.profile_picture_url.starts_with("https://")
                && c.profile_picture_url.len() <= 2048
            {
                Some(Some(c.profile_picture_url))
            } else {
                None
            },
        },
        Some(Kind::GroupUpdate(g)) => EventKind::Group {
            group_jid: g.group_jid,
            subject: g.subject,
            action: g.action,
            participants: g.participants,
            description: g.description,
        },
        Some(Kind::Reaction(r)) => EventKind::Reaction {
            message_id: r.message_id,
            chat_jid: r.chat_jid,
            sender_jid: r.sender_jid,
            emoji: r.emoji,
            from_me: r.from_me,
            timestamp: millis(r.timestamp_ms).unwrap_or_else(chrono::Utc::now),
        },
        None => EventKind::Other,
    };
    NodeEvent { seq: e.seq, kind }
}

impl ControlPlaneService {
    /// Checks that the call carries the credential of the node serving `instance` (see
    /// [`zapini_shared::node_auth`]): a node's credential opens its own instance and no other,
    /// and the node secret itself is not accepted from a node. Refusals are logged with the
    /// caller's address.
    #[allow(clippy::result_large_err)]
    fn authenticate(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        peer: Option<std::net::SocketAddr>,
        instance: Uuid,
        call: &'static str,
    ) -> Result<(), Status> {
        let presented = metadata.get("authorization").map(|v| v.as_bytes());
        let valid = presented.is_some_and(|p| {
            zapini_shared::node_auth::verify_bearer(
                self.services.node_secret.expose_secret().as_bytes(),
                instance,
                p,
            )
        });
        if valid {
            return Ok(());
        }
        let peer = peer.map(|p| p.to_string()).unwrap_or_default();
        if presented.is_none() {
            tracing::warn!(%instance, call, %peer, "node call without a credential refused");
            return Err(Status::unauthenticated(
                "missing node credential (authorization: Bearer <node credential>)",
            ));
        }
        tracing::warn!(%instance, call, %peer, "node call with a credential not valid for this instance refused");
        Err(Status::unauthenticated(format!(
            "the node credential is not valid for instance {instance}"
        )))
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<v1::ControlMessage, Status>> + Send>>;

#[tonic::async_trait]
impl ControlPlane for ControlPlaneService {
    async fn register(
        &self,
        request: Request<v1::RegisterRequest>,
    ) -> Result<Response<v1::RegisterResponse>, Status> {
        let instance_uuid = parse_uuid(&request.get_ref().instance_uuid)?;
        self.authenticate(
            request.metadata(),
            request.remote_addr(),
            instance_uuid,
            "Register",
        )?;
        let r = request.into_inner();
        if r.protocol_version != zapini_proto::PROTOCOL_VERSION {
            return Err(Status::failed_precondition(format!(
                "protocol version {} is not supported (this control plane speaks {})",
                r.protocol_version,
                zapini_proto::PROTOCOL_VERSION
            )));
        }
        let reg = self
            .services
            .register_node(RegisterInput {
                instance_uuid,
                node_id: r.node_id,
                http_url: r.http_url,
                grpc_url: r.grpc_url,
                engine: r.engine,
                buffer_id: r.buffer_id,
            })
            .await
            .map_err(to_status)?;
        let sent = reg.policy.messages_sent_today;
        Ok(Response::new(v1::RegisterResponse {
            instance: Some(v1::InstanceInfo {
                id: reg.instance.id,
                uuid: reg.instance.uuid.to_string(),
                name: reg.instance.name.clone(),
                engine: reg.instance.engine.clone(),
                daily_limit: u32::try_from(reg.instance.daily_limit).unwrap_or(0),
                messages_sent_today: sent,
            }),
            lease_id: reg.lease_id,
            lease_ttl_secs: reg.lease_ttl_secs,
            policy: Some(policy_msg(reg.policy)),
            acked_seq: reg.acked_seq,
        }))
    }

    async fn renew_lease(
        &self,
        request: Request<v1::RenewLeaseRequest>,
    ) -> Result<Response<v1::RenewLeaseResponse>, Status> {
        let instance_uuid = parse_uuid(&request.get_ref().instance_uuid)?;
        self.authenticate(
            request.metadata(),
            request.remote_addr(),
            instance_uuid,
            "RenewLease",
        )?;
        let r = request.into_inner();
        let ttl = self
            .services
            .renew_lease(instance_uuid, &r.lease_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(v1::RenewLeaseResponse {
            renewed: ttl.is_some(),
            lease_ttl_secs: ttl.unwrap_or(0),
        }))
    }

    type EventsStream = EventStream;

    async fn events(
        &self,
        request: Request<Streaming<v1::NodeMessage>>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        // The instance is named by the first message, so the credential is checked once it
        // has arrived, before anything else is done for the stream.
        let metadata = request.metadata().clone();
        let peer = request.remote_addr();
        if metadata.get("authorization").is_none() {
            tracing::warn!(call = "Events", peer = %peer.map(|p| p.to_string()).unwrap_or_default(), "node call without a credential refused");
            return Err(Status::unauthenticated(
                "missing node credential (authorization: Bearer <node credential>)",
            ));
        }
        let mut inbound = request.into_inner();
        let first = tokio::time::timeout(HELLO_TIMEOUT, inbound.message())
            .await
            .map_err(|_| Status::deadline_exceeded("no hello within 10 seconds"))?;
        let hello = match first? {
            Some(v1::NodeMessage {
                kind: Some(v1::node_message::Kind::Hello(h)),
            }) => h,
            _ => return Err(Status::invalid_argument("the first message must be hello")),
        };
        let uuid = parse_uuid(&hello.instance_uuid)?;
        self.authenticate(&metadata, peer, uuid, "Events")?;
        let instance = self
            .services
            .instance_by_uuid(uuid)
            .await
            .map_err(to_status)?;
        if !self
            .services
            .lease_is_current(&instance, &hello.lease_id)
            .await
            .map_err(to_status)?
        {
            return Err(Status::failed_precondition(
                "the lease is not current; register again",
            ));
        }
        if hello.buffer_id.is_empty() {
            return Err(Status::invalid_argument("buffer_id is required"));
        }
        let (out_tx, out_rx) = mpsc::channel::<Result<v1::ControlMessage, Status>>(64);
        let (push_tx, mut push_rx) = mpsc::channel::<NodePush>(64);
        let services = self.services.clone();
        let conn = services.hub.attach(uuid, push_tx);
        let buffer_id = hello.buffer_id;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    msg = inbound.message() => {
                        let first = match msg {
                            Ok(Some(m)) => m,
                            Ok(None) => break,
                            Err(e) => {
                                tracing::debug!(instance = %uuid, error = %e, "node stream ended");
                                break;
                            }
                        };
                        let mut batch = Vec::new();
                        let mut closed = false;
                        if let Some(v1::node_message::Kind::Event(e)) = first.kind {
                            batch.push(node_event(e));
                        }
                        // Take whatever else is already here, so one transaction covers it.
                        while batch.len() < MAX_BATCH {
                            match inbound.message().now_or_never() {
                                Some(Ok(Some(v1::NodeMessage { kind: Some(v1::node_message::Kind::Event(e)) }))) => {
                                    batch.push(node_event(e));
                                }
                                Some(Ok(Some(_))) => {}
                                Some(Ok(None)) | Some(Err(_)) => {
                                    closed = true;
                                    break;
                                }
                                None => break,
                            }
                        }
                        if !batch.is_empty() {
                            let started = std::time::Instant::now();
                            let ingested = crate::service::retry_write("ingesting node events", || {
                                services.ingest_batch(&instance, &buffer_id, batch.clone())
                            })
                            .await;
                            crate::metrics::ingest_batch(batch.len(), started.elapsed(), ingested.is_ok());
                            match ingested {
                                Ok(up_to_seq) => {
                                    let ack = v1::ControlMessage {
                                        kind: Some(v1::control_message::Kind::Ack(v1::Ack { up_to_seq })),
                                    };
                                    if out_tx.send(Ok(ack)).await.is_err() {
                                        break;
                                    }
                                }
                                Err(e) => {
                                    tracing::error!(instance = %uuid, error = %e, "ingest failed; the node will replay");
                                    let _ = out_tx.send(Err(Status::unavailable("ingest failed; replay later"))).await;
                                    break;
                                }
                            }
                        }
                        if closed {
                            break;
                        }
                    }
                    push = push_rx.recv() => {
                        let Some(push) = push else { break };
                        if out_tx.send(Ok(push_msg(push))).await.is_err() {
                            break;
                        }
                    }
                    () = out_tx.closed() => break,
                }
            }
            services.hub.detach(uuid, conn);
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out_rx))))
    }

    async fn authorize_token(
        &self,
        request: Request<v1::AuthorizeTokenRequest>,
    ) -> Result<Response<v1::AuthorizeTokenResponse>, Status> {
        let instance_uuid = parse_uuid(&request.get_ref().instance_uuid)?;
        self.authenticate(
            request.metadata(),
            request.remote_addr(),
            instance_uuid,
            "AuthorizeToken",
        )?;
        let r = request.into_inner();
        let d = self
            .services
            .authorize_for_node(instance_uuid, &r.token_hash, r.user_token_id)
            .await
            .map_err(to_status)?;
        Ok(Response::new(v1::AuthorizeTokenResponse {
            allowed: d.allowed,
            token_id: d.token_id,
            token_instance_uuid: d
                .token_instance_uuid
                .map(|u| u.to_string())
                .unwrap_or_default(),
            expires_at: d.expires_at.map_or(0, |t| t.timestamp()),
            reason: d.reason,
            kind: d.kind.to_owned(),
        }))
    }
}

/// How long a node may stay silent before the control plane gives up on a stream.
pub const STREAM_KEEPALIVE: Duration = Duration::from_secs(20);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sent_message_keeps_its_client_ref() {
        let sent = |client_ref: &str| v1::WaMessage {
            id: "3EB0AAAA".into(),
            chat_jid: "5511999999999@s.whatsapp.net".into(),
            from_me: true,
            r#type: v1::MessageType::Text as i32,
            text: "hi".into(),
            timestamp_ms: 1_767_000_000_000,
            client_ref: client_ref.into(),
            ..Default::default()
        };
        let m = in_message(sent("auto:42:0"));
        assert_eq!(m.id, "3EB0AAAA");
        assert_eq!(m.client_ref.as_deref(), Some("auto:42:0"));
        assert_eq!(in_message(sent("")).client_ref, None);
    }
}
