//! Test harness: a fake control plane (a real tonic `ControlPlane` server on port 0 that
//! registers nodes, records and acks streamed events, answers token checks from a map and can
//! push revocations), a fake control-plane HTTP API that records forwarded requests, and a
//! helper that runs a real node in-process.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use instance_node::config::RetryPolicy;
use instance_node::{NodeApp, NodeConfig, NodeListeners};
use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};
use uuid::Uuid;
use zapini_proto::v1;
use zapini_proto::v1::control_plane_server::{ControlPlane, ControlPlaneServer};
use zapini_shared::signing::sha256_hex;

/// The node's credential (`ZAPINI_NODE_CREDENTIAL`: 64 hex characters).
pub const SECRET: &str = "7e57c0ffee7e57c0ffee7e57c0ffee7e57c0ffee7e57c0ffee7e57c0ffee7e57";
pub const TOKEN: &str = "sk_test_token_0123456789";
pub const WAIT: Duration = Duration::from_secs(15);

/// Everything the fake control plane remembers; survives a stop/start.
#[derive(Default)]
pub struct CpState {
    pub refuse: Option<tonic::Code>,
    /// Registrations refused so far.
    pub refusals: u32,
    pub registrations: Vec<v1::RegisterRequest>,
    pub hellos: Vec<v1::StreamHello>,
    /// Committed events by seq (duplicates from replays collapse).
    pub events: BTreeMap<u64, v1::Event>,
    /// Every event received, replays included.
    pub received: u64,
    pub acked: u64,
    pub tokens: HashMap<String, v1::AuthorizeTokenResponse>,
    pub authorize_calls: u64,
    pub policy: Option<v1::Policy>,
    pub renewals: u64,
}

/// A serving fake: its stop signal, its stream-kill switch and its task.
type Running = (oneshot::Sender<()>, watch::Sender<bool>, JoinHandle<()>);

pub struct FakeCp {
    pub state: Arc<Mutex<CpState>>,
    version: watch::Sender<u64>,
    push: broadcast::Sender<v1::ControlMessage>,
    pub addr: SocketAddr,
    running: Mutex<Option<Running>>,
}

#[derive(Clone)]
struct Service {
    state: Arc<Mutex<CpState>>,
    version: watch::Sender<u64>,
    push: broadcast::Sender<v1::ControlMessage>,
    kill: watch::Receiver<bool>,
}

impl Service {
    fn check(&self, meta: &tonic::metadata::MetadataMap) -> Result<(), Status> {
        let expected = format!("Bearer {SECRET}");
        match meta.get("authorization").and_then(|v| v.to_str().ok()) {
            Some(v) if v == expected => Ok(()),
            _ => Err(Status::unauthenticated("bad node secret")),
        }
    }

    fn bump(&self) {
        self.version.send_modify(|v| *v += 1);
    }
}

#[tonic::async_trait]
impl ControlPlane for Service {
    async fn register(
        &self,
        request: Request<v1::RegisterRequest>,
    ) -> Result<Response<v1::RegisterResponse>, Status> {
        self.check(request.metadata())?;
        let req = request.into_inner();
        let resp = {
            let mut st = self.state.lock().unwrap();
            if let Some(code) = st.refuse {
                st.refusals += 1;
                return Err(Status::new(code, "refused by the fake control plane"));
            }
            st.registrations.push(req.clone());
            v1::RegisterResponse {
                instance: None,
                lease_id: format!("lease-{}", st.registrations.len()),
                lease_ttl_secs: 15,
                policy: st.policy.clone(),
                acked_seq: st.acked,
            }
        };
        self.bump();
        Ok(Response::new(resp))
    }

    async fn renew_lease(
        &self,
        request: Request<v1::RenewLeaseRequest>,
    ) -> Result<Response<v1::RenewLeaseResponse>, Status> {
        self.check(request.metadata())?;
        self.state.lock().unwrap().renewals += 1;
        Ok(Response::new(v1::RenewLeaseResponse {
            renewed: true,
            lease_ttl_secs: 15,
        }))
    }

    type EventsStream = ReceiverStream<Result<v1::ControlMessage, Status>>;

    async fn events(
        &self,
        request: Request<Streaming<v1::NodeMessage>>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        self.check(request.metadata())?;
        let mut inbound = request.into_inner();
        let (tx, rx) = mpsc::channel(64);
        let svc = self.clone();
        let mut push = self.push.subscribe();
        let mut kill = self.kill.clone();
        tokio::spawn(async move {
            let killed = async move {
                let _ = kill.wait_for(|k| *k).await;
            };
            tokio::pin!(killed);
            loop {
                tokio::select! {
                    () = &mut killed => return,
                    msg = push.recv() => {
                        if let Ok(msg) = msg && tx.send(Ok(msg)).await.is_err() {
                            return;
                        }
                    }
                    msg = inbound.message() => {
                        let Ok(Some(msg)) = msg else { return };
                        let ack = {
                            let mut st = svc.state.lock().unwrap();
                            match msg.kind {
                                Some(v1::node_message::Kind::Hello(h)) => {
                                    st.hellos.push(h);
                                    None
                                }
                                Some(v1::node_message::Kind::Event(ev)) => {
                                    st.received += 1;
                                    if ev.seq > st.acked {
                                        st.acked = ev.seq;
                                        st.events.insert(ev.seq, ev);
                                    }
                                    Some(st.acked)
                                }
                                None => None,
                            }
                        };
                        svc.bump();
                        if let Some(up_to_seq) = ack {
                            let msg = v1::ControlMessage {
                                kind: Some(v1::control_message::Kind::Ack(v1::Ack { up_to_seq })),
                            };
                            if tx.send(Ok(msg)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn authorize_token(
        &self,
        request: Request<v1::AuthorizeTokenRequest>,
    ) -> Result<Response<v1::AuthorizeTokenResponse>, Status> {
        self.check(request.metadata())?;
        let req = request.into_inner();
        let mut st = self.state.lock().unwrap();
        st.authorize_calls += 1;
        let resp = st
            .tokens
            .get(&req.token_hash)
            .cloned()
            .unwrap_or(v1::AuthorizeTokenResponse {
                allowed: false,
                reason: "unknown token".into(),
                ..Default::default()
            });
        Ok(Response::new(resp))
    }
}

impl FakeCp {
    /// Starts a fake control plane on a free port.
    pub async fn start() -> Arc<FakeCp> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (version, _) = watch::channel(0);
        let (push, _) = broadcast::channel(64);
        let cp = Arc::new(FakeCp {
            state: Arc::new(Mutex::new(CpState::default())),
            version,
            push,
            addr,
            running: Mutex::new(None),
        });
        cp.serve(listener);
        cp
    }

    fn serve(&self, listener: std::net::TcpListener) {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let (stop_tx, stop_rx) = oneshot::channel::<()>();
        let (kill_tx, kill_rx) = watch::channel(false);
        let svc = Service {
            state: self.state.clone(),
            version: self.version.clone(),
            push: self.push.clone(),
            kill: kill_rx,
        };
        let handle = tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(ControlPlaneServer::new(svc))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = stop_rx.await;
                })
                .await;
        });
        *self.running.lock().unwrap() = Some((stop_tx, kill_tx, handle));
    }

    /// The gRPC URL nodes use.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving (streams end, the port closes).
    pub async fn stop(&self) {
        let running = self.running.lock().unwrap().take();
        if let Some((stop, kill, handle)) = running {
            let _ = stop.send(());
            let _ = kill.send(true);
            let abort = handle.abort_handle();
            if tokio::time::timeout(Duration::from_secs(3), handle)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }

    /// Serves again on the same port.
    pub async fn restart(&self) {
        let mut last = None;
        for _ in 0..50 {
            match std::net::TcpListener::bind(self.addr) {
                Ok(l) => {
                    self.serve(l);
                    return;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!("cannot rebind {}: {last:?}", self.addr);
    }

    pub fn set_refuse(&self, code: Option<tonic::Code>) {
        self.state.lock().unwrap().refuse = code;
    }

    pub fn set_policy(&self, policy: v1::Policy) {
        self.state.lock().unwrap().policy = Some(policy);
    }

    /// Registers an `sk_` token as allowed for `instance`.
    pub fn allow_token(&self, token: &str, instance: Uuid) {
        self.state.lock().unwrap().tokens.insert(
            sha256_hex(token.as_bytes()),
            v1::AuthorizeTokenResponse {
                allowed: true,
                token_id: "tok".into(),
                token_instance_uuid: instance.to_string(),
                expires_at: 0,
                reason: String::new(),
                kind: "instance".into(),
            },
        );
    }

    /// Registers an `sk_` token that belongs to another instance.
    pub fn other_instance_token(&self, token: &str, other: Uuid) {
        self.state.lock().unwrap().tokens.insert(
            sha256_hex(token.as_bytes()),
            v1::AuthorizeTokenResponse {
                allowed: false,
                token_id: "tok2".into(),
                token_instance_uuid: other.to_string(),
                expires_at: 0,
                reason: "token of another instance".into(),
                kind: "instance".into(),
            },
        );
    }

    /// Revokes a token: forgets it and pushes `TokenRevoked` down every stream.
    pub fn revoke(&self, token: &str) {
        let hash = sha256_hex(token.as_bytes());
        self.state.lock().unwrap().tokens.remove(&hash);
        let _ = self.push.send(v1::ControlMessage {
            kind: Some(v1::control_message::Kind::TokenRevoked(v1::TokenRevoked {
                token_hash: hash,
            })),
        });
    }

    /// Pushes a control message down every open stream.
    pub fn push(&self, msg: v1::ControlMessage) {
        let _ = self.push.send(msg);
    }

    /// Number of open streams that will receive pushes.
    pub fn stream_count(&self) -> usize {
        self.push.receiver_count()
    }

    /// Waits (without polling sleeps) until `cond` holds on the state.
    pub async fn wait_until(&self, what: &str, cond: impl Fn(&CpState) -> bool) {
        let mut rx = self.version.subscribe();
        let result = tokio::time::timeout(WAIT, async {
            loop {
                if cond(&self.state.lock().unwrap()) {
                    return;
                }
                if rx.changed().await.is_err() {
                    return;
                }
            }
        })
        .await;
        assert!(result.is_ok(), "timed out waiting for: {what}");
    }

    /// Committed events, in seq order.
    pub fn events(&self) -> Vec<v1::Event> {
        self.state
            .lock()
            .unwrap()
            .events
            .values()
            .cloned()
            .collect()
    }
}

/// A node running in-process.
pub struct TestNode {
    pub instance: Uuid,
    pub base: String,
    pub grpc: SocketAddr,
    /// Where `ZAPINI_NODE_METRICS_ADDR` serves, when the config asked for it.
    pub metrics: Option<SocketAddr>,
    pub http: reqwest::Client,
    pub data_dir: Arc<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<anyhow::Result<()>>>,
}

pub fn node_config(
    cp: &FakeCp,
    instance: Uuid,
    dir: &std::path::Path,
    cp_http: Option<&str>,
) -> NodeConfig {
    let cp_http = cp_http.unwrap_or("http://127.0.0.1:9");
    let mut config = NodeConfig::sandbox(
        instance,
        SECRET,
        cp.url(),
        reqwest::Url::parse(cp_http).unwrap(),
        dir,
    );
    config.retry = RetryPolicy {
        initial: Duration::from_millis(100),
        max: Duration::from_secs(1),
        lease_patience: Duration::from_secs(1),
    };
    config
}

impl TestNode {
    pub async fn start(cp: &FakeCp) -> TestNode {
        Self::start_with(cp, |_| {}).await
    }

    pub async fn start_with(cp: &FakeCp, tweak: impl FnOnce(&mut NodeConfig)) -> TestNode {
        let instance = Uuid::new_v4();
        cp.allow_token(TOKEN, instance);
        let data_dir = Arc::new(tempfile::tempdir().unwrap());
        let mut config = node_config(cp, instance, data_dir.path(), None);
        tweak(&mut config);
        Self::run(config, data_dir)
    }

    pub fn run(config: NodeConfig, data_dir: Arc<tempfile::TempDir>) -> TestNode {
        let instance = config.instance_id;
        let listeners = NodeListeners {
            http: std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
            grpc: std::net::TcpListener::bind("127.0.0.1:0").unwrap(),
            metrics: config
                .metrics
                .addr
                .map(|a| std::net::TcpListener::bind(a).unwrap()),
        };
        let app = NodeApp::build(config, listeners).unwrap();
        let base = format!("http://{}", app.http_addr());
        let grpc = app.grpc_addr();
        let metrics = app.metrics_addr();
        let (stop, stop_rx) = oneshot::channel::<()>();
        let task = tokio::spawn(app.run(async {
            let _ = stop_rx.await;
        }));
        TestNode {
            instance,
            base,
            grpc,
            metrics,
            http: reqwest::Client::new(),
            data_dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs JSON with the test token; returns (status, body).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_as(path, TOKEN, body).await
    }

    pub async fn post_as(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// Waits until the node has registered and the sandbox shows a QR (the engine started).
    pub async fn wait_ready(&self, cp: &FakeCp) {
        let id = self.instance.to_string();
        cp.wait_until("registration", |s| {
            s.registrations.iter().any(|r| r.instance_uuid == id)
        })
        .await;
        cp.wait_until("a QR event", |s| {
            s.events
                .values()
                .any(|e| matches!(e.kind, Some(v1::event::Kind::Qr(_))))
        })
        .await;
    }

    /// Registers, then pairs the sandbox with a phone number.
    pub async fn paired(cp: &FakeCp) -> TestNode {
        let node = TestNode::start(cp).await;
        node.wait_ready(cp).await;
        let (status, body) = node
            .post(
                "/sandbox/scan",
                serde_json::json!({"phone_number": "5511900000001", "push_name": "Bot"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        node
    }
}

/// Asserts the reference error envelope and returns the code.
pub fn error_code(body: &Value) -> String {
    assert_eq!(body["success"], Value::Bool(false), "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(body["error"]["details"].is_object(), "{body}");
    body["error"]["code"].as_str().unwrap().to_owned()
}
