//! The node's client of the control plane's `ControlPlane` service: one lazily connected
//! HTTP/2 channel (it reconnects by itself when the control plane comes back; TLS for an
//! `https://` address), every call carrying `authorization: Bearer <node credential>`.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use zapini_proto::v1;
use zapini_proto::v1::control_plane_client::ControlPlaneClient;

/// Adds the node credential to every outgoing call.
#[derive(Clone)]
pub struct BearerInterceptor {
    value: MetadataValue<Ascii>,
}

impl BearerInterceptor {
    pub fn new(credential: &str) -> anyhow::Result<BearerInterceptor> {
        let value = zapini_shared::node_auth::bearer(credential)
            .parse()
            .map_err(|_| anyhow::anyhow!("the node credential is not a valid header value"))?;
        Ok(BearerInterceptor { value })
    }
}

/// TLS for an `https://` control plane: the public web roots, plus the certificates in `ca`
/// (`ZAPINI_GRPC_TLS_CA`).
pub fn client_tls(ca: Option<&Path>) -> anyhow::Result<ClientTlsConfig> {
    let mut tls = ClientTlsConfig::new().with_webpki_roots();
    if let Some(ca) = ca {
        let pem = std::fs::read(ca).with_context(|| {
            format!(
                "invalid configuration: ZAPINI_GRPC_TLS_CA: cannot read {}",
                ca.display()
            )
        })?;
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

pub(crate) type CpClient = ControlPlaneClient<InterceptedService<Channel, BearerInterceptor>>;

/// How long a unary call to the control plane may take.
const UNARY_TIMEOUT: Duration = Duration::from_secs(10);

/// A token check as the control plane answered it, in node terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenVerdict {
    pub allowed: bool,
    /// The instance the token belongs to, when the control plane knows it.
    pub token_instance_uuid: Option<String>,
    /// Unix seconds; `None` when the token never expires.
    pub expires_at: Option<i64>,
    pub reason: String,
}

/// The control plane could not be asked.
#[derive(Debug, Clone, thiserror::Error)]
#[error("control plane unavailable: {0}")]
pub struct Unreachable(pub String);

/// Cheap-to-clone handle on the control plane's gRPC service.
#[derive(Clone)]
pub struct ControlPlaneApi {
    pub(crate) client: CpClient,
}

impl ControlPlaneApi {
    /// Builds the lazy channel; nothing is dialled until the first call. Needs a Tokio runtime.
    /// An `https://` URL is reached over TLS, trusting the public web roots and `ca`.
    pub fn connect_lazy(
        url: &str,
        credential: &str,
        ca: Option<&Path>,
    ) -> anyhow::Result<ControlPlaneApi> {
        let mut endpoint = Endpoint::from_shared(url.to_owned())?
            .connect_timeout(Duration::from_secs(5))
            .http2_keep_alive_interval(Duration::from_secs(20))
            .keep_alive_timeout(Duration::from_secs(10))
            .keep_alive_while_idle(true)
            .tcp_nodelay(true);
        if url.starts_with("https://") {
            endpoint = endpoint.tls_config(client_tls(ca)?)?;
        }
        let channel = endpoint.connect_lazy();
        let client =
            ControlPlaneClient::with_interceptor(channel, BearerInterceptor::new(credential)?);
        Ok(ControlPlaneApi { client })
    }

    /// `AuthorizeToken`.
    pub async fn authorize_token(
        &self,
        token_hash: String,
        instance_uuid: String,
        user_token_id: i64,
    ) -> Result<TokenVerdict, Unreachable> {
        let mut client = self.client.clone();
        let call = client.authorize_token(v1::AuthorizeTokenRequest {
            token_hash,
            instance_uuid,
            user_token_id,
        });
        let resp = tokio::time::timeout(UNARY_TIMEOUT, call)
            .await
            .map_err(|_| Unreachable("AuthorizeToken timed out".to_owned()))?
            .map_err(|s| Unreachable(format!("{:?}: {}", s.code(), s.message())))?
            .into_inner();
        Ok(TokenVerdict {
            allowed: resp.allowed,
            token_instance_uuid: (!resp.token_instance_uuid.is_empty())
                .then_some(resp.token_instance_uuid),
            expires_at: (resp.expires_at > 0).then_some(resp.expires_at),
            reason: resp.reason,
        })
    }
}
