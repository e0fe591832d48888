//! The raw configuration figment fills from defaults, the file and the environment, and its
//! validation into [`Config`].

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::*;

/// The raw shape figment fills; turned into [`Config`] by [`RawConfig::validate`].
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct RawConfig {
    pub(super) data_dir: PathBuf,
    pub(super) http_addr: String,
    pub(super) grpc_addr: String,
    pub(super) base_domain: String,
    pub(super) database_url: Option<String>,
    pub(super) redis_url: Option<String>,
    pub(super) redis_prefix: String,
    pub(super) admin_email: Option<String>,
    pub(super) admin_password: Option<String>,
    pub(super) tls_cert: Option<PathBuf>,
    pub(super) tls_key: Option<PathBuf>,
    pub(super) max_body_bytes: usize,
    pub(super) rate_limit_requests: u32,
    pub(super) rate_limit_window_secs: u64,
    pub(super) login_max_failures_per_email: u32,
    pub(super) login_max_failures_per_ip: u32,
    pub(super) login_window_secs: u64,
    pub(super) user_token_ttl_days: u32,
    pub(super) trust_forwarded_for: bool,
    /// IPs or CIDRs, comma separated.
    pub(super) trusted_proxies: String,
    pub(super) quota_instances: u32,
    pub(super) quota_instance_tokens: u32,
    pub(super) quota_media_bytes: u64,
    pub(super) tenant_rate_limit_requests: u32,
    pub(super) login_concurrency: usize,
    pub(super) log_format: LogFormat,
    pub(super) node_secret: Option<String>,
    pub(super) launcher: LauncherKind,
    pub(super) grpc_tls_cert: Option<PathBuf>,
    pub(super) grpc_tls_key: Option<PathBuf>,
    pub(super) grpc_tls_ca: Option<PathBuf>,
    pub(super) node_bin: Option<PathBuf>,
    pub(super) lease_ttl_secs: u32,
    pub(super) proxy_timeout_secs: u64,
    pub(super) default_engine: String,
    pub(super) secret_key: Option<String>,
    pub(super) allow_private_urls: bool,
    pub(super) webhook_allow_http: bool,
    pub(super) webhook_timeout_secs: u64,
    pub(super) webhook_concurrency: usize,
    pub(super) webhook_endpoint_concurrency: usize,
    /// Unset: half of `webhook_concurrency`.
    pub(super) webhook_tenant_concurrency: Option<usize>,
    /// Seconds, comma separated.
    pub(super) webhook_retry_schedule: String,
    pub(super) webhook_disable_after_secs: u64,
    pub(super) webhook_secret_overlap_secs: u64,
    pub(super) webhook_retention_days: u32,
    pub(super) public_url: Option<String>,
    /// `fs` or `s3`.
    pub(super) media_storage: String,
    pub(super) media_dir: Option<PathBuf>,
    pub(super) media_ttl_secs: u64,
    pub(super) media_cleanup_interval_secs: u64,
    pub(super) automation_lease_secs: u64,
    pub(super) media_url_ttl_secs: u64,
    pub(super) s3_bucket: Option<String>,
    pub(super) s3_endpoint: Option<String>,
    pub(super) s3_region: String,
    pub(super) s3_access_key_id: Option<String>,
    pub(super) s3_secret_access_key: Option<String>,
    pub(super) s3_allow_http: bool,
    pub(super) s3_path_style: bool,
    pub(super) transcription_base_url: String,
    pub(super) transcription_api_key: Option<String>,
    pub(super) transcription_model: String,
    pub(super) transcription_language: Option<String>,
    pub(super) transcription_timeout_secs: u64,
    pub(super) transcription_max_attempts: u32,
    pub(super) metrics_addr: Option<String>,
    pub(super) metrics_token: Option<String>,
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
            webhook_tenant_concurrency: None,
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
            automation_lease_secs: 30,
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
            metrics_addr: None,
            metrics_token: None,
        }
    }
}

/// The environment variable a config key comes from, for error messages.
pub(super) fn env_name(key: &str) -> String {
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
    pub(super) fn validate(self) -> Result<Config, ConfigError> {
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
            && !zapini_shared::email::looks_like_email(email)
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
            tenant_concurrency: match self.webhook_tenant_concurrency {
                Some(n) => positive("ZAPINI_WEBHOOK_TENANT_CONCURRENCY", n as u64)? as usize,
                None => (self.webhook_concurrency / 2).max(1),
            },
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
        let metrics = super::metrics::metrics_settings(self.metrics_addr, self.metrics_token)?;
        Ok(Config {
            metrics,
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
            automation_lease: std::time::Duration::from_secs(positive(
                "ZAPINI_AUTOMATION_LEASE_SECS",
                self.automation_lease_secs,
            )?),
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
