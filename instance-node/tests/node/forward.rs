//! Paths outside the hot path are forwarded to the control plane's HTTP API.

use crate::common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use common::{FakeCp, TestNode, error_code};
use serde_json::json;

#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    headers: HeaderMap,
    body: Bytes,
}

async fn fake_http_cp() -> (SocketAddr, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    let app = Router::new().fallback(move |req: Request| {
        let record = record.clone();
        async move {
            let (parts, body) = req.into_parts();
            let body = axum::body::to_bytes(body, usize::MAX).await.unwrap();
            record.lock().unwrap().push(Seen {
                method: parts.method.to_string(),
                uri: parts.uri.to_string(),
                headers: parts.headers,
                body,
            });
            (
                StatusCode::CREATED,
                [("x-upstream", "cp"), ("content-type", "application/json")],
                r#"{"success":true,"data":{"id":1}}"#,
            )
                .into_response()
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, seen)
}

#[tokio::test]
async fn unknown_paths_are_forwarded_with_method_query_body_and_headers() {
    let cp = FakeCp::start().await;
    let (http_cp, seen) = fake_http_cp().await;
    let node = TestNode::start_with(&cp, |c| {
        c.control_plane_url = reqwest::Url::parse(&format!("http://{http_cp}")).unwrap();
    })
    .await;

    let resp = node
        .http
        .patch(node.url("/api/v1/contacts/42?include=tags&x=%20y"))
        .bearer_auth("1|user-token")
        .header("x-custom", "kept")
        .header("content-type", "application/json")
        .body(r#"{"name":"Ana"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    assert_eq!(resp.headers()["x-upstream"], "cp");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body, json!({"success": true, "data": {"id": 1}}));

    // A node path with another method is the node's own answer, never forwarded (the
    // control plane would send it straight back: a loop).
    let resp = node
        .http
        .get(node.url("/send-message"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(resp.headers()["allow"], "POST");

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    let first = &seen[0];
    assert_eq!(first.method, "PATCH");
    assert_eq!(first.uri, "/api/v1/contacts/42?include=tags&x=%20y");
    assert_eq!(first.body, Bytes::from_static(br#"{"name":"Ana"}"#));
    assert_eq!(first.headers["authorization"], "Bearer 1|user-token");
    assert_eq!(first.headers["x-custom"], "kept");
    assert_eq!(
        first.headers["x-forwarded-host"],
        node.base.trim_start_matches("http://")
    );
    assert_eq!(first.headers["x-forwarded-for"], "127.0.0.1");
    assert_eq!(first.headers["host"], http_cp.to_string());
    node.shutdown().await;
}

#[tokio::test]
async fn control_plane_http_down_is_503_in_the_envelope() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    let resp = node
        .http
        .get(node.url("/api/v1/instances"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE");
    node.shutdown().await;
}
