//! Set-up for the inbox tests: a tenant with a sandbox instance whose conversations are
//! filled by signed engine reports (`/webhooks/instance/{uuid}/incoming`), the same ingest
//! the nodes use. No node runs, so sends answer 503 `NODE_UNAVAILABLE` after their checks.

use reqwest::Method;
use secrecy::ExposeSecret;
use serde_json::{Value, json};

use crate::helpers::{TestApp, id_str, spawn_app_with};

pub struct Inbox {
    pub app: TestApp,
    pub token: String,
    pub instance: Value,
    pub uuid: String,
}

impl Inbox {
    pub async fn new() -> Inbox {
        Self::with_config(|_| {}).await
    }

    /// The inbox tests poll background work (transcriptions); the API rate limit (tested on its
    /// own elsewhere) is raised so a slow host cannot turn polling into 429s.
    pub async fn with_config(tweak: impl FnOnce(&mut control_plane::Config)) -> Inbox {
        Self::with(
            spawn_app_with(|c| {
                c.rate_limit_requests = 100_000;
                tweak(c);
            })
            .await,
        )
        .await
    }

    async fn with(app: TestApp) -> Inbox {
        let token = app.login().await;
        let instance = app.create_instance(&token, "Inbox").await;
        let uuid = instance["uuid"].as_str().unwrap().to_owned();
        Inbox {
            app,
            token,
            instance,
            uuid,
        }
    }

    pub fn instance_id(&self) -> String {
        id_str(&self.instance["id"])
    }

    /// Posts a signed engine report for `instance`.
    pub async fn report_to(&self, instance: &str, kind: &str, body: Value) -> Value {
        let bytes = serde_json::to_vec(&body).unwrap();
        let ts = chrono::Utc::now().timestamp();
        let sig = zapini_shared::signing::sign_timestamped_hex(
            self.app.services.node_secret.expose_secret().as_bytes(),
            ts,
            &bytes,
        );
        let resp = self
            .app
            .client
            .post(
                self.app
                    .url(&format!("/webhooks/instance/{instance}/{kind}")),
            )
            .header("content-type", "application/json")
            .header("x-webhook-timestamp", ts.to_string())
            .header("x-webhook-signature", sig)
            .body(bytes)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "report: {body}");
        body
    }

    /// A text from `from` (digits) with message id `id`, received at `ts` (Unix seconds).
    pub async fn inbound_at(&self, from: &str, id: &str, text: &str, name: &str, ts: i64) {
        let jid = format!("{from}@s.whatsapp.net");
        self.report_to(
            &self.uuid,
            "incoming",
            json!({
                "remoteJid": jid,
                "message": {"conversation": text},
                "messageTimestamp": ts,
                "pushName": name,
                "key": {"remoteJid": jid, "fromMe": false, "id": id}
            }),
        )
        .await;
    }

    pub async fn inbound(&self, from: &str, id: &str, text: &str) {
        self.inbound_at(from, id, text, "Maria", chrono::Utc::now().timestamp())
            .await;
    }

    /// A message this instance sent from the phone (reported as `fromMe`).
    pub async fn outbound(&self, to: &str, id: &str, text: &str) {
        let jid = format!("{to}@s.whatsapp.net");
        self.report_to(
            &self.uuid,
            "incoming",
            json!({
                "remoteJid": jid,
                "message": {"conversation": text},
                "messageTimestamp": chrono::Utc::now().timestamp(),
                "key": {"remoteJid": jid, "fromMe": true, "id": id}
            }),
        )
        .await;
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(&self.token, method, path, body).await
    }

    pub async fn call_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self.app.req(method, path, Some(token));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// The conversation UUID of a chat with `number`.
    pub async fn conversation_of(&self, number: &str) -> String {
        let list = self
            .get(&format!("/api/v1/conversations?search={number}"))
            .await;
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["contact_number"] == number)
            .unwrap_or_else(|| panic!("no conversation with {number}: {list}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}
