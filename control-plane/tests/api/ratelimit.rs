use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::Value;

use crate::helpers::{apply_env, assert_error, spawn_app_with, spawn_with_config, test_config};

#[tokio::test]
async fn budget_headers_count_down_and_429_when_spent() {
    let app = spawn_app_with(|c| c.rate_limit_requests = 5).await;
    let token = app.login().await;
    let mut last_remaining = None;
    for _ in 0..5 {
        let resp = app.get("/instances", &token).await;
        assert_eq!(resp.status(), 200);
        let h = resp.headers();
        assert_eq!(h["x-ratelimit-limit"], "5");
        let remaining: u64 = h["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
        assert!(reset > chrono::Utc::now().timestamp() as u64 - 1);
        if let Some(prev) = last_remaining {
            assert_eq!(remaining + 1, prev);
        }
        last_remaining = Some(remaining);
    }
    let resp = app.get("/instances", &token).await;
    let retry: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry));
    assert_eq!(resp.headers()["x-ratelimit-remaining"], "0");
    assert_error(resp, 429, "RATE_LIMIT_EXCEEDED").await;

    // Another token has its own budget.
    let other = app.login().await;
    assert_eq!(app.get("/instances", &other).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn tenant_budget_applies_from_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    apply_env(&mut config).await;
    let app = spawn_with_config(config, dir).await;
    let backend = app.services.db.get_database_backend();
    app.services
        .db
        .execute_raw(Statement::from_string(
            backend,
            "UPDATE tenants SET rate_limit_requests = 3".to_owned(),
        ))
        .await
        .unwrap();
    let token = app.login().await;
    for _ in 0..3 {
        let resp = app.get("/instances", &token).await;
        assert_eq!(resp.headers()["x-ratelimit-limit"], "3");
        assert_eq!(resp.status(), 200);
    }
    assert_error(
        app.get("/instances", &token).await,
        429,
        "RATE_LIMIT_EXCEEDED",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn unauthenticated_requests_are_limited_per_address() {
    let app = spawn_app_with(|c| c.rate_limit_requests = 3).await;
    for _ in 0..3 {
        let resp = app
            .req(Method::GET, "/instances", None)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
        assert!(resp.headers().get("x-ratelimit-remaining").is_some());
    }
    let resp = app
        .req(Method::GET, "/instances", None)
        .send()
        .await
        .unwrap();
    assert_error(resp, 429, "RATE_LIMIT_EXCEEDED").await;
    // Health is never limited.
    let resp = app.req(Method::GET, "/health", None).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    app.stop().await;
}

/// With Redis, two replicas draw from one budget; in-process, each replica has its own.
#[tokio::test]
async fn replicas_share_the_budget_only_through_redis() {
    let first = spawn_app_with(|c| c.rate_limit_requests = 4).await;
    let token = first.login().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    // Same database and (if any) the same Redis prefix: a second replica.
    config.database = first.services.config.database.clone();
    config.redis_url = first.services.config.redis_url.clone();
    config.redis_prefix = first.services.config.redis_prefix.clone();
    config.rate_limit_requests = 4;
    let second = spawn_with_config(config, dir).await;
    for app in [&first, &second] {
        for _ in 0..2 {
            assert_eq!(app.get("/instances", &token).await.status(), 200);
        }
    }
    let resp = second.get("/instances", &token).await;
    if first.services.config.redis_url.is_some() {
        assert_error(resp, 429, "RATE_LIMIT_EXCEEDED").await;
    } else {
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["success"], true);
    }
    second.stop().await;
    first.stop().await;
}
