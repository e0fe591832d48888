//! The `process` launcher: one `instance-node` child process per instance, on free local
//! ports (the node binds port 0 and reports its addresses when it registers). A crashed node
//! is restarted with exponential backoff (250 ms doubling to 60 s, reset after a minute of
//! uptime); a deleted instance's node is stopped; after a control-plane restart every
//! instance is launched again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::process::Command;
use tokio::sync::watch;
use uuid::Uuid;
use zapini_shared::backoff::Backoff;

use crate::service::Services;
use crate::service::nodes::NodeStarter;

/// The wait before relaunching a crashed node the first time: a single crash costs well under
/// a second; a crash loop backs off, doubling to a minute.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// Exit codes the node uses (see instance-node's main.rs).
const EXIT_BAD_CONFIG: i32 = 2;
const EXIT_LEASE_HELD: i32 = 3;
const EXIT_INSTANCE_GONE: i32 = 4;

#[derive(Clone)]
pub struct ProcessLauncher {
    inner: Arc<Inner>,
}

struct Inner {
    bin: PathBuf,
    data_dir: PathBuf,
    grpc_url: String,
    http_url: String,
    /// What nodes trust for the control plane's TLS gRPC: the configured CA, else our own
    /// certificate (self-signed deployments).
    grpc_ca: Option<PathBuf>,
    services: Services,
    children: Mutex<HashMap<Uuid, watch::Sender<bool>>>,
}

/// The `instance-node` executable next to the running control plane.
pub fn default_node_bin() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    [dir.join("instance-node"), dir.join("../instance-node")]
        .into_iter()
        .find(|p| p.is_file())
}

fn loopback(addr: std::net::SocketAddr) -> std::net::SocketAddr {
    if addr.ip().is_unspecified() {
        std::net::SocketAddr::from(([127, 0, 0, 1], addr.port()))
    } else {
        addr
    }
}

impl ProcessLauncher {
    pub fn new(
        bin: PathBuf,
        services: Services,
        http_addr: std::net::SocketAddr,
        grpc_addr: std::net::SocketAddr,
        tls: bool,
    ) -> ProcessLauncher {
        let scheme = if tls { "https" } else { "http" };
        let config = &services.config;
        let grpc_scheme = if config.grpc_tls.is_some() {
            "https"
        } else {
            "http"
        };
        let grpc_ca = config.grpc_tls.as_ref().map(|files| {
            config
                .grpc_tls_ca
                .clone()
                .unwrap_or_else(|| files.cert.clone())
        });
        ProcessLauncher {
            inner: Arc::new(Inner {
                bin,
                data_dir: config.data_dir.join("nodes"),
                grpc_url: format!("{grpc_scheme}://{}", loopback(grpc_addr)),
                http_url: format!("{scheme}://{}", loopback(http_addr)),
                grpc_ca,
                services,
                children: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Stops every child (on control-plane shutdown).
    pub fn stop_all(&self) {
        let children = std::mem::take(
            &mut *self
                .inner
                .children
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for (_, stop) in children {
            let _ = stop.send(true);
        }
    }

    /// The node's command line: an empty environment, then what the operator set for nodes
    /// ([`crate::config::node_env_allowed`]), then the node's own settings. Nothing else of
    /// ours is inherited: the node gets its own credential, never the node secret, and none
    /// of the control plane's other secrets.
    fn command(&self, instance: Uuid, engine: &str) -> Command {
        let inner = &self.inner;
        let mut cmd = Command::new(&inner.bin);
        cmd.env_clear()
            .envs(inner.services.config.node_env.iter().map(|(k, v)| (k, v)))
            .env("ZAPINI_INSTANCE_ID", instance.to_string())
            .env("ZAPINI_ENGINE", engine)
            .env(
                "ZAPINI_NODE_CREDENTIAL",
                inner.services.node_credential(instance),
            )
            .env("ZAPINI_CONTROL_PLANE_GRPC", &inner.grpc_url)
            .env("ZAPINI_CONTROL_PLANE_URL", &inner.http_url)
            .env("ZAPINI_DATA_DIR", self.node_dir(instance))
            .env("ZAPINI_HTTP_ADDR", "127.0.0.1:0")
            .env("ZAPINI_NODE_GRPC_ADDR", "127.0.0.1:0")
            .env("ZAPINI_EXIT_WITH_PARENT", "1")
            // Our end of this pipe closes when we die, however we die (SIGKILL included): the
            // node sees the end of its stdin and stops at once, so a restarted control plane
            // does not find the old node still holding the lease.
            .stdin(Stdio::piped())
            .kill_on_drop(true);
        if let Some(ca) = &inner.grpc_ca {
            cmd.env("ZAPINI_GRPC_TLS_CA", ca);
        }
        // Nodes serve `/metrics` on their HTTP listener behind the same token.
        if let Some(token) = &inner.services.config.metrics.token {
            use secrecy::ExposeSecret;
            cmd.env("ZAPINI_METRICS_TOKEN", token.expose_secret());
        }
        cmd
    }

    /// `<data dir>/nodes/<instance uuid>`: the node's event buffer and session.
    fn node_dir(&self, instance: Uuid) -> PathBuf {
        self.inner.data_dir.join(instance.to_string())
    }

    /// Removes a deleted instance's node directory (its WhatsApp session, event buffer and
    /// pacing state).
    fn remove_node_dir(&self, instance: Uuid) {
        let dir = self.node_dir(instance);
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => tracing::info!(%instance, dir = %dir.display(), "node directory removed"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(%instance, dir = %dir.display(), error = %e, "cannot remove the node directory")
            }
        }
    }

    async fn supervise(self, instance: Uuid, engine: String, mut stop: watch::Receiver<bool>) {
        let mut backoff = Backoff::new(FIRST_BACKOFF, Duration::from_secs(60));
        loop {
            if *stop.borrow() {
                return;
            }
            let started = Instant::now();
            let mut child = match self.command(instance, &engine).spawn() {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(%instance, bin = %self.inner.bin.display(), error = %e, "cannot start instance-node");
                    if sleep_or_stop(&mut stop, Duration::from_secs(30)).await {
                        return;
                    }
                    continue;
                }
            };
            // Held (never written) until the child is reaped.
            let _parent_alive = child.stdin.take();
            tracing::info!(%instance, pid = child.id(), "instance node started");
            let status = tokio::select! {
                s = child.wait() => s.ok(),
                _ = stop.changed() => {
                    let _ = child.start_kill();
                    let _ = child.wait().await;
                    let _ = self.inner.services.release_lease(instance).await;
                    tracing::info!(%instance, "instance node stopped");
                    return;
                }
            };
            let code = status.and_then(|s| s.code());
            if code == Some(EXIT_INSTANCE_GONE) || code == Some(EXIT_BAD_CONFIG) {
                if code == Some(EXIT_BAD_CONFIG) {
                    // It would fail the same way again (e.g. an engine this build lacks).
                    tracing::error!(%instance, engine = %engine, "instance node refused its configuration; not restarted (see its log above)");
                } else {
                    tracing::info!(%instance, "instance no longer exists; node not restarted");
                }
                self.inner
                    .children
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&instance);
                return;
            }
            if started.elapsed() > Duration::from_secs(60) {
                backoff.reset();
            }
            let delay = backoff.next_delay();
            let wait = if code == Some(EXIT_LEASE_HELD) {
                Duration::from_secs(u64::from(self.inner.services.config.lease_ttl_secs))
            } else {
                delay
            };
            tracing::warn!(%instance, ?code, retry_in = ?wait, "instance node exited; restarting");
            if sleep_or_stop(&mut stop, wait).await {
                return;
            }
        }
    }

    /// Launches a node for every instance (after a control-plane start).
    pub async fn launch_all(&self) -> anyhow::Result<()> {
        use sea_orm::EntityTrait;
        let instances = crate::db::entities::instance::Entity::find()
            .all(&self.inner.services.db)
            .await?;
        for i in instances {
            self.start(i.uuid, &i.engine);
        }
        Ok(())
    }
}

/// Sleeps; true when a stop arrived first.
async fn sleep_or_stop(stop: &mut watch::Receiver<bool>, d: Duration) -> bool {
    tokio::select! {
        () = tokio::time::sleep(d) => *stop.borrow(),
        r = stop.changed() => r.is_err() || *stop.borrow(),
    }
}

impl NodeStarter for ProcessLauncher {
    fn start(&self, instance: Uuid, engine: &str) {
        let mut children = self
            .inner
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if children.contains_key(&instance) {
            return;
        }
        let (tx, rx) = watch::channel(false);
        children.insert(instance, tx);
        tokio::spawn(self.clone().supervise(instance, engine.to_owned(), rx));
    }

    fn stop(&self, instance: Uuid) {
        let tx = self
            .inner
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&instance);
        if let Some(tx) = tx {
            let _ = tx.send(true);
        }
    }

    fn remove(&self, instance: Uuid) {
        let tx = self
            .inner
            .children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&instance);
        let launcher = self.clone();
        tokio::spawn(async move {
            if let Some(tx) = tx {
                let _ = tx.send(true);
                // The supervisor holds the only receiver and drops it once the child has
                // exited and been reaped, so the directory is no longer in use after this.
                tx.closed().await;
            }
            launcher.remove_node_dir(instance);
        });
    }
}
