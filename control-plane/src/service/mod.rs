//! Use-cases shared by HTTP and gRPC. Services own transactions and tenant scoping; they
//! return domain data and [`crate::error::AppError`], never HTTP types.
//!
//! [`Services`] is the hub every use-case takes. What it holds comes from the layers below
//! (storage, signed URLs, the outbox's signal, the outbound client, live news, metrics), and
//! nothing below takes it: an area's model lives in its own module (`automation`, `media`,
//! `webhooks`) and its use-cases here (`service::automation`, `service::functions`,
//! `service::media`, `service::webhooks`).

pub mod auth;
pub mod automation;
pub mod bootstrap;
pub mod connection;
pub mod contacts;
pub mod edge;
pub mod flows;
pub mod functions;
pub mod groups;
pub mod inbox;
pub mod incoming;
pub mod ingest;
pub mod instances;
pub mod media;
pub mod message_types;
pub mod nodes;
pub mod quotas;
pub mod sandbox;
pub mod sending;
pub mod tags;
pub mod tenant_settings;
pub mod tokens;
pub mod transcription;
pub mod webhooks;

use std::sync::Arc;

use sea_orm::DatabaseConnection;

use crate::config::Config;
use crate::limiter::Limiter;

/// What every use-case needs: the database, the configuration, the shared counters.
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    /// Workers' bookkeeping (webhook deliveries, automation turns): on PostgreSQL a pool that
    /// commits without waiting for the WAL flush (see [`crate::db::connect_dispatcher`]); on
    /// SQLite the main connection.
    pub bookkeeping_db: DatabaseConnection,
    pub config: Arc<Config>,
    pub limiter: Limiter,
    /// Per tenant: (requests per token, requests per tenant) per window.
    tenant_limits: moka::future::Cache<i64, (u64, Option<u64>)>,
    /// Bounds the password checks running at once (`ZAPINI_LOGIN_CONCURRENCY`).
    pub(crate) login_permits: Arc<tokio::sync::Semaphore>,
    pub leases: crate::lease::Leases,
    pub hub: nodes::NodeHub,
    /// The secret nodes and the control plane present to each other.
    pub node_secret: secrecy::SecretString,
    /// Edge routing: instance reference -> node HTTP base, for a few seconds.
    pub route_cache: edge::RouteCache,
    /// Seals webhook secrets (and later other third-party credentials) at rest.
    pub secrets: crate::crypto::SecretBox,
    /// Wakes the webhook dispatcher after deliveries were queued.
    pub webhook_signal: crate::webhooks::Signal,
    /// Queues write transactions on SQLite (see [`crate::db::WriteGate`]).
    pub write_gate: crate::db::WriteGate,
    /// Applies concurrent engine reports together.
    reports: Arc<incoming::ReportCombiner>,
    /// Where media bytes are stored (files or an S3-compatible store).
    pub storage: crate::media::storage::Storage,
    /// Signs and checks the media URLs Zapini hands out.
    pub media_urls: crate::media::MediaUrls,
    /// Wakes the transcription worker after jobs were queued.
    pub transcription_signal: Arc<tokio::sync::Notify>,
    /// Prometheus metrics (on when configured) and the gRPC listener's state for readiness.
    pub metrics: crate::metrics::Metrics,
    /// The client for automations' calls to tenant URLs (bots, AI Functions, flow HTTP steps).
    pub outbound: crate::automation::outbound::Outbound,
    /// Wakes the automation turn worker after turns were queued.
    pub automation_signal: Arc<tokio::sync::Notify>,
    /// News for the dashboard's live updates.
    pub live: crate::live::LiveBus,
    /// HTTP calls to nodes on a person's behalf (the sandbox phone; see [`sandbox`]).
    pub node_http: reqwest::Client,
}

/// A node's timestamp in milliseconds as a time; now when it is out of range.
pub(crate) fn datetime_from_millis(ms: i64) -> chrono::DateTime<chrono::Utc> {
    use chrono::TimeZone;
    chrono::Utc
        .timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(chrono::Utc::now)
}

/// Runs an idempotent write again when it fails for a reason that is not the caller's
/// (SQLite refusing one of two concurrent writers, a dropped connection): up to 8 more
/// attempts, 20 ms before the first, doubling up to 160 ms.
pub(crate) async fn retry_write<T, F, Fut>(what: &str, mut write: F) -> crate::error::AppResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = crate::error::AppResult<T>>,
{
    let mut backoff = zapini_shared::backoff::Backoff::new(
        std::time::Duration::from_millis(20),
        std::time::Duration::from_millis(160),
    );
    loop {
        match write().await {
            Err(e) if backoff.attempt() < 8 && !matches!(e, crate::error::AppError::Client(_)) => {
                let delay = backoff.next_delay();
                tracing::debug!(error = %e, attempt = backoff.attempt(), "{what}: retrying");
                tokio::time::sleep(delay).await;
            }
            other => return other,
        }
    }
}

impl Services {
    pub fn new(db: DatabaseConnection, config: Arc<Config>, limiter: Limiter) -> Self {
        let node_secret = config
            .node_secret
            .clone()
            .unwrap_or_else(|| secrecy::SecretString::from(crate::crypto::random_secret(40)));
        // App::build always resolves a key (configured or kept in the data directory); only
        // one-shot CLI tools, which seal nothing, get a throwaway one.
        let key = config
            .secret_key
            .as_ref()
            .and_then(|k| {
                use secrecy::ExposeSecret;
                crate::crypto::SecretBox::parse_key(k.expose_secret())
            })
            .unwrap_or_else(rand::random);
        // App::build opens the configured storage and reports a failure; one-shot CLI tools,
        // which touch no media, fall back to memory.
        let storage = crate::media::storage::Storage::open(&config.media.storage)
            .unwrap_or_else(|_| crate::media::storage::Storage::memory());
        let media_urls = crate::media::MediaUrls::new(&key, config.public_url.as_deref())
            .with_ttl(config.media.url_ttl);
        let login_permits = Arc::new(tokio::sync::Semaphore::new(
            config.tenancy.login_concurrency,
        ));
        let outbound = crate::automation::outbound::Outbound::new(config.allow_private_urls);
        let node_http =
            sandbox::node_http_client(std::time::Duration::from_secs(config.proxy_timeout_secs));
        Services {
            config,
            limiter,
            tenant_limits: moka::future::Cache::builder()
                .time_to_live(std::time::Duration::from_secs(60))
                .max_capacity(100_000)
                .build(),
            login_permits,
            leases: crate::lease::Leases::Sql,
            hub: nodes::NodeHub::default(),
            node_secret,
            route_cache: edge::RouteCache::new(std::time::Duration::from_secs(2), 100_000),
            secrets: crate::crypto::SecretBox::new(&key),
            webhook_signal: crate::webhooks::Signal::default(),
            write_gate: crate::db::WriteGate::for_backend(db.get_database_backend()),
            reports: Arc::default(),
            storage,
            media_urls,
            transcription_signal: Arc::default(),
            metrics: crate::metrics::Metrics::default(),
            outbound,
            automation_signal: Arc::default(),
            live: crate::live::LiveBus::default(),
            node_http,
            bookkeeping_db: db.clone(),
            db,
        }
    }

    /// Keeps instance leases in Redis instead of SQL.
    pub fn with_leases(mut self, leases: crate::lease::Leases) -> Self {
        self.leases = leases;
        self
    }

    /// Services for one-shot CLI commands: in-process limiter, nothing shared.
    pub fn for_cli(db: DatabaseConnection, config: Config) -> Self {
        let window = std::time::Duration::from_secs(config.login_window_secs);
        Services::new(db, Arc::new(config), Limiter::memory(window))
    }

    /// A tenant's request budgets per window, per token and for the whole tenant (`None`:
    /// no tenant-wide budget), cached for a minute: they are read on every request.
    pub async fn tenant_budgets_cached(
        &self,
        tenant: crate::domain::TenantId,
    ) -> crate::error::AppResult<(u64, Option<u64>)> {
        if let Some(v) = self.tenant_limits.get(&tenant.0).await {
            return Ok(v);
        }
        let limits = self.tenant_limits(tenant).await?;
        let v = (limits.requests_per_token, limits.requests_per_tenant);
        self.tenant_limits.insert(tenant.0, v).await;
        Ok(v)
    }

    pub(crate) async fn forget_tenant_budgets(&self, tenant: crate::domain::TenantId) {
        self.tenant_limits.invalidate(&tenant.0).await;
    }

    pub async fn tenant_by_uuid(
        &self,
        uuid: uuid::Uuid,
    ) -> crate::error::AppResult<crate::domain::TenantId> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
        crate::db::entities::tenant::Entity::find()
            .filter(crate::db::entities::tenant::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
            .map(|t| crate::domain::TenantId(t.id))
            .ok_or_else(|| crate::error::AppError::validation("tenant", "No such tenant."))
    }

    /// Sets (or with `None`, clears) a tenant's own request budget per window.
    pub async fn set_tenant_rate_limit(
        &self,
        tenant: crate::domain::TenantId,
        requests: Option<u32>,
    ) -> crate::error::AppResult<()> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let value = requests
            .and_then(|n| i32::try_from(n).ok())
            .filter(|n| *n > 0);
        crate::db::entities::tenant::Entity::update_many()
            .col_expr(
                crate::db::entities::tenant::Column::RateLimitRequests,
                Expr::value(value),
            )
            .filter(crate::db::entities::tenant::Column::Id.eq(tenant.0))
            .exec(&self.db)
            .await?;
        self.forget_tenant_budgets(tenant).await;
        Ok(())
    }
}

impl Services {
    /// News of `topic` on an instance known by its row id, after a commit (the instance's
    /// UUID is looked up only when someone watches).
    pub(crate) async fn live_news(
        &self,
        tenant_id: i64,
        instance_id: i64,
        topic: crate::live::Topic,
    ) {
        use sea_orm::EntityTrait;
        if !self.live.is_watched() {
            return;
        }
        let uuid = crate::db::entities::instance::Entity::find_by_id(instance_id)
            .one(&self.db)
            .await
            .ok()
            .flatten()
            .map(|i| i.uuid);
        self.live.send(crate::live::LiveEvent {
            tenant_id,
            topic,
            instance: uuid,
            conversation: None,
        });
    }
}
