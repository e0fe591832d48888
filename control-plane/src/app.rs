//! Wiring: `App::build(config, listeners)` connects the database, runs migrations, bootstraps
//! the first admin and assembles the router; `run(shutdown)` serves until the future resolves.
//! Listeners are bound by the caller, so tests pass port 0.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use secrecy::ExposeSecret;

use zapini_shared::private_fs;

use crate::config::{Config, DatabaseTarget, MediaStorageConfig};
use crate::db;
use crate::http::{AppState, router};
use crate::limiter::Limiter;
use crate::service::Services;

/// Pre-bound sockets the app serves on.
pub struct Listeners {
    pub http: std::net::TcpListener,
    /// The `ControlPlane` gRPC service nodes call; `None` serves no gRPC (CLI tools).
    pub grpc: Option<std::net::TcpListener>,
    /// `ZAPINI_METRICS_ADDR`: `/metrics` and `/metrics/targets`, no auth; `None`: no such
    /// listener (metrics may still be served on the API port behind `ZAPINI_METRICS_TOKEN`).
    pub metrics: Option<std::net::TcpListener>,
}

impl Listeners {
    /// Binds the configured addresses.
    pub fn bind(config: &Config) -> anyhow::Result<Self> {
        let http = std::net::TcpListener::bind(config.http_addr)
            .with_context(|| format!("ZAPINI_HTTP_ADDR: cannot listen on {}", config.http_addr))?;
        let grpc = std::net::TcpListener::bind(config.grpc_addr)
            .with_context(|| format!("ZAPINI_GRPC_ADDR: cannot listen on {}", config.grpc_addr))?;
        let metrics = match config.metrics.addr {
            None => None,
            Some(addr) => Some(
                std::net::TcpListener::bind(addr)
                    .with_context(|| format!("ZAPINI_METRICS_ADDR: cannot listen on {addr}"))?,
            ),
        };
        Ok(Listeners {
            http,
            grpc: Some(grpc),
            metrics,
        })
    }

    /// Both listeners on ephemeral loopback ports (tests, embedding).
    pub fn ephemeral() -> anyhow::Result<Self> {
        Ok(Listeners {
            http: std::net::TcpListener::bind("127.0.0.1:0")?,
            grpc: Some(std::net::TcpListener::bind("127.0.0.1:0")?),
            metrics: None,
        })
    }
}

/// The data directory and what the control plane keeps in it belong to its user alone: the
/// directory is `0700`, the secrets and the SQLite database (with its `-wal` and `-shm`) are
/// `0600`, as are node and media directories below it. Everything is created that way; this
/// narrows what an older version (or an operator's umask) left wider, at every start.
fn secure_data_dir(config: &Config) -> anyhow::Result<()> {
    let dir = &config.data_dir;
    private_fs::create_dir_all(dir)
        .with_context(|| format!("ZAPINI_DATA_DIR: cannot create {}", dir.display()))?;
    let mut dirs = vec![dir.clone(), dir.join("nodes")];
    if let MediaStorageConfig::Fs { dir: media } = &config.media.storage {
        dirs.push(media.clone());
    }
    for d in &dirs {
        private_fs::restrict_dir(d)
            .with_context(|| format!("cannot restrict {} to its owner", d.display()))?;
    }
    let mut files = vec![dir.join("node_secret"), dir.join("secret_key")];
    if let DatabaseTarget::Sqlite(db) = &config.database {
        files.extend(crate::db::sqlite_files(db));
    }
    for f in &files {
        private_fs::restrict_file(f)
            .with_context(|| format!("cannot restrict {} to its owner", f.display()))?;
    }
    Ok(())
}

/// The node secret: configured, or generated once and kept in the data directory (`0600`).
fn resolve_node_secret(config: &mut Config) -> anyhow::Result<()> {
    if config.node_secret.is_some() {
        return Ok(());
    }
    let path = config.data_dir.join("node_secret");
    let secret = match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 16 => s.trim().to_owned(),
        _ => {
            let s = crate::crypto::random_secret(40);
            private_fs::write(&path, s.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            s
        }
    };
    config.node_secret = Some(secrecy::SecretString::from(secret));
    Ok(())
}

/// The node secret a running control plane uses, for tools (`control-plane node-credential`):
/// `ZAPINI_NODE_SECRET`, else the one kept in the data directory. Never generates one.
pub fn existing_node_secret(config: &Config) -> anyhow::Result<secrecy::SecretString> {
    if let Some(secret) = &config.node_secret {
        return Ok(secret.clone());
    }
    let path = config.data_dir.join("node_secret");
    match std::fs::read_to_string(&path) {
        Ok(s) if s.trim().len() >= 16 => Ok(secrecy::SecretString::from(s.trim().to_owned())),
        Ok(_) => anyhow::bail!("{} does not hold a node secret", path.display()),
        Err(e) => Err(e).with_context(|| {
            format!(
                "no ZAPINI_NODE_SECRET and cannot read {} (start the control plane once, or set ZAPINI_NODE_SECRET / ZAPINI_DATA_DIR as it runs with)",
                path.display()
            )
        }),
    }
}

/// The key that seals secrets at rest: configured, or generated once and kept in the data
/// directory (`0600`).
fn resolve_secret_key(config: &mut Config) -> anyhow::Result<()> {
    if config.secret_key.is_some() {
        return Ok(());
    }
    let path = config.data_dir.join("secret_key");
    let key = match std::fs::read_to_string(&path) {
        Ok(s) if crate::crypto::SecretBox::parse_key(&s).is_some() => s.trim().to_owned(),
        Ok(_) => anyhow::bail!(
            "{} does not hold a 32-byte key; restore it or set ZAPINI_SECRET_KEY",
            path.display()
        ),
        Err(_) => {
            let key = crate::crypto::SecretBox::generate_key();
            let mut options = private_fs::open_options();
            let mut file = options
                .write(true)
                .create_new(true)
                .open(&path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            std::io::Write::write_all(&mut file, key.as_bytes())
                .with_context(|| format!("cannot write {}", path.display()))?;
            file.sync_all()?;
            key
        }
    };
    config.secret_key = Some(secrecy::SecretString::from(key));
    Ok(())
}

/// The `ControlPlane` gRPC service's TLS (`ZAPINI_GRPC_TLS_CERT` / `ZAPINI_GRPC_TLS_KEY`).
fn grpc_server_tls(config: &Config) -> anyhow::Result<Option<tonic::transport::ServerTlsConfig>> {
    let Some(files) = &config.grpc_tls else {
        return Ok(None);
    };
    let cert = std::fs::read(&files.cert)
        .with_context(|| format!("ZAPINI_GRPC_TLS_CERT: cannot read {}", files.cert.display()))?;
    let key = std::fs::read(&files.key)
        .with_context(|| format!("ZAPINI_GRPC_TLS_KEY: cannot read {}", files.key.display()))?;
    let tls = tonic::transport::ServerTlsConfig::new()
        .identity(tonic::transport::Identity::from_pem(cert, key));
    // Checked now, so a bad pair stops the start with a message naming the settings.
    tonic::transport::Server::builder()
        .tls_config(tls.clone())
        .context("ZAPINI_GRPC_TLS_CERT / ZAPINI_GRPC_TLS_KEY could not be loaded")?;
    Ok(Some(tls))
}

pub struct App {
    http: std::net::TcpListener,
    http_addr: SocketAddr,
    grpc: Option<(std::net::TcpListener, SocketAddr)>,
    grpc_tls: Option<tonic::transport::ServerTlsConfig>,
    metrics: Option<(std::net::TcpListener, SocketAddr)>,
    launcher: Option<crate::launcher::ProcessLauncher>,
    router: axum::Router,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
    services: Services,
    dispatcher: crate::webhooks::Dispatcher,
}

impl App {
    pub async fn build(mut config: Config, listeners: Listeners) -> anyhow::Result<App> {
        secure_data_dir(&config)?;
        resolve_node_secret(&mut config)?;
        resolve_secret_key(&mut config)?;
        if config.tls.is_some() || config.grpc_tls.is_some() || config.grpc_tls_ca.is_some() {
            // One process-wide crypto provider; a second install attempt is harmless.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let grpc_tls = grpc_server_tls(&config)?;
        let config = Arc::new(config);
        let db = db::connect(&config)
            .await
            .context("cannot open the database (DATABASE_URL / ZAPINI_DATA_DIR)")?;
        db::migrate(&db)
            .await
            .context("database migrations failed")?;
        let max_window =
            Duration::from_secs(config.rate_limit_window_secs.max(config.login_window_secs));
        let (limiter, leases) = match &config.redis_url {
            None => (Limiter::memory(max_window), crate::lease::Leases::Sql),
            Some(url) => {
                let client = redis::Client::open(url.expose_secret())
                    .context("REDIS_URL is not a valid Redis URL")?;
                let conn = redis::aio::ConnectionManager::new(client)
                    .await
                    .context("cannot connect to REDIS_URL")?;
                (
                    Limiter::redis(conn.clone(), config.redis_prefix.clone()),
                    crate::lease::Leases::redis(conn, config.redis_prefix.clone()),
                )
            }
        };
        let mut services = Services::new(db, config.clone(), limiter).with_leases(leases);
        services.metrics = crate::metrics::Metrics::new(&config.metrics);
        let dispatcher_db = crate::db::connect_dispatcher(&config)
            .await
            .context("cannot connect the webhook dispatcher to the database")?
            .inspect(|db| services.metrics.set_dispatcher_db(db.clone()))
            .unwrap_or_else(|| services.db.clone());
        services.bookkeeping_db = dispatcher_db.clone();
        services.storage = crate::media::storage::Storage::open(&config.media.storage).context(
            "cannot open the media storage (ZAPINI_MEDIA_STORAGE, ZAPINI_MEDIA_DIR, ZAPINI_S3_*)",
        )?;
        services
            .bootstrap_admin()
            .await
            .map_err(|e| anyhow::anyhow!("bootstrapping the first admin failed: {e}"))?;

        let tls = match &config.tls {
            None => None,
            Some(files) => Some(
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .context("ZAPINI_TLS_CERT / ZAPINI_TLS_KEY could not be loaded")?,
            ),
        };
        listeners.http.set_nonblocking(true)?;
        let http_addr = listeners.http.local_addr()?;
        let grpc = match listeners.grpc {
            None => None,
            Some(l) => {
                l.set_nonblocking(true)?;
                let addr = l.local_addr()?;
                services.metrics.grpc_bound();
                Some((l, addr))
            }
        };
        let metrics = match listeners.metrics {
            None => None,
            Some(l) => {
                l.set_nonblocking(true)?;
                let addr = l.local_addr()?;
                Some((l, addr))
            }
        };
        services.media_urls.set_default_base(&format!(
            "{}://{http_addr}",
            if tls.is_some() { "https" } else { "http" }
        ));
        let launcher = match (config.launcher, &grpc) {
            (crate::config::LauncherKind::Process, Some((_, grpc_addr))) => {
                let bin = config
                    .node_bin
                    .clone()
                    .or_else(crate::launcher::default_node_bin)
                    .context("ZAPINI_NODE_BIN: no instance-node executable next to the control plane; build it (cargo build) or set ZAPINI_NODE_BIN, or use ZAPINI_LAUNCHER=external")?;
                let launcher = crate::launcher::ProcessLauncher::new(
                    bin,
                    services.clone(),
                    http_addr,
                    *grpc_addr,
                    tls.is_some(),
                );
                services.hub.set_starter(Arc::new(launcher.clone()));
                Some(launcher)
            }
            _ => None,
        };
        let dispatcher = crate::webhooks::Dispatcher::new(
            dispatcher_db,
            services.write_gate.clone(),
            config.webhooks.clone(),
            services.secrets.clone(),
            services.webhook_signal.clone(),
            config.allow_private_urls,
            services.live.clone(),
        )
        .context("webhook HTTP client")?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(config.proxy_timeout_secs))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(30))
            .build()
            .context("HTTP client")?;
        let state = AppState {
            services: services.clone(),
            started_at: Instant::now(),
            http,
        };
        let pages = crate::web::router(&state);
        let router = router(state, pages);
        Ok(App {
            http: listeners.http,
            http_addr,
            grpc,
            grpc_tls,
            metrics,
            launcher,
            router,
            tls,
            services,
            dispatcher,
        })
    }

    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where nodes reach the `ControlPlane` gRPC service.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().map(|(_, a)| *a)
    }

    /// Where `ZAPINI_METRICS_ADDR` serves `/metrics`, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, a)| *a)
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
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let shutdown = {
            let stop_tx = stop_tx.clone();
            let hub = self.services.hub.clone();
            async move {
                shutdown.await;
                let _ = stop_tx.send(true);
                hub.close_all();
            }
        };
        if let Some((listener, addr)) = self.grpc {
            let listener = tokio::net::TcpListener::from_std(listener)?;
            let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
            let svc = crate::node_api::server(self.services.clone());
            let mut stop = stop_rx.clone();
            tracing::info!(%addr, tls = self.grpc_tls.is_some(), "node gRPC listening");
            let mut builder = tonic::transport::Server::builder();
            if let Some(tls) = self.grpc_tls {
                builder = builder
                    .tls_config(tls)
                    .context("ZAPINI_GRPC_TLS_CERT / ZAPINI_GRPC_TLS_KEY could not be loaded")?;
            }
            let metrics = self.services.metrics.clone();
            metrics.grpc_serving(true);
            tokio::spawn(async move {
                let result = builder
                    .http2_keepalive_interval(Some(Duration::from_secs(20)))
                    .tcp_nodelay(true)
                    .layer(crate::metrics::grpc::GrpcMetricsLayer::new(
                        metrics.enabled(),
                    ))
                    .add_service(svc)
                    .serve_with_incoming_shutdown(incoming, async move {
                        let _ = stop.wait_for(|s| *s).await;
                    })
                    .await;
                metrics.grpc_serving(false);
                if let Err(e) = result {
                    tracing::error!(error = %e, "gRPC server failed");
                }
            });
        }
        if let Some((listener, _)) = self.metrics {
            tokio::spawn(crate::http::metrics::serve(
                self.services.clone(),
                listener,
                stop_rx.clone(),
            ));
        }
        tokio::spawn(self.dispatcher.clone().run(stop_rx.clone()));
        tokio::spawn(media_cleanup(self.services.clone(), stop_rx.clone()));
        tokio::spawn(self.services.clone().run_transcriptions(stop_rx.clone()));
        tokio::spawn(self.services.clone().run_automation(stop_rx.clone()));
        tokio::spawn(self.services.clone().run_jobs(stop_rx.clone()));
        if let Some(launcher) = &self.launcher {
            launcher.launch_all().await?;
            let launcher = launcher.clone();
            let mut stop = stop_rx.clone();
            tokio::spawn(async move {
                let _ = stop.wait_for(|s| *s).await;
                launcher.stop_all();
            });
        }
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

/// Removes expired media every `ZAPINI_MEDIA_CLEANUP_INTERVAL_SECS` until shutdown.
async fn media_cleanup(services: Services, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(services.config.media.cleanup_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        match services.cleanup_expired_media().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "expired media removed"),
            Err(e) => tracing::warn!(error = %e, "expired media cleanup failed"),
        }
    }
}
