//! Tenant A's resources are invisible to tenant B: every route answers 404.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_error, id_str, spawn_app};

#[tokio::test]
async fn another_tenant_cannot_see_or_change_instances_or_tokens() {
    let app = spawn_app().await;
    let a = app.login().await;
    let b = app.other_tenant_token("b@other.local").await;
    let inst = app.create_instance(&a, "private").await;
    let created: Value = app
        .post(&format!("/instances/{}/tokens", inst["id"]), &a, json!({}))
        .await
        .json()
        .await
        .unwrap();
    let token_id = created["data"]["id"].as_str().unwrap().to_owned();
    let sk_a = created["data"]["token"].as_str().unwrap().to_owned();

    let body: Value = app.get("/instances", &b).await.json().await.unwrap();
    assert!(body["data"]["instances"].as_array().unwrap().is_empty());

    for id in [id_str(&inst["id"]), id_str(&inst["uuid"])] {
        let routes: Vec<(Method, String, Option<Value>)> = vec![
            (Method::GET, format!("/instances/{id}"), None),
            (Method::GET, format!("/api/v1/instances/{id}/stats"), None),
            (
                Method::PATCH,
                format!("/instances/{id}"),
                Some(json!({"name": "pwned"})),
            ),
            (
                Method::PUT,
                format!("/api/v1/instances/{id}"),
                Some(json!({"daily_limit": 1})),
            ),
            (Method::GET, format!("/instances/{id}/tokens"), None),
            (
                Method::POST,
                format!("/instances/{id}/tokens"),
                Some(json!({})),
            ),
            (
                Method::DELETE,
                format!("/instances/{id}/tokens/{token_id}"),
                None,
            ),
            (
                Method::POST,
                format!("/instances/{id}/pair-code"),
                Some(json!({"phone_number": "5511999990000"})),
            ),
            (Method::POST, format!("/api/v1/instances/{id}/logout"), None),
            (Method::DELETE, format!("/instances/{id}"), None),
        ];
        for (method, path, body) in routes {
            let mut req = app.req(method.clone(), &path, Some(&b));
            if let Some(body) = body {
                req = req.json(&body);
            }
            let resp = req.send().await.unwrap();
            assert_error(resp, 404, "INSTANCE_NOT_FOUND").await;
        }
    }

    // Nothing changed for tenant A.
    let body: Value = app
        .get(&format!("/instances/{}", inst["id"]), &a)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["instance"]["name"], "private");
    assert_eq!(body["data"]["instance"]["daily_limit"], 500);
    assert_eq!(app.get("/instances", &sk_a).await.status(), 200);

    // B's own instance is invisible to A's sk_ token.
    let inst_b = app.create_instance(&b, "theirs").await;
    assert_error(
        app.get(&format!("/instances/{}", inst_b["id"]), &sk_a)
            .await,
        403,
        "INSTANCE_FORBIDDEN",
    )
    .await;
    assert_error(
        app.get(&format!("/instances/{}", inst_b["id"]), &a).await,
        404,
        "INSTANCE_NOT_FOUND",
    )
    .await;
    app.stop().await;
}
