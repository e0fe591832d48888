//! The External Functions API against the real server: CRUD at both URL forms, the key shown
//! once, regenerate-key, `DUPLICATE_SLUG`, validation per action ([`crud`]); tenant and `sk_`
//! isolation on every route and `AI_AGENT_NOT_ENABLED` ([`scope`]); the call: one 401 for an
//! unknown slug and a wrong key, a disabled function, allowed addresses, the daily limit
//! under concurrency, placeholders, the body bound, contacts and pause/resume through the
//! existing services, the log with secrets redacted ([`call`]); the lead actions, ignored
//! until the Kanban service is joined ([`leads`]); the log's retention ([`retention`]).
//!
//! No node runs here: sends stop at `NODE_UNAVAILABLE` after every check of their own (the
//! end-to-end suite sends through the sandbox).

mod call;
mod crud;
mod document;
mod leads;
mod retention;
mod scope;

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::ai_functions::integration;
use crate::inbox_setup::Inbox;

/// A tenant with an instance and an active `ai_agent` integration; `X-Forwarded-For` is
/// trusted so a test can call from any address.
pub struct Xf {
    pub t: Inbox,
    pub integration: String,
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub headers: HeaderMap,
}

impl Xf {
    pub async fn new() -> Xf {
        Self::with(|_| {}).await
    }

    pub async fn with(tweak: impl FnOnce(&mut control_plane::Config)) -> Xf {
        let t = Inbox::with_config(|c| {
            c.trust_forwarded_for = true;
            tweak(c);
        })
        .await;
        let integration = integration(&t, &t.token, &t.uuid, "ai_agent").await;
        Xf { t, integration }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.t.call(method, path, body).await
    }

    pub fn body(&self, slug: &str, action: &str, config: Value) -> Value {
        json!({
            "instance_uuid": self.t.uuid,
            "name": format!("Function {slug}"),
            "slug": slug,
            "action_type": action,
            "config": config,
        })
    }

    /// Creates a function; answers (uuid, key).
    pub async fn create(&self, body: Value) -> (String, String) {
        let (status, created) = self
            .call(Method::POST, "/external-functions", Some(body))
            .await;
        assert_eq!(status, 201, "{created}");
        (
            created["data"]["uuid"].as_str().unwrap().to_owned(),
            created["data"]["api_key"].as_str().unwrap().to_owned(),
        )
    }

    /// A `send_message` function with `message_template`.
    pub async fn sender(&self, slug: &str, template: &str) -> (String, String) {
        self.create(self.body(slug, "send_message", json!({"message_template": template})))
            .await
    }

    /// Calls `slug` with `key` as a bearer token, from `ip` when given.
    pub async fn execute(
        &self,
        slug: &str,
        key: Option<&str>,
        body: Value,
        ip: Option<&str>,
    ) -> Answer {
        let mut req = self
            .t
            .app
            .req(
                Method::POST,
                &format!("/api/v1/external-functions/{slug}/execute"),
                key,
            )
            .json(&body);
        if let Some(ip) = ip {
            req = req.header("x-forwarded-for", ip);
        }
        answer(req.send().await.unwrap()).await
    }

    /// The function's log, newest first.
    pub async fn logs(&self, uuid: &str) -> Vec<Value> {
        self.t
            .get(&format!("/external-functions/{uuid}/logs?per_page=100"))
            .await["data"]
            .as_array()
            .unwrap()
            .clone()
    }
}

pub async fn answer(resp: reqwest::Response) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap();
    Answer {
        status,
        body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
        headers,
    }
}
