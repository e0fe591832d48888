//! The operations pages of the dashboard through the real server: an instance's webhook and
//! inbox settings with its live delivery log, replays that really deliver again to a real
//! receiver ([`webhooks`]); contacts with search, editing, import and export ([`contacts`]);
//! the account with its features, limits and the user's own API tokens ([`account`]);
//! external functions with their keys and call log ([`external_functions`]). Each checks
//! that the page shows what the API has, that each action changes what the API then
//! returns, that bad input is a 4xx naming the field, that another tenant's session gets 404
//! for our ids, and that a POST without the CSRF header is refused.

mod account;
mod contacts;
mod external_functions;
mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use reqwest::Method;

use crate::dashboard::Dash;

/// What the receiver got: lowercase header names and the body.
#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Hit {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str())
    }
}

#[derive(Default)]
struct Log {
    hits: Vec<Hit>,
    /// Statuses to answer next, in order; 200 once they are used up.
    script: Vec<u16>,
}

/// A real webhook receiver on 127.0.0.1:0: records every request and answers the scripted
/// statuses, then 200.
pub struct Receiver {
    pub url: String,
    log: Arc<Mutex<Log>>,
    arrived: tokio::sync::watch::Receiver<usize>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let log: Arc<Mutex<Log>> = Arc::default();
        let (tx, rx) = tokio::sync::watch::channel(0usize);
        let tx = Arc::new(tx);
        let shared = log.clone();
        let app = axum::Router::new().fallback(move |req: Request| {
            let (log, tx) = (shared.clone(), tx.clone());
            async move {
                let (parts, body) = req.into_parts();
                let body = axum::body::to_bytes(body, 1 << 20)
                    .await
                    .unwrap_or_default();
                let headers = parts
                    .headers
                    .iter()
                    .map(|(k, v)| {
                        (
                            k.as_str().to_owned(),
                            v.to_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect();
                let status = {
                    let mut log = log.lock().unwrap();
                    log.hits.push(Hit {
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    });
                    let status = if log.script.is_empty() {
                        200
                    } else {
                        log.script.remove(0)
                    };
                    tx.send_replace(log.hits.len());
                    status
                };
                StatusCode::from_u16(status).unwrap().into_response()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver {
            url: format!("http://{addr}/hook"),
            log,
            arrived: rx,
        }
    }

    /// Answers the next requests with these statuses.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.log.lock().unwrap().script.extend_from_slice(statuses);
    }

    pub fn hits(&self) -> Vec<Hit> {
        self.log.lock().unwrap().hits.clone()
    }

    /// Waits until `n` requests arrived in all, and answers the `n`th.
    pub async fn wait_for(&self, n: usize) -> Hit {
        let mut rx = self.arrived.clone();
        tokio::time::timeout(Duration::from_secs(20), rx.wait_for(|count| *count >= n))
            .await
            .unwrap_or_else(|_| panic!("request {n} did not arrive: {:?}", self.hits()))
            .unwrap();
        self.hits()[n - 1].clone()
    }
}

/// `s` as the templates escape it (minijinja escapes `/` too).
pub fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('/', "&#x2f;")
}

/// Polls `check` (a read of the API) until it answers `Some`, for up to 20 s.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The dashboard's live stream, open and ready.
pub struct Events {
    resp: reqwest::Response,
    seen: String,
}

impl Events {
    pub async fn open(dash: &Dash<'_>) -> Events {
        let resp = dash
            .req(Method::GET, "/dashboard/events")
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let mut events = Events {
            resp,
            seen: String::new(),
        };
        events.wait_for("event: ready").await;
        events
    }

    /// Waits for a line (`event: delivery`, or a data fragment) in what arrives from now on.
    pub async fn wait_for(&mut self, needle: &str) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(i) = self.seen.find(needle) {
                // The event's block, then forget it and what came before.
                let end = self.seen[i..]
                    .find("\n\n")
                    .map_or(self.seen.len(), |e| i + e);
                let block = self.seen[i..end].to_owned();
                self.seen.drain(..end);
                return block;
            }
            let chunk = tokio::time::timeout_at(deadline, self.resp.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {needle:?} on the live stream; saw {:?}", self.seen))
                .unwrap()
                .expect("the stream stays open");
            self.seen.push_str(&String::from_utf8_lossy(&chunk));
        }
    }
}

/// A POST without the CSRF header: refused with 403, whatever the form.
pub async fn assert_csrf_refused(dash: &Dash<'_>, path: &str, form: &[(&str, &str)]) {
    let resp = dash
        .req(Method::POST, path)
        .header("hx-request", "true")
        .form(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403, "{path}");
    assert!(resp.text().await.unwrap().contains("CSRF_FAILED"), "{path}");
}

/// Another tenant's dashboard session (its own admin).
pub async fn other_tenant<'a>(app: &'a crate::helpers::TestApp) -> (Dash<'a>, String) {
    let token = app.other_tenant_token("other@test.local").await;
    (
        Dash::sign_in(app, "other@test.local", "other-password-1").await,
        token,
    )
}
