//! The AI Functions API against the real server and a real fake endpoint (axum on
//! 127.0.0.1:0): CRUD at both URL forms, validation naming fields and every error code of the
//! reference ([`crud`]); tenant and `sk_` scoping ([`scope`]); test executions: credentials
//! never shown or stored in clear, the query string, JSON body and auth headers as the
//! endpoint received them, a timeout, an oversized answer, an error answer, refused arguments,
//! the SSRF guard at save and at call time, `ACTIVE_EXECUTIONS` ([`execution`]); the
//! execution log and the agent's entry points ([`log`]); answers against the document
//! ([`document`]).

mod crud;
pub(crate) mod document;
mod execution;
mod log;
mod scope;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::{Notify, mpsc};

use crate::inbox_setup::Inbox;

pub const TOKEN: &str = "shop-secret-token-1234";
pub const PASSWORD: &str = "basic-pass-98765";
pub const API_KEY: &str = "key-abcdef-24680";

/// What the fake endpoint received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// A fake tenant endpoint: `/block` waits until released, `/slow` answers after 10 s,
/// `/big` answers 300 KiB, `/fail` 500, `/text` plain text; anything else 200 JSON that
/// echoes the credentials it got (so that redaction of answers is tested too).
pub struct Fake {
    pub base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    arrived: tokio::sync::Mutex<mpsc::UnboundedReceiver<String>>,
    pub release: Arc<Notify>,
}

impl Fake {
    pub async fn start() -> Fake {
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let release = Arc::new(Notify::new());
        let (tx, rx) = mpsc::unbounded_channel();
        let (s, r) = (seen.clone(), release.clone());
        let app = axum::Router::new().fallback(move |req: Request| {
            let (seen, release, tx) = (s.clone(), r.clone(), tx.clone());
            async move { answer(req, seen, release, tx).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Fake {
            base: format!("http://{addr}"),
            seen,
            arrived: tokio::sync::Mutex::new(rx),
            release,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn last(&self) -> Seen {
        self.requests()
            .last()
            .cloned()
            .expect("the endpoint was called")
    }

    /// Waits until a request for `path` arrived.
    pub async fn wait_for(&self, path: &str) {
        let mut rx = self.arrived.lock().await;
        loop {
            let got = tokio::time::timeout(Duration::from_secs(20), rx.recv())
                .await
                .expect("the endpoint was called in time")
                .unwrap();
            if got == path {
                return;
            }
        }
    }
}

async fn answer(
    req: Request,
    seen: Arc<Mutex<Vec<Seen>>>,
    release: Arc<Notify>,
    arrived: mpsc::UnboundedSender<String>,
) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let auth = parts
        .headers
        .get("authorization")
        .or_else(|| parts.headers.get("x-api-key"))
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        query: parts.uri.query().map(str::to_owned),
        headers: parts.headers.clone(),
        body,
    });
    let _ = arrived.send(path.clone());
    match path.as_str() {
        "/block" => {
            release.notified().await;
            axum::Json(json!({"released": true})).into_response()
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(10)).await;
            axum::Json(json!({"late": true})).into_response()
        }
        "/big" => "a".repeat(300 * 1024).into_response(),
        "/fail" => (
            StatusCode::INTERNAL_SERVER_ERROR,
            axum::Json(json!({"error": "boom"})),
        )
            .into_response(),
        "/text" => "plain answer".into_response(),
        _ => axum::Json(json!({"status": "shipped", "echo": auth, "query": parts.uri.query()}))
            .into_response(),
    }
}

/// A tenant with an instance, an active `ai_agent` integration, and private URLs allowed (the
/// fake endpoint is on loopback).
pub struct Ai {
    pub t: Inbox,
    pub integration: String,
}

impl Ai {
    pub async fn new() -> Ai {
        Self::setup(true).await
    }

    pub async fn setup(allow_private: bool) -> Ai {
        let t = Inbox::with_config(|c| c.allow_private_urls = allow_private).await;
        let integration = integration(&t, &t.token, &t.uuid, "ai_agent").await;
        Ai { t, integration }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.t.call(method, path, body).await
    }

    /// Creates a function; answers its UUID.
    pub async fn create(&self, body: Value) -> String {
        let (status, created) = self.call(Method::POST, "/ai-functions", Some(body)).await;
        assert_eq!(status, 201, "{created}");
        created["data"]["uuid"].as_str().unwrap().to_owned()
    }

    pub fn body(&self, name: &str, extra: Value) -> Value {
        let mut b = json!({
            "integration_uuid": self.integration,
            "name": name,
            "display_name": "Check Order Status",
            "description": "Checks the status of a customer order by order number",
            "type": "fetch_data",
        });
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    }

    pub async fn test(&self, uuid: &str, parameters: Value) -> Value {
        let (status, body) = self
            .call(
                Method::POST,
                &format!("/ai-functions/{uuid}/test"),
                Some(json!({"parameters": parameters})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["data"].clone()
    }
}

/// Creates an integration of `kind` on `instance`; answers its UUID.
pub async fn integration(t: &Inbox, token: &str, instance: &str, kind: &str) -> String {
    let (status, body) = t
        .call_as(
            token,
            Method::POST,
            "/automation/integrations",
            Some(json!({"instance_id": instance, "name": "Agent", "integration_type": kind})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["data"]["id"].as_str().unwrap().to_owned()
}

pub fn order_parameter() -> Value {
    json!([{
        "name": "order_number",
        "display_name": "Order Number",
        "description": "The customer order number",
        "type": "string",
        "is_required": true,
        "collect_from_user": true
    }])
}
