use reqwest::Method;
use serde_json::Value;

use crate::helpers::{assert_error, spawn_app};

#[tokio::test]
async fn health_needs_no_auth_at_both_paths() {
    let app = spawn_app().await;
    for path in ["/health", "/api/v1/health"] {
        let resp = app.req(Method::GET, path, None).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], "ok");
        assert!(body["uptime"].is_u64());
        let ts = body["timestamp"].as_str().unwrap();
        assert!(ts.ends_with('Z') && ts.len() == 24, "{ts}");
    }
    app.stop().await;
}

#[tokio::test]
async fn unknown_routes_and_methods_use_the_envelope() {
    let app = spawn_app().await;
    let resp = app.req(Method::GET, "/nope", None).send().await.unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app
        .req(Method::DELETE, "/auth/login", None)
        .send()
        .await
        .unwrap();
    assert_error(resp, 405, "METHOD_NOT_ALLOWED").await;
    app.stop().await;
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let resp = app.req(Method::GET, "/health", None).send().await.unwrap();
    assert!(resp.headers().get("x-request-id").is_some());
    let resp = app
        .req(Method::GET, "/health", None)
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    app.stop().await;
}
