//! Instance-node configuration: defaults, then `ZAPINI_*` environment variables, validated at
//! start so a bad setting stops the process with a message naming the variable.
//!
//! This is the only module that reads the environment. [`NodeConfig::from_lookup`] takes the
//! variables from a closure so tests never touch the process environment.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use uuid::Uuid;

mod edge;
mod metrics;
pub use edge::{EdgeLimits, EdgeSettings};
pub use metrics::MetricsSettings;

use crate::engine::EngineKind;
use crate::engine::pacing::PacingConfig;

/// Settings of the real WhatsApp engine (`ZAPINI_WA_*`, `ZAPINI_PACING_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsappSettings {
    /// `ZAPINI_WA_WS_URL`: the WebSocket endpoint (default WhatsApp Web's; a relay or a test
    /// server otherwise).
    pub ws_url: Option<String>,
    /// `ZAPINI_WA_PUSH_NAME`: the name this linked device shows on the phone.
    pub push_name: Option<String>,
    /// `ZAPINI_WA_UNREACHABLE_SECS` (30): without a QR code or a connection this long, the
    /// status turns `disconnected` with reason `unreachable` (the client keeps retrying).
    pub unreachable_after: Duration,
    /// `ZAPINI_WA_WATCHDOG_SECS` (180): a connected session silent this long is reconnected.
    pub watchdog_silence: Duration,
    /// `ZAPINI_WA_MEDIA_MAX_MB` (100): the largest media file the engine downloads from
    /// WhatsApp's servers; a larger one is refused while it streams.
    pub media_max_bytes: u64,
    /// `ZAPINI_PACING*`: anti-ban pacing of sends.
    pub pacing: PacingConfig,
}

impl Default for WhatsappSettings {
    fn default() -> Self {
        WhatsappSettings {
            ws_url: None,
            push_name: None,
            unreachable_after: Duration::from_secs(30),
            watchdog_silence: Duration::from_secs(180),
            media_max_bytes: 100 * 1024 * 1024,
            pacing: PacingConfig::default(),
        }
    }
}

/// When the sandbox produces receipts for our sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptMode {
    /// The sandbox's default schedule: delivered after 1 s, read after 3 s, played after 5 s.
    Auto,
    /// Only the immediate `sent`; later receipts come from `POST /sandbox/receipt`.
    Manual,
}

/// When a send (`POST /send-message` and the other sends, HTTP or gRPC) is answered, relative
/// to its `message.sent` event reaching the event buffer.
///
/// The event buffer writes an event (`write(2)`) as soon as the engine reports it and fsyncs
/// in the background in groups; the control plane only ever hears of fsynced events. The modes
/// trade how long a send waits against what a crash right after the answer can lose:
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendAck {
    /// `written` (default): answered once the event is written to the buffer file. A crash
    /// or kill of the node process loses nothing; an OS crash or power loss within the sync
    /// window (the buffer's 5 ms sync interval plus one fsync, so normally under 10 ms) can
    /// lose the `message.sent` event of a message that was answered as sent.
    Written,
    /// `synced`: answered once the event is fsynced (the send asks for the fsync round at
    /// once instead of waiting out the sync interval). Nothing answered is ever lost, but
    /// every send waits for the disk; with an fsync p99 of several milliseconds, so is the
    /// send's.
    Synced,
    /// `none`: answered as soon as the engine accepted the message; the event is written a
    /// moment later. A process crash in that gap loses the event.
    None,
}

impl SendAck {
    /// The setting's value, as `ZAPINI_SEND_ACK` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SendAck::Written => "written",
            SendAck::Synced => "synced",
            SendAck::None => "none",
        }
    }
}

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

        let send_ack = match (get("ZAPINI_SEND_ACK"), get("ZAPINI_DURABLE_SENDS")) {
            (Some(v), durable) => {
                if durable.is_some() {
                    warnings.push(
                        "ZAPINI_DURABLE_SENDS is deprecated and ignored because ZAPINI_SEND_ACK is set"
                            .to_owned(),
                    );
                }
                match v.trim().to_ascii_lowercase().as_str() {
                    "written" => SendAck::Written,
                    "synced" => SendAck::Synced,
                    "none" => SendAck::None,
                    _ => {
                        return Err(invalid(
                            "ZAPINI_SEND_ACK",
                            format!("unknown mode {v:?}; expected written, synced or none"),
                        ));
                    }
                }
            }
            (None, Some(v)) => {
                let mode = if parse_bool("ZAPINI_DURABLE_SENDS", &v)? {
                    SendAck::Synced
                } else {
                    SendAck::None
                };
                warnings.push(format!(
                    "ZAPINI_DURABLE_SENDS is deprecated; use ZAPINI_SEND_ACK={} (the default is written)",
                    mode.as_str()
                ));
                mode
            }
            (None, None) => SendAck::Written,
        };

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

fn parse_u64(setting: &'static str, value: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            setting,
            format!("expected a number from {min} to {max}, got {value:?}"),
        )),
    }
}

/// The node's credential: `ZAPINI_NODE_CREDENTIAL` (what the process launcher sets, and what
/// `control-plane node-credential --instance <uuid>` prints for nodes started elsewhere).
///
/// For nodes configured before per-node credentials, `ZAPINI_NODE_SECRET` is still read when
/// no credential is given: the node derives its own credential from it and presents only that,
/// so the control plane never accepts the node secret itself from a node. Such a node still
/// holds the secret of every instance, which is why this logs a deprecation warning.
fn link_credential(
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

fn grpc_tls(get: &impl Fn(&str) -> Option<String>) -> Result<GrpcTls, ConfigError> {
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

fn whatsapp_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<WhatsappSettings, ConfigError> {
    let mut s = WhatsappSettings::default();
    if let Some(v) = get("ZAPINI_WA_WS_URL") {
        let url = reqwest::Url::parse(v.trim())
            .map_err(|e| invalid("ZAPINI_WA_WS_URL", format!("not a URL ({v:?}): {e}")))?;
        if !matches!(url.scheme(), "ws" | "wss") {
            return Err(invalid(
                "ZAPINI_WA_WS_URL",
                "must start with ws:// or wss://",
            ));
        }
        s.ws_url = Some(v.trim().to_owned());
    }
    s.push_name = get("ZAPINI_WA_PUSH_NAME").map(|v| v.trim().to_owned());
    if let Some(v) = get("ZAPINI_WA_UNREACHABLE_SECS") {
        s.unreachable_after =
            Duration::from_secs(parse_u64("ZAPINI_WA_UNREACHABLE_SECS", &v, 1, 3600)?);
    }
    if let Some(v) = get("ZAPINI_WA_WATCHDOG_SECS") {
        s.watchdog_silence =
            Duration::from_secs(parse_u64("ZAPINI_WA_WATCHDOG_SECS", &v, 30, 86_400)?);
    }
    if let Some(v) = get("ZAPINI_WA_MEDIA_MAX_MB") {
        s.media_max_bytes = parse_u64("ZAPINI_WA_MEDIA_MAX_MB", &v, 1, 4096)? * 1024 * 1024;
    }
    let p = &mut s.pacing;
    if let Some(v) = get("ZAPINI_PACING") {
        p.enabled = parse_bool("ZAPINI_PACING", &v)?;
    }
    if let Some(v) = get("ZAPINI_PACING_TYPING") {
        p.typing = parse_bool("ZAPINI_PACING_TYPING", &v)?;
    }
    let ms = |name: &'static str, max: u64| -> Result<Option<Duration>, ConfigError> {
        get(name)
            .map(|v| parse_u64(name, &v, 0, max).map(Duration::from_millis))
            .transpose()
    };
    if let Some(d) = ms("ZAPINI_PACING_TYPING_MIN_MS", 60_000)? {
        p.typing_min = d;
    }
    if let Some(d) = ms("ZAPINI_PACING_TYPING_MAX_MS", 60_000)? {
        p.typing_max = d;
    }
    if p.typing_max < p.typing_min {
        return Err(invalid(
            "ZAPINI_PACING_TYPING_MAX_MS",
            "must not be below ZAPINI_PACING_TYPING_MIN_MS",
        ));
    }
    if let Some(d) = ms("ZAPINI_PACING_RECIPIENT_GAP_MS", 3_600_000)? {
        p.recipient_gap = d;
    }
    if let Some(d) = ms("ZAPINI_PACING_INSTANCE_GAP_MS", 3_600_000)? {
        p.instance_gap = d;
    }
    if let Some(v) = get("ZAPINI_PACING_NEW_CHATS_PER_HOUR") {
        p.new_chats_per_hour = u32::try_from(parse_u64(
            "ZAPINI_PACING_NEW_CHATS_PER_HOUR",
            &v,
            0,
            100_000,
        )?)
        .unwrap_or(u32::MAX);
    }
    Ok(s)
}

fn parse_addr(setting: &'static str, value: Option<String>) -> Result<SocketAddr, ConfigError> {
    match value {
        None => Ok(SocketAddr::from(([127, 0, 0, 1], 0))),
        Some(v) => v.trim().parse().map_err(|e| {
            invalid(
                setting,
                format!("expected host:port such as 127.0.0.1:8081, got {v:?}: {e}"),
            )
        }),
    }
}

fn parse_http_url(setting: &'static str, value: &str) -> Result<reqwest::Url, ConfigError> {
    let url = reqwest::Url::parse(value.trim())
        .map_err(|e| invalid(setting, format!("not a URL ({value:?}): {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(
            setting,
            "must be an http:// or https:// URL with a host",
        ));
    }
    Ok(url)
}

fn parse_bool(setting: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            setting,
            format!("expected true or false, got {value:?}"),
        )),
    }
}

#[cfg(test)]
mod tests;
