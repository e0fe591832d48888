//! The control-plane link's settings: this node's credential (`ZAPINI_NODE_CREDENTIAL`, the
//! deprecated `ZAPINI_NODE_SECRET`), TLS on the gRPC link and the reconnect backoff.

use std::path::PathBuf;
use std::time::Duration;

use uuid::Uuid;

use super::{ConfigError, invalid};

/// Reconnect/re-register backoff: exponential from `initial`, doubling up to `max`, jittered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub initial: Duration,
    pub max: Duration,
    /// How long a registration refused because another node holds the lease is asked again
    /// (every 250 ms) before the refusal is final: the holder is usually the node this one
    /// replaces, still shutting down.
    pub lease_patience: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
            lease_patience: Duration::from_secs(10),
        }
    }
}

/// TLS on the node's side of the gRPC link.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrpcTls {
    /// `ZAPINI_NODE_GRPC_TLS_CERT` / `ZAPINI_NODE_GRPC_TLS_KEY` (PEM): serve `InstanceNode`
    /// over TLS; `None`: plain HTTP/2.
    pub server: Option<(PathBuf, PathBuf)>,
    /// `ZAPINI_GRPC_TLS_CA` (PEM): certificates trusted for an `https://` control plane, besides
    /// the public web roots.
    pub ca: Option<PathBuf>,
}

/// The node's credential: `ZAPINI_NODE_CREDENTIAL` (what the process launcher sets, and what
/// `control-plane node-credential --instance <uuid>` prints for nodes started elsewhere).
///
/// For nodes configured before per-node credentials, `ZAPINI_NODE_SECRET` is still read when
/// no credential is given: the node derives its own credential from it and presents only that,
/// so the control plane never accepts the node secret itself from a node. Such a node still
/// holds the secret of every instance, which is why this logs a deprecation warning.
pub(super) fn link_credential(
    get: &impl Fn(&str) -> Option<String>,
    instance: Uuid,
    warnings: &mut Vec<String>,
) -> Result<String, ConfigError> {
    match (get("ZAPINI_NODE_CREDENTIAL"), get("ZAPINI_NODE_SECRET")) {
        (Some(credential), secret) => {
            let credential = credential.trim().to_owned();
            if credential.len() != 64 || !credential.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(invalid(
                    "ZAPINI_NODE_CREDENTIAL",
                    "expected 64 hex characters (from `control-plane node-credential --instance <uuid>`)",
                ));
            }
            if secret.is_some() {
                warnings.push(
                    "ZAPINI_NODE_SECRET is ignored because ZAPINI_NODE_CREDENTIAL is set; remove it from the node's environment"
                        .to_owned(),
                );
            }
            Ok(credential.to_ascii_lowercase())
        }
        (None, Some(secret)) => {
            warnings.push(
                "ZAPINI_NODE_SECRET on a node is deprecated: it opens every instance; give the node ZAPINI_NODE_CREDENTIAL (`control-plane node-credential --instance <uuid>`) instead"
                    .to_owned(),
            );
            Ok(zapini_shared::node_auth::node_credential(
                secret.trim().as_bytes(),
                instance,
            ))
        }
        (None, None) => Err(invalid(
            "ZAPINI_NODE_CREDENTIAL",
            "required (the launcher sets it; for nodes started elsewhere, `control-plane node-credential --instance <uuid>` prints it)",
        )),
    }
}

pub(super) fn grpc_tls(get: &impl Fn(&str) -> Option<String>) -> Result<GrpcTls, ConfigError> {
    let file = |name: &'static str| -> Result<Option<PathBuf>, ConfigError> {
        match get(name) {
            None => Ok(None),
            Some(v) => {
                let path = PathBuf::from(v.trim());
                if path.is_file() {
                    Ok(Some(path))
                } else {
                    Err(invalid(name, format!("no such file: {}", path.display())))
                }
            }
        }
    };
    let server = match (
        file("ZAPINI_NODE_GRPC_TLS_CERT")?,
        file("ZAPINI_NODE_GRPC_TLS_KEY")?,
    ) {
        (None, None) => None,
        (Some(cert), Some(key)) => Some((cert, key)),
        (Some(_), None) => {
            return Err(invalid(
                "ZAPINI_NODE_GRPC_TLS_KEY",
                "required when ZAPINI_NODE_GRPC_TLS_CERT is set",
            ));
        }
        (None, Some(_)) => {
            return Err(invalid(
                "ZAPINI_NODE_GRPC_TLS_CERT",
                "required when ZAPINI_NODE_GRPC_TLS_KEY is set",
            ));
        }
    };
    Ok(GrpcTls {
        server,
        ca: file("ZAPINI_GRPC_TLS_CA")?,
    })
}
