//! The call path: one 401 for an unknown slug and a wrong key, both key headers, a disabled
//! function, allowed addresses, the daily limit (429 with `Retry-After`) counted exactly under
//! concurrency, placeholders, the body bound, contacts and pause/resume through the existing
//! services, and the log of each call with the key redacted.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Xf, answer};

#[tokio::test]
async fn unknown_slugs_and_wrong_keys_answer_the_same() {
    let x = Xf::new().await;
    let (uuid, key) = x.sender("notify", "Hi {{name}}").await;
    let (_, other_key) = x.sender("other", "Hi").await;
    let cases = [
        ("notify", None),
        ("notify", Some("xfn_wrong")),
        ("notify", Some(other_key.as_str())),
        ("no-such-function", Some(key.as_str())),
        ("no-such-function", None),
    ];
    let mut bodies = Vec::new();
    for (slug, k) in cases {
        let a = x.execute(slug, k, json!({"name": "Ana"}), None).await;
        assert_eq!(a.status, 401, "{slug}: {}", a.body);
        assert_eq!(a.body["error"]["code"], "UNAUTHENTICATED");
        bodies.push(a.body);
    }
    assert!(bodies.windows(2).all(|w| w[0] == w[1]), "{bodies:#?}");
    // None of them is logged, nor counted.
    assert!(x.logs(&uuid).await.is_empty());
    assert_eq!(
        x.t.get(&format!("/external-functions/{uuid}")).await["data"]["calls_today"],
        0
    );
    // A user token is not a key either.
    let a = x.execute("notify", Some(&x.t.token), json!({}), None).await;
    assert_eq!(a.status, 401);

    // The key as X-Api-Key, at the root URL form: admitted; the send then meets the
    // instance's automation guard (its AI Agent is active), as any manual send would.
    let resp =
        x.t.app
            .client
            .post(x.t.app.url("/external-functions/notify/execute"))
            .header("x-api-key", &key)
            .json(&json!({"phone": "5511999990000", "name": "Ana"}))
            .send()
            .await
            .unwrap();
    let a = answer(resp).await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "AUTOMATION_ACTIVE");
    let logs = x.logs(&uuid).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["request"]["headers"]["x-api-key"], "[REDACTED]");
    x.t.app.stop().await;
}

#[tokio::test]
async fn wrong_keys_are_rate_limited_per_address() {
    let x = Xf::with(|c| c.rate_limit_requests = 20).await;
    let limit = x.t.app.services.config.rate_limit_requests;
    let mut last = None;
    for _ in 0..=limit {
        last = Some(
            x.execute("nope", Some("xfn_guess"), json!({}), Some("198.51.100.9"))
                .await,
        );
    }
    let a = last.unwrap();
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "RATE_LIMIT_EXCEEDED");
    assert!(a.headers.get("retry-after").is_some());
    // Another address is not affected.
    let a = x
        .execute("nope", Some("xfn_guess"), json!({}), Some("198.51.100.10"))
        .await;
    assert_eq!(a.status, 401);
    x.t.app.stop().await;
}

#[tokio::test]
async fn disabled_functions_and_other_addresses_are_refused_and_logged() {
    let x = Xf::new().await;
    let (uuid, key) = x
        .create(
            json!({"instance_uuid": x.t.uuid, "name": "Contacts", "slug": "contacts",
            "action_type": "create_contact", "allowed_ips": ["203.0.113.10", "198.51.100.0/24"]}),
        )
        .await;
    let a = x
        .execute(
            "contacts",
            Some(&key),
            json!({"phone": "5511911110000"}),
            Some("192.0.2.1"),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "FORBIDDEN");
    assert_eq!(a.body["error"]["details"]["client_ip"], "192.0.2.1");
    let a = x
        .execute(
            "contacts",
            Some(&key),
            json!({"phone": "5511911110000"}),
            Some("203.0.113.10"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = x
        .execute(
            "contacts",
            Some(&key),
            json!({"phone": "5511911110001"}),
            Some("198.51.100.77"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    // Disabled: refused before anything else.
    x.call(
        Method::POST,
        &format!("/external-functions/{uuid}/toggle"),
        None,
    )
    .await;
    let a = x
        .execute(
            "contacts",
            Some(&key),
            json!({"phone": "5511911110002"}),
            Some("203.0.113.10"),
        )
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert!(
        a.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("disabled")
    );
    let logs = x.logs(&uuid).await;
    let seen: Vec<(u64, &str)> = logs
        .iter()
        .map(|l| {
            (
                l["http_status"].as_u64().unwrap(),
                l["client_ip"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (403, "203.0.113.10"),
            (200, "198.51.100.77"),
            (200, "203.0.113.10"),
            (403, "192.0.2.1")
        ]
    );
    // Refused calls are not counted against the day.
    assert_eq!(
        x.t.get(&format!("/external-functions/{uuid}")).await["data"]["calls_today"],
        2
    );
    x.t.app.stop().await;
}

#[tokio::test]
async fn the_daily_limit_holds_under_concurrent_calls() {
    let x = Xf::new().await;
    let (uuid, key) = x
        .create(
            json!({"instance_uuid": x.t.uuid, "name": "Contacts", "slug": "contacts",
            "action_type": "create_contact", "rate_limit": 5}),
        )
        .await;
    let calls = (0..20).map(|i| {
        let key = key.clone();
        let x = &x;
        async move {
            x.execute(
                "contacts",
                Some(&key),
                json!({"phone": format!("55119222200{i:02}")}),
                None,
            )
            .await
        }
    });
    let answers = futures::future::join_all(calls).await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    let limited: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!(
        ok,
        5,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert_eq!(limited.len(), 15);
    let now = chrono::Utc::now();
    let midnight = (now.date_naive() + chrono::Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let expected = (midnight - now).num_seconds();
    for a in &limited {
        assert_eq!(a.body["error"]["code"], "RATE_LIMIT_EXCEEDED");
        let retry: i64 = a.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!(
            (expected - 5..=expected + 1).contains(&retry),
            "{retry} vs {expected}"
        );
    }
    let shown = x.t.get(&format!("/external-functions/{uuid}")).await;
    assert_eq!(shown["data"]["calls_today"], 5);
    assert_eq!(shown["data"]["total_calls"], 5);
    let contacts =
        x.t.get(&format!("/contacts?instance_id={}", x.t.uuid))
            .await;
    assert_eq!(contacts["meta"]["pagination"]["total"], 5);
    assert_eq!(x.logs(&uuid).await.len(), 20);
    // Raising the limit lets calls through again the same day.
    x.call(
        Method::PUT,
        &format!("/external-functions/{uuid}"),
        Some(json!({"rate_limit": 6})),
    )
    .await;
    let a = x
        .execute(
            "contacts",
            Some(&key),
            json!({"phone": "5511922229999"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    x.t.app.stop().await;
}

#[tokio::test]
async fn placeholders_fill_from_the_body_and_missing_ones_are_named() {
    let x = Xf::new().await;
    let (uuid, key) = x.sender("notify", "Order {{order_id}}: {{status}}").await;
    let a = x
        .execute(
            "notify",
            Some(&key),
            json!({"phone": "5511999990000", "order_id": 7}),
            None,
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "VALIDATION_ERROR");
    assert!(
        a.body["error"]["details"]["status"].is_array(),
        "{}",
        a.body
    );
    assert!(a.body["error"]["details"].get("order_id").is_none());
    let a = x
        .execute(
            "notify",
            Some(&key),
            json!({"order_id": 7, "status": "paid"}),
            None,
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body["error"]["details"]["phone"].is_array(), "{}", a.body);
    let a = x
        .execute(
            "notify",
            Some(&key),
            json!({"phone": "5511999990000", "order_id": {"x": 1}, "status": "paid"}),
            None,
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(
        a.body["error"]["details"]["order_id"].is_array(),
        "{}",
        a.body
    );
    // Every field present: the send goes on to the instance's automation guard (its AI
    // Agent is active), as any manual send.
    let a = x
        .execute(
            "notify",
            Some(&key),
            json!({"phone": "5511999990000", "order_id": 7, "status": "paid"}),
            None,
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "AUTOMATION_ACTIVE");
    // Not JSON, not an object, too large.
    let post = |body: Vec<u8>| {
        x.t.app
            .client
            .post(x.t.app.url("/api/v1/external-functions/notify/execute"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let a = answer(post(b"{not json".to_vec()).await.unwrap()).await;
    assert_eq!(a.status, 400, "{}", a.body);
    let a = answer(post(b"[1,2]".to_vec()).await.unwrap()).await;
    assert_eq!(a.status, 422, "{}", a.body);
    let big = format!(
        "{{\"phone\": \"5511999990000\", \"pad\": \"{}\"}}",
        "a".repeat(70 * 1024)
    );
    let a = answer(post(big.into_bytes()).await.unwrap()).await;
    assert_eq!(a.status, 413, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "PAYLOAD_TOO_LARGE");
    let logs = x.logs(&uuid).await;
    let codes: Vec<&Value> = logs.iter().map(|l| &l["error_code"]).collect();
    assert_eq!(
        codes,
        [
            &json!("PAYLOAD_TOO_LARGE"),
            &json!("VALIDATION_ERROR"),
            &json!("INVALID_JSON"),
            &json!("AUTOMATION_ACTIVE"),
            &json!("VALIDATION_ERROR"),
            &json!("VALIDATION_ERROR"),
            &json!("VALIDATION_ERROR"),
        ]
    );
    x.t.app.stop().await;
}

#[tokio::test]
async fn every_call_is_logged_with_the_key_redacted() {
    let x = Xf::new().await;
    let (uuid, key) = x
        .create(json!({"instance_uuid": x.t.uuid, "name": "Contacts", "slug": "contacts",
            "action_type": "create_contact", "config": {"name": "{{first}} {{last}}", "notes": "From CRM {{crm_id}}"}}))
        .await;
    let a = x
        .execute(
            "contacts",
            Some(&key),
            json!({"phone": "+55 11 93333-0000", "first": "Ana", "last": "Lima", "crm_id": 42,
                "email": "ana@example.com", "echo": format!("my key is {key}")}),
            Some("203.0.113.5"),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["message"], "Function executed successfully");
    let data = &a.body["data"];
    assert_eq!(data["function"], "contacts");
    assert_eq!(data["action_type"], "create_contact");
    assert_eq!(data["result"]["name"], "Ana Lima");
    assert_eq!(data["result"]["notes"], "From CRM 42");
    assert_eq!(data["result"]["email"], "ana@example.com");
    assert_eq!(data["result"]["phone_number"], "5511933330000");
    assert_eq!(data["result"]["instance_id"], x.t.uuid.as_str());
    // The contact is the instance's like any other.
    let contacts =
        x.t.get(&format!("/contacts?instance_id={}", x.t.uuid))
            .await;
    assert_eq!(contacts["data"][0]["name"], "Ana Lima");
    // A second create of the same number: the contacts service's own answer.
    let a = x
        .execute(
            "contacts",
            Some(&key),
            json!({"phone": "5511933330000", "first": "A", "last": "L", "crm_id": 1}),
            None,
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "DUPLICATE_ENTRY");

    let logs = x.logs(&uuid).await;
    assert_eq!(logs.len(), 2);
    let first = &logs[1];
    assert_eq!(first["uuid"], data["log_id"]);
    assert_eq!(first["function_uuid"], uuid.as_str());
    assert_eq!(first["client_ip"], "203.0.113.5");
    assert_eq!(first["http_status"], 200);
    assert_eq!(first["success"], true);
    assert_eq!(first["error_code"], Value::Null);
    assert!(first["duration_ms"].is_u64());
    assert_eq!(first["request"]["method"], "POST");
    assert_eq!(
        first["request"]["path"],
        "/api/v1/external-functions/contacts/execute"
    );
    assert_eq!(first["request"]["headers"]["authorization"], "[REDACTED]");
    assert_eq!(first["request"]["body"]["first"], "Ana");
    assert_eq!(first["request"]["body"]["echo"], "my key is [REDACTED]");
    assert_eq!(first["response"]["data"]["result"]["name"], "Ana Lima");
    assert_eq!(logs[0]["success"], false);
    assert_eq!(logs[0]["error_code"], "DUPLICATE_ENTRY");
    assert_eq!(logs[0]["http_status"], 409);
    let text = serde_json::to_string(&logs).unwrap();
    assert!(!text.contains(&key), "the key is in the log");
    // Filters and pagination.
    let failed =
        x.t.get(&format!("/external-functions/{uuid}/logs?success=false"))
            .await;
    assert_eq!(failed["meta"]["pagination"]["total"], 1);
    let page =
        x.t.get(&format!(
            "/api/v1/external-functions/{uuid}/logs?per_page=1&page=2"
        ))
        .await;
    assert_eq!(page["data"][0]["uuid"], data["log_id"]);
    let (status, body) = x
        .call(
            Method::GET,
            &format!("/external-functions/{uuid}/logs?success=maybe"),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    x.t.app.stop().await;
}

#[tokio::test]
async fn update_contact_and_pause_resume_go_through_the_existing_rules() {
    let x = Xf::new().await;
    let (_, update_key) = x
        .create(x.body(
            "update",
            "update_contact",
            json!({"notes": "Order {{order_id}}"}),
        ))
        .await;
    // No contact yet: 404 naming the phone.
    let a = x
        .execute(
            "update",
            Some(&update_key),
            json!({"phone": "5511944440000", "order_id": 1}),
            None,
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
    x.t.inbound("5511944440000", "IN-1", "Hello").await;
    let a = x
        .execute(
            "update",
            Some(&update_key),
            json!({"phone": "5511944440000", "order_id": 9, "company": "ACME"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["result"]["notes"], "Order 9");
    assert_eq!(a.body["data"]["result"]["company"], "ACME");
    // Fields not sent stay as they were.
    assert_eq!(a.body["data"]["result"]["push_name"], "Maria");
    let a = x
        .execute(
            "update",
            Some(&update_key),
            json!({"phone": "5511944440000", "order_id": 9, "email": "bad"}),
            None,
        )
        .await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body["error"]["details"]["email"].is_array());

    let (_, pause_key) = x
        .create(x.body(
            "pause",
            "pause_automation",
            json!({"reason": "Handled by {{agent}}"}),
        ))
        .await;
    let (_, resume_key) = x
        .create(x.body("resume", "resume_automation", json!({})))
        .await;
    let a = x
        .execute(
            "pause",
            Some(&pause_key),
            json!({"phone": "5511955550000", "agent": "Bia"}),
            None,
        )
        .await;
    assert_eq!(a.status, 404, "no conversation: {}", a.body);
    let a = x
        .execute(
            "pause",
            Some(&pause_key),
            json!({"phone": "5511944440000", "agent": "Bia"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let result = &a.body["data"]["result"];
    assert_eq!(result["automation_paused"], true);
    assert_eq!(result["paused_by"], "External function Function pause");
    assert_eq!(result["pause_reason"], "Handled by Bia");
    let conv = x.t.conversation_of("5511944440000").await;
    let shown = x.t.get(&format!("/conversations/{conv}/automation")).await;
    assert_eq!(shown["data"]["automation_paused"], true);
    // Paused, the conversation takes the function's sends: they pass the automation guard
    // and stop only at the absent node.
    let (_, send_key) = x.sender("notify", "Hello {{name}}").await;
    let a = x
        .execute(
            "notify",
            Some(&send_key),
            json!({"phone": "5511944440000", "name": "Ana"}),
            None,
        )
        .await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "NODE_UNAVAILABLE");
    // Resuming needs the conversation archived first, as in the inbox.
    let a = x
        .execute(
            "resume",
            Some(&resume_key),
            json!({"phone": "5511944440000"}),
            None,
        )
        .await;
    assert_eq!(a.status, 409, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "CONFLICT");
    let (status, body) = x
        .call(
            Method::POST,
            &format!("/conversations/{conv}/archive"),
            None,
        )
        .await;
    assert!(status < 300, "{body}");
    let a = x
        .execute(
            "resume",
            Some(&resume_key),
            json!({"phone": "5511944440000"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["result"]["automation_paused"], false);
    let shown = x.t.get(&format!("/conversations/{conv}")).await;
    assert_eq!(shown["data"]["is_archived"], false);
    x.t.app.stop().await;
}

#[tokio::test]
async fn a_regenerated_key_replaces_the_old_one_at_once() {
    let x = Xf::new().await;
    let (uuid, old) = x
        .create(x.body("contacts", "create_contact", json!({})))
        .await;
    let a = x
        .execute(
            "contacts",
            Some(&old),
            json!({"phone": "5511966660000"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let (_, regenerated) = x
        .call(
            Method::POST,
            &format!("/external-functions/{uuid}/regenerate-key"),
            None,
        )
        .await;
    let new = regenerated["data"]["api_key"].as_str().unwrap();
    let a = x
        .execute(
            "contacts",
            Some(&old),
            json!({"phone": "5511966660001"}),
            None,
        )
        .await;
    assert_eq!(a.status, 401, "{}", a.body);
    let a = x
        .execute(
            "contacts",
            Some(new),
            json!({"phone": "5511966660001"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    x.t.app.stop().await;
}
