//! Wiring: [`NodeApp::build`] opens the event buffer, builds the engine, the token cache, the
//! HTTP and gRPC servers on pre-bound listeners (port 0 in tests; several nodes can live in
//! one process, nothing here is global), and [`NodeApp::run`] serves until the shutdown
//! future resolves or the control plane refuses the node.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::TcpListenerStream;
use zapini_proto::v1::instance_node_server::InstanceNodeServer;
use zapini_shared::private_fs;

use crate::auth::TokenCache;
use crate::buffer::{BufferOptions, EventBuffer};
use crate::config::{NodeConfig, ReceiptMode};
use crate::control_api::{InstanceNodeService, SecretCheck};
use crate::engine::sandbox::{SandboxConfig, SandboxEngine};
use crate::engine::whatsapp::{MediaLimits, WhatsappConfig, WhatsappEngine};
use crate::engine::{Engine, EngineEvent, EngineKind};
use crate::grpc::client::ControlPlaneApi;
use crate::http::forward::Forwarder;
use crate::http::{AppState, router};
use crate::link::{Announcement, Link};
use crate::media::MediaFetcher;
use crate::policy::PolicyState;
use crate::pump::{self, SentLog};
use crate::service::Node;
use crate::service::sent_refs::SentRefs;

/// Engine events waiting for the pump, at most (the engine waits when it is full).
const ENGINE_EVENTS_CAPACITY: usize = 1024;

/// The node's listeners, bound before the app is built.
pub struct NodeListeners {
    pub http: std::net::TcpListener,
    pub grpc: std::net::TcpListener,
    /// `ZAPINI_NODE_METRICS_ADDR`: `/metrics` without auth; `None`: not served apart.
    pub metrics: Option<std::net::TcpListener>,
}

impl NodeListeners {
    /// Binds `ZAPINI_HTTP_ADDR` and `ZAPINI_NODE_GRPC_ADDR`.
    pub fn bind(config: &NodeConfig) -> anyhow::Result<NodeListeners> {
        let http = std::net::TcpListener::bind(config.http_addr)
            .with_context(|| format!("cannot bind ZAPINI_HTTP_ADDR {}", config.http_addr))?;
        let grpc = std::net::TcpListener::bind(config.grpc_addr)
            .with_context(|| format!("cannot bind ZAPINI_NODE_GRPC_ADDR {}", config.grpc_addr))?;
        let metrics = match config.metrics.addr {
            None => None,
            Some(addr) => Some(
                std::net::TcpListener::bind(addr)
                    .with_context(|| format!("cannot bind ZAPINI_NODE_METRICS_ADDR {addr}"))?,
            ),
        };
        Ok(NodeListeners {
            http,
            grpc,
            metrics,
        })
    }
}

/// A built node, ready to run.
pub struct NodeApp {
    http: tokio::net::TcpListener,
    grpc: tokio::net::TcpListener,
    http_addr: SocketAddr,
    grpc_addr: SocketAddr,
    metrics: Option<(tokio::net::TcpListener, SocketAddr)>,
    state: AppState,
    link: Arc<Link>,
    events: mpsc::Receiver<EngineEvent>,
    buffer: EventBuffer,
    sent_log: Arc<SentLog>,
    credential: String,
    grpc_tls: Option<tonic::transport::ServerTlsConfig>,
}

/// Reads `<data_dir>/buffer_id`, creating it (a UUID v4) on first start.
fn buffer_id(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("buffer_id");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_owned()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
    let id = uuid::Uuid::new_v4().to_string();
    let tmp = data_dir.join("buffer_id.tmp");
    private_fs::write(&tmp, id.as_bytes())
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot create {}", path.display()))?;
    Ok(id)
}

/// The `InstanceNode` server's TLS (`ZAPINI_NODE_GRPC_TLS_CERT` / `_KEY`), checked now so a
/// bad pair stops the start with a message naming the settings.
fn grpc_server_tls(
    config: &NodeConfig,
) -> anyhow::Result<Option<tonic::transport::ServerTlsConfig>> {
    if config.grpc_tls.server.is_some() || config.grpc_tls.ca.is_some() {
        // One process-wide crypto provider (ring, as everywhere in Zapini); a second install
        // attempt is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    let Some((cert, key)) = &config.grpc_tls.server else {
        return Ok(None);
    };
    let read = |path: &Path, name: &str| {
        std::fs::read(path).with_context(|| {
            format!(
                "invalid configuration: {name}: cannot read {}",
                path.display()
            )
        })
    };
    let tls =
        tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(
            read(cert, "ZAPINI_NODE_GRPC_TLS_CERT")?,
            read(key, "ZAPINI_NODE_GRPC_TLS_KEY")?,
        ));
    tonic::transport::Server::builder()
        .tls_config(tls.clone())
        .context("invalid configuration: ZAPINI_NODE_GRPC_TLS_CERT / ZAPINI_NODE_GRPC_TLS_KEY")?;
    Ok(Some(tls))
}

async fn stopped(mut rx: watch::Receiver<bool>) {
    let _ = rx.wait_for(|stop| *stop).await;
}

impl NodeApp {
    /// Builds the node. Must be called inside a Tokio runtime (the gRPC channel and the
    /// listeners register with it). Nothing talks to the control plane until [`NodeApp::run`].
    pub fn build(config: NodeConfig, listeners: NodeListeners) -> anyhow::Result<NodeApp> {
        // The session store, event buffer and pacing state are this user's alone: created
        // 0700/0600, and whatever an older version left wider is narrowed now.
        private_fs::create_dir_all(&config.data_dir)
            .and_then(|()| private_fs::restrict_tree(&config.data_dir))
            .with_context(|| {
                format!(
                    "cannot create ZAPINI_DATA_DIR {} (private to this user)",
                    config.data_dir.display()
                )
            })?;
        let grpc_tls = grpc_server_tls(&config)?;
        let buffer_id = buffer_id(&config.data_dir)?;
        let buffer = EventBuffer::open(&config.data_dir.join("events"), BufferOptions::default())
            .context("cannot open the event buffer")?;

        let (events_tx, events) = mpsc::channel(ENGINE_EVENTS_CAPACITY);
        let (engine, sandbox): (Arc<dyn Engine>, Option<Arc<SandboxEngine>>) = match config.engine {
            EngineKind::Sandbox => {
                let mut sandbox_config = SandboxConfig {
                    session_file: Some(config.data_dir.join("sandbox-session.json")),
                    ..SandboxConfig::default()
                };
                if config.sandbox_receipts == ReceiptMode::Manual {
                    sandbox_config.receipt_schedule = None;
                }
                if config.sandbox_pacing {
                    sandbox_config.pacing = Some(config.whatsapp.pacing.clone());
                }
                let engine = SandboxEngine::new(sandbox_config, events_tx);
                (engine.clone(), Some(engine))
            }
            EngineKind::Whatsapp => {
                let settings = &config.whatsapp;
                let mut wa = WhatsappConfig::new(config.data_dir.join("whatsapp"));
                wa.ws_url = settings.ws_url.clone();
                wa.push_name = settings.push_name.clone();
                wa.pacing = settings.pacing.clone();
                wa.unreachable_after = settings.unreachable_after;
                wa.watchdog_silence = settings.watchdog_silence;
                wa.media = MediaLimits {
                    allow_private: config.allow_private_urls,
                    max_bytes: settings.media_max_bytes,
                };
                (WhatsappEngine::new(wa, events_tx), None)
            }
        };

        listeners.http.set_nonblocking(true)?;
        listeners.grpc.set_nonblocking(true)?;
        let http_addr = listeners.http.local_addr()?;
        let grpc_addr = listeners.grpc.local_addr()?;
        let http = tokio::net::TcpListener::from_std(listeners.http)?;
        let grpc = tokio::net::TcpListener::from_std(listeners.grpc)?;
        let metrics_listener = match listeners.metrics {
            None => None,
            Some(l) => {
                l.set_nonblocking(true)?;
                let addr = l.local_addr()?;
                Some((tokio::net::TcpListener::from_std(l)?, addr))
            }
        };

        let api = ControlPlaneApi::connect_lazy(
            &config.control_plane_grpc,
            &config.credential,
            config.grpc_tls.ca.as_deref(),
        )
        .context("invalid configuration: ZAPINI_CONTROL_PLANE_GRPC")?;
        let instance_uuid = config.instance_id.to_string();
        let tokens = TokenCache::new(api.clone(), &instance_uuid);
        let policy = Arc::new(PolicyState::default());
        let sent_log = Arc::new(SentLog::new(buffer.clone()));
        let node = Arc::new(Node {
            engine: engine.clone(),
            sandbox,
            policy: policy.clone(),
            sent_log: sent_log.clone(),
            media: MediaFetcher::new(config.allow_private_urls).with_library(
                config.control_plane_url.clone(),
                &config.credential,
                &instance_uuid,
            ),
            started: Instant::now(),
            send_ack: config.send_ack,
            sent_refs: SentRefs::default(),
        });
        let state = AppState {
            metrics: Arc::new(crate::http::metrics::NodeMetrics::new(
                &config.metrics,
                buffer.clone(),
            )),
            node,
            tokens: tokens.clone(),
            limiter: Arc::new(crate::http::limit::EdgeLimiter::new(config.edge.limits)),
            forward: Arc::new(Forwarder::new(
                &config.control_plane_url,
                config.edge.proxy_timeout,
            )),
        };
        let http_url = config
            .public_url
            .clone()
            .unwrap_or_else(|| format!("http://{http_addr}"));
        let link = Arc::new(Link {
            api,
            announce: Announcement {
                instance_uuid,
                node_id: uuid::Uuid::new_v4().to_string(),
                http_url,
                grpc_url: config.grpc_public_url.clone().unwrap_or_else(|| {
                    let scheme = if grpc_tls.is_some() { "https" } else { "http" };
                    format!("{scheme}://{grpc_addr}")
                }),
                engine: config.engine.as_str().to_owned(),
                buffer_id,
            },
            buffer: buffer.clone(),
            policy,
            tokens,
            engine,
            retry: config.retry,
        });
        Ok(NodeApp {
            http,
            grpc,
            http_addr,
            grpc_addr,
            metrics: metrics_listener,
            state,
            link,
            events,
            buffer,
            sent_log,
            credential: config.credential,
            grpc_tls,
        })
    }

    /// Where the HTTP server listens.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// Where the `InstanceNode` gRPC server listens.
    pub fn grpc_addr(&self) -> SocketAddr {
        self.grpc_addr
    }

    /// Where `ZAPINI_NODE_METRICS_ADDR` serves `/metrics`, when configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, a)| *a)
    }

    /// Serves HTTP and gRPC, registers with the control plane and streams events, until
    /// `shutdown` resolves (then `Ok`) or the control plane refuses the node (then an error
    /// that downcasts to [`crate::RegistrationRefused`]).
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let NodeApp {
            http,
            grpc,
            state,
            link,
            events,
            buffer,
            sent_log,
            credential,
            grpc_tls,
            metrics,
            ..
        } = self;
        let (stop_tx, stop_rx) = watch::channel(false);
        if let Some((listener, addr)) = metrics {
            tracing::info!(%addr, "metrics listening");
            let served = crate::http::metrics::serve(
                state.metrics.clone(),
                listener,
                stopped(stop_rx.clone()),
            );
            tokio::spawn(async move {
                if let Err(e) = served.await {
                    tracing::warn!(error = %e, "metrics listener failed");
                }
            });
        }

        let pump = tokio::spawn(async move { pump::run(events, buffer, &sent_log).await });

        let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let http_server = tokio::spawn(
            axum::serve(http, app)
                .with_graceful_shutdown(stopped(stop_rx.clone()))
                .into_future(),
        );
        let service = InstanceNodeService {
            node: state.node.clone(),
        };
        let mut grpc_builder = tonic::transport::Server::builder();
        if let Some(tls) = grpc_tls {
            grpc_builder = grpc_builder
                .tls_config(tls)
                .context("ZAPINI_NODE_GRPC_TLS_CERT / ZAPINI_NODE_GRPC_TLS_KEY")?;
        }
        let grpc_server = tokio::spawn(
            grpc_builder
                .add_service(InstanceNodeServer::with_interceptor(
                    service,
                    SecretCheck::new(&credential),
                ))
                .serve_with_incoming_shutdown(TcpListenerStream::new(grpc), stopped(stop_rx)),
        );

        // A task of its own, on the workers: under `block_on` the link would run on the main
        // thread, which then has to be woken for every batch of events it streams.
        let mut link_task = tokio::spawn(link.clone().run());
        let ended = tokio::select! {
            () = shutdown => None,
            joined = &mut link_task => Some(joined),
        };
        let outcome = match ended {
            None => {
                link_task.abort();
                // Wait for the cancelled task to drop its handles (the engine among them,
                // which is what lets the pump finish below).
                let _ = link_task.await;
                Ok(())
            }
            Some(Ok(refused)) => {
                tracing::error!(error = %refused, "the control plane refused this node");
                Err(anyhow::Error::new(refused))
            }
            Some(Err(e)) => Err(anyhow::anyhow!("the control-plane link task failed: {e}")),
        };

        let _ = stop_tx.send(true);
        for (name, task) in [("http", http_server)] {
            match tokio::time::timeout(Duration::from_secs(5), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => tracing::warn!(server = name, error = %e, "server error"),
                Ok(Err(e)) => tracing::warn!(server = name, error = %e, "server task failed"),
                Err(_) => tracing::warn!(server = name, "server did not stop in time"),
            }
        }
        match tokio::time::timeout(Duration::from_secs(5), grpc_server).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "gRPC server error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "gRPC server task failed"),
            Err(_) => tracing::warn!("gRPC server did not stop in time"),
        }
        // Let the pump write what the engine already reported, then stop it.
        drop(link);
        drop(state);
        let abort = pump.abort_handle();
        if tokio::time::timeout(Duration::from_secs(2), pump)
            .await
            .is_err()
        {
            abort.abort();
        }
        outcome
    }
}
