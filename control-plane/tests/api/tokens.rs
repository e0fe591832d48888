use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_error, id_str, spawn_app};

#[tokio::test]
async fn create_list_and_revoke_instance_tokens() {
    let app = spawn_app().await;
    let token = app.login().await;
    let inst = app.create_instance(&token, "bot").await;
    let path = format!("/api/v1/instances/{}/tokens", inst["id"]);
    let resp = app.post(&path, &token, json!({"name": "My bot"})).await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    let created = &body["data"];
    let sk = created["token"].as_str().unwrap().to_owned();
    assert!(sk.starts_with("sk_") && sk.len() > 40);
    assert_eq!(created["name"], "My bot");
    let token_id = created["id"].as_str().unwrap().to_owned();

    // Listed masked: the plaintext never appears again.
    let resp = app.get(&path, &token).await;
    let text = resp.text().await.unwrap();
    assert!(!text.contains(&sk));
    let body: Value = serde_json::from_str(&text).unwrap();
    let tokens = body["data"]["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    let masked = tokens[0]["token_masked"].as_str().unwrap();
    assert!(masked.starts_with(&sk[..7]) && masked.ends_with(&sk[sk.len() - 4..]));

    // The sk_ token works on its instance, by either id form, and with the id omitted.
    assert_eq!(
        app.get(&format!("/instances/{}", inst["id"]), &sk)
            .await
            .status(),
        200
    );
    assert_eq!(
        app.get(&format!("/instances/{}", id_str(&inst["uuid"])), &sk)
            .await
            .status(),
        200
    );
    let body: Value = app.get("/instances", &sk).await.json().await.unwrap();
    assert_eq!(body["data"]["instances"].as_array().unwrap().len(), 1);

    // Revoke: the token stops working at once.
    let resp = app
        .req(Method::DELETE, &format!("{path}/{token_id}"), Some(&token))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_error(app.get("/instances", &sk).await, 401, "UNAUTHENTICATED").await;
    let body: Value = app.get(&path, &token).await.json().await.unwrap();
    assert!(body["data"]["tokens"].as_array().unwrap().is_empty());
    let resp = app
        .req(Method::DELETE, &format!("{path}/{token_id}"), Some(&token))
        .send()
        .await
        .unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    app.stop().await;
}

#[tokio::test]
async fn an_sk_token_reaches_only_its_own_instance() {
    let app = spawn_app().await;
    let token = app.login().await;
    let a = app.create_instance(&token, "a").await;
    let b = app.create_instance(&token, "b").await;
    let sk_a = app.create_sk(&token, &a["id"]).await;
    for path in [
        format!("/instances/{}", b["id"]),
        format!("/instances/{}", id_str(&b["uuid"])),
        format!("/instances/{}/stats", b["id"]),
        format!("/api/v1/instances/{}/stats", id_str(&b["uuid"])),
        "/instances/999999".to_owned(),
    ] {
        assert_error(app.get(&path, &sk_a).await, 403, "INSTANCE_FORBIDDEN").await;
    }
    let resp = app
        .req(
            Method::DELETE,
            &format!("/instances/{}", b["id"]),
            Some(&sk_a),
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    assert_eq!(
        app.get(&format!("/instances/{}/stats", a["id"]), &sk_a)
            .await
            .status(),
        200
    );
    app.stop().await;
}

#[tokio::test]
async fn sk_tokens_cannot_manage_instances_tokens_or_users() {
    let app = spawn_app().await;
    let token = app.login().await;
    let a = app.create_instance(&token, "a").await;
    let sk = app.create_sk(&token, &a["id"]).await;
    assert_error(
        app.post("/instances", &sk, json!({"name": "x"})).await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.post(&format!("/instances/{}/tokens", a["id"]), &sk, json!({}))
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
    assert_error(
        app.get(&format!("/instances/{}/tokens", a["id"]), &sk)
            .await,
        403,
        "FORBIDDEN",
    )
    .await;
    let resp = app
        .req(
            Method::DELETE,
            &format!("/instances/{}", a["id"]),
            Some(&sk),
        )
        .send()
        .await
        .unwrap();
    assert_error(resp, 403, "FORBIDDEN").await;
    assert_error(app.get("/auth/me", &sk).await, 403, "FORBIDDEN").await;
    app.stop().await;
}

#[tokio::test]
async fn expiring_tokens_validate_their_lifetime() {
    let app = spawn_app().await;
    let token = app.login().await;
    let a = app.create_instance(&token, "a").await;
    let path = format!("/instances/{}/tokens", a["id"]);
    let body: Value = app
        .post(&path, &token, json!({"expires_in_days": 30}))
        .await
        .json()
        .await
        .unwrap();
    assert!(body["data"]["expires_at"].is_string());
    let resp = app.post(&path, &token, json!({"expires_in_days": 0})).await;
    assert_error(resp, 422, "VALIDATION_ERROR").await;
    app.stop().await;
}
