//! A real webhook receiver for the tests and the webhook benchmark: an HTTP server on a
//! loopback port that records every request (headers, exact body bytes, arrival time, the
//! status it answered) and answers with a scripted status sequence, then a default status.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use serde_json::Value;

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Received {
    /// Lowercase header names.
    pub headers: HashMap<String, String>,
    pub body: Bytes,
    pub at: Instant,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map_or("", String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// Builds a response body from a request body (a fake bot, a fake model).
pub type Responder = Arc<dyn Fn(&[u8]) -> Vec<u8> + Send + Sync>;

#[derive(Default)]
struct Script {
    next: VecDeque<u16>,
    default: u16,
    delay: Duration,
    responder: Option<Responder>,
}

#[derive(Default)]
struct Shared {
    log: Mutex<Vec<Received>>,
    script: Mutex<Script>,
    changed: tokio::sync::Notify,
}

/// A running receiver; stops when dropped.
pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// Listens on `127.0.0.1:0`, answering 200 until told otherwise.
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("receiver addr");
        let shared = Arc::new(Shared::default());
        shared
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .default = 200;
        let state = shared.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(state, req).await) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver {
            url: format!("http://{addr}/webhook"),
            shared,
            task,
        }
    }

    /// Answers the next requests with these statuses, in order, then the default.
    pub fn answer_next(&self, statuses: &[u16]) {
        self.shared
            .script
            .lock()
            .unwrap()
            .next
            .extend(statuses.iter().copied());
    }

    pub fn set_default(&self, status: u16) {
        self.shared
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .default = status;
    }

    /// Answers each request with the body `f` makes of the request's body (JSON).
    pub fn set_responder(&self, f: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static) {
        self.shared
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .responder = Some(Arc::new(f));
    }

    /// Waits this long before answering each request.
    pub fn set_delay(&self, delay: Duration) {
        self.shared
            .script
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .delay = delay;
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests answered with 2xx, in arrival order.
    pub fn delivered(&self) -> Vec<Received> {
        self.received().into_iter().filter(Received::ok).collect()
    }

    /// Waits until `pred` holds for the log, or panics after `timeout`.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&[Received]) -> bool,
    ) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let changed = self.shared.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let log = self.shared.log.lock().unwrap_or_else(|e| e.into_inner());
                if pred(&log) {
                    return log.clone();
                }
            }
            if tokio::time::timeout_at(deadline, changed).await.is_err() {
                let log = self.received();
                panic!(
                    "timed out waiting for {what}; received {} requests: {:?}",
                    log.len(),
                    log.iter()
                        .map(|r| (r.status, r.header("x-webhook-event").to_owned()))
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}

async fn handle(state: Arc<Shared>, req: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let (status, delay, responder) = {
        let mut script = state.script.lock().unwrap_or_else(|e| e.into_inner());
        let status = script.next.pop_front().unwrap_or(script.default);
        (status, script.delay, script.responder.clone())
    };
    let answer = match &responder {
        Some(f) => Bytes::from(f(&body)),
        None => Bytes::from_static(b"ok"),
    };
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    state
        .log
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Received {
            headers,
            body,
            at: Instant::now(),
            status,
        });
    state.changed.notify_waiters();
    Response::builder()
        .status(status)
        .header(
            "content-type",
            if responder.is_some() {
                "application/json"
            } else {
                "text/plain"
            },
        )
        .body(Full::new(answer))
        .expect("response")
}
