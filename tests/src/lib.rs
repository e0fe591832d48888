//! The harness shared by the end-to-end tests (`tests/tests/`) and the send-message benchmark
//! (`bench-send`): a real control plane (HTTP and gRPC on loopback ports) on a fresh database
//! — SQLite in a temp dir, or a new PostgreSQL database when `DATABASE_URL` is set, with Redis
//! under a unique prefix when `REDIS_URL` is set — and real instance nodes, in-process or as
//! child processes. Everything talks over real sockets; nothing is stubbed.
#![forbid(unsafe_code)]

pub mod bench;
pub mod dashboard;
pub mod harness;
pub mod process;
pub mod procfs;
pub mod receiver;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use control_plane::config::{DatabaseTarget, LauncherKind};
use control_plane::{App, Config, Listeners};
use instance_node::app::{NodeApp, NodeListeners};
use instance_node::config::NodeConfig;
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

pub const ADMIN_EMAIL: &str = "admin@e2e.local";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";
pub const NODE_SECRET: &str = "e2e-node-secret-0123456789";

/// A running control plane.
pub struct ControlPlane {
    pub http_addr: SocketAddr,
    pub grpc_addr: SocketAddr,
    pub base: String,
    config: Config,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

async fn fresh_postgres(base: &str) -> anyhow::Result<String> {
    let name = format!("zapini_e2e_{}", Uuid::new_v4().simple());
    control_plane::db::create_database(base, &name).await?;
    let (prefix, _) = base
        .rsplit_once('/')
        .ok_or_else(|| anyhow::anyhow!("DATABASE_URL has no path"))?;
    Ok(format!("{prefix}/{name}"))
}

/// Drops a database made by [`config`] (benchmarks, which run outside CI's clean-up): on
/// PostgreSQL, closing whatever connections are left; on SQLite nothing (its file lives in
/// the data dir).
pub async fn drop_database(database_url: &str) -> anyhow::Result<()> {
    use sea_orm::ConnectionTrait;
    let (Ok(base), Some((_, name))) =
        (std::env::var("DATABASE_URL"), database_url.rsplit_once('/'))
    else {
        return Ok(());
    };
    if !database_url.starts_with("postgres") || !name.starts_with("zapini_e2e_") {
        return Ok(());
    }
    let admin = sea_orm::Database::connect(&base).await?;
    admin
        .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .await?;
    admin.close().await.ok();
    Ok(())
}

/// The configuration the e2e tests run with: the given data dir, the run mode the environment
/// asks for (PostgreSQL, Redis), a known admin and node secret, external nodes.
pub async fn config(dir: &Path) -> anyhow::Result<Config> {
    // `RUST_LOG=warn cargo test ... -- --nocapture` shows what the servers log.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("off")),
        )
        .with_test_writer()
        .try_init();
    let mut config = Config::for_data_dir(dir);
    config.admin_email = Some(ADMIN_EMAIL.into());
    config.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    config.node_secret = Some(SecretString::from(NODE_SECRET));
    config.launcher = LauncherKind::External;
    config.lease_ttl_secs = 5;
    // Test receivers listen on plain HTTP on loopback; retries come quickly.
    config.allow_private_urls = true;
    config.webhooks.allow_http = true;
    config.webhooks.timeout = Duration::from_secs(2);
    config.webhooks.retry_schedule = [0, 200, 400, 800, 1600].map(Duration::from_millis).to_vec();
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        config.database = DatabaseTarget::Postgres(SecretString::from(fresh_postgres(&url).await?));
    }
    if let Ok(url) = std::env::var("REDIS_URL")
        && !url.is_empty()
    {
        config.redis_url = Some(SecretString::from(url));
        config.redis_prefix = format!("zapini-e2e-{}:", Uuid::new_v4().simple());
    }
    Ok(config)
}

impl ControlPlane {
    /// Starts a control plane on the given listeners (port 0, or the ports of a previous run).
    pub async fn start_on(
        config: Config,
        http: TcpListener,
        grpc: TcpListener,
    ) -> anyhow::Result<Self> {
        let app = App::build(
            config.clone(),
            Listeners {
                http,
                grpc: Some(grpc),
                metrics: None,
            },
        )
        .await?;
        let http_addr = app.http_addr();
        let grpc_addr = app.grpc_addr().expect("grpc listener");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            if let Err(e) = app
                .run(async {
                    let _ = rx.await;
                })
                .await
            {
                eprintln!("control plane stopped with an error: {e:#}");
            }
        });
        Ok(ControlPlane {
            http_addr,
            grpc_addr,
            base: format!("http://{http_addr}"),
            config,
            shutdown: Some(tx),
            handle: Some(handle),
        })
    }

    pub async fn start(config: Config) -> anyhow::Result<Self> {
        Self::start_on(
            config,
            TcpListener::bind("127.0.0.1:0")?,
            TcpListener::bind("127.0.0.1:0")?,
        )
        .await
    }

    /// Stops serving (gracefully) and returns the configuration to start again with.
    pub async fn stop(mut self) -> Config {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(15), h).await;
        }
        self.config.clone()
    }

    /// Starts again on the same ports (nodes keep their configured addresses).
    pub async fn restart(self) -> anyhow::Result<Self> {
        let http_addr = self.http_addr;
        let grpc_addr = self.grpc_addr;
        let config = self.stop().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match (TcpListener::bind(http_addr), TcpListener::bind(grpc_addr)) {
                (Ok(h), Ok(g)) => return Self::start_on(config, h, g).await,
                _ if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                (h, g) => {
                    h?;
                    g?;
                    unreachable!()
                }
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// The configuration it runs with.
    pub fn config(&self) -> Config {
        self.config.clone()
    }

    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// The configuration a node for `instance` uses to reach this control plane.
    pub fn node_config(&self, instance: Uuid, data_dir: &Path) -> NodeConfig {
        NodeConfig::sandbox(
            instance,
            node_credential(instance),
            self.grpc_url(),
            reqwest::Url::parse(&self.base).expect("base url"),
            data_dir,
        )
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A node running in this process.
pub struct Node {
    pub http_addr: SocketAddr,
    /// Where its `InstanceNode` gRPC server listens.
    pub grpc_addr: SocketAddr,
    pub base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

impl Node {
    pub async fn start(config: NodeConfig) -> anyhow::Result<Node> {
        let listeners = NodeListeners::bind(&config)?;
        let app = NodeApp::build(config, listeners)?;
        let http_addr = app.http_addr();
        let grpc_addr = app.grpc_addr();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let handle = tokio::spawn(app.run(async {
            let _ = rx.await;
        }));
        Ok(Node {
            http_addr,
            grpc_addr,
            base: format!("http://{http_addr}"),
            shutdown: Some(tx),
            handle: Some(handle),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Waits for the node to stop by itself (e.g. refused by the control plane).
    pub async fn finished(mut self) -> anyhow::Result<()> {
        match self.handle.take() {
            Some(h) => h.await?,
            None => Ok(()),
        }
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), h).await;
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// A thin HTTP client that speaks the envelope.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
}

impl Default for Api {
    fn default() -> Self {
        Api {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("client"),
        }
    }
}

impl Api {
    /// Sends a request; returns status and JSON body (Null when the body is not JSON).
    pub async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
        host: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(h) = host {
            req = req.header("host", h);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn login(&self, cp: &ControlPlane) -> String {
        self.login_at(&cp.base).await
    }

    /// Signs the admin in on the control plane at `base` (one running as a child process too).
    pub async fn login_at(&self, base: &str) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("{base}/api/v1/auth/login"),
                None,
                None,
                Some(
                    json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "device_name": "e2e"}),
                ),
            )
            .await;
        assert_eq!(status, 200, "login: {body}");
        body["data"]["token"]
            .as_str()
            .expect("token in login response")
            .to_owned()
    }

    /// Creates a sandbox instance; returns (numeric id, uuid).
    pub async fn create_instance(&self, cp: &ControlPlane, token: &str, name: &str) -> (i64, Uuid) {
        self.create_instance_at(&cp.base, token, name).await
    }

    /// [`Api::create_instance`] on the control plane at `base`.
    pub async fn create_instance_at(&self, base: &str, token: &str, name: &str) -> (i64, Uuid) {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &format!("{base}/api/v1/instances"),
                Some(token),
                None,
                Some(json!({"name": name, "engine": "sandbox"})),
            )
            .await;
        assert_eq!(status, 201, "create instance: {body}");
        let inst = &body["data"]["instance"];
        (
            inst["id"].as_i64().expect("id"),
            inst["uuid"].as_str().expect("uuid").parse().expect("uuid"),
        )
    }

    /// Posts a signed engine report (`/webhooks/instance/{uuid}/{kind}`), signed with the
    /// node secret.
    pub async fn engine_report(
        &self,
        cp: &ControlPlane,
        instance: Uuid,
        kind: &str,
        body: &Value,
    ) -> (u16, Value) {
        let bytes = serde_json::to_vec(body).expect("json");
        let (ts, sig) = sign_report(NODE_SECRET, &bytes);
        let resp = self
            .client
            .post(cp.url(&format!("/webhooks/instance/{instance}/{kind}")))
            .header("content-type", "application/json")
            .header("x-webhook-timestamp", ts)
            .header("x-webhook-signature", sig)
            .body(bytes)
            .send()
            .await
            .expect("report sent");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Creates an `sk_` token for an instance.
    pub async fn create_sk_token(&self, cp: &ControlPlane, token: &str, instance: i64) -> String {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &cp.url(&format!("/api/v1/instances/{instance}/tokens")),
                Some(token),
                None,
                Some(json!({"name": "bot"})),
            )
            .await;
        assert_eq!(status, 201, "create token: {body}");
        body["data"]["token"]
            .as_str()
            .expect("plaintext token")
            .to_owned()
    }
}

/// The credential of the node serving `instance` under [`NODE_SECRET`]
/// (`ZAPINI_NODE_CREDENTIAL`).
pub fn node_credential(instance: Uuid) -> String {
    zapini_shared::node_auth::node_credential(NODE_SECRET.as_bytes(), instance)
}

/// Polls `f` every 50 ms until it returns `Some`, or panics after `timeout` with `what`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(timestamp, signature)` headers for an engine report: hex HMAC-SHA256 of
/// `{timestamp}.{body}`.
pub fn sign_report(secret: &str, body: &[u8]) -> (String, String) {
    let ts = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    (
        ts.to_string(),
        zapini_shared::signing::sign_timestamped_hex(secret.as_bytes(), ts, body),
    )
}

/// The `instance-node` executable built next to this test binary (`target/<profile>/`).
pub fn node_bin() -> Option<PathBuf> {
    target_bin("instance-node")
}

/// A workspace executable built next to this test binary (`target/<profile>/`).
pub fn target_bin(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?;
    for _ in 0..3 {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = dir.parent()?;
    }
    None
}
