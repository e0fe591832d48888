//! External functions: the AI Agent gate explained, creating one (key shown once, the API's
//! validation per field), editing, enabling and disabling, a new key, the call log, deletion,
//! and another tenant's 404s.

use reqwest::Method;
use serde_json::{Value, json};

use super::{assert_csrf_refused, esc, other_tenant};
use crate::ai_functions::integration;
use crate::dashboard::Dash;
use crate::inbox_setup::Inbox;

/// A function's key from a page: `xfn_` and what follows it.
fn key_in(body: &str) -> String {
    let start = body
        .find("xfn_")
        .unwrap_or_else(|| panic!("a key in {body}"));
    body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

async fn call(t: &Inbox, slug: &str, key: &str) -> u16 {
    t.app
        .req(
            Method::POST,
            &format!("/api/v1/external-functions/{slug}/execute"),
            None,
        )
        .header("x-api-key", key)
        .json(&json!({"phone": "5511999990001", "order_id": "A-1", "status": "shipped"}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn external_functions_crud_keys_logs_and_isolation() {
    let t = Inbox::new().await;
    let dash = Dash::admin(&t.app).await;

    // Without an AI Agent integration: the page says what is missing, as the API does.
    let (status, page) = dash.get("/dashboard/external-functions").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("AI_AGENT_NOT_ENABLED") && page.contains("/dashboard/automations"),
        "{page}"
    );
    let (status, _, _) = dash
        .post("/dashboard/external-functions", &[("name", "x")])
        .await;
    assert_eq!(status, 403);

    integration(&t, &t.token, &t.uuid, "ai_agent").await;
    let (status, page) = dash.get("/dashboard/external-functions").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("No functions yet") && page.contains("send_message"),
        "{page}"
    );

    // Create: the key is shown once; the API has the function as the form gave it.
    let form = |slug: &'static str, config: &'static str| {
        vec![
            ("instance_uuid", t.uuid.clone()),
            ("name", "Order status".to_owned()),
            ("slug", slug.to_owned()),
            ("action_type", "send_message".to_owned()),
            (
                "description",
                "Tells a customer where the order is".to_owned(),
            ),
            ("config", config.to_owned()),
            ("rate_limit", "50".to_owned()),
            ("allowed_ips", "".to_owned()),
            ("is_enabled", "1".to_owned()),
        ]
    };
    let good = form(
        "order-status",
        r#"{"message_template": "Order {{order_id}}: {{status}}"}"#,
    );
    let pairs: Vec<(&str, &str)> = good.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, body) = dash.post("/dashboard/external-functions", &pairs).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("function-created"), "{body}");
    let key = key_in(&body);
    assert_eq!(key.len(), 52, "{key}");
    let list = t.get("/external-functions").await;
    let f = list["data"][0].clone();
    assert_eq!(f["slug"], "order-status");
    assert_eq!(f["rate_limit"], 50);
    assert_eq!(f["description"], "Tells a customer where the order is");
    assert_eq!(
        f["config"]["message_template"],
        "Order {{order_id}}: {{status}}"
    );
    let uuid = f["uuid"].as_str().unwrap().to_owned();
    let (_, page) = dash.get("/dashboard/external-functions").await;
    assert!(
        page.contains("Order status") && page.contains(&uuid) && !page.contains(&key),
        "{page}"
    );
    let (_, filtered) = dash
        .get("/dashboard/external-functions/list?action_type=create_lead")
        .await;
    assert!(!filtered.contains(&uuid), "{filtered}");
    let (status, _) = dash
        .get("/dashboard/external-functions/list?action_type=fly")
        .await;
    assert_eq!(status, 422);

    // Bad input: the API's messages on their fields; nothing is created.
    for (slug, config, field) in [
        ("Bad Slug", r#"{"message_template": "x"}"#, "err-slug"),
        ("order-status", r#"{"message_template": "x"}"#, "err-slug"),
        ("other-slug", r#"{}"#, "config.message_template"),
        ("other-slug", r#"not json"#, "config"),
    ] {
        let bad = form(slug, config);
        let pairs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _, body) = dash.post("/dashboard/external-functions", &pairs).await;
        assert_eq!(status, 422, "{slug} {config}: {body}");
        assert!(body.contains(field), "{field} in {body}");
    }
    assert_eq!(
        t.get("/external-functions").await["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // A call with the key: answered (the instance is not paired here, so 409) and logged.
    assert_eq!(call(&t, "order-status", &key).await, 409);
    let path = format!("/dashboard/external-functions/{uuid}");
    let (status, page) = dash.get(&path).await;
    assert_eq!(status, 200, "{page}");
    for expected in [
        "/api/v1/external-functions/order-status/execute",
        &key[..8],
        "HTTP 409",
        "A-1",
        "[REDACTED]",
    ] {
        assert!(page.contains(&esc(expected)), "{expected} in {page}");
    }
    assert!(!page.contains(&key), "the key is never shown again");
    let (_, ok_only) = dash.get(&format!("{path}/logs?success=true")).await;
    assert!(!ok_only.contains("HTTP 409"), "{ok_only}");
    let (status, _) = dash.get(&format!("{path}/logs?success=maybe")).await;
    assert_eq!(status, 422);

    // Edit: the API shows the change; bad input names the field and changes nothing.
    let mut edited = form(
        "order-status",
        r#"{"message_template": "Pedido {{order_id}}"}"#,
    );
    edited[1].1 = "Pedido".into();
    edited[6].1 = "75".into();
    edited[7].1 = "203.0.113.10\n10.0.0.0/8".into();
    let pairs: Vec<(&str, &str)> = edited.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, body) = dash.post(&path, &pairs).await;
    assert_eq!(status, 200, "{body}");
    let f = t.get(&format!("/external-functions/{uuid}")).await["data"].clone();
    assert_eq!(f["name"], "Pedido");
    assert_eq!(f["rate_limit"], 75);
    assert_eq!(f["allowed_ips"], json!(["203.0.113.10", "10.0.0.0/8"]));
    assert_eq!(f["config"]["message_template"], "Pedido {{order_id}}");
    let mut bad = edited.clone();
    bad[6].1 = "0".into();
    let pairs: Vec<(&str, &str)> = bad.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, body) = dash.post(&path, &pairs).await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("err-rate_limit"), "{body}");
    assert_eq!(
        t.get(&format!("/external-functions/{uuid}")).await["data"]["rate_limit"],
        75
    );

    // Disable and enable.
    let (status, _, body) = dash.post(&format!("{path}/toggle"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        t.get(&format!("/external-functions/{uuid}")).await["data"]["is_enabled"],
        false
    );
    let (_, _, _) = dash.post(&format!("{path}/toggle"), &[]).await;
    assert_eq!(
        t.get(&format!("/external-functions/{uuid}")).await["data"]["is_enabled"],
        true
    );
    assert_csrf_refused(&dash, &format!("{path}/toggle"), &[]).await;
    assert_eq!(
        t.get(&format!("/external-functions/{uuid}")).await["data"]["is_enabled"],
        true
    );

    // A new key: shown once; the old one stops working.
    let (status, _, body) = dash.post(&format!("{path}/regenerate-key"), &[]).await;
    assert_eq!(status, 200, "{body}");
    let new_key = key_in(&body);
    assert_ne!(new_key, key);
    assert_eq!(call(&t, "order-status", &key).await, 401);
    assert_ne!(call(&t, "order-status", &new_key).await, 401);

    // Another tenant (with its own AI Agent): every page and action with our id is 404.
    let (other, other_token) = other_tenant(&t.app).await;
    let theirs = t.app.create_instance(&other_token, "Theirs").await;
    integration(
        &t,
        &other_token,
        theirs["uuid"].as_str().unwrap(),
        "ai_agent",
    )
    .await;
    for p in [path.clone(), format!("{path}/logs")] {
        let (status, body) = other.get(&p).await;
        assert_eq!(status, 404, "GET {p}: {body}");
        assert!(!body.contains("Pedido"), "{p}");
    }
    for p in [
        path.clone(),
        format!("{path}/toggle"),
        format!("{path}/regenerate-key"),
        format!("{path}/delete"),
    ] {
        let (status, _, body) = other.post(&p, &[("name", "Hijacked")]).await;
        assert_eq!(status, 404, "POST {p}: {body}");
    }
    let (_, page) = other.get("/dashboard/external-functions").await;
    assert!(!page.contains("Pedido"), "{page}");
    let f: Value = t.get(&format!("/external-functions/{uuid}")).await["data"].clone();
    assert_eq!(f["name"], "Pedido");
    assert_ne!(
        call(&t, "order-status", &new_key).await,
        401,
        "the key still works"
    );

    // Delete: back to the list; the API no longer has it.
    let (status, redirect, _) = dash.post(&format!("{path}/delete"), &[]).await;
    assert_eq!(status, 204);
    assert_eq!(redirect.as_deref(), Some("/dashboard/external-functions"));
    let (status, _) = t
        .call(Method::GET, &format!("/external-functions/{uuid}"), None)
        .await;
    assert_eq!(status, 404);
}
