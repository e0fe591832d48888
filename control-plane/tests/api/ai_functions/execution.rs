//! Test executions: what the endpoint receives (query string, JSON body, credentials), what is
//! shown and stored (masked, sealed, redacted), failures (refused arguments, timeout, size cap,
//! error answers; never retried), the SSRF guard, and `ACTIVE_EXECUTIONS`.

use control_plane::db::entities::ai_function;
use reqwest::Method;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::{API_KEY, Ai, Fake, PASSWORD, TOKEN, order_parameter};
use crate::helpers::assert_error;

#[tokio::test]
async fn active_executions_block_a_delete_until_they_finish() {
    let ai = Ai::new().await;
    let fake = Fake::start().await;
    let uuid = ai
        .create(ai.body(
            "slow_action",
            json!({"type": "action", "endpoint_url": fake.url("/block")}),
        ))
        .await;
    let req =
        ai.t.app
            .req(
                Method::POST,
                &format!("/ai-functions/{uuid}/test"),
                Some(&ai.t.token),
            )
            .json(&json!({"parameters": {}}));
    let running = tokio::spawn(async move { req.send().await.unwrap() });
    fake.wait_for("/block").await;

    let executions = ai.t.get(&format!("/ai-functions/{uuid}/executions")).await;
    assert_eq!(executions["data"][0]["status"], "running", "{executions}");
    assert_eq!(executions["data"][0]["finished_at"], Value::Null);
    let resp =
        ai.t.app
            .req(
                Method::DELETE,
                &format!("/api/v1/ai-functions/{uuid}"),
                Some(&ai.t.token),
            )
            .send()
            .await
            .unwrap();
    assert_error(resp, 409, "ACTIVE_EXECUTIONS").await;

    fake.release.notify_one();
    let done = running.await.unwrap();
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["data"]["status"], "success", "{done}");
    let (status, body) = ai
        .call(Method::DELETE, &format!("/ai-functions/{uuid}"), None)
        .await;
    assert_eq!(status, 200, "{body}");

    // The integration itself may go while a call runs: the call still answers its outcome.
    let uuid = ai
        .create(ai.body(
            "slow_again",
            json!({"type": "action", "endpoint_url": fake.url("/block")}),
        ))
        .await;
    let req =
        ai.t.app
            .req(
                Method::POST,
                &format!("/ai-functions/{uuid}/test"),
                Some(&ai.t.token),
            )
            .json(&json!({}));
    let running = tokio::spawn(async move { req.send().await.unwrap() });
    fake.wait_for("/block").await;
    let (status, body) = ai
        .call(
            Method::DELETE,
            &format!("/automation/integrations/{}", ai.integration),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    fake.release.notify_one();
    let done = running.await.unwrap();
    assert_eq!(done.status(), 200);
    let done: Value = done.json().await.unwrap();
    assert_eq!(done["data"]["status"], "success", "{done}");
    ai.t.app.stop().await;
}

#[tokio::test]
async fn credentials_are_sealed_masked_and_sent() {
    let ai = Ai::new().await;
    let fake = Fake::start().await;
    // bearer, on a GET with the arguments in the query string.
    let bearer = ai
        .create(ai.body(
            "check_order_status",
            json!({
                "endpoint_url": fake.url("/orders/status?shop=1"),
                "auth_type": "bearer",
                "auth_config": {"token": TOKEN},
                "headers": {"X-Shop": "demo"},
                "parameters": order_parameter(),
            }),
        ))
        .await;
    let e = ai.test(&bearer, json!({"order_number": "ORD 12345"})).await;
    assert_eq!(e["status"], "success", "{e}");
    assert_eq!(e["http_status"], 200);
    assert_eq!(e["is_test"], true);
    let seen = fake.last();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.path, "/orders/status");
    assert_eq!(seen.query.as_deref(), Some("shop=1&order_number=ORD+12345"));
    assert_eq!(seen.headers["authorization"], format!("Bearer {TOKEN}"));
    assert_eq!(seen.headers["x-shop"], "demo");
    assert_eq!(seen.headers["accept"], "application/json");
    assert!(seen.body.is_empty());
    // The endpoint echoed the token: the execution shows it redacted.
    assert_eq!(e["response"]["echo"], "[REDACTED]", "{e}");
    assert_eq!(e["request"]["headers"]["Authorization"], "[REDACTED]");
    assert_eq!(e["request"]["headers"]["X-Shop"], "demo");
    assert_eq!(
        e["request"]["url"],
        format!("{}/orders/status?shop=1&order_number=ORD+12345", fake.base)
    );

    // basic, on an action: a JSON body.
    let basic = ai
        .create(ai.body(
            "create_ticket",
            json!({
                "type": "action",
                "endpoint_url": fake.url("/tickets"),
                "auth_type": "basic",
                "auth_config": {"username": "shop", "password": PASSWORD},
                "parameters": [
                    {"name": "subject", "type": "string", "is_required": true},
                    {"name": "priority", "type": "integer", "enum": [1, 2, 3]},
                    {"name": "tags", "type": "array"},
                    {"name": "urgent", "type": "boolean"}
                ],
            }),
        ))
        .await;
    let e = ai
        .test(
            &basic,
            json!({"subject": "Broken", "priority": 2, "tags": ["a"], "urgent": true, "ignored": 1}),
        )
        .await;
    assert_eq!(e["status"], "success", "{e}");
    let seen = fake.last();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.query, None);
    assert_eq!(seen.headers["content-type"], "application/json");
    let sent: Value = serde_json::from_slice(&seen.body).unwrap();
    assert_eq!(
        sent,
        json!({"subject": "Broken", "priority": 2, "tags": ["a"], "urgent": true})
    );
    use base64::Engine as _;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("shop:{PASSWORD}"));
    assert_eq!(seen.headers["authorization"], format!("Basic {expected}"));

    // api_key in the query string, and in a named header.
    let in_query = ai
        .create(ai.body(
            "lookup",
            json!({
                "endpoint_url": fake.url("/lookup"),
                "auth_type": "api_key",
                "auth_config": {"key": API_KEY, "in": "query", "param_name": "apikey"},
            }),
        ))
        .await;
    let e = ai.test(&in_query, json!({})).await;
    assert_eq!(
        fake.last().query.as_deref(),
        Some(format!("apikey={API_KEY}").as_str())
    );
    assert_eq!(
        e["request"]["url"],
        format!("{}/lookup?apikey=REDACTED", fake.base)
    );
    assert_eq!(e["response"]["query"], "apikey=[REDACTED]", "{e}");
    let in_header = ai
        .create(ai.body(
            "lookup_header",
            json!({
                "endpoint_url": fake.url("/lookup"),
                "auth_type": "api_key",
                "auth_config": {"key": API_KEY},
            }),
        ))
        .await;
    ai.test(&in_header, json!({})).await;
    assert_eq!(fake.last().headers["x-api-key"], API_KEY);
    let custom = ai
        .create(ai.body(
            "custom_auth",
            json!({
                "type": "collect_submit",
                "endpoint_url": fake.url("/collect"),
                "auth_type": "custom",
                "auth_config": {"headers": {"X-Partner-Token": "partner-secret-777"}},
            }),
        ))
        .await;
    let e = ai.test(&custom, json!({})).await;
    assert_eq!(fake.last().headers["x-partner-token"], "partner-secret-777");
    assert_eq!(e["request"]["headers"]["X-Partner-Token"], "[REDACTED]");

    // Never shown back in full: create, show, list, executions.
    let secrets = [
        TOKEN,
        PASSWORD,
        API_KEY,
        "partner-secret-777",
        expected.as_str(),
    ];
    let mut shown = vec![ai.t.get("/ai-functions").await];
    for f in [&bearer, &basic, &in_query, &in_header, &custom] {
        shown.push(ai.t.get(&format!("/ai-functions/{f}")).await);
        shown.push(ai.t.get(&format!("/ai-functions/{f}/executions")).await);
    }
    for s in &shown {
        let text = s.to_string();
        for secret in secrets {
            assert!(!text.contains(secret), "{secret} shown in {text}");
        }
    }
    let basic_shown = ai.t.get(&format!("/ai-functions/{basic}")).await;
    assert_eq!(
        basic_shown["data"]["auth_config"],
        json!({"username": "shop", "password": "********8765"})
    );
    let key_shown = ai.t.get(&format!("/ai-functions/{in_query}")).await;
    assert_eq!(
        key_shown["data"]["auth_config"],
        json!({"key": "********4680", "header_name": "X-API-Key", "in": "query", "param_name": "apikey"})
    );

    // Sealed in the database.
    let rows = ai_function::Entity::find()
        .all(&ai.t.app.services.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 5);
    for r in &rows {
        let sealed = r.auth_config_enc.as_deref().unwrap();
        assert!(sealed.starts_with("v1:"), "{sealed}");
        for secret in secrets {
            assert!(!sealed.contains(secret));
        }
    }

    // Sending the masked value back keeps the secret; a new one replaces it.
    let masked = ai.t.get(&format!("/ai-functions/{bearer}")).await["data"]["auth_config"].clone();
    let (status, _) = ai
        .call(
            Method::PUT,
            &format!("/ai-functions/{bearer}"),
            Some(json!({"auth_type": "bearer", "auth_config": masked})),
        )
        .await;
    assert_eq!(status, 200);
    ai.test(&bearer, json!({"order_number": "A1"})).await;
    assert_eq!(
        fake.last().headers["authorization"],
        format!("Bearer {TOKEN}")
    );
    let (status, _) = ai
        .call(
            Method::PUT,
            &format!("/ai-functions/{bearer}"),
            Some(json!({"auth_config": {"token": "rotated-token-5555"}})),
        )
        .await;
    assert_eq!(status, 200);
    ai.test(&bearer, json!({"order_number": "A1"})).await;
    assert_eq!(
        fake.last().headers["authorization"],
        "Bearer rotated-token-5555"
    );
    // auth_type none drops the credentials.
    let (status, cleared) = ai
        .call(
            Method::PUT,
            &format!("/ai-functions/{bearer}"),
            Some(json!({"auth_type": "none"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(cleared["data"]["auth_config"], Value::Null);
    ai.test(&bearer, json!({"order_number": "A1"})).await;
    assert!(fake.last().headers.get("authorization").is_none());
    ai.t.app.stop().await;
}

#[tokio::test]
async fn failed_calls_are_error_executions_and_never_retried() {
    let ai = Ai::new().await;
    let fake = Fake::start().await;
    let make = async |name: &str, path: &str, extra: Value| {
        let mut extra = extra;
        extra["endpoint_url"] = json!(fake.url(path));
        extra["type"] = json!("action");
        ai.create(ai.body(name, extra)).await
    };

    // A missing required parameter, or a wrong type: no call at all.
    let strict = make(
        "strict",
        "/never",
        json!({"parameters": [{"name": "order", "is_required": true}, {"name": "n", "type": "number"}]}),
    )
    .await;
    let e = ai.test(&strict, json!({"n": 1})).await;
    assert_eq!(e["status"], "error");
    assert_eq!(e["error"], "Missing required parameter: order.");
    assert_eq!(e["request"], Value::Null);
    assert_eq!(e["http_status"], Value::Null);
    let e = ai.test(&strict, json!({"order": "A", "n": "one"})).await;
    assert_eq!(e["error"], "The parameter n must be of type number.");
    assert!(fake.requests().iter().all(|s| s.path != "/never"));

    // A timeout (1 s), once.
    let slow = make("slow", "/slow", json!({"timeout_seconds": 1})).await;
    let e = ai.test(&slow, json!({})).await;
    assert_eq!(e["status"], "error", "{e}");
    assert_eq!(e["error"], "The call timed out.");
    assert!(e["duration_ms"].as_u64().unwrap() >= 900, "{e}");
    // An answer larger than the cap.
    let big = make("big", "/big", json!({})).await;
    let e = ai.test(&big, json!({})).await;
    assert_eq!(e["status"], "error", "{e}");
    assert_eq!(e["error"], "The response is larger than 262144 bytes.");
    // An error answer, recorded with its status and body.
    let fail = make("fail", "/fail", json!({})).await;
    let e = ai.test(&fail, json!({})).await;
    assert_eq!(e["status"], "error");
    assert_eq!(e["http_status"], 500);
    assert_eq!(e["error"], "The endpoint answered HTTP 500.");
    assert_eq!(e["response"], json!({"error": "boom"}));
    // Each was called exactly once: no retry.
    for path in ["/slow", "/big", "/fail"] {
        let n = fake.requests().iter().filter(|s| s.path == path).count();
        assert_eq!(n, 1, "{path} called {n} times");
    }
    // Plain text answers are kept as text.
    let text = make("text", "/text", json!({})).await;
    let e = ai.test(&text, json!({})).await;
    assert_eq!(e["response"], "plain answer");
    // No endpoint: an error result.
    let (status, created) = ai
        .call(
            Method::POST,
            "/ai-functions",
            Some(ai.body("nowhere", json!({}))),
        )
        .await;
    assert_eq!(status, 201);
    let e = ai
        .test(created["data"]["uuid"].as_str().unwrap(), json!({}))
        .await;
    assert_eq!(e["error"], "The function has no endpoint_url to call.");
    ai.t.app.stop().await;
}

#[tokio::test]
async fn private_urls_are_refused_at_save_and_at_call_time() {
    let ai = Ai::setup(false).await;
    for url in [
        "http://169.254.169.254/latest/meta-data",
        "http://127.0.0.1:8080/x",
        "http://localhost/x",
        "http://[::1]/x",
        "http://10.0.0.7/x",
    ] {
        let (status, body) = ai
            .call(
                Method::POST,
                "/ai-functions",
                Some(ai.body("fn_a", json!({"endpoint_url": url}))),
            )
            .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert!(
            body["error"]["details"]["endpoint_url"].is_array(),
            "{body}"
        );
    }
    let uuid = ai
        .create(ai.body("fn_a", json!({"endpoint_url": "https://api.example.com/x"})))
        .await;
    let (status, body) = ai
        .call(
            Method::PUT,
            &format!("/ai-functions/{uuid}"),
            Some(json!({"endpoint_url": "http://192.168.1.1/admin"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["endpoint_url"].is_array());

    // A private URL already stored (as if saved before the guard): the call is refused.
    let row = ai_function::Entity::find()
        .filter(ai_function::Column::Name.eq("fn_a"))
        .one(&ai.t.app.services.db)
        .await
        .unwrap()
        .unwrap();
    let mut a: ai_function::ActiveModel = row.into();
    a.endpoint_url = Set(Some("http://127.0.0.1:9/x".into()));
    a.update(&ai.t.app.services.db).await.unwrap();
    let e = ai.test(&uuid, json!({})).await;
    assert_eq!(e["status"], "error", "{e}");
    assert!(e["error"].as_str().unwrap().contains("private"), "{e}");
    ai.t.app.stop().await;
}
