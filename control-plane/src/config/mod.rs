//! Control-plane configuration: defaults, then an optional TOML file (`ZAPINI_CONFIG`), then
//! `ZAPINI_*` environment variables (plus the conventional `DATABASE_URL` and `REDIS_URL`).
//!
//! This is the only module that reads the environment. Everything is validated here, at start,
//! so a bad setting stops the process with a message that names it.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

mod metrics;
mod raw;
mod tenancy;
pub use metrics::MetricsSettings;
use raw::{RawConfig, env_name};
pub use tenancy::{ProxyNet, TenancySettings};

/// Which SQL database to use, after validation.
#[derive(Debug, Clone)]
pub enum DatabaseTarget {
    /// Embedded default: a SQLite file under the data directory.
    Sqlite(PathBuf),
    /// `postgres://...` from `DATABASE_URL`.
    Postgres(SecretString),
}

/// Validated configuration for one control-plane process.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub base_domain: String,
    pub database: DatabaseTarget,
    pub redis_url: Option<SecretString>,
    /// Prefix for every Redis key, so several deployments (or test runs) can share one Redis.
    pub redis_prefix: String,
    pub admin_email: Option<String>,
    pub admin_password: Option<SecretString>,
    pub tls: Option<TlsFiles>,
    /// Largest accepted request body, in bytes (uploads have their own limits).
    pub max_body_bytes: usize,
    /// Default request budget per token per window; a tenant may override it.
    pub rate_limit_requests: u32,
    pub rate_limit_window_secs: u64,
    /// Failed logins allowed per email, and per client address, per window.
    pub login_max_failures_per_email: u32,
    pub login_max_failures_per_ip: u32,
    pub login_window_secs: u64,
    /// Lifetime of user (Sanctum-style) tokens; `0` means they never expire.
    pub user_token_ttl_days: u32,
    /// Take the client address from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// Tenant quotas, the tenant-wide request budget, the login checks' bound, and which
    /// `X-Forwarded-For` hops are our own proxies.
    pub tenancy: TenancySettings,
    pub log_format: LogFormat,
    /// Shared secret nodes present on every gRPC call; `None`: generated once and kept in
    /// `<data_dir>/node_secret`.
    pub node_secret: Option<SecretString>,
    pub launcher: LauncherKind,
    /// `ZAPINI_GRPC_TLS_CERT` / `ZAPINI_GRPC_TLS_KEY`: serve the `ControlPlane` gRPC service
    /// (the one nodes call) over TLS; `None`: plain HTTP/2 (fine on loopback).
    pub grpc_tls: Option<TlsFiles>,
    /// `ZAPINI_GRPC_TLS_CA`: PEM certificates trusted for nodes' TLS gRPC servers (besides the
    /// public web roots), and handed by the process launcher to its nodes to trust ours.
    pub grpc_tls_ca: Option<PathBuf>,
    /// The part of the control plane's environment the process launcher passes on to the
    /// nodes it starts (see [`node_env_allowed`]); captured by [`Config::load`], empty
    /// otherwise.
    pub node_env: Vec<(std::ffi::OsString, std::ffi::OsString)>,
    /// The `instance-node` executable the process launcher starts; default: next to ours.
    pub node_bin: Option<PathBuf>,
    /// How long a node's lease lives without renewal.
    pub lease_ttl_secs: u32,
    /// `ZAPINI_PROXY_TIMEOUT_SECS`: the longest a request proxied to a node may take, body
    /// included.
    pub proxy_timeout_secs: u64,
    /// `ZAPINI_DEFAULT_ENGINE`: the engine of instances created without one (`whatsapp`,
    /// the production default, or `sandbox`).
    pub default_engine: String,
    /// Key that seals third-party secrets at rest (base64 or hex, 32 bytes); `None`:
    /// generated once and kept in `<data_dir>/secret_key`. Replicas must share it.
    pub secret_key: Option<SecretString>,
    /// Let user-supplied URLs (webhooks, media) reach loopback and private networks.
    pub allow_private_urls: bool,
    pub webhooks: WebhookSettings,
    /// Public base URL of the API (`https://zapini.example.com`), for the media URLs Zapini
    /// hands out; `None`: the bound HTTP address.
    pub public_url: Option<String>,
    pub media: MediaSettings,
    pub transcription: TranscriptionSettings,
    /// `ZAPINI_AUTOMATION_LEASE_SECS` (30): how long a claimed automation turn is held
    /// without renewal (the worker renews it every third of that while it runs); a control
    /// plane that dies mid-turn leaves it to another worker after this.
    pub automation_lease: std::time::Duration,
    /// Prometheus metrics: their own listener and/or a token for `/metrics` on the API port.
    pub metrics: MetricsSettings,
}

/// The media library.
#[derive(Debug, Clone)]
pub struct MediaSettings {
    pub storage: MediaStorageConfig,
    /// How long an uploaded file is kept (`expires_at`).
    pub ttl: std::time::Duration,
    /// How often expired files are removed.
    pub cleanup_interval: std::time::Duration,
    /// How long a signed media URL works without a token (`ZAPINI_MEDIA_URL_TTL_SECS`, 7 days).
    pub url_ttl: std::time::Duration,
}

/// Where media bytes are stored.
#[derive(Debug, Clone)]
pub enum MediaStorageConfig {
    /// Files under a directory (default `<data dir>/media`).
    Fs { dir: PathBuf },
    /// An S3-compatible object store.
    S3(S3Settings),
}

#[derive(Debug, Clone)]
pub struct S3Settings {
    pub bucket: String,
    /// `https://s3.example.com` for S3-compatible services; `None`: AWS.
    pub endpoint: Option<String>,
    pub region: String,
    /// Credentials; `None`: the usual AWS environment/instance credentials.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<SecretString>,
    pub allow_http: bool,
    /// Path-style requests (`{endpoint}/{bucket}/{key}`), as most S3-compatible servers want.
    pub path_style: bool,
}

/// Speech-to-text for audio messages, through an OpenAI-compatible
/// `POST {base_url}/audio/transcriptions` endpoint.
#[derive(Debug, Clone)]
pub struct TranscriptionSettings {
    pub base_url: String,
    /// `None`: transcription requests fail with a clear error until a key is configured.
    pub api_key: Option<SecretString>,
    pub model: String,
    /// Sent as `language` when set; otherwise the provider detects it.
    pub language: Option<String>,
    pub timeout: std::time::Duration,
    /// Attempts before a job is `failed`.
    pub max_attempts: u32,
}
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Accept `http://` webhook URLs (the reference asks for HTTPS in production).
    pub allow_http: bool,
    /// Per attempt, from connect to the end of the response.
    pub timeout: std::time::Duration,
    /// Attempts in flight overall, per endpoint, and per tenant (its fair share).
    pub concurrency: usize,
    pub endpoint_concurrency: usize,
    pub tenant_concurrency: usize,
    /// Delay before each attempt: the first is the initial delay (normally 0), and a
    /// delivery that failed every one is marked failed.
    pub retry_schedule: Vec<std::time::Duration>,
    /// An endpoint with no success for this long is disabled.
    pub disable_after: std::time::Duration,
    /// After a secret rotation, deliveries are signed with the old secret too for this long.
    pub secret_overlap: std::time::Duration,
    /// Delivered and failed deliveries are kept this many days for the log and replays.
    pub retention_days: u32,
}

/// Who starts instance nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LauncherKind {
    /// Child processes of the control plane (the embedded default).
    Process,
    /// Someone else starts nodes; they register with the node secret.
    External,
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// A setting that failed validation; the message names the environment variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {setting}: {problem}")]
pub struct ConfigError {
    pub setting: String,
    pub problem: String,
}

fn invalid(setting: &str, problem: impl Into<String>) -> ConfigError {
    ConfigError {
        setting: setting.to_owned(),
        problem: problem.into(),
    }
}

impl Config {
    /// Loads defaults, the optional file named by `ZAPINI_CONFIG`, then the environment.
    pub fn load() -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(RawConfig::default()));
        if let Ok(path) = std::env::var("ZAPINI_CONFIG") {
            if !std::path::Path::new(&path).is_file() {
                return Err(invalid("ZAPINI_CONFIG", format!("no such file: {path}")));
            }
            figment = figment.merge(Toml::file(path));
        }
        let figment = figment
            .merge(Env::prefixed("ZAPINI_").ignore(&["CONFIG"]))
            .merge(Env::raw().only(&["DATABASE_URL", "REDIS_URL"]));
        let mut config = Self::from_figment(figment)?;
        config.node_env = std::env::vars_os()
            .filter(|(name, _)| name.to_str().is_some_and(node_env_allowed))
            .collect();
        Ok(config)
    }

    /// Configuration for tests and embedding: defaults with the given data directory,
    /// ephemeral ports, and no admin bootstrap secrets.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Self {
        let raw = RawConfig {
            data_dir: data_dir.into(),
            http_addr: "127.0.0.1:0".into(),
            grpc_addr: "127.0.0.1:0".into(),
            // Embedded users (tests, tools) start nodes themselves.
            launcher: LauncherKind::External,
            ..RawConfig::default()
        };
        raw.validate().expect("defaults are valid")
    }

    fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let raw: RawConfig = figment.extract().map_err(|e| {
            let key = e
                .path
                .first()
                .map(|k| env_name(k))
                .unwrap_or_else(|| "configuration".to_owned());
            invalid(&key, e.kind.to_string())
        })?;
        raw.validate()
    }

    /// The database URL sea-orm connects to.
    pub fn database_url(&self) -> String {
        match &self.database {
            DatabaseTarget::Sqlite(path) => format!("sqlite://{}?mode=rwc", path.display()),
            DatabaseTarget::Postgres(url) => url.expose_secret().to_owned(),
        }
    }
}

/// Whether the process launcher passes the control plane's variable `name` on to the nodes it
/// starts. Nodes start with an empty environment plus these and their own settings (instance,
/// credential, addresses), so the control plane's secrets — `ZAPINI_NODE_SECRET`,
/// `ZAPINI_SECRET_KEY`, `ZAPINI_S3_*`, `ZAPINI_TRANSCRIPTION_*`, `ZAPINI_ADMIN_*`,
/// `DATABASE_URL`, `REDIS_URL` — never reach a node.
pub fn node_env_allowed(name: &str) -> bool {
    const NAMES: &[&str] = &[
        // the process basics
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "TMPDIR",
        "TZ",
        "LANG",
        "LANGUAGE",
        "RUST_LOG",
        "RUST_BACKTRACE",
        "RUST_LIB_BACKTRACE",
        // TLS trust and outbound proxies for the node's own requests (media, WhatsApp)
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "NO_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "no_proxy",
        // node settings an operator sets for every node (see instance-node's config.rs)
        "ZAPINI_ALLOW_PRIVATE_URLS",
        "ZAPINI_SANDBOX_RECEIPTS",
        "ZAPINI_SANDBOX_PACING",
        "ZAPINI_SEND_ACK",
        "ZAPINI_DURABLE_SENDS",
        "ZAPINI_WORKER_THREADS",
        "ZAPINI_LOG_FORMAT",
        "ZAPINI_NODE_GRPC_TLS_CERT",
        "ZAPINI_NODE_GRPC_TLS_KEY",
        "ZAPINI_PROXY_TIMEOUT_SECS",
    ];
    const PREFIXES: &[&str] = &[
        "LC_",
        "ZAPINI_WA_",
        "ZAPINI_PACING",
        "ZAPINI_EDGE_RATE_LIMIT",
    ];
    NAMES.contains(&name) || PREFIXES.iter().any(|p| name.starts_with(p))
}

#[cfg(test)]
mod tests;
