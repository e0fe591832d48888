//! The `InstanceNode` gRPC service the control plane calls: every rpc delegates to the engine
//! (sends go through the same use-cases as HTTP, with the daily limit), behind the node's
//! credential. Errors carry the envelope the node's HTTP API would answer (`status.rs`).

pub mod status;

use std::sync::Arc;

use tonic::{Request, Response, Status};
use zapini_proto::v1;
use zapini_proto::v1::instance_node_server::InstanceNode;
use zapini_shared::jid::Jid;
use zapini_shared::phone::PhoneNumber;
use zapini_shared::signing::constant_time_eq;

use crate::engine::{EngineError, ParticipantAction, SendOptions, SentMessage};
use crate::grpc::convert;
use crate::http::error::ApiError;
use crate::media;
use crate::service::sent_refs::parse_client_ref;
use crate::service::{MediaRequest, MediaSource, Node};
use status::{api_status, engine_status, invalid, send_status};

/// Checks `authorization: Bearer <node credential>` on every call: the control plane presents
/// this node's own credential (derived for its instance), so a caller holding another node's
/// credential is refused.
#[derive(Clone)]
pub struct SecretCheck {
    expected: Arc<[u8]>,
}

impl SecretCheck {
    pub fn new(credential: &str) -> SecretCheck {
        SecretCheck {
            expected: zapini_shared::node_auth::bearer(credential)
                .into_bytes()
                .into(),
        }
    }
}

impl tonic::service::Interceptor for SecretCheck {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let ok = req
            .metadata()
            .get("authorization")
            .is_some_and(|v| constant_time_eq(v.as_bytes(), &self.expected));
        if ok {
            Ok(req)
        } else {
            let peer = req.remote_addr().map(|p| p.to_string()).unwrap_or_default();
            tracing::warn!(%peer, "gRPC call without this node's credential refused");
            Err(Status::unauthenticated("missing or wrong node credential"))
        }
    }
}

fn jid(field: &str, raw: &str) -> Result<Jid, Status> {
    Jid::parse_recipient(raw).map_err(|e| api_status(ApiError(e.into_error_body(field))))
}

fn jids(field: &str, raw: &[String]) -> Result<Vec<Jid>, Status> {
    raw.iter().map(|r| jid(field, r)).collect()
}

fn sent(s: SentMessage) -> Response<v1::SendResponse> {
    Response::new(v1::SendResponse {
        message_id: s.message_id,
        timestamp_ms: s.timestamp.timestamp_millis(),
    })
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// The send's idempotency key; empty means none.
fn client_ref(raw: &str) -> Result<Option<String>, Status> {
    if raw.is_empty() {
        return Ok(None);
    }
    parse_client_ref("client_ref", raw)
        .map(Some)
        .map_err(|e| invalid(e.field, e.to_string()))
}

/// The service implementation.
pub struct InstanceNodeService {
    pub node: Arc<Node>,
}

impl InstanceNodeService {
    async fn status(&self) -> Response<v1::StatusResponse> {
        Response::new(convert::status_response(&self.node.engine.state().await))
    }

    /// Waits for a connection change (disconnect, reconnect, logout), then answers the state
    /// it left the engine in.
    async fn after(
        &self,
        change: impl Future<Output = Result<(), EngineError>>,
    ) -> Result<Response<v1::StatusResponse>, Status> {
        change.await.map_err(engine_status)?;
        Ok(self.status().await)
    }
}

#[tonic::async_trait]
impl InstanceNode for InstanceNodeService {
    async fn send_text(
        &self,
        request: Request<v1::SendTextRequest>,
    ) -> Result<Response<v1::SendResponse>, Status> {
        let r = request.into_inner();
        let to = jid("to", &r.to)?;
        let options = SendOptions {
            quoted_id: non_empty(r.quoted_id),
            mentioned_jids: jids("mentioned_jids", &r.mentioned_jids)?,
            client_ref: client_ref(&r.client_ref)?,
        };
        self.node
            .send_text(&to, &r.text, &options, r.bypass_automation)
            .await
            .map(sent)
            .map_err(|e| send_status(e, to.is_user()))
    }

    async fn send_media(
        &self,
        request: Request<v1::SendMediaRequest>,
    ) -> Result<Response<v1::SendResponse>, Status> {
        let r = request.into_inner();
        let to = jid("to", &r.to)?;
        let kind = media::parse_kind(&r.media_type, true).ok_or_else(|| {
            invalid(
                "media_type",
                "The media_type field must be image, video, audio, document or sticker.",
            )
        })?;
        let client_ref = client_ref(&r.client_ref)?;
        let source = if !r.media_id.is_empty() {
            MediaSource::Library(r.media_id)
        } else if !r.data.is_empty() {
            MediaSource::Inline {
                data: bytes::Bytes::from(r.data),
                mime_type: non_empty(r.mime_type),
            }
        } else if !r.url.is_empty() {
            MediaSource::Url(r.url)
        } else {
            return Err(invalid(
                "media_url",
                "Either data or a media_url is required.",
            ));
        };
        let request = MediaRequest {
            kind,
            source,
            caption: non_empty(r.caption),
            filename: non_empty(r.filename),
        };
        let options = SendOptions {
            quoted_id: non_empty(r.quoted_id),
            mentioned_jids: Vec::new(),
            client_ref,
        };
        self.node
            .send_media(&to, request, &options, r.bypass_automation)
            .await
            .map(sent)
            .map_err(|e| send_status(e, to.is_user()))
    }

    async fn send_reaction(
        &self,
        request: Request<v1::SendReactionRequest>,
    ) -> Result<Response<v1::SendResponse>, Status> {
        let r = request.into_inner();
        let chat = jid("chat_jid", &r.chat_jid)?;
        self.node
            .engine
            .react(&chat, &r.message_id, r.from_me, &r.emoji)
            .await
            .map(sent)
            .map_err(engine_status)
    }

    async fn edit_message(
        &self,
        request: Request<v1::EditMessageRequest>,
    ) -> Result<Response<v1::SendResponse>, Status> {
        let r = request.into_inner();
        let chat = jid("chat_jid", &r.chat_jid)?;
        self.node
            .engine
            .edit(&chat, &r.message_id, &r.text)
            .await
            .map(sent)
            .map_err(engine_status)
    }

    async fn revoke_message(
        &self,
        request: Request<v1::RevokeMessageRequest>,
    ) -> Result<Response<v1::SendResponse>, Status> {
        let r = request.into_inner();
        let chat = jid("chat_jid", &r.chat_jid)?;
        self.node
            .engine
            .revoke(&chat, &r.message_id)
            .await
            .map(sent)
            .map_err(engine_status)
    }

    async fn mark_read(
        &self,
        request: Request<v1::MarkReadRequest>,
    ) -> Result<Response<v1::Empty>, Status> {
        let r = request.into_inner();
        let chat = jid("chat_jid", &r.chat_jid)?;
        let sender = match r.sender_jid.as_str() {
            "" => None,
            s => Some(jid("sender_jid", s)?),
        };
        self.node
            .engine
            .mark_read(&chat, sender.as_ref(), &r.message_ids)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(v1::Empty {}))
    }

    async fn set_presence(
        &self,
        request: Request<v1::SetPresenceRequest>,
    ) -> Result<Response<v1::Empty>, Status> {
        let r = request.into_inner();
        let chat = jid("chat_jid", &r.chat_jid)?;
        let presence = crate::engine::ChatPresence::parse(&r.state).ok_or_else(|| {
            Status::invalid_argument("state: one of composing, recording, paused")
        })?;
        self.node
            .engine
            .set_presence(&chat, presence)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(v1::Empty {}))
    }

    async fn get_status(
        &self,
        _request: Request<v1::Empty>,
    ) -> Result<Response<v1::StatusResponse>, Status> {
        Ok(self.status().await)
    }

    async fn get_qr(
        &self,
        _request: Request<v1::Empty>,
    ) -> Result<Response<v1::QrResponse>, Status> {
        let state = self.node.engine.state().await;
        let qr = self.node.engine.current_qr().await;
        let mut resp = v1::QrResponse {
            status: state.status.as_str().to_owned(),
            ..Default::default()
        };
        if state.status == zapini_shared::status::InstanceStatus::QrReady
            && let Some(q) = qr
        {
            let q = convert::qr(&q);
            resp.code = q.code;
            resp.png_data_url = q.png_data_url;
            resp.generated_at_ms = q.generated_at_ms;
            resp.expires_at_ms = q.expires_at_ms;
        }
        Ok(Response::new(resp))
    }

    async fn request_pair_code(
        &self,
        request: Request<v1::PairCodeRequest>,
    ) -> Result<Response<v1::PairCodeResponse>, Status> {
        let r = request.into_inner();
        let phone = PhoneNumber::parse(&r.phone_number)
            .map_err(|e| api_status(ApiError(e.into_error_body("phone_number"))))?;
        let code = self
            .node
            .engine
            .request_pair_code(&phone)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(v1::PairCodeResponse { code }))
    }

    async fn disconnect(
        &self,
        _request: Request<v1::Empty>,
    ) -> Result<Response<v1::StatusResponse>, Status> {
        self.after(self.node.engine.disconnect()).await
    }

    async fn reconnect(
        &self,
        _request: Request<v1::Empty>,
    ) -> Result<Response<v1::StatusResponse>, Status> {
        self.after(self.node.engine.reconnect()).await
    }

    async fn logout(
        &self,
        _request: Request<v1::Empty>,
    ) -> Result<Response<v1::StatusResponse>, Status> {
        self.after(self.node.engine.logout()).await
    }

    async fn check_numbers(
        &self,
        request: Request<v1::CheckNumbersRequest>,
    ) -> Result<Response<v1::CheckNumbersResponse>, Status> {
        let r = request.into_inner();
        let phones = r
            .phone_numbers
            .iter()
            .map(|p| {
                PhoneNumber::parse(p)
                    .map_err(|e| api_status(ApiError(e.into_error_body("phone_numbers"))))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let results = self
            .node
            .engine
            .check_numbers(&phones)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(v1::CheckNumbersResponse {
            results: results
                .into_iter()
                .map(|n| v1::NumberCheck {
                    phone_number: n.phone_number,
                    exists: n.exists,
                    jid: n.jid.map(|j| j.to_string()).unwrap_or_default(),
                })
                .collect(),
        }))
    }

    async fn list_groups(
        &self,
        _request: Request<v1::Empty>,
    ) -> Result<Response<v1::GroupList>, Status> {
        let groups = self
            .node
            .engine
            .list_groups()
            .await
            .map_err(engine_status)?;
        Ok(Response::new(v1::GroupList {
            groups: groups.iter().map(convert::group_info).collect(),
        }))
    }

    async fn create_group(
        &self,
        request: Request<v1::CreateGroupRequest>,
    ) -> Result<Response<v1::GroupInfo>, Status> {
        let r = request.into_inner();
        let participants = jids("participants", &r.participants)?;
        let g = self
            .node
            .engine
            .create_group(&r.subject, &participants)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(convert::group_info(&g)))
    }

    async fn get_group(
        &self,
        request: Request<v1::GroupRef>,
    ) -> Result<Response<v1::GroupInfo>, Status> {
        let group = jid("group_jid", &request.into_inner().group_jid)?;
        self.group_info(&group).await
    }

    async fn update_group(
        &self,
        request: Request<v1::UpdateGroupRequest>,
    ) -> Result<Response<v1::GroupInfo>, Status> {
        let r = request.into_inner();
        let group = jid("group_jid", &r.group_jid)?;
        if let Some(subject) = &r.subject {
            self.node
                .engine
                .set_group_subject(&group, subject)
                .await
                .map_err(engine_status)?;
        }
        if let Some(description) = &r.description {
            self.node
                .engine
                .set_group_description(&group, description)
                .await
                .map_err(engine_status)?;
        }
        self.group_info(&group).await
    }

    async fn update_participants(
        &self,
        request: Request<v1::UpdateParticipantsRequest>,
    ) -> Result<Response<v1::ParticipantsResult>, Status> {
        let r = request.into_inner();
        let group = jid("group_jid", &r.group_jid)?;
        let action = match r.action.as_str() {
            "add" => ParticipantAction::Add,
            "remove" => ParticipantAction::Remove,
            "promote" => ParticipantAction::Promote,
            "demote" => ParticipantAction::Demote,
            other => {
                return Err(invalid(
                    "action",
                    format!(
                        "The action field must be add, remove, promote or demote, not {other:?}."
                    ),
                ));
            }
        };
        let participants = jids("participants", &r.participants)?;
        let results = self
            .node
            .engine
            .update_participants(&group, action, &participants)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(v1::ParticipantsResult {
            results: results
                .into_iter()
                .map(|p| v1::ParticipantResult {
                    jid: p.jid.to_string(),
                    ok: p.ok,
                    error: p.error.unwrap_or_default(),
                })
                .collect(),
        }))
    }

    async fn leave_group(
        &self,
        request: Request<v1::GroupRef>,
    ) -> Result<Response<v1::Empty>, Status> {
        let group = jid("group_jid", &request.into_inner().group_jid)?;
        self.node
            .engine
            .leave_group(&group)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(v1::Empty {}))
    }

    async fn get_invite_link(
        &self,
        request: Request<v1::GroupRef>,
    ) -> Result<Response<v1::InviteLink>, Status> {
        self.invite(request, false).await
    }

    async fn revoke_invite_link(
        &self,
        request: Request<v1::GroupRef>,
    ) -> Result<Response<v1::InviteLink>, Status> {
        self.invite(request, true).await
    }

    type DownloadMediaStream = std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<v1::MediaChunk, Status>> + Send + 'static>,
    >;

    async fn download_media(
        &self,
        request: Request<v1::DownloadMediaRequest>,
    ) -> Result<Response<Self::DownloadMediaStream>, Status> {
        let r = request.into_inner();
        let chat = jid("chat_jid", &r.chat_jid)?;
        let info = r
            .media
            .map(convert::media_info)
            .unwrap_or_else(|| crate::engine::MediaInfo {
                mime_type: String::new(),
                caption: None,
                filename: None,
                size: 0,
                url: None,
                sha256: None,
                duration_secs: None,
            });
        let data = self
            .node
            .engine
            .download_media(&chat, &r.message_id, &info)
            .await
            .map_err(engine_status)?;
        let mime_type = info.mime_type.clone();
        let size = data.len() as u64;
        // Slices of one buffer: no copies, bounded gRPC messages.
        let chunks: Vec<Result<v1::MediaChunk, Status>> = (0..data.len().max(1))
            .step_by(MEDIA_CHUNK)
            .enumerate()
            .map(|(i, start)| {
                let end = (start + MEDIA_CHUNK).min(data.len());
                Ok(v1::MediaChunk {
                    data: data.slice(start..end).to_vec(),
                    mime_type: if i == 0 {
                        mime_type.clone()
                    } else {
                        String::new()
                    },
                    size: if i == 0 { size } else { 0 },
                })
            })
            .collect();
        Ok(Response::new(Box::pin(futures::stream::iter(chunks))))
    }
}

/// Bytes per `MediaChunk`.
const MEDIA_CHUNK: usize = 256 * 1024;

impl InstanceNodeService {
    /// The group as the engine knows it now.
    async fn group_info(&self, group: &Jid) -> Result<Response<v1::GroupInfo>, Status> {
        let g = self
            .node
            .engine
            .group_info(group)
            .await
            .map_err(engine_status)?;
        Ok(Response::new(convert::group_info(&g)))
    }

    async fn invite(
        &self,
        request: Request<v1::GroupRef>,
        reset: bool,
    ) -> Result<Response<v1::InviteLink>, Status> {
        let group = jid("group_jid", &request.into_inner().group_jid)?;
        let url = self
            .node
            .engine
            .invite_link(&group, reset)
            .await
            .map_err(engine_status)?;
        let code = url.rsplit('/').next().unwrap_or_default().to_owned();
        Ok(Response::new(v1::InviteLink { code, url }))
    }
}
