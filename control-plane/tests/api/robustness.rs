//! Bad input gets a clear 4xx in the envelope, never a 500, and changes nothing.

use reqwest::Method;
use serde_json::Value;

use crate::helpers::{assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn malformed_json_is_400_and_wrong_content_type_is_415() {
    let app = spawn_app().await;
    let token = app.login().await;
    for raw in [
        "{",
        "{\"name\": }",
        "not json",
        "[1,2",
        "{\"name\":\"a\"} trailing",
    ] {
        let resp = app
            .req(Method::POST, "/instances", Some(&token))
            .header("Content-Type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_error(resp, 400, "INVALID_JSON").await;
    }
    let resp = app
        .req(Method::POST, "/instances", Some(&token))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("name=x")
        .send()
        .await
        .unwrap();
    assert_error(resp, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    // A JSON array where an object belongs is a type error on the body.
    let resp = app
        .req(Method::POST, "/instances", Some(&token))
        .header("Content-Type", "application/json")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_error(resp, 422, "VALIDATION_ERROR").await;
    let body: Value = app.get("/instances", &token).await.json().await.unwrap();
    assert!(body["data"]["instances"].as_array().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app_with(|c| c.max_body_bytes = 4096).await;
    let token = app.login().await;
    let big = format!("{{\"name\":\"{}\"}}", "x".repeat(10_000));
    let resp = app
        .req(Method::POST, "/instances", Some(&token))
        .header("Content-Type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_error(resp, 413, "PAYLOAD_TOO_LARGE").await;
    app.stop().await;
}

#[tokio::test]
async fn hostile_strings_are_stored_verbatim_not_executed() {
    let app = spawn_app().await;
    let token = app.login().await;
    let name = "'; DROP TABLE instances; -- <script>💥</script>";
    let inst = app.create_instance(&token, name).await;
    assert_eq!(inst["name"], name);
    let body: Value = app.get("/instances", &token).await.json().await.unwrap();
    assert_eq!(body["data"]["instances"][0]["name"], name);
    app.stop().await;
}
