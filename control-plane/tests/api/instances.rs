use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_error, id_str, spawn_app};

#[tokio::test]
async fn create_with_defaults_and_read_back_by_both_ids() {
    let app = spawn_app().await;
    let token = app.login().await;
    let resp = app
        .post("/instances", &token, json!({"name": "Sales"}))
        .await;
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["success"], true);
    let inst = &body["data"]["instance"];
    assert_eq!(inst["name"], "Sales");
    assert_eq!(inst["daily_limit"], 500);
    assert_eq!(inst["engine"], "whatsapp");
    assert_eq!(inst["status"], "pending");
    assert_eq!(inst["connected"], false);
    assert_eq!(inst["messages_sent_today"], 0);
    assert_eq!(inst["remaining_quota"], 500);
    assert_eq!(inst["can_send_messages"], false);
    assert!(inst["phone_number"].is_null());
    assert!(inst["last_activity_at"].is_null());
    let id = inst["id"].as_i64().unwrap();
    let uuid = inst["uuid"].as_str().unwrap().to_owned();

    for path in [
        format!("/instances/{id}"),
        format!("/instances/{uuid}"),
        format!("/api/v1/instances/{id}"),
        format!("/api/v1/instances/{uuid}"),
    ] {
        let resp = app.get(&path, &token).await;
        assert_eq!(resp.status(), 200, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["data"]["instance"]["uuid"], uuid.as_str());
        assert_eq!(body["data"]["instance"]["id"], id);
    }
    app.stop().await;
}

#[tokio::test]
async fn list_filters_by_status() {
    let app = spawn_app().await;
    let token = app.login().await;
    app.create_instance(&token, "a").await;
    app.create_instance(&token, "b").await;
    let body: Value = app.get("/instances", &token).await.json().await.unwrap();
    let list = body["data"]["instances"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    for key in [
        "uuid",
        "phone_number",
        "status",
        "connected",
        "messages_sent_today",
        "remaining_quota",
        "can_send_messages",
        "last_activity_at",
    ] {
        assert!(list[0].get(key).is_some(), "missing {key}");
    }
    let body: Value = app
        .get("/api/v1/instances?status=pending", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["instances"].as_array().unwrap().len(), 2);
    let body: Value = app
        .get("/instances?status=connected", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["data"]["instances"].as_array().unwrap().len(), 0);
    let resp = app.get("/instances?status=sleeping", &token).await;
    let body = assert_error(resp, 422, "VALIDATION_ERROR").await;
    assert!(body["error"]["details"]["status"].is_array());
    app.stop().await;
}

#[tokio::test]
async fn update_and_delete() {
    let app = spawn_app().await;
    let token = app.login().await;
    let inst = app.create_instance(&token, "old").await;
    let uuid = id_str(&inst["uuid"]);
    let resp = app
        .req(Method::PATCH, &format!("/instances/{uuid}"), Some(&token))
        .json(&json!({"name": "new", "daily_limit": 50}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["instance"]["name"], "new");
    assert_eq!(body["data"]["instance"]["daily_limit"], 50);
    assert_eq!(body["data"]["instance"]["remaining_quota"], 50);

    let resp = app
        .req(
            Method::PUT,
            &format!("/api/v1/instances/{}", inst["id"]),
            Some(&token),
        )
        .json(&json!({"daily_limit": 0}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 422, "VALIDATION_ERROR").await;

    let resp = app
        .req(
            Method::DELETE,
            &format!("/instances/{}", inst["id"]),
            Some(&token),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_error(
        app.get(&format!("/instances/{uuid}"), &token).await,
        404,
        "INSTANCE_NOT_FOUND",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn stats_has_every_reference_field() {
    let app = spawn_app().await;
    let token = app.login().await;
    let inst = app.create_instance(&token, "stats").await;
    for path in [
        format!("/instances/{}/stats", inst["id"]),
        format!("/api/v1/instances/{}/stats", id_str(&inst["uuid"])),
    ] {
        let body: Value = app.get(&path, &token).await.json().await.unwrap();
        let d = &body["data"];
        assert_eq!(d["messages_sent_today"], 0);
        assert_eq!(d["remaining_quota"], 500);
        assert_eq!(d["daily_limit"], 500);
        for key in [
            "messages_this_week",
            "messages_this_month",
            "messages_received_today",
            "conversations_count",
            "contacts_count",
        ] {
            assert_eq!(d[key], 0, "{key}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn create_validates_input() {
    let app = spawn_app().await;
    let token = app.login().await;
    let cases = [
        (json!({}), "name"),
        (json!({"name": "  "}), "name"),
        (json!({"name": "x".repeat(256)}), "name"),
        (json!({"name": "x", "daily_limit": -1}), "daily_limit"),
        (json!({"name": "x", "daily_limit": "many"}), "daily_limit"),
        (json!({"name": "x", "engine": "telegram"}), "engine"),
        (json!({"name": "x", "dailylimit": 5}), "dailylimit"),
    ];
    for (body, field) in cases {
        let resp = app.post("/instances", &token, body.clone()).await;
        let err = assert_error(resp, 422, "VALIDATION_ERROR").await;
        assert!(
            err["error"]["message"].as_str().unwrap().contains(field),
            "{body} -> {err}"
        );
    }
    let body: Value = app.get("/instances", &token).await.json().await.unwrap();
    assert!(body["data"]["instances"].as_array().unwrap().is_empty());
    app.stop().await;
}

#[tokio::test]
async fn unknown_and_malformed_ids_are_404() {
    let app = spawn_app().await;
    let token = app.login().await;
    for id in [
        "999999",
        "550e8400-e29b-41d4-a716-446655440000",
        "abc",
        "-1",
    ] {
        assert_error(
            app.get(&format!("/instances/{id}"), &token).await,
            404,
            "INSTANCE_NOT_FOUND",
        )
        .await;
    }
    app.stop().await;
}
