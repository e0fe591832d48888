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

mod tenancy;
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

/// The raw shape figment fills; turned into [`Config`] by [`RawConfig::validate`].
#[derive(Debug, Serialize, Deserialize)]
struct RawConfig {
    data_dir: PathBuf,
    http_addr: String,
    grpc_addr: String,
    base_domain: String,
    database_url: Option<String>,
    redis_url: Option<String>,
    redis_prefix: String,
    admin_email: Option<String>,
    admin_password: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    max_body_bytes: usize,
    rate_limit_requests: u32,
    rate_limit_window_secs: u64,
    login_max_failures_per_email: u32,
    login_max_failures_per_ip: u32,
    login_window_secs: u64,
    user_token_ttl_days: u32,
    trust_forwarded_for: bool,
    /// IPs or CIDRs, comma separated.
    trusted_proxies: String,
    quota_instances: u32,
    quota_instance_tokens: u32,
    quota_media_bytes: u64,
    tenant_rate_limit_requests: u32,
    login_concurrency: usize,
    log_format: LogFormat,
    node_secret: Option<String>,
    launcher: LauncherKind,
    grpc_tls_cert: Option<PathBuf>,
    grpc_tls_key: Option<PathBuf>,
    grpc_tls_ca: Option<PathBuf>,
    node_bin: Option<PathBuf>,
    lease_ttl_secs: u32,
    proxy_timeout_secs: u64,
    default_engine: String,
    secret_key: Option<String>,
    allow_private_urls: bool,
    webhook_allow_http: bool,
    webhook_timeout_secs: u64,
    webhook_concurrency: usize,
    webhook_endpoint_concurrency: usize,
    webhook_tenant_concurrency: usize,
    /// Seconds, comma separated.
    webhook_retry_schedule: String,
    webhook_disable_after_secs: u64,
    webhook_secret_overlap_secs: u64,
    webhook_retention_days: u32,
    public_url: Option<String>,
    /// `fs` or `s3`.
    media_storage: String,
    media_dir: Option<PathBuf>,
    media_ttl_secs: u64,
    media_cleanup_interval_secs: u64,
    media_url_ttl_secs: u64,
    s3_bucket: Option<String>,
    s3_endpoint: Option<String>,
    s3_region: String,
    s3_access_key_id: Option<String>,
    s3_secret_access_key: Option<String>,
    s3_allow_http: bool,
    s3_path_style: bool,
    transcription_base_url: String,
    transcription_api_key: Option<String>,
    transcription_model: String,
    transcription_language: Option<String>,
    transcription_timeout_secs: u64,
    transcription_max_attempts: u32,
}

impl Default for RawConfig {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("./data"),
            http_addr: "127.0.0.1:8080".into(),
            grpc_addr: "127.0.0.1:9090".into(),
            base_domain: "localhost".into(),
            database_url: None,
            redis_url: None,
            redis_prefix: "zapini:".into(),
            admin_email: None,
            admin_password: None,
            tls_cert: None,
            tls_key: None,
            max_body_bytes: 1024 * 1024,
            rate_limit_requests: 100,
            rate_limit_window_secs: 15 * 60,
            login_max_failures_per_email: 10,
            login_max_failures_per_ip: 50,
            login_window_secs: 15 * 60,
            user_token_ttl_days: 30,
            trust_forwarded_for: false,
            trusted_proxies: String::new(),
            quota_instances: 100,
            quota_instance_tokens: 1000,
            quota_media_bytes: 10 * 1024 * 1024 * 1024,
            tenant_rate_limit_requests: 1000,
            login_concurrency: 4,
            log_format: LogFormat::Text,
            node_secret: None,
            launcher: LauncherKind::Process,
            grpc_tls_cert: None,
            grpc_tls_key: None,
            grpc_tls_ca: None,
            node_bin: None,
            lease_ttl_secs: 15,
            proxy_timeout_secs: 60,
            default_engine: "whatsapp".to_owned(),
            secret_key: None,
            allow_private_urls: false,
            webhook_allow_http: false,
            webhook_timeout_secs: 5,
            webhook_concurrency: 256,
            webhook_endpoint_concurrency: 16,
            webhook_tenant_concurrency: 128,
            // Immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
            webhook_retry_schedule: "0,5,300,1800,7200,18000,36000,36000".into(),
            webhook_disable_after_secs: 5 * 24 * 3600,
            webhook_secret_overlap_secs: 24 * 3600,
            webhook_retention_days: 7,
            public_url: None,
            media_storage: "fs".into(),
            media_dir: None,
            media_ttl_secs: 7 * 24 * 3600,
            media_cleanup_interval_secs: 300,
            media_url_ttl_secs: 7 * 24 * 3600,
            s3_bucket: None,
            s3_endpoint: None,
            s3_region: "us-east-1".into(),
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: false,
            s3_path_style: true,
            transcription_base_url: "https://api.openai.com/v1".into(),
            transcription_api_key: None,
            transcription_model: "whisper-1".into(),
            transcription_language: None,
            transcription_timeout_secs: 120,
            transcription_max_attempts: 3,
        }
    }
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

/// The environment variable a config key comes from, for error messages.
fn env_name(key: &str) -> String {
    match key {
        "database_url" => "DATABASE_URL".into(),
        "redis_url" => "REDIS_URL".into(),
        other => format!("ZAPINI_{}", other.to_ascii_uppercase()),
    }
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

impl RawConfig {
    fn validate(self) -> Result<Config, ConfigError> {
        let http_addr: SocketAddr = self.http_addr.parse().map_err(|_| {
            invalid(
                "ZAPINI_HTTP_ADDR",
                format!("`{}` is not an address like 127.0.0.1:8080", self.http_addr),
            )
        })?;
        let grpc_addr: SocketAddr = self.grpc_addr.parse().map_err(|_| {
            invalid(
                "ZAPINI_GRPC_ADDR",
                format!("`{}` is not an address like 127.0.0.1:9090", self.grpc_addr),
            )
        })?;
        let base_domain = self
            .base_domain
            .trim()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        if base_domain.is_empty()
            || !base_domain
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-')
        {
            return Err(invalid(
                "ZAPINI_BASE_DOMAIN",
                format!("`{}` is not a domain name", self.base_domain),
            ));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("ZAPINI_DATA_DIR", "must not be empty"));
        }
        let database = match non_empty(self.database_url) {
            None => DatabaseTarget::Sqlite(self.data_dir.join("zapini.db")),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                DatabaseTarget::Postgres(SecretString::from(url))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url
                    .trim_start_matches("sqlite://")
                    .trim_start_matches("sqlite:");
                let path = path.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    return Err(invalid("DATABASE_URL", "sqlite URL without a file path"));
                }
                DatabaseTarget::Sqlite(PathBuf::from(path))
            }
            Some(_) => {
                return Err(invalid(
                    "DATABASE_URL",
                    "must start with postgres:// or sqlite: (or be unset for the embedded SQLite)",
                ));
            }
        };
        let redis_url = match non_empty(self.redis_url) {
            None => None,
            Some(url) if url.starts_with("redis://") || url.starts_with("rediss://") => {
                Some(SecretString::from(url))
            }
            Some(_) => {
                return Err(invalid(
                    "REDIS_URL",
                    "must start with redis:// or rediss://",
                ));
            }
        };
        let admin_email = non_empty(self.admin_email).map(|e| e.trim().to_ascii_lowercase());
        if let Some(email) = &admin_email
            && !crate::service::auth::looks_like_email(email)
        {
            return Err(invalid(
                "ZAPINI_ADMIN_EMAIL",
                format!("`{email}` is not an email"),
            ));
        }
        let admin_password = non_empty(self.admin_password);
        if let Some(pw) = &admin_password
            && pw.chars().count() < 8
        {
            return Err(invalid(
                "ZAPINI_ADMIN_PASSWORD",
                "must be at least 8 characters",
            ));
        }
        let tls = match (self.tls_cert, self.tls_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                for (name, path) in [("ZAPINI_TLS_CERT", &cert), ("ZAPINI_TLS_KEY", &key)] {
                    if !path.is_file() {
                        return Err(invalid(name, format!("no such file: {}", path.display())));
                    }
                }
                Some(TlsFiles { cert, key })
            }
            (Some(_), None) => {
                return Err(invalid(
                    "ZAPINI_TLS_KEY",
                    "required when ZAPINI_TLS_CERT is set",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "ZAPINI_TLS_CERT",
                    "required when ZAPINI_TLS_KEY is set",
                ));
            }
        };
        let grpc_tls = match (self.grpc_tls_cert, self.grpc_tls_key) {
            (None, None) => None,
            (Some(cert), Some(key)) => {
                for (name, path) in [
                    ("ZAPINI_GRPC_TLS_CERT", &cert),
                    ("ZAPINI_GRPC_TLS_KEY", &key),
                ] {
                    if !path.is_file() {
                        return Err(invalid(name, format!("no such file: {}", path.display())));
                    }
                }
                Some(TlsFiles { cert, key })
            }
            (Some(_), None) => {
                return Err(invalid(
                    "ZAPINI_GRPC_TLS_KEY",
                    "required when ZAPINI_GRPC_TLS_CERT is set",
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "ZAPINI_GRPC_TLS_CERT",
                    "required when ZAPINI_GRPC_TLS_KEY is set",
                ));
            }
        };
        if let Some(ca) = &self.grpc_tls_ca
            && !ca.is_file()
        {
            return Err(invalid(
                "ZAPINI_GRPC_TLS_CA",
                format!("no such file: {}", ca.display()),
            ));
        }
        if self.max_body_bytes < 1024 {
            return Err(invalid("ZAPINI_MAX_BODY_BYTES", "must be at least 1024"));
        }
        if self.rate_limit_requests == 0 {
            return Err(invalid("ZAPINI_RATE_LIMIT_REQUESTS", "must be at least 1"));
        }
        for (name, secs) in [
            ("ZAPINI_RATE_LIMIT_WINDOW_SECS", self.rate_limit_window_secs),
            ("ZAPINI_LOGIN_WINDOW_SECS", self.login_window_secs),
        ] {
            if secs == 0 {
                return Err(invalid(name, "must be at least 1"));
            }
        }
        let node_secret = non_empty(self.node_secret);
        if let Some(secret) = &node_secret
            && secret.len() < 16
        {
            return Err(invalid(
                "ZAPINI_NODE_SECRET",
                "must be at least 16 characters",
            ));
        }
        if !matches!(self.default_engine.as_str(), "whatsapp" | "sandbox") {
            return Err(invalid(
                "ZAPINI_DEFAULT_ENGINE",
                "must be whatsapp or sandbox",
            ));
        }
        if !(1..=3600).contains(&self.proxy_timeout_secs) {
            return Err(invalid(
                "ZAPINI_PROXY_TIMEOUT_SECS",
                "must be between 1 and 3600",
            ));
        }
        if !(3..=3600).contains(&self.lease_ttl_secs) {
            return Err(invalid(
                "ZAPINI_LEASE_TTL_SECS",
                "must be between 3 and 3600",
            ));
        }
        if let Some(bin) = &self.node_bin
            && !bin.is_file()
        {
            return Err(invalid(
                "ZAPINI_NODE_BIN",
                format!("no such file: {}", bin.display()),
            ));
        }
        if self.redis_prefix.is_empty() {
            return Err(invalid("ZAPINI_REDIS_PREFIX", "must not be empty"));
        }
        let secret_key = non_empty(self.secret_key);
        if let Some(key) = &secret_key
            && crate::crypto::SecretBox::parse_key(key).is_none()
        {
            return Err(invalid(
                "ZAPINI_SECRET_KEY",
                "must be 32 bytes in base64 or hex (generate one with `openssl rand -base64 32`)",
            ));
        }
        let webhooks = WebhookSettings {
            allow_http: self.webhook_allow_http,
            timeout: std::time::Duration::from_secs(positive(
                "ZAPINI_WEBHOOK_TIMEOUT_SECS",
                self.webhook_timeout_secs,
            )?),
            concurrency: positive(
                "ZAPINI_WEBHOOK_CONCURRENCY",
                self.webhook_concurrency as u64,
            )? as usize,
            endpoint_concurrency: positive(
                "ZAPINI_WEBHOOK_ENDPOINT_CONCURRENCY",
                self.webhook_endpoint_concurrency as u64,
            )? as usize,
            tenant_concurrency: positive(
                "ZAPINI_WEBHOOK_TENANT_CONCURRENCY",
                self.webhook_tenant_concurrency as u64,
            )? as usize,
            retry_schedule: parse_schedule(&self.webhook_retry_schedule)?,
            disable_after: std::time::Duration::from_secs(positive(
                "ZAPINI_WEBHOOK_DISABLE_AFTER_SECS",
                self.webhook_disable_after_secs,
            )?),
            secret_overlap: std::time::Duration::from_secs(self.webhook_secret_overlap_secs),
            retention_days: positive(
                "ZAPINI_WEBHOOK_RETENTION_DAYS",
                u64::from(self.webhook_retention_days),
            )? as u32,
        };
        let public_url = match non_empty(self.public_url) {
            None => None,
            Some(url) => {
                let url = url.trim().trim_end_matches('/').to_owned();
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(invalid(
                        "ZAPINI_PUBLIC_URL",
                        format!("`{url}` is not an http(s) URL"),
                    ));
                }
                Some(url)
            }
        };
        let storage = match self.media_storage.trim().to_ascii_lowercase().as_str() {
            "fs" | "" => MediaStorageConfig::Fs {
                dir: self
                    .media_dir
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join("media")),
            },
            "s3" => MediaStorageConfig::S3(S3Settings {
                bucket: non_empty(self.s3_bucket).ok_or_else(|| {
                    invalid("ZAPINI_S3_BUCKET", "required with ZAPINI_MEDIA_STORAGE=s3")
                })?,
                endpoint: non_empty(self.s3_endpoint),
                region: self.s3_region,
                access_key_id: non_empty(self.s3_access_key_id),
                secret_access_key: non_empty(self.s3_secret_access_key).map(SecretString::from),
                allow_http: self.s3_allow_http,
                path_style: self.s3_path_style,
            }),
            other => {
                return Err(invalid(
                    "ZAPINI_MEDIA_STORAGE",
                    format!("`{other}` is not `fs` or `s3`"),
                ));
            }
        };
        let media = MediaSettings {
            storage,
            ttl: std::time::Duration::from_secs(positive(
                "ZAPINI_MEDIA_TTL_SECS",
                self.media_ttl_secs,
            )?),
            cleanup_interval: std::time::Duration::from_secs(positive(
                "ZAPINI_MEDIA_CLEANUP_INTERVAL_SECS",
                self.media_cleanup_interval_secs,
            )?),
            url_ttl: std::time::Duration::from_secs(positive(
                "ZAPINI_MEDIA_URL_TTL_SECS",
                self.media_url_ttl_secs,
            )?),
        };
        let base_url = self
            .transcription_base_url
            .trim()
            .trim_end_matches('/')
            .to_owned();
        if reqwest::Url::parse(&base_url)
            .ok()
            .is_none_or(|u| !matches!(u.scheme(), "http" | "https"))
        {
            return Err(invalid(
                "ZAPINI_TRANSCRIPTION_BASE_URL",
                format!("`{base_url}` is not an http(s) URL"),
            ));
        }
        if self.transcription_model.trim().is_empty() {
            return Err(invalid("ZAPINI_TRANSCRIPTION_MODEL", "must not be empty"));
        }
        let transcription = TranscriptionSettings {
            base_url,
            api_key: non_empty(self.transcription_api_key).map(SecretString::from),
            model: self.transcription_model.trim().to_owned(),
            language: non_empty(self.transcription_language),
            timeout: std::time::Duration::from_secs(positive(
                "ZAPINI_TRANSCRIPTION_TIMEOUT_SECS",
                self.transcription_timeout_secs,
            )?),
            max_attempts: positive(
                "ZAPINI_TRANSCRIPTION_MAX_ATTEMPTS",
                u64::from(self.transcription_max_attempts),
            )? as u32,
        };
        let tenancy = TenancySettings {
            quota_instances: self.quota_instances,
            quota_instance_tokens: self.quota_instance_tokens,
            quota_media_bytes: self.quota_media_bytes,
            tenant_rate_limit_requests: self.tenant_rate_limit_requests,
            login_concurrency: positive("ZAPINI_LOGIN_CONCURRENCY", self.login_concurrency as u64)?
                as usize,
            trusted_proxies: tenancy::parse_proxies(&self.trusted_proxies)
                .map_err(|p| invalid("ZAPINI_TRUSTED_PROXIES", p))?,
        };
        Ok(Config {
            tenancy,
            public_url,
            media,
            data_dir: self.data_dir,
            http_addr,
            grpc_addr,
            base_domain,
            database,
            redis_url,
            redis_prefix: self.redis_prefix,
            node_secret: node_secret.map(SecretString::from),
            launcher: self.launcher,
            grpc_tls,
            grpc_tls_ca: self.grpc_tls_ca,
            node_env: Vec::new(),
            node_bin: self.node_bin,
            lease_ttl_secs: self.lease_ttl_secs,
            proxy_timeout_secs: self.proxy_timeout_secs,
            default_engine: self.default_engine,
            admin_email,
            admin_password: admin_password.map(SecretString::from),
            tls,
            max_body_bytes: self.max_body_bytes,
            rate_limit_requests: self.rate_limit_requests,
            rate_limit_window_secs: self.rate_limit_window_secs,
            login_max_failures_per_email: self.login_max_failures_per_email,
            login_max_failures_per_ip: self.login_max_failures_per_ip,
            login_window_secs: self.login_window_secs,
            user_token_ttl_days: self.user_token_ttl_days,
            trust_forwarded_for: self.trust_forwarded_for,
            log_format: self.log_format,
            secret_key: secret_key.map(SecretString::from),
            allow_private_urls: self.allow_private_urls,
            webhooks,
            transcription,
        })
    }
}

fn positive(name: &str, value: u64) -> Result<u64, ConfigError> {
    if value == 0 {
        return Err(invalid(name, "must be at least 1"));
    }
    Ok(value)
}

/// `0,5,300` -> delays in seconds; 1 to 20 entries.
fn parse_schedule(text: &str) -> Result<Vec<std::time::Duration>, ConfigError> {
    let name = "ZAPINI_WEBHOOK_RETRY_SCHEDULE";
    let delays = text
        .split(',')
        .map(|part| {
            part.trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 7.0 * 24.0 * 3600.0)
                .map(std::time::Duration::from_secs_f64)
                .ok_or_else(|| {
                    invalid(
                        name,
                        format!("`{}` is not a delay in seconds (0 to 604800)", part.trim()),
                    )
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if delays.is_empty() || delays.len() > 20 {
        return Err(invalid(name, "must list 1 to 20 delays"));
    }
    Ok(delays)
}

#[cfg(test)]
mod tests;
