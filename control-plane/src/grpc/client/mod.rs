//! Calls from the control plane to a node's `InstanceNode` service. Only this module and the
//! server see prost types: services get plain structs and [`AppError`]s back.

use std::time::Duration;

use std::path::Path;

use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use zapini_proto::v1;
use zapini_proto::v1::instance_node_client::InstanceNodeClient;
use zapini_shared::error::ErrorCode;

use crate::error::{AppError, AppResult};

mod status;
use status::{map_group_status, map_media_status, map_status};

/// Adds `authorization: Bearer <node credential>` to every call.
#[derive(Clone)]
pub struct BearerInterceptor {
    value: MetadataValue<tonic::metadata::Ascii>,
}

impl BearerInterceptor {
    pub fn new(credential: &str) -> Self {
        let value = zapini_shared::node_auth::bearer(credential)
            .parse()
            .unwrap_or_else(|_| MetadataValue::from_static("Bearer invalid"));
        BearerInterceptor { value }
    }
}

/// TLS for an `https://` node address: the public web roots, plus the certificates in `ca`.
pub fn client_tls(ca: Option<&Path>) -> AppResult<ClientTlsConfig> {
    let mut tls = ClientTlsConfig::new().with_webpki_roots();
    if let Some(ca) = ca {
        let pem = std::fs::read(ca)
            .map_err(|e| AppError::internal(format!("ZAPINI_GRPC_TLS_CA {}: {e}", ca.display())))?;
        tls = tls.ca_certificate(Certificate::from_pem(pem));
    }
    Ok(tls)
}

impl Interceptor for BearerInterceptor {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut()
            .insert("authorization", self.value.clone());
        Ok(req)
    }
}

/// A node's connection state as it reports it.
#[derive(Debug, Clone, Default)]
pub struct NodeStatus {
    pub status: String,
    pub phone_number: Option<String>,
    pub push_name: Option<String>,
    pub platform: Option<String>,
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NodeQr {
    pub status: String,
    pub code: Option<String>,
    pub png_data_url: Option<String>,
    pub generated_at_ms: i64,
    pub expires_at_ms: i64,
}

#[derive(Debug, Clone)]
pub struct NodeSent {
    pub message_id: String,
    pub timestamp_ms: i64,
}

/// Media for a send through a node.
#[derive(Debug, Clone, Default)]
pub struct NodeMedia {
    pub media_type: String,
    pub url: String,
    pub mime_type: String,
    pub caption: String,
    pub filename: String,
    /// A library file the node fetches from the control plane instead of `url`.
    pub media_id: String,
}

/// A group as a node reports it.
#[derive(Debug, Clone, Default)]
pub struct NodeGroup {
    pub jid: String,
    pub subject: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub created_at_ms: i64,
    /// (jid, is_admin, is_super_admin)
    pub participants: Vec<(String, bool, bool)>,
}

/// One participant's outcome in a membership or role change.
#[derive(Debug, Clone)]
pub struct NodeParticipantResult {
    pub jid: String,
    pub ok: bool,
    pub error: Option<String>,
}

/// Media bytes streamed from a node: MIME type and size from the first chunk.
pub struct NodeDownload {
    pub mime_type: String,
    pub size: u64,
    pub first: bytes::Bytes,
    pub rest: tonic::Streaming<v1::MediaChunk>,
}

impl NodeDownload {
    /// The next chunk after `first`.
    pub async fn next(&mut self) -> AppResult<Option<bytes::Bytes>> {
        match self.rest.message().await {
            Ok(Some(c)) => Ok(Some(c.data.into())),
            Ok(None) => Ok(None),
            Err(status) => Err(map_status(status)),
        }
    }
}

fn group_from(g: v1::GroupInfo) -> NodeGroup {
    NodeGroup {
        jid: g.jid,
        subject: g.subject,
        description: non_empty(g.description),
        owner: non_empty(g.owner_jid),
        created_at_ms: g.created_at_ms,
        participants: g
            .participants
            .into_iter()
            .map(|p| (p.jid, p.is_admin, p.is_super_admin))
            .collect(),
    }
}

/// A lazily connected client to one node.
#[derive(Clone)]
pub struct NodeClient {
    inner: InstanceNodeClient<InterceptedService<Channel, BearerInterceptor>>,
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

fn sent_from(r: v1::SendResponse) -> NodeSent {
    NodeSent {
        message_id: r.message_id,
        timestamp_ms: r.timestamp_ms,
    }
}

/// Waits for a unary call's answer; a failure becomes an [`AppError`] by `map`
/// ([`map_status`], or [`map_group_status`] for the group calls).
async fn unary<T>(
    call: impl Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    map: fn(tonic::Status) -> AppError,
) -> AppResult<T> {
    call.await.map(tonic::Response::into_inner).map_err(map)
}

impl NodeClient {
    /// A client for `grpc_url` presenting `credential`; the connection is made on first use.
    /// An `https://` address is reached over TLS, trusting the public web roots and `ca`.
    pub fn connect_lazy(
        grpc_url: &str,
        credential: &str,
        ca: Option<&Path>,
    ) -> AppResult<NodeClient> {
        let mut endpoint = Endpoint::from_shared(grpc_url.to_owned())
            .map_err(|e| AppError::internal(format!("bad node url {grpc_url}: {e}")))?
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(60))
            .tcp_nodelay(true);
        if grpc_url.starts_with("https://") {
            endpoint = endpoint
                .tls_config(client_tls(ca)?)
                .map_err(|e| AppError::internal(format!("TLS for node {grpc_url}: {e}")))?;
        }
        let channel = endpoint.connect_lazy();
        Ok(NodeClient {
            inner: InstanceNodeClient::with_interceptor(
                channel,
                BearerInterceptor::new(credential),
            )
            .max_decoding_message_size(128 * 1024 * 1024)
            .max_encoding_message_size(128 * 1024 * 1024),
        })
    }

    fn status_from(r: v1::StatusResponse) -> NodeStatus {
        NodeStatus {
            status: r.status,
            phone_number: non_empty(r.phone_number),
            push_name: non_empty(r.push_name),
            platform: non_empty(r.platform),
            reason: non_empty(r.reason),
        }
    }

    /// Asks the node for its state, waiting at most `timeout`.
    pub async fn status_within(&self, timeout: Duration) -> AppResult<NodeStatus> {
        let mut req = tonic::Request::new(v1::Empty {});
        req.set_timeout(timeout);
        unary(self.inner.clone().get_status(req), map_status)
            .await
            .map(Self::status_from)
    }

    pub async fn status(&self) -> AppResult<NodeStatus> {
        self.status_within(Duration::from_secs(5)).await
    }

    pub async fn qr(&self) -> AppResult<NodeQr> {
        let r = unary(self.inner.clone().get_qr(v1::Empty {}), map_status).await?;
        Ok(NodeQr {
            status: r.status,
            code: non_empty(r.code),
            png_data_url: non_empty(r.png_data_url),
            generated_at_ms: r.generated_at_ms,
            expires_at_ms: r.expires_at_ms,
        })
    }

    /// Asks the node's engine for a pairing code for `phone` (digits only).
    pub async fn pair_code(&self, phone: &str) -> AppResult<String> {
        let mut req = tonic::Request::new(v1::PairCodeRequest {
            phone_number: phone.to_owned(),
        });
        req.set_timeout(Duration::from_secs(30));
        let r = unary(self.inner.clone().request_pair_code(req), map_status).await?;
        Ok(r.code)
    }

    pub async fn disconnect(&self) -> AppResult<NodeStatus> {
        unary(self.inner.clone().disconnect(v1::Empty {}), map_status)
            .await
            .map(Self::status_from)
    }

    pub async fn logout(&self) -> AppResult<NodeStatus> {
        unary(self.inner.clone().logout(v1::Empty {}), map_status)
            .await
            .map(Self::status_from)
    }

    pub async fn reconnect(&self) -> AppResult<NodeStatus> {
        unary(self.inner.clone().reconnect(v1::Empty {}), map_status)
            .await
            .map(Self::status_from)
    }

    /// Sends a text through the node. With `client_ref` (an idempotency key, at most 128
    /// visible ASCII characters) the node sends at most once per key within 30 minutes and
    /// answers a repeat with the first send's id and timestamp; the key comes back on the
    /// send's `message.sent` event (`InMessage::client_ref`).
    pub async fn send_text(
        &self,
        to: &str,
        text: &str,
        quoted_id: Option<&str>,
        bypass_automation: bool,
        client_ref: Option<&str>,
    ) -> AppResult<NodeSent> {
        let request = v1::SendTextRequest {
            to: to.to_owned(),
            text: text.to_owned(),
            quoted_id: quoted_id.unwrap_or_default().to_owned(),
            mentioned_jids: Vec::new(),
            bypass_automation,
            client_ref: client_ref.unwrap_or_default().to_owned(),
        };
        unary(self.inner.clone().send_text(request), map_status)
            .await
            .map(sent_from)
    }

    /// Sends media through the node; `client_ref` as for [`NodeClient::send_text`].
    pub async fn send_media(
        &self,
        to: &str,
        media: NodeMedia,
        quoted_id: Option<&str>,
        bypass_automation: bool,
        client_ref: Option<&str>,
    ) -> AppResult<NodeSent> {
        let request = v1::SendMediaRequest {
            to: to.to_owned(),
            media_type: media.media_type,
            data: Vec::new(),
            url: media.url,
            mime_type: media.mime_type,
            caption: media.caption,
            filename: media.filename,
            quoted_id: quoted_id.unwrap_or_default().to_owned(),
            bypass_automation,
            media_id: media.media_id,
            client_ref: client_ref.unwrap_or_default().to_owned(),
        };
        unary(self.inner.clone().send_media(request), map_status)
            .await
            .map(sent_from)
    }

    /// Streams a message's media from the node.
    pub async fn download_media(
        &self,
        request: v1::DownloadMediaRequest,
    ) -> AppResult<NodeDownload> {
        let mut stream = self
            .inner
            .clone()
            .download_media(request)
            .await
            .map_err(map_media_status)?
            .into_inner();
        let first = stream.message().await.map_err(map_media_status)?;
        let first = first.ok_or_else(|| {
            AppError::new(ErrorCode::NotFound, "The node has no bytes for this media.")
        })?;
        Ok(NodeDownload {
            mime_type: first.mime_type,
            size: first.size,
            first: first.data.into(),
            rest: stream,
        })
    }

    pub async fn list_groups(&self) -> AppResult<Vec<NodeGroup>> {
        let list = unary(
            self.inner.clone().list_groups(v1::Empty {}),
            map_group_status,
        )
        .await?;
        Ok(list.groups.into_iter().map(group_from).collect())
    }

    pub async fn create_group(
        &self,
        subject: &str,
        participants: Vec<String>,
    ) -> AppResult<NodeGroup> {
        let request = v1::CreateGroupRequest {
            subject: subject.to_owned(),
            participants,
        };
        unary(self.inner.clone().create_group(request), map_group_status)
            .await
            .map(group_from)
    }

    pub async fn get_group(&self, jid: &str) -> AppResult<NodeGroup> {
        let request = v1::GroupRef {
            group_jid: jid.to_owned(),
        };
        unary(self.inner.clone().get_group(request), map_group_status)
            .await
            .map(group_from)
    }

    pub async fn update_group(
        &self,
        jid: &str,
        subject: Option<String>,
        description: Option<String>,
    ) -> AppResult<NodeGroup> {
        let request = v1::UpdateGroupRequest {
            group_jid: jid.to_owned(),
            subject,
            description,
        };
        unary(self.inner.clone().update_group(request), map_group_status)
            .await
            .map(group_from)
    }

    /// `action`: add, remove, promote or demote.
    pub async fn update_participants(
        &self,
        jid: &str,
        action: &str,
        participants: Vec<String>,
    ) -> AppResult<Vec<NodeParticipantResult>> {
        let request = v1::UpdateParticipantsRequest {
            group_jid: jid.to_owned(),
            action: action.to_owned(),
            participants,
        };
        let r = unary(
            self.inner.clone().update_participants(request),
            map_group_status,
        )
        .await?;
        Ok(r.results
            .into_iter()
            .map(|p| NodeParticipantResult {
                jid: p.jid,
                ok: p.ok,
                error: non_empty(p.error),
            })
            .collect())
    }

    pub async fn leave_group(&self, jid: &str) -> AppResult<()> {
        let group = v1::GroupRef {
            group_jid: jid.to_owned(),
        };
        unary(self.inner.clone().leave_group(group), map_group_status).await?;
        Ok(())
    }

    /// The invite link (code, url); `revoke` resets it first.
    pub async fn invite_link(&self, jid: &str, revoke: bool) -> AppResult<(String, String)> {
        let group = v1::GroupRef {
            group_jid: jid.to_owned(),
        };
        let mut client = self.inner.clone();
        let link = if revoke {
            unary(client.revoke_invite_link(group), map_group_status).await?
        } else {
            unary(client.get_invite_link(group), map_group_status).await?
        };
        Ok((link.code, link.url))
    }
    /// Reacts to a message (an empty emoji removes our reaction).
    pub async fn send_reaction(
        &self,
        chat_jid: &str,
        message_id: &str,
        emoji: &str,
        target_from_me: bool,
    ) -> AppResult<NodeSent> {
        let request = v1::SendReactionRequest {
            chat_jid: chat_jid.to_owned(),
            message_id: message_id.to_owned(),
            emoji: emoji.to_owned(),
            from_me: target_from_me,
        };
        unary(self.inner.clone().send_reaction(request), map_status)
            .await
            .map(sent_from)
    }

    pub async fn edit_message(
        &self,
        chat_jid: &str,
        message_id: &str,
        text: &str,
    ) -> AppResult<NodeSent> {
        let request = v1::EditMessageRequest {
            chat_jid: chat_jid.to_owned(),
            message_id: message_id.to_owned(),
            text: text.to_owned(),
        };
        unary(self.inner.clone().edit_message(request), map_status)
            .await
            .map(sent_from)
    }

    pub async fn revoke_message(&self, chat_jid: &str, message_id: &str) -> AppResult<NodeSent> {
        let request = v1::RevokeMessageRequest {
            chat_jid: chat_jid.to_owned(),
            message_id: message_id.to_owned(),
        };
        unary(self.inner.clone().revoke_message(request), map_status)
            .await
            .map(sent_from)
    }

    /// Read receipts for `message_ids` of `chat_jid` (in groups, all by `sender_jid`).
    /// Shows or clears "typing…" (`composing`), "recording audio…" (`recording`) or
    /// neither (`paused`) in a chat.
    pub async fn set_presence(&self, chat_jid: &str, state: &str) -> AppResult<()> {
        let request = v1::SetPresenceRequest {
            chat_jid: chat_jid.to_owned(),
            state: state.to_owned(),
        };
        unary(self.inner.clone().set_presence(request), map_status).await?;
        Ok(())
    }

    pub async fn mark_read(
        &self,
        chat_jid: &str,
        message_ids: &[String],
        sender_jid: &str,
    ) -> AppResult<()> {
        let request = v1::MarkReadRequest {
            chat_jid: chat_jid.to_owned(),
            message_ids: message_ids.to_vec(),
            sender_jid: sender_jid.to_owned(),
        };
        unary(self.inner.clone().mark_read(request), map_status).await?;
        Ok(())
    }
}
