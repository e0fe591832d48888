//! Tenant-controlled endpoints that answer with more than anyone asked for: a webhook receiver
//! and an audio host whose bodies never end. Reads stop at their limits (64 KiB of a webhook
//! answer, 25 MB of audio), so memory does not grow, and the outcome is decided at once: the
//! webhook counts as delivered by its status, the transcription fails saying the audio is too
//! large.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::StatusCode;
use axum::routing::{get, post};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::inbox_setup::Inbox;

/// A body of 64 KiB chunks without end, counting what was produced.
fn endless(produced: Arc<AtomicUsize>) -> Body {
    let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
    Body::from_stream(futures::stream::repeat_with(move || {
        produced.fetch_add(chunk.len(), Ordering::SeqCst);
        Ok::<_, std::convert::Infallible>(chunk.clone())
    }))
}

/// `/hook` (200), `/hook-500` (500) and `/audio.ogg` (200), all with endless bodies.
async fn endless_server() -> (String, Arc<AtomicUsize>) {
    let produced = Arc::new(AtomicUsize::new(0));
    let (a, b, c) = (produced.clone(), produced.clone(), produced.clone());
    let app = axum::Router::new()
        .route("/hook", post(move || async move { endless(a) }))
        .route(
            "/hook-500",
            post(move || async move { (StatusCode::INTERNAL_SERVER_ERROR, endless(b)) }),
        )
        .route("/audio.ogg", get(move || async move { endless(c) }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), produced)
}

async fn wait_for<T>(what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answer_without_end_is_cut_at_64_kib() {
    let (base, produced) = endless_server().await;
    let t = Inbox::with_config(|c| {
        c.allow_private_urls = true;
        c.webhooks.allow_http = true;
        // Far longer than the test waits: the outcome must not come from the timeout.
        c.webhooks.timeout = Duration::from_secs(120);
    })
    .await;
    let id = t.instance_id();
    let mut kinds = Vec::new();
    for (path, from, msg) in [
        ("/hook", "5511900000001", "OK1"),
        ("/hook-500", "5511900000002", "ERR1"),
    ] {
        let (status, body) = t
            .call(
                Method::PUT,
                &format!("/instances/{id}/webhook"),
                Some(json!({"webhook_url": format!("{base}{path}"),
                    "webhook_secret": "hostile-secret-0001", "events": ["message.received"]})),
            )
            .await;
        assert!(status == 200 || status == 201, "{body}");
        t.inbound(from, msg, "hello").await;
        let delivery = wait_for("the delivery's outcome", async || {
            let list = t
                .get(&format!("/instances/{id}/webhook/deliveries?per_page=100"))
                .await;
            list["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|d| {
                    d["event"] == "message.received"
                        && d["attempts"].as_i64() >= Some(1)
                        && !kinds.iter().any(|k: &Value| k["id"] == d["id"])
                })
                .cloned()
        })
        .await;
        kinds.push(delivery);
    }
    assert_eq!(kinds[0]["status"], "delivered", "{}", kinds[0]);
    assert_eq!(kinds[0]["last_status_code"], 200);
    assert_ne!(kinds[1]["status"], "delivered", "{}", kinds[1]);
    assert_eq!(kinds[1]["last_status_code"], 500);
    let error = kinds[1]["last_error"].as_str().unwrap();
    assert!(error.starts_with("HTTP 500: xxx"), "{error}");
    // What was produced is the cap plus what socket buffers took, not an endless stream.
    let total = produced.load(Ordering::SeqCst);
    assert!(total < 32 << 20, "{total} bytes produced");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_without_end_is_refused_at_25_mb() {
    let (base, produced) = endless_server().await;
    let t = Inbox::with_config(|c| {
        c.allow_private_urls = true;
        c.transcription.base_url = format!("{base}/v1");
        c.transcription.api_key = Some(SecretString::from("sk-test-key"));
    })
    .await;
    let jid = "5511900000001@s.whatsapp.net";
    t.report_to(
        &t.uuid,
        "incoming",
        json!({
            "remoteJid": jid,
            "message": {"audioMessage": {"url": format!("{base}/audio.ogg"),
                "mimetype": "audio/ogg; codecs=opus", "ptt": true, "seconds": 2}},
            "messageTimestamp": chrono::Utc::now().timestamp(),
            "key": {"remoteJid": jid, "fromMe": false, "id": "HUGE1"}
        }),
    )
    .await;
    let (status, body) = t
        .call(Method::POST, "/chat/messages/HUGE1/transcription", None)
        .await;
    assert_eq!(status, 200, "{body}");
    let failed = wait_for("the transcription fails", async || {
        let body = t.get("/api/v1/chat/messages/HUGE1/transcription").await;
        (body["data"]["transcription_status"] == "failed").then_some(body)
    })
    .await;
    let error = failed["data"]["transcription_error"].as_str().unwrap();
    assert!(error.contains("larger than 25 MB"), "{error}");
    let total = produced.load(Ordering::SeqCst);
    assert!(total < 64 << 20, "{total} bytes produced");
}
