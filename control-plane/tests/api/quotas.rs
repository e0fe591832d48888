//! Tenant quotas: instances, active `sk_` tokens and stored media bytes, from the configured
//! defaults and from a tenant's own overrides; a tenant-wide request budget shared by all
//! its tokens.

use control_plane::service::quotas::{Override, QuotaChange};
use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_error, id_str, spawn_app_with};

#[tokio::test]
async fn instances_past_the_quota_are_refused_and_an_override_lifts_it() {
    let app = spawn_app_with(|c| c.tenancy.quota_instances = 2).await;
    let token = app.login().await;
    app.create_instance(&token, "one").await;
    let second = app.create_instance(&token, "two").await;
    let body = assert_error(
        app.post(
            "/api/v1/instances",
            &token,
            json!({"name": "three", "engine": "sandbox"}),
        )
        .await,
        403,
        "QUOTA_EXCEEDED",
    )
    .await;
    assert_eq!(body["error"]["details"]["quota"], "instances");
    assert_eq!(body["error"]["details"]["limit"], 2);
    assert_eq!(body["error"]["details"]["used"], 2);
    // Another tenant has its own quota.
    let other = app.other_tenant_token("q@other.local").await;
    app.create_instance(&other, "theirs").await;

    // Deleting one frees a place.
    let resp = app
        .req(
            Method::DELETE,
            &format!("/instances/{}", id_str(&second["id"])),
            Some(&token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    app.create_instance(&token, "two again").await;

    // The tenant's own quota (0 = unlimited) wins over the default.
    let tenant = app
        .services
        .tenant_by_uuid(tenant_uuid(&app, &token).await)
        .await
        .unwrap();
    app.services
        .set_tenant_quota(
            tenant,
            QuotaChange {
                instances: Some(Override::Value(0)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.create_instance(&token, "three").await;
    app.services
        .set_tenant_quota(
            tenant,
            QuotaChange {
                instances: Some(Override::Value(3)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_error(
        app.post(
            "/api/v1/instances",
            &token,
            json!({"name": "four", "engine": "sandbox"}),
        )
        .await,
        403,
        "QUOTA_EXCEEDED",
    )
    .await;
    let limits = app.services.tenant_limits(tenant).await.unwrap();
    assert_eq!(limits.instances, Some(3));
    assert_eq!(
        app.services.tenant_usage(tenant).await.unwrap().instances,
        3
    );
    app.stop().await;
}

async fn tenant_uuid(app: &crate::helpers::TestApp, token: &str) -> uuid::Uuid {
    let body: Value = app.get("/auth/me", token).await.json().await.unwrap();
    let id = body["data"]["tenant"]["uuid"]
        .as_str()
        .or_else(|| body["data"]["tenant"]["id"].as_str())
        .unwrap_or_else(|| panic!("tenant uuid in /auth/me: {body}"));
    id.parse().unwrap()
}

#[tokio::test]
async fn instance_tokens_past_the_quota_are_refused_until_one_is_revoked() {
    let app = spawn_app_with(|c| c.tenancy.quota_instance_tokens = 2).await;
    let token = app.login().await;
    let a = app.create_instance(&token, "a").await;
    let b = app.create_instance(&token, "b").await;
    app.create_sk(&token, &a["id"]).await;
    app.create_sk(&token, &b["id"]).await;
    let body = assert_error(
        app.post(
            &format!("/api/v1/instances/{}/tokens", id_str(&a["id"])),
            &token,
            json!({"name": "third"}),
        )
        .await,
        403,
        "QUOTA_EXCEEDED",
    )
    .await;
    assert_eq!(body["error"]["details"]["quota"], "instance_tokens");
    let list: Value = app
        .get(
            &format!("/api/v1/instances/{}/tokens", id_str(&a["id"])),
            &token,
        )
        .await
        .json()
        .await
        .unwrap();
    let token_id = id_str(&list["data"]["tokens"][0]["id"]);
    let resp = app
        .req(
            Method::DELETE,
            &format!("/api/v1/instances/{}/tokens/{token_id}", id_str(&a["id"])),
            Some(&token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    app.create_sk(&token, &a["id"]).await;
    app.stop().await;
}

fn png(len: usize) -> Vec<u8> {
    let mut bytes =
        b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    bytes.resize(len, 0);
    bytes
}

async fn upload(app: &crate::helpers::TestApp, token: &str, len: usize) -> reqwest::Response {
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png(len))
            .file_name("p.png")
            .mime_str("image/png")
            .unwrap(),
    );
    app.req(Method::POST, "/api/v1/media/upload", Some(token))
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn media_past_the_storage_quota_is_refused_and_not_kept() {
    let app = spawn_app_with(|c| c.tenancy.quota_media_bytes = 100_000).await;
    let token = app.login().await;
    let resp = upload(&app, &token, 60_000).await;
    assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
    // 60 000 + 60 000 > 100 000: refused while streaming.
    let body = assert_error(upload(&app, &token, 60_000).await, 403, "QUOTA_EXCEEDED").await;
    assert_eq!(body["error"]["details"]["quota"], "media_bytes");
    assert_eq!(body["error"]["details"]["limit"], 100_000);
    assert_eq!(body["error"]["details"]["used"], 60_000);
    // What fits is still accepted; then nothing more.
    assert_eq!(upload(&app, &token, 40_000).await.status(), 201);
    assert_error(upload(&app, &token, 1_000).await, 403, "QUOTA_EXCEEDED").await;
    let tenant = app
        .services
        .tenant_by_uuid(tenant_uuid(&app, &token).await)
        .await
        .unwrap();
    assert_eq!(
        app.services.tenant_usage(tenant).await.unwrap().media_bytes,
        100_000
    );
    app.stop().await;
}

/// N tokens do not get N times the budget: the tenant's is shared.
#[tokio::test]
async fn the_tenant_budget_is_shared_by_all_its_tokens() {
    let app = spawn_app_with(|c| {
        c.rate_limit_requests = 4;
        c.tenancy.tenant_rate_limit_requests = 6;
    })
    .await;
    let first = app.login().await;
    let second = app.login().await;
    for _ in 0..4 {
        assert_eq!(app.get("/instances", &first).await.status(), 200);
    }
    // The first token's own budget is spent; the tenant has 2 left.
    assert_error(
        app.get("/instances", &first).await,
        429,
        "RATE_LIMIT_EXCEEDED",
    )
    .await;
    for _ in 0..2 {
        assert_eq!(app.get("/instances", &second).await.status(), 200);
    }
    let resp = app.get("/instances", &second).await;
    assert_eq!(resp.headers()["x-ratelimit-limit"], "6");
    assert!(resp.headers().get("retry-after").is_some());
    assert_error(resp, 429, "RATE_LIMIT_EXCEEDED").await;
    // A new token draws from the same budget.
    let third = app.login().await;
    assert_error(
        app.get("/instances", &third).await,
        429,
        "RATE_LIMIT_EXCEEDED",
    )
    .await;
    // Another tenant is not affected.
    let other = app.other_tenant_token("rl@other.local").await;
    assert_eq!(app.get("/instances", &other).await.status(), 200);
    app.stop().await;
}
