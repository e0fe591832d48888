//! The node's Prometheus metrics: `/metrics` on its HTTP listener behind the token, on
//! `ZAPINI_NODE_METRICS_ADDR` without, and never forwarded to the control plane.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{FakeCp, TestNode, error_code};
use secrecy::SecretString;
use serde_json::json;

const METRICS_TOKEN: &str = "node-metrics-token-0123456789";

/// The value of the first sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_behind_the_token_show_the_buffer_and_the_process() {
    let cp = FakeCp::start().await;
    let node = TestNode::start_with(&cp, |c| {
        c.metrics.token = Some(SecretString::from(METRICS_TOKEN));
        c.metrics.addr = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    node.wait_ready(&cp).await;
    let (status, body) = node
        .post("/sandbox/scan", json!({"phone_number": "5511900000001"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = node
        .post(
            "/send-message",
            json!({"recipient": "5511999999999", "message": "metered"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let metrics = node.url("/metrics");
    for token in [
        None,
        Some("node-metrics-token-012345678X"),
        Some(common::TOKEN),
    ] {
        let mut req = node.http.get(&metrics);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{token:?}");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer");
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(error_code(&body), "UNAUTHENTICATED");
    }
    let resp = node
        .http
        .get(&metrics)
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = resp.text().await.unwrap();
    assert!(
        sample(&text, "zapini_node_buffer_bytes ").is_some_and(|b| b > 0.0),
        "{text}"
    );
    for name in [
        "zapini_node_buffer_unacked_events ",
        "zapini_node_buffer_unsynced_events ",
        "zapini_node_buffer_written_events_total ",
        "zapini_node_buffer_acked_events_total ",
        "zapini_node_pacing_queued_sends ",
    ] {
        assert!(sample(&text, name).is_some(), "{name} in:\n{text}");
    }
    assert!(
        sample(&text, "zapini_node_buffer_written_events_total ").is_some_and(|n| n >= 3.0),
        "{text}"
    );
    assert!(
        sample(&text, "zapini_process_resident_memory_bytes ").is_some_and(|b| b > 0.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "zapini_http_requests_total{route=\"/send-message\",method=\"POST\",status=\"200\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "zapini_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"}"
        )
        .is_some_and(|n| n >= 3.0),
        "{text}"
    );

    // Its own address serves without a token.
    let open = format!("http://{}/metrics", node.metrics.unwrap());
    let resp = node.http.get(&open).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains("zapini_node_buffer_bytes ")
    );
    node.shutdown().await;
}

#[tokio::test]
async fn without_a_token_metrics_are_not_found_and_never_forwarded() {
    let cp = FakeCp::start().await;
    // The control-plane HTTP API the node forwards unknown paths to counts what reaches it.
    let reached = Arc::new(AtomicUsize::new(0));
    let counter = reached.clone();
    let api = axum::Router::new().fallback(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { "forwarded" }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, api).await });
    let node = TestNode::start_with(&cp, |c| {
        c.control_plane_url = reqwest::Url::parse(&format!("http://{api_addr}")).unwrap();
    })
    .await;
    let resp = node
        .http
        .get(node.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "NOT_FOUND");
    // The forwarding itself works (so the 404 above is the node's own).
    let resp = node
        .http
        .get(node.url("/api/v1/anything"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.text().await.unwrap(), "forwarded");
    assert_eq!(reached.load(Ordering::SeqCst), 1);
    node.shutdown().await;
}
