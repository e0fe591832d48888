use reqwest::Method;
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, assert_error, spawn_app, spawn_app_with};

#[tokio::test]
async fn login_returns_the_reference_shape() {
    let app = spawn_app().await;
    for path in ["/auth/login", "/api/v1/auth/login"] {
        let resp = app
            .req(Method::POST, path, None)
            .json(
                &json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "device_name": "My App"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["success"], true);
        assert_eq!(body["message"], "Login successful");
        assert_eq!(body["data"]["token_type"], "Bearer");
        assert_eq!(body["data"]["user"]["email"], ADMIN_EMAIL);
        assert_eq!(body["data"]["user"]["role"], "admin");
        assert!(body["data"]["user"]["id"].is_i64());
        let token = body["data"]["token"].as_str().unwrap();
        let (id, secret) = token.split_once('|').unwrap();
        assert!(id.parse::<i64>().is_ok());
        assert_eq!(secret.len(), 40);
    }
    app.stop().await;
}

#[tokio::test]
async fn email_is_case_insensitive_and_wrong_password_is_401() {
    let app = spawn_app().await;
    app.login_as(&ADMIN_EMAIL.to_uppercase(), ADMIN_PASSWORD)
        .await;
    let resp = app
        .req(Method::POST, "/auth/login", None)
        .json(&json!({"email": ADMIN_EMAIL, "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_CREDENTIALS").await;
    let resp = app
        .req(Method::POST, "/auth/login", None)
        .json(&json!({"email": "nobody@test.local", "password": "whatever1"}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "INVALID_CREDENTIALS").await;
    app.stop().await;
}

#[tokio::test]
async fn login_validates_its_fields() {
    let app = spawn_app().await;
    let resp = app
        .req(Method::POST, "/auth/login", None)
        .json(&json!({"password": "x"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, 422, "VALIDATION_ERROR").await;
    assert!(body["error"]["details"]["email"].is_array(), "{body}");
    let resp = app
        .req(Method::POST, "/auth/login", None)
        .json(&json!({"email": 42, "password": "x"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, 422, "VALIDATION_ERROR").await;
    assert!(
        body["error"]["message"].as_str().unwrap().contains("email"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn me_logout_and_refresh() {
    let app = spawn_app().await;
    let token = app.login().await;
    let resp = app.get("/auth/me", &token).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["data"]["user"]["email"], ADMIN_EMAIL);
    assert!(body["data"]["tenant"]["uuid"].is_string());

    // Refresh: a new token works, the old one is revoked.
    let resp = app.post("/auth/refresh", &token, json!({})).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let fresh = body["data"]["token"].as_str().unwrap().to_owned();
    assert_ne!(fresh, token);
    assert_error(app.get("/auth/me", &token).await, 401, "UNAUTHENTICATED").await;
    assert_eq!(app.get("/api/v1/auth/me", &fresh).await.status(), 200);

    // Logout revokes the token used.
    let resp = app.post("/api/v1/auth/logout", &fresh, json!({})).await;
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["success"], true);
    assert_error(app.get("/auth/me", &fresh).await, 401, "UNAUTHENTICATED").await;
    app.stop().await;
}

#[tokio::test]
async fn missing_malformed_and_unknown_tokens_are_401() {
    let app = spawn_app().await;
    let resp = app.req(Method::GET, "/auth/me", None).send().await.unwrap();
    assert_error(resp, 401, "UNAUTHENTICATED").await;
    for bad in [
        "garbage",
        "12|",
        "|abc",
        "999999|abcdef",
        "sk_doesnotexist",
        "1|wrongsecret",
    ] {
        assert_error(app.get("/auth/me", bad).await, 401, "UNAUTHENTICATED").await;
    }
    let resp = app
        .req(Method::GET, "/auth/me", None)
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    assert_error(resp, 401, "UNAUTHENTICATED").await;
    app.stop().await;
}

#[tokio::test]
async fn expired_user_tokens_are_refused() {
    let app = spawn_app().await;
    let token = app.login().await;
    let id: i64 = token.split_once('|').unwrap().0.parse().unwrap();
    let backend = app.services.db.get_database_backend();
    let past = chrono::Utc::now() - chrono::Duration::hours(1);
    app.services
        .db
        .execute_raw(Statement::from_sql_and_values(
            backend,
            match backend {
                sea_orm::DbBackend::Postgres => {
                    "UPDATE user_tokens SET expires_at = $1 WHERE id = $2"
                }
                _ => "UPDATE user_tokens SET expires_at = ? WHERE id = ?",
            },
            [past.into(), id.into()],
        ))
        .await
        .unwrap();
    assert_error(app.get("/auth/me", &token).await, 401, "TOKEN_EXPIRED").await;
    app.stop().await;
}

#[tokio::test]
async fn tokens_and_passwords_are_stored_hashed() {
    let app = spawn_app().await;
    let token = app.login().await;
    let secret = token.split_once('|').unwrap().1.to_owned();
    let instance = app.create_instance(&token, "hashed").await;
    let sk = app.create_sk(&token, &instance["id"]).await;
    let backend = app.services.db.get_database_backend();
    let dump = |sql: &str| Statement::from_string(backend, sql.to_owned());
    let mut all = String::new();
    for sql in [
        "SELECT token_hash, name FROM user_tokens",
        "SELECT token_hash, token_prefix, token_last4 FROM instance_tokens",
        "SELECT password_hash, email FROM users",
    ] {
        for row in app.services.db.query_all_raw(dump(sql)).await.unwrap() {
            for col in 0..2 {
                if let Ok(v) = row.try_get_by_index::<String>(col) {
                    all.push_str(&v);
                    all.push('\n');
                }
            }
        }
    }
    assert!(!all.contains(&secret), "user token stored in plaintext");
    assert!(!all.contains(&sk[3..]), "sk_ token stored in plaintext");
    assert!(
        !all.contains(ADMIN_PASSWORD),
        "password stored in plaintext"
    );
    assert!(all.contains("$argon2id$"));
    app.stop().await;
}

#[tokio::test]
async fn repeated_failed_logins_are_throttled_per_email() {
    let app = spawn_app_with(|c| {
        c.login_max_failures_per_email = 3;
        c.login_max_failures_per_ip = 100;
    })
    .await;
    for _ in 0..3 {
        let resp = app
            .req(Method::POST, "/auth/login", None)
            .json(&json!({"email": ADMIN_EMAIL, "password": "nope-nope"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    // Even the right password is refused until the window passes.
    let resp = app
        .req(Method::POST, "/auth/login", None)
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("retry-after").is_some());
    assert_error(resp, 429, "TOO_MANY_LOGIN_ATTEMPTS").await;
    // Another account from the same address is not affected.
    let other = app
        .req(Method::POST, "/auth/login", None)
        .json(&json!({"email": "someone@test.local", "password": "nope-nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 401);
    app.stop().await;
}

#[tokio::test]
async fn failed_logins_are_throttled_per_address() {
    let app = spawn_app_with(|c| {
        c.login_max_failures_per_email = 100;
        c.login_max_failures_per_ip = 2;
    })
    .await;
    for i in 0..2 {
        let resp = app
            .req(Method::POST, "/auth/login", None)
            .json(&json!({"email": format!("u{i}@test.local"), "password": "nope-nope"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let resp = app
        .req(Method::POST, "/auth/login", None)
        .json(&json!({"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 429, "TOO_MANY_LOGIN_ATTEMPTS").await;
    app.stop().await;
}
