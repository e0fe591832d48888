//! The set-up the end-to-end tests share: a control plane on a fresh database with an admin
//! signed in, sandbox instances with their in-process nodes (paired or offering a QR code), and
//! small request helpers.

use std::time::Duration;

use crate::{Api, ControlPlane, Node, config, eventually};
use reqwest::Method;
use serde_json::{Value, json};

pub const T: Duration = Duration::from_secs(30);

pub struct Setup {
    pub dir: tempfile::TempDir,
    pub cp: ControlPlane,
    pub api: Api,
    pub user: String,
}

pub async fn setup_with(tweak: impl FnOnce(&mut control_plane::Config)) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let mut config = config(dir.path()).await.unwrap();
    config.rate_limit_requests = 100_000;
    tweak(&mut config);
    let cp = ControlPlane::start(config).await.unwrap();
    let api = Api::default();
    let user = api.login(&cp).await;
    Setup { dir, cp, api, user }
}

pub async fn setup() -> Setup {
    setup_with(|_| {}).await
}

/// The `Host` header that routes a request to an instance's node through the control plane.
pub fn host(id: impl std::fmt::Display) -> String {
    format!("instance-{id}.localhost")
}

pub struct Paired {
    pub id: i64,
    pub uuid: uuid::Uuid,
    pub sk: String,
    pub node: Node,
}

/// A sandbox instance with its own in-process node, paired with `phone`.
pub async fn paired(s: &Setup, name: &str, phone: &str) -> Paired {
    paired_with(s, name, phone, |_| {}).await
}

/// [`paired`], with the node's configuration changed by `tweak` first.
pub async fn paired_with(
    s: &Setup,
    name: &str,
    phone: &str,
    tweak: impl FnOnce(&mut instance_node::config::NodeConfig),
) -> Paired {
    let p = unpaired_with(s, name, tweak).await;
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &p.node.url("/sandbox/scan"),
            Some(&p.sk),
            None,
            Some(json!({"phone_number": phone})),
        )
        .await;
    assert_eq!(status, 200, "scan: {body}");
    p
}

/// [`paired`], scanned through the control plane's edge routing: the sandbox's scan addressed
/// by the instance's host, as a client of the reference would reach it.
pub async fn paired_via_edge(s: &Setup, name: &str, phone: &str) -> Paired {
    let p = unpaired(s, name).await;
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/sandbox/scan"),
            Some(&p.sk),
            Some(&host(p.id)),
            Some(json!({"phone_number": phone})),
        )
        .await;
    assert_eq!(status, 200, "scan: {body}");
    p
}

/// A sandbox instance with its own in-process node, offering a QR code to scan.
pub async fn unpaired(s: &Setup, name: &str) -> Paired {
    unpaired_with(s, name, |_| {}).await
}

/// [`unpaired`], with the node's configuration changed by `tweak` first.
pub async fn unpaired_with(
    s: &Setup,
    name: &str,
    tweak: impl FnOnce(&mut instance_node::config::NodeConfig),
) -> Paired {
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, name).await;
    let sk = s.api.create_sk_token(&s.cp, &s.user, id).await;
    let mut config =
        s.cp.node_config(uuid, &s.dir.path().join(format!("node-{uuid}")));
    tweak(&mut config);
    let node = Node::start(config).await.unwrap();
    wait_registered(s, id).await;
    Paired { id, uuid, sk, node }
}

/// Waits until the control plane can reach the instance's node (it registered) and the node
/// offers a QR code; answers the QR response.
pub async fn wait_registered(s: &Setup, id: i64) -> Value {
    eventually(T, "node registered and offering a QR", || async {
        let (status, body) = s
            .api
            .call(
                Method::GET,
                &s.cp.url(&format!("/api/v1/instances/{id}/qr")),
                Some(&s.user),
                None,
                None,
            )
            .await;
        (status == 200 && body["data"]["status"] == "qr_ready").then_some(body)
    })
    .await
}

impl Setup {
    /// A request with the admin's token.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.api
            .call(method, &self.cp.url(path), Some(&self.user), None, body)
            .await
    }

    /// [`Setup::call`], asserting a 2xx answer; answers its body.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let (status, resp) = self.call(method.clone(), path, body).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {resp}"
        );
        resp
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        self.api
            .call(Method::GET, &self.cp.url(path), Some(token), None, None)
            .await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        self.api
            .call(
                Method::POST,
                &self.cp.url(path),
                Some(token),
                None,
                Some(body),
            )
            .await
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.api
            .call(method, &self.cp.url(path), Some(token), None, body)
            .await
    }

    /// A second tenant's admin token.
    pub async fn other_tenant(&self, email: &str) -> String {
        let db = control_plane::db::connect(&self.cp_config()).await.unwrap();
        let services = control_plane::service::Services::for_cli(db, self.cp_config());
        services
            .create_user(
                None,
                "Other",
                "Other Admin",
                email,
                "other-password-1",
                "admin",
            )
            .await
            .expect("create other tenant");
        let (status, body) = self
            .api
            .call(
                Method::POST,
                &self.cp.url("/api/v1/auth/login"),
                None,
                None,
                Some(json!({"email": email, "password": "other-password-1", "device_name": "t"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"]["token"].as_str().unwrap().to_owned()
    }

    pub fn cp_config(&self) -> control_plane::Config {
        self.cp.config()
    }
}

/// Waits for the instance's first conversation matching `pred` and returns (conversation,
/// messages).
pub async fn conversation_where(
    s: &Setup,
    instance: uuid::Uuid,
    pred: impl Fn(&Value) -> bool,
    min_messages: usize,
) -> (Value, Vec<Value>) {
    eventually(T, "the conversation and its messages", || async {
        let (status, body) = s
            .get(
                &format!("/api/v1/conversations?instance_id={instance}"),
                &s.user,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let conv = body["data"].as_array()?.iter().find(|c| pred(c))?.clone();
        let (status, body) = s
            .get(
                &format!(
                    "/api/v1/conversations/{}/messages?limit=100",
                    conv["id"].as_str()?
                ),
                &s.user,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let msgs = body["data"]["messages"].as_array()?.clone();
        (msgs.len() >= min_messages).then_some((conv, msgs))
    })
    .await
}
