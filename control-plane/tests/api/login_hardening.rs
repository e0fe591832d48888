//! Login under pressure: parallel guesses cannot get past the lockout, password checks are
//! bounded, and a forwarded client address cannot be chosen by the client.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, assert_error, spawn_app_with};

async fn attempt(app: &TestApp, password: &str) -> reqwest::Response {
    app.req(Method::POST, "/auth/login", None)
        .json(&json!({"email": ADMIN_EMAIL, "password": password}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn parallel_wrong_passwords_cannot_exceed_the_lockout() {
    let app = spawn_app_with(|c| {
        c.login_max_failures_per_email = 3;
        c.tenancy.login_concurrency = 64;
    })
    .await;
    let attempts = (0..24).map(|i| {
        let app = &app;
        async move { attempt(app, &format!("wrong-password-{i}")).await }
    });
    let responses = futures::future::join_all(attempts).await;
    let mut checked = 0;
    for resp in responses {
        match resp.status().as_u16() {
            401 => checked += 1,
            429 => {
                let body: Value = resp.json().await.unwrap();
                assert_eq!(body["error"]["code"], "TOO_MANY_LOGIN_ATTEMPTS", "{body}");
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        checked <= 3,
        "{checked} passwords were checked; the lockout allows 3"
    );
    // Locked: even the right password waits for the window.
    assert_error(
        attempt(&app, ADMIN_PASSWORD).await,
        429,
        "TOO_MANY_LOGIN_ATTEMPTS",
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn successful_logins_do_not_use_up_the_lockout() {
    let app = spawn_app_with(|c| {
        c.login_max_failures_per_email = 2;
        c.login_max_failures_per_ip = 2;
    })
    .await;
    for _ in 0..5 {
        assert_eq!(attempt(&app, ADMIN_PASSWORD).await.status(), 200);
    }
    assert_error(
        attempt(&app, "wrong-password").await,
        401,
        "INVALID_CREDENTIALS",
    )
    .await;
    assert_eq!(attempt(&app, ADMIN_PASSWORD).await.status(), 200);
    app.stop().await;
}

#[tokio::test]
async fn password_checks_past_the_bound_are_refused_at_once() {
    let app = spawn_app_with(|c| {
        c.login_max_failures_per_email = 1000;
        c.login_max_failures_per_ip = 1000;
        c.rate_limit_requests = 1000;
        c.tenancy.login_concurrency = 1;
    })
    .await;
    let mut busy = 0;
    let mut ok = 0;
    // Rounds of parallel logins until one meets a check in progress (the first one does, on
    // any machine where a check takes longer than sending a request).
    for _ in 0..20 {
        let attempts = (0..8).map(|_| attempt(&app, ADMIN_PASSWORD));
        for resp in futures::future::join_all(attempts).await {
            match resp.status().as_u16() {
                200 => ok += 1,
                503 => {
                    assert_eq!(resp.headers()["retry-after"], "1");
                    let body: Value = resp.json().await.unwrap();
                    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{body}");
                    busy += 1;
                }
                other => panic!("unexpected status {other}"),
            }
        }
        if busy > 0 {
            break;
        }
    }
    assert!(ok > 0, "some logins succeed");
    assert!(busy > 0, "logins past the bound are refused, not queued");
    app.stop().await;
}

#[tokio::test]
async fn forwarded_for_uses_the_rightmost_untrusted_hop() {
    let app = spawn_app_with(|c| {
        c.trust_forwarded_for = true;
        c.rate_limit_requests = 3;
        c.tenancy.trusted_proxies =
            control_plane::config::TenancySettings::parse_trusted("10.0.0.0/8").unwrap();
    })
    .await;
    let get = |xff: String| {
        app.req(Method::GET, "/instances", None)
            .header("x-forwarded-for", xff)
            .send()
    };
    // The client makes up the leftmost entries; the address our proxy saw stays the same.
    for i in 0..3 {
        let resp = get(format!("198.51.100.{i}, 203.0.113.7, 10.0.0.2"))
            .await
            .unwrap();
        assert_eq!(resp.status(), 401);
    }
    let resp = get("198.51.100.99, 203.0.113.7, 10.0.0.2".to_owned())
        .await
        .unwrap();
    assert_error(resp, 429, "RATE_LIMIT_EXCEEDED").await;
    // A different client behind the same proxy has its own budget.
    let resp = get("203.0.113.8, 10.0.0.2".to_owned()).await.unwrap();
    assert_eq!(resp.status(), 401);
    app.stop().await;
}
