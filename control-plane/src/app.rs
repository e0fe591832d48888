//! Wiring: `App::build(config, listeners)` connects the database, runs migrations, bootstraps
//! the first admin and assembles the router; `run(shutdown)` serves until the future resolves.
//! Listeners are bound by the caller, so tests pass port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::ExposeSecret;

use crate::config::Config;
use crate::db;
use crate::http::{AppState, router};
use crate::limiter::Limiter;
use crate::service::Services;

/// Pre-bound sockets the app serves on.
pub struct Listeners {
    pub http: std::net::TcpListener,
}

impl Listeners {
    /// Binds the configured addresses.
    pub fn bind(config: &Config) -> anyhow::Result<Self> {
        let http = std::net::TcpListener::bind(config.http_addr)
            .with_context(|| format!("ZAPINI_HTTP_ADDR: cannot listen on {}", config.http_addr))?;
        Ok(Listeners { http })
    }
}

pub struct App {
    http: std::net::TcpListener,
    http_addr: SocketAddr,
    router: axum::Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    services: Services,
}

impl App {
    pub async fn build(config: Config, listeners: Listeners) -> anyhow::Result<App> {
        let config = Arc::new(config);
        let db = db::connect(&config)
            .await
            .context("cannot open the database (DATABASE_URL / ZAPINI_DATA_DIR)")?;
        db::migrate(&db)
            .await
            .context("database migrations failed")?;
        let max_window =
            Duration::from_secs(config.rate_limit_window_secs.max(config.login_window_secs));
        let limiter = match &config.redis_url {
            None => Limiter::memory(max_window),
            Some(url) => {
                let client = redis::Client::open(url.expose_secret())
                    .context("REDIS_URL is not a valid Redis URL")?;
                let conn = redis::aio::ConnectionManager::new(client)
                    .await
                    .context("cannot connect to REDIS_URL")?;
                Limiter::redis(conn, config.redis_prefix.clone())
            }
        };
        let services = Services::new(db, config.clone(), limiter);
        services
            .bootstrap_admin()
            .await
            .map_err(|e| anyhow::anyhow!("bootstrapping the first admin failed: {e}"))?;

        let tls = match &config.tls {
            None => None,
            Some(files) => {
                // One process-wide crypto provider; a second install attempt is harmless.
                let _ = rustls::crypto::ring::default_provider().install_default();
                Some(
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                        .await
                        .context("ZAPINI_TLS_CERT / ZAPINI_TLS_KEY could not be loaded")?,
                )
            }
        };
        listeners.http.set_nonblocking(true)?;
        let http_addr = listeners.http.local_addr()?;
        let router = router(AppState {
            services: services.clone(),
            started_at: Instant::now(),
        });
        Ok(App {
            http: listeners.http,
            http_addr,
            router,
            tls,
            services,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The use-case layer, for in-process tools (CLI subcommands) that share this wiring.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Serves until `shutdown` resolves, then drains in-flight requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        tracing::info!(addr = %self.http_addr, tls = self.tls.is_some(), "control plane listening");
        match self.tls {
            None => {
                let listener = tokio::net::TcpListener::from_std(self.http)?;
                axum::serve(listener, service)
                    .with_graceful_shutdown(shutdown)
                    .await?;
            }
            Some(tls) => {
                let handle = axum_server::Handle::new();
                let h = handle.clone();
                tokio::spawn(async move {
                    shutdown.await;
                    h.graceful_shutdown(Some(Duration::from_secs(10)));
                });
                axum_server::from_tcp_rustls(self.http, tls)
                    .handle(handle)
                    .serve(service)
                    .await?;
            }
        }
        Ok(())
    }
}
