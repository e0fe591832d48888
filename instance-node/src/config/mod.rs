//! Instance-node configuration: defaults, then `ZAPINI_*` environment variables, validated at
//! start so a bad setting stops the process with a message naming the variable.
//!
//! This is the only module that reads the environment. [`NodeConfig::from_lookup`] takes the
//! variables from a closure so tests never touch the process environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use uuid::Uuid;

mod edge;
mod link;
mod metrics;
mod parse;
mod sends;
mod whatsapp;
pub use edge::{EdgeLimits, EdgeSettings};
pub use link::{GrpcTls, RetryPolicy};
pub use metrics::MetricsSettings;
pub use sends::{ReceiptMode, SendAck};
pub use whatsapp::WhatsappSettings;

use crate::engine::EngineKind;
use link::{grpc_tls, link_credential};
use parse::{parse_addr, parse_bool, parse_http_url};
use whatsapp::whatsapp_settings;

/// Validated configuration of one node process.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// `ZAPINI_INSTANCE_ID`: the instance UUID this node serves.
    pub instance_id: Uuid,
    /// `ZAPINI_CONTROL_PLANE_GRPC`: the control plane's gRPC endpoint.
    pub control_plane_grpc: String,
    /// `ZAPINI_CONTROL_PLANE_URL`: HTTP base every non-hot-path request is forwarded to.
    pub control_plane_url: reqwest::Url,
    /// `ZAPINI_NODE_CREDENTIAL`: this node's own credential, bound to its instance; presented
    /// on every call to the control plane and expected on every call from it. See
    /// [`link_credential`] for the deprecated `ZAPINI_NODE_SECRET`.
    pub credential: String,
    /// TLS on the gRPC link (`ZAPINI_NODE_GRPC_TLS_*`, `ZAPINI_GRPC_TLS_CA`).
    pub grpc_tls: GrpcTls,
    /// `ZAPINI_NODE_GRPC_PUBLIC_URL`: the gRPC address announced to the control plane
    /// (`https://node-3.internal:7001`); `http(s)://<bound addr>` when unset.
    pub grpc_public_url: Option<String>,
    /// `ZAPINI_HTTP_ADDR`.
    pub http_addr: SocketAddr,
    /// `ZAPINI_NODE_GRPC_ADDR`.
    pub grpc_addr: SocketAddr,
    /// `ZAPINI_DATA_DIR`: event buffer and buffer id live here.
    pub data_dir: PathBuf,
    /// `ZAPINI_ENGINE`.
    pub engine: EngineKind,
    /// `ZAPINI_PUBLIC_URL`: advertised HTTP base; `http://<bound addr>` when unset.
    pub public_url: Option<String>,
    /// `ZAPINI_ALLOW_PRIVATE_URLS`: lets media URLs point at loopback/private addresses.
    pub allow_private_urls: bool,
    /// `ZAPINI_SANDBOX_RECEIPTS`.
    pub sandbox_receipts: ReceiptMode,
    /// `ZAPINI_SANDBOX_PACING` (default false): the sandbox paces sends with the
    /// `ZAPINI_PACING_*` settings, as the `whatsapp` engine does.
    pub sandbox_pacing: bool,
    /// `ZAPINI_WORKER_THREADS`: Tokio worker threads (used by `main`).
    pub worker_threads: usize,
    /// `ZAPINI_SEND_ACK` (`written`, `synced` or `none`; default `written`): when a send is
    /// answered; see [`SendAck`] for what each mode risks. The deprecated
    /// `ZAPINI_DURABLE_SENDS` is still read when `ZAPINI_SEND_ACK` is unset: `true` means
    /// `synced`, `false` means `none`.
    pub send_ack: SendAck,
    /// `ZAPINI_EXIT_WITH_PARENT` (default false): stop when the process that started us goes
    /// away (set by the control plane's process launcher, so a killed control plane does not
    /// leave orphan nodes holding leases). With a pipe as stdin, its end is the signal, seen at
    /// once; otherwise the parent pid is checked 5 times a second.
    pub exit_with_parent: bool,
    /// Backoff for registration and stream reconnects (not an environment setting).
    pub retry: RetryPolicy,
    /// The real engine's settings (read whatever the engine; used by `whatsapp`).
    pub whatsapp: WhatsappSettings,
    /// The HTTP edge: forwarding timeout and rate limits.
    pub edge: EdgeSettings,
    /// Prometheus metrics: a token for `/metrics` on the HTTP listener, an address of its own.
    pub metrics: MetricsSettings,
    /// Warnings about the settings (deprecated variables), for `main` to log once logging
    /// is set up.
    pub warnings: Vec<String>,
}

/// A setting that failed validation; the message names the environment variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting}: {problem}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub problem: String,
}

fn invalid(setting: &'static str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        problem: problem.into(),
    }
}

impl NodeConfig {
    /// Reads the process environment.
    pub fn from_env() -> Result<NodeConfig, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the configuration from a variable lookup (the environment, or a map in tests).
    /// Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<NodeConfig, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());

        let instance_id = match get("ZAPINI_INSTANCE_ID") {
            None => {
                return Err(invalid(
                    "ZAPINI_INSTANCE_ID",
                    "required (the instance UUID)",
                ));
            }
            Some(v) => Uuid::parse_str(v.trim())
                .map_err(|e| invalid("ZAPINI_INSTANCE_ID", format!("not a UUID ({v:?}): {e}")))?,
        };
        let mut warnings = Vec::new();
        let credential = link_credential(&get, instance_id, &mut warnings)?;
        let grpc_tls = grpc_tls(&get)?;
        let grpc_public_url = match get("ZAPINI_NODE_GRPC_PUBLIC_URL") {
            None => None,
            Some(v) => {
                let url = parse_http_url("ZAPINI_NODE_GRPC_PUBLIC_URL", &v)?;
                Some(url.as_str().trim_end_matches('/').to_owned())
            }
        };

        let control_plane_grpc =
            get("ZAPINI_CONTROL_PLANE_GRPC").unwrap_or_else(|| "http://127.0.0.1:9090".to_owned());
        let grpc_url = reqwest::Url::parse(&control_plane_grpc).map_err(|e| {
            invalid(
                "ZAPINI_CONTROL_PLANE_GRPC",
                format!("not a URL ({control_plane_grpc:?}): {e}"),
            )
        })?;
        if !matches!(grpc_url.scheme(), "http" | "https") {
            return Err(invalid(
                "ZAPINI_CONTROL_PLANE_GRPC",
                "must start with http:// or https://",
            ));
        }

        let cp_url_raw =
            get("ZAPINI_CONTROL_PLANE_URL").unwrap_or_else(|| "http://127.0.0.1:8080".to_owned());
        let control_plane_url = parse_http_url("ZAPINI_CONTROL_PLANE_URL", &cp_url_raw)?;

        let http_addr = parse_addr("ZAPINI_HTTP_ADDR", get("ZAPINI_HTTP_ADDR"))?;
        let grpc_addr = parse_addr("ZAPINI_NODE_GRPC_ADDR", get("ZAPINI_NODE_GRPC_ADDR"))?;

        let data_dir = get("ZAPINI_DATA_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(format!("./data/nodes/{instance_id}")));

        let engine = match get("ZAPINI_ENGINE").as_deref().map(str::trim) {
            None | Some("sandbox") => EngineKind::Sandbox,
            Some("whatsapp") => EngineKind::Whatsapp,
            Some(other) => {
                return Err(invalid(
                    "ZAPINI_ENGINE",
                    format!("unknown engine {other:?}; expected sandbox or whatsapp"),
                ));
            }
        };

        let public_url = match get("ZAPINI_PUBLIC_URL") {
            None => None,
            Some(v) => {
                let url = parse_http_url("ZAPINI_PUBLIC_URL", &v)?;
                Some(url.as_str().trim_end_matches('/').to_owned())
            }
        };

        let allow_private_urls = match get("ZAPINI_ALLOW_PRIVATE_URLS") {
            None => false,
            Some(v) => parse_bool("ZAPINI_ALLOW_PRIVATE_URLS", &v)?,
        };

        let sandbox_receipts = match get("ZAPINI_SANDBOX_RECEIPTS").as_deref().map(str::trim) {
            None | Some("auto") => ReceiptMode::Auto,
            Some("manual") => ReceiptMode::Manual,
            Some(other) => {
                return Err(invalid(
                    "ZAPINI_SANDBOX_RECEIPTS",
                    format!("unknown mode {other:?}; expected auto or manual"),
                ));
            }
        };

        let send_ack = sends::send_ack(&get, &mut warnings)?;

        let sandbox_pacing = match get("ZAPINI_SANDBOX_PACING") {
            None => false,
            Some(v) => parse_bool("ZAPINI_SANDBOX_PACING", &v)?,
        };

        let exit_with_parent = match get("ZAPINI_EXIT_WITH_PARENT") {
            None => false,
            Some(v) => parse_bool("ZAPINI_EXIT_WITH_PARENT", &v)?,
        };

        let worker_threads = match get("ZAPINI_WORKER_THREADS") {
            None => 2,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=256).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "ZAPINI_WORKER_THREADS",
                        format!("expected a number from 1 to 256, got {v:?}"),
                    ));
                }
            },
        };

        let whatsapp = whatsapp_settings(&get)?;
        let edge = edge::edge_settings(&get)?;
        let metrics = metrics::metrics_settings(&get)?;

        Ok(NodeConfig {
            whatsapp,
            edge,
            metrics,
            instance_id,
            control_plane_grpc,
            control_plane_url,
            credential,
            grpc_tls,
            grpc_public_url,
            http_addr,
            grpc_addr,
            data_dir,
            engine,
            public_url,
            allow_private_urls,
            sandbox_receipts,
            sandbox_pacing,
            worker_threads,
            send_ack,
            exit_with_parent,
            retry: RetryPolicy::default(),
            warnings,
        })
    }

    /// A sandbox node for tests and embedding: ephemeral ports, private media URLs allowed,
    /// manual receipts, no TLS.
    pub fn sandbox(
        instance_id: Uuid,
        credential: impl Into<String>,
        control_plane_grpc: impl Into<String>,
        control_plane_url: reqwest::Url,
        data_dir: impl Into<PathBuf>,
    ) -> NodeConfig {
        NodeConfig {
            instance_id,
            control_plane_grpc: control_plane_grpc.into(),
            control_plane_url,
            credential: credential.into(),
            grpc_tls: GrpcTls::default(),
            grpc_public_url: None,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            grpc_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            engine: EngineKind::Sandbox,
            public_url: None,
            allow_private_urls: true,
            sandbox_receipts: ReceiptMode::Manual,
            sandbox_pacing: false,
            worker_threads: 2,
            send_ack: SendAck::Written,
            exit_with_parent: false,
            retry: RetryPolicy::default(),
            whatsapp: WhatsappSettings::default(),
            edge: EdgeSettings::default(),
            metrics: MetricsSettings::default(),
            warnings: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
