//! End to end: an External Function called from outside with its own key sends a templated
//! message through the instance's sandbox node (it shows in the conversation's history, and
//! the sandbox contact's receipt marks it `delivered`); it is refused from an address not in `allowed_ips`, over its daily
//! limit (429 with `Retry-After`), with a missing placeholder (422 naming it) and with the key
//! it had before a regeneration; its log shows each call with the key redacted.

use serde_json::{Value, json};
use zapini_e2e::eventually;

use crate::support::{T, conversation_where, paired, setup_with};

const CONTACT: &str = "5511977770001";

/// Calls `slug` with `key` from `ip` (`X-Forwarded-For`, trusted in this set-up); answers the
/// status, the body and the `Retry-After` header.
async fn call(
    s: &crate::support::Setup,
    slug: &str,
    key: &str,
    ip: &str,
    body: Value,
) -> (u16, Value, Option<u64>) {
    let resp = reqwest::Client::new()
        .post(s.cp.url(&format!("/api/v1/external-functions/{slug}/execute")))
        .bearer_auth(key)
        .header("x-forwarded-for", ip)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, resp.json().await.unwrap_or(Value::Null), retry)
}

fn with_contact(c: &Value) -> bool {
    c["chat_jid"]
        .as_str()
        .is_some_and(|j| j.starts_with(&format!("{CONTACT}@")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_sends_a_templated_message_within_its_limits() {
    let s = setup_with(|c| c.trust_forwarded_for = true).await;
    let shop = paired(&s, "Shop", "5511900000001").await;
    // The account's AI Agent lives on another instance: an active automation on the shop's
    // own instance would make its sends wait for a pause (`AUTOMATION_ACTIVE`).
    let (_, agent_instance) = s.api.create_instance(&s.cp, &s.user, "Agent").await;
    let (status, body) = s
        .post(
            "/api/v1/automation/integrations",
            &s.user,
            json!({"instance_id": agent_instance.to_string(), "name": "Agent", "integration_type": "ai_agent"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    let (status, created) = s
        .post(
            "/api/v1/external-functions",
            &s.user,
            json!({
                "instance_uuid": shop.uuid.to_string(),
                "name": "CRM Order Notification",
                "slug": "crm-order-notify",
                "action_type": "send_message",
                "config": {"message_template": "Order {{order_id}}: {{status}}"},
                "rate_limit": 3,
                "allowed_ips": ["203.0.113.10", "198.51.100.0/24"]
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let uuid = created["data"]["uuid"].as_str().unwrap().to_owned();
    let key = created["data"]["api_key"].as_str().unwrap().to_owned();

    // 1. A templated message, from an allowed address: sent through the node.
    let (status, sent, _) = call(
        &s,
        "crm-order-notify",
        &key,
        "203.0.113.10",
        json!({"phone": CONTACT, "order_id": "A-1001", "status": "shipped"}),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let message = &sent["data"]["result"];
    assert_eq!(message["message_body"], "Order A-1001: shipped");
    assert_eq!(message["direction"], "outgoing");
    let wa_id = message["message_id"].as_str().unwrap().to_owned();
    // It is in the conversation's history and reaches the contact.
    let (_, msgs) = conversation_where(&s, shop.uuid, with_contact, 1).await;
    let stored = msgs
        .iter()
        .find(|m| m["message_id"] == wa_id.as_str() || m["unique_id"] == wa_id.as_str())
        .unwrap_or_else(|| panic!("the sent message in the history: {msgs:#?}"));
    assert_eq!(stored["message_body"], "Order A-1001: shipped");
    // The sandbox contact's phone acknowledges it (test nodes take receipts on demand).
    let (status, body) = s
        .api
        .call(
            reqwest::Method::POST,
            &shop.node.url("/sandbox/receipt"),
            Some(&shop.sk),
            None,
            Some(json!({"message_id": wa_id, "status": "delivered"})),
        )
        .await;
    assert_eq!(status, 200, "the sandbox knows the message: {body}");
    eventually(
        T,
        "the message delivered to the sandbox contact",
        || async {
            let (_, msgs) = conversation_where(&s, shop.uuid, with_contact, 1).await;
            msgs.iter()
                .find(|m| m["message_id"] == wa_id.as_str() || m["unique_id"] == wa_id.as_str())
                .filter(|m| m["status"] == "delivered" || m["status"] == "read")
                .cloned()
        },
    )
    .await;

    // 2. From an address not allowed: refused.
    let (status, refused, _) = call(
        &s,
        "crm-order-notify",
        &key,
        "192.0.2.55",
        json!({"phone": CONTACT, "order_id": "A-1002", "status": "paid"}),
    )
    .await;
    assert_eq!(status, 403, "{refused}");
    assert_eq!(refused["error"]["code"], "FORBIDDEN");

    // 3. A missing placeholder: 422 naming it (it counts as a call of the day).
    let (status, invalid, _) = call(
        &s,
        "crm-order-notify",
        &key,
        "198.51.100.7",
        json!({"phone": CONTACT, "order_id": "A-1003"}),
    )
    .await;
    assert_eq!(status, 422, "{invalid}");
    assert!(
        invalid["error"]["details"]["status"].is_array(),
        "{invalid}"
    );

    // 4. A regenerated key: the old one stops at once, the new one works.
    let (status, regenerated) = s
        .post(
            &format!("/api/v1/external-functions/{uuid}/regenerate-key"),
            &s.user,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{regenerated}");
    let new_key = regenerated["data"]["api_key"].as_str().unwrap().to_owned();
    let body = json!({"phone": CONTACT, "order_id": "A-1004", "status": "delivered"});
    let (status, old, _) = call(&s, "crm-order-notify", &key, "203.0.113.10", body.clone()).await;
    assert_eq!(status, 401, "{old}");
    let (status, sent, _) = call(
        &s,
        "crm-order-notify",
        &new_key,
        "203.0.113.10",
        body.clone(),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(
        sent["data"]["result"]["message_body"],
        "Order A-1004: delivered"
    );

    // 5. Over the daily limit (3): 429 until the next UTC day.
    let (status, limited, retry) =
        call(&s, "crm-order-notify", &new_key, "203.0.113.10", body).await;
    assert_eq!(status, 429, "{limited}");
    assert_eq!(limited["error"]["code"], "RATE_LIMIT_EXCEEDED");
    let now = chrono::Utc::now();
    let midnight = (now.date_naive() + chrono::Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .unwrap()
        .and_utc();
    let retry = retry.expect("Retry-After") as i64;
    assert!(
        ((midnight - now).num_seconds() - 5..=(midnight - now).num_seconds() + 1).contains(&retry),
        "Retry-After {retry}"
    );

    // 6. The log: every call of the function's keys, newest first, keys redacted.
    let (status, logs) = s
        .get(&format!("/api/v1/external-functions/{uuid}/logs"), &s.user)
        .await;
    assert_eq!(status, 200, "{logs}");
    let entries = logs["data"].as_array().unwrap();
    let seen: Vec<(u64, &str)> = entries
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
            (429, "203.0.113.10"),
            (200, "203.0.113.10"),
            (422, "198.51.100.7"),
            (403, "192.0.2.55"),
            (200, "203.0.113.10"),
        ],
        "the old key's refused call belongs to no key of the function now, and is not logged"
    );
    for l in entries {
        assert_eq!(l["request"]["headers"]["authorization"], "[REDACTED]");
    }
    let text = logs.to_string();
    assert!(
        !text.contains(&key) && !text.contains(&new_key),
        "a key is in the log"
    );
    assert_eq!(
        entries[4]["response"]["data"]["result"]["message_body"],
        "Order A-1001: shipped"
    );
    assert_eq!(entries[2]["error_code"], "VALIDATION_ERROR");
    let (_, shown) = s
        .get(&format!("/api/v1/external-functions/{uuid}"), &s.user)
        .await;
    assert_eq!(shown["data"]["calls_today"], 3);
    shop.node.stop().await;
}

/// `send_buttons` travels as a numbered text menu (WhatsApp does not deliver interactive
/// buttons from unofficial clients); another tenant's function with the same slug is another
/// function, and neither key opens the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_arrive_as_a_numbered_menu_and_slugs_are_per_tenant() {
    let s = setup_with(|_| {}).await;
    let shop = paired(&s, "Menu", "5511900000002").await;
    let (_, agent_instance) = s.api.create_instance(&s.cp, &s.user, "Agent").await;
    let (status, body) = s
        .post(
            "/api/v1/automation/integrations",
            &s.user,
            json!({"instance_id": agent_instance.to_string(), "name": "Agent", "integration_type": "ai_agent"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, created) = s
        .post(
            "/api/v1/external-functions",
            &s.user,
            json!({
                "instance_uuid": shop.uuid.to_string(),
                "name": "Order menu",
                "slug": "order-menu",
                "action_type": "send_buttons",
                "config": {"message_template": "Order {{order_id}} shipped. What next?",
                    "buttons": ["Track {{order_id}}", "Talk to us"], "footer": "Reply with a number"}
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["data"]["api_key"].as_str().unwrap().to_owned();

    // Another tenant, its own agent and a function with the same slug.
    let other = s.other_tenant("menu-other@test.local").await;
    let (_, other_instance) = s.api.create_instance(&s.cp, &other, "Other").await;
    let (status, body) = s
        .post(
            "/api/v1/automation/integrations",
            &other,
            json!({"instance_id": other_instance.to_string(), "name": "Agent", "integration_type": "ai_agent"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, theirs) = s
        .post(
            "/api/v1/external-functions",
            &other,
            json!({"instance_uuid": other_instance.to_string(), "name": "Theirs",
                "slug": "order-menu", "action_type": "create_contact"}),
        )
        .await;
    assert_eq!(status, 201, "{theirs}");
    let their_key = theirs["data"]["api_key"].as_str().unwrap().to_owned();
    let their_uuid = theirs["data"]["uuid"].as_str().unwrap().to_owned();

    let (status, sent, _) = call(
        &s,
        "order-menu",
        &key,
        "127.0.0.1",
        json!({"phone": CONTACT, "order_id": "B-7"}),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let menu =
        "Order B-7 shipped. What next?\n\n1. Track B-7\n2. Talk to us\n\nReply with a number";
    assert_eq!(sent["data"]["result"]["message_body"], menu);
    let (_, msgs) = conversation_where(&s, shop.uuid, with_contact, 1).await;
    assert!(
        msgs.iter().any(|m| m["message_body"] == menu),
        "the menu in the history: {msgs:#?}"
    );
    // Their key opens their function only: it created a contact on their instance.
    let (status, made, _) = call(
        &s,
        "order-menu",
        &their_key,
        "127.0.0.1",
        json!({"phone": CONTACT}),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["data"]["action_type"], "create_contact");
    assert_eq!(
        made["data"]["result"]["instance_id"],
        other_instance.to_string()
    );
    // Each tenant sees only its own function and log; the other's ids are 404.
    let (status, _) = s
        .get(
            &format!("/api/v1/external-functions/{their_uuid}/logs"),
            &s.user,
        )
        .await;
    assert_eq!(status, 404);
    let (status, logs) = s
        .get(
            &format!("/api/v1/external-functions/{their_uuid}/logs"),
            &other,
        )
        .await;
    assert_eq!(status, 200, "{logs}");
    assert_eq!(logs["meta"]["pagination"]["total"], 1);
    shop.node.stop().await;
}

/// `send_media` with a library file: the node fetches it from the control plane, as a
/// `media_id` send does, and the caption is filled from the call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_media_sends_a_library_file_with_a_filled_caption() {
    let s = setup_with(|_| {}).await;
    let shop = paired(&s, "Files", "5511900000003").await;
    let (_, agent_instance) = s.api.create_instance(&s.cp, &s.user, "Agent").await;
    let (status, body) = s
        .post(
            "/api/v1/automation/integrations",
            &s.user,
            json!({"instance_id": agent_instance.to_string(), "name": "Agent", "integration_type": "ai_agent"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut pdf = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n".to_vec();
    pdf.resize(4000, b'x');
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(pdf).file_name("invoice.pdf"),
    );
    let resp = s
        .api
        .client
        .post(s.cp.url("/api/v1/media/upload"))
        .bearer_auth(&s.user)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let uploaded: Value = resp.json().await.unwrap();
    let media_id = uploaded["data"]["id"].as_str().unwrap().to_owned();
    let (status, created) = s
        .post(
            "/api/v1/external-functions",
            &s.user,
            json!({
                "instance_uuid": shop.uuid.to_string(),
                "name": "Invoice",
                "slug": "invoice",
                "action_type": "send_media",
                "config": {"media_id": media_id, "caption": "Invoice {{invoice}}"}
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let key = created["data"]["api_key"].as_str().unwrap().to_owned();
    let (status, sent, _) = call(
        &s,
        "invoice",
        &key,
        "127.0.0.1",
        json!({"phone": CONTACT, "invoice": "2025-001"}),
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    let message = &sent["data"]["result"];
    assert_eq!(message["message_type"], "document");
    assert_eq!(message["media"]["caption"], "Invoice 2025-001");
    let wa_id = message["message_id"].as_str().unwrap().to_owned();
    let (_, msgs) = conversation_where(&s, shop.uuid, with_contact, 1).await;
    assert!(
        msgs.iter().any(|m| m["message_id"] == wa_id.as_str()),
        "the media message in the history: {msgs:#?}"
    );
    shop.node.stop().await;
}
