//! Create (the key once), list with filters and pagination, show, update, toggle,
//! regenerate-key and delete at both URL forms; `DUPLICATE_SLUG`; each action's configuration
//! checked when saved, every failing field named.

use reqwest::Method;
use serde_json::{Value, json};

use super::Xf;

#[tokio::test]
async fn crud_at_both_url_forms_with_the_key_shown_once() {
    let x = Xf::new().await;
    let (status, created) = x
        .call(
            Method::POST,
            "/external-functions",
            Some(json!({
                "instance_uuid": x.t.uuid,
                "name": "CRM Order Notification",
                "slug": "crm-order-notify",
                "action_type": "send_message",
                "description": "Sends order status updates from CRM",
                "config": {"message_template": "Order {{order_id}}: {{status}}"},
                "rate_limit": 500,
                "allowed_ips": ["203.0.113.10"]
            })),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["message"], "External function created successfully");
    let f = &created["data"];
    let uuid = f["uuid"].as_str().unwrap().to_owned();
    let key = f["api_key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("xfn_") && key.len() == 52, "{key}");
    assert_eq!(f["api_key_prefix"], &key[..8]);
    assert_eq!(f["instance_uuid"], x.t.uuid.as_str());
    assert_eq!(f["action_type"], "send_message");
    assert_eq!(
        f["config"]["message_template"],
        "Order {{order_id}}: {{status}}"
    );
    assert_eq!(f["rate_limit"], 500);
    assert_eq!(f["allowed_ips"], json!(["203.0.113.10"]));
    assert_eq!(f["is_enabled"], true);
    assert_eq!(
        f["execute_path"],
        "/api/v1/external-functions/crm-order-notify/execute"
    );
    assert_eq!(f["calls_today"], 0);

    // Defaults, at the /api/v1 form.
    let (status, second) = x
        .call(
            Method::POST,
            "/api/v1/external-functions",
            Some(
                json!({"instance_uuid": x.t.instance["id"], "name": "Add contact",
                "slug": "add-contact", "action_type": "create_contact", "is_enabled": false}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["data"]["rate_limit"], 1000);
    assert_eq!(second["data"]["allowed_ips"], json!([]));
    assert_eq!(second["data"]["config"], json!({}));
    assert_eq!(second["data"]["description"], Value::Null);
    let second_uuid = second["data"]["uuid"].as_str().unwrap().to_owned();

    // The key is never shown again: not in show, list or update.
    for prefix in ["", "/api/v1"] {
        let shown =
            x.t.get(&format!("{prefix}/external-functions/{uuid}"))
                .await;
        assert_eq!(shown["data"]["slug"], "crm-order-notify");
        assert!(shown["data"].get("api_key").is_none());
        let list = x.t.get(&format!("{prefix}/external-functions")).await;
        assert_eq!(list["meta"]["pagination"]["total"], 2);
        assert_eq!(
            list["data"][0]["uuid"],
            second_uuid.as_str(),
            "newest first"
        );
        assert!(!list.to_string().contains(&key));
    }
    let page = x.t.get("/external-functions?per_page=1&page=2").await;
    assert_eq!(page["data"][0]["uuid"], uuid.as_str());
    assert_eq!(page["meta"]["pagination"]["last_page"], 2);
    for (q, expect) in [
        ("action_type=send_message", vec![uuid.as_str()]),
        ("action_type=create_contact", vec![second_uuid.as_str()]),
        ("enabled=false", vec![second_uuid.as_str()]),
        ("enabled=true", vec![uuid.as_str()]),
        ("search=ORDER", vec![uuid.as_str()]),
        ("search=add-contact", vec![second_uuid.as_str()]),
        ("search=nothing-like-it", vec![]),
        (
            &format!("instance_id={}", x.t.uuid),
            vec![second_uuid.as_str(), uuid.as_str()],
        ),
    ] {
        let list = x.t.get(&format!("/external-functions?{q}")).await;
        let got: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["uuid"].as_str().unwrap())
            .collect();
        assert_eq!(got, expect, "{q}");
    }
    for (q, field) in [
        ("per_page=101", "per_page"),
        ("action_type=telepathy", "action_type"),
        ("enabled=maybe", "enabled"),
    ] {
        let (status, body) = x
            .call(Method::GET, &format!("/external-functions?{q}"), None)
            .await;
        assert_eq!(status, 422, "{q}: {body}");
        assert!(body["error"]["details"][field].is_array(), "{q}: {body}");
    }

    // Update: partial; the config is checked against the stored action type.
    let (status, updated) = x
        .call(
            Method::PUT,
            &format!("/api/v1/external-functions/{uuid}"),
            Some(
                json!({"rate_limit": 2000, "allowed_ips": ["203.0.113.0/24"], "description": null}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["message"], "External function updated successfully");
    assert_eq!(updated["data"]["rate_limit"], 2000);
    assert_eq!(updated["data"]["allowed_ips"], json!(["203.0.113.0/24"]));
    assert_eq!(updated["data"]["description"], Value::Null);
    assert_eq!(
        updated["data"]["config"]["message_template"],
        "Order {{order_id}}: {{status}}"
    );
    assert!(updated["data"].get("api_key").is_none());
    let (status, body) = x
        .call(
            Method::PUT,
            &format!("/external-functions/{uuid}"),
            Some(json!({"config": {"buttons": ["A"]}})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["details"]["config.buttons"].is_array(),
        "{body}"
    );
    assert!(
        body["error"]["details"]["config.message_template"].is_array(),
        "{body}"
    );
    // Changing the action re-checks the stored config against it.
    let (status, body) = x
        .call(
            Method::PUT,
            &format!("/external-functions/{uuid}"),
            Some(json!({"action_type": "send_media"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["details"]["config.message_template"].is_array(),
        "{body}"
    );

    // Toggle.
    let (status, toggled) = x
        .call(
            Method::POST,
            &format!("/external-functions/{uuid}/toggle"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{toggled}");
    assert_eq!(toggled["message"], "External function disabled");
    assert_eq!(toggled["data"]["is_enabled"], false);
    let (_, toggled) = x
        .call(
            Method::POST,
            &format!("/api/v1/external-functions/{uuid}/toggle"),
            None,
        )
        .await;
    assert_eq!(toggled["message"], "External function enabled");
    assert_eq!(toggled["data"]["is_enabled"], true);

    // Regenerate: a new key, shown once, another prefix.
    let (status, regenerated) = x
        .call(
            Method::POST,
            &format!("/external-functions/{uuid}/regenerate-key"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{regenerated}");
    assert_eq!(regenerated["message"], "API key regenerated successfully");
    let new_key = regenerated["data"]["api_key"].as_str().unwrap();
    assert_ne!(new_key, key);
    assert_eq!(regenerated["data"]["api_key_prefix"], &new_key[..8]);
    let shown = x.t.get(&format!("/external-functions/{uuid}")).await;
    assert_eq!(shown["data"]["api_key_prefix"], &new_key[..8]);

    // Delete.
    let (status, deleted) = x
        .call(Method::DELETE, &format!("/external-functions/{uuid}"), None)
        .await;
    assert_eq!(status, 200, "{deleted}");
    assert_eq!(deleted["message"], "External function deleted successfully");
    for (method, path) in [
        (Method::GET, format!("/external-functions/{uuid}")),
        (Method::DELETE, format!("/external-functions/{uuid}")),
        (Method::GET, format!("/external-functions/{uuid}/logs")),
        (Method::GET, "/external-functions/not-a-uuid".to_owned()),
    ] {
        let (status, body) = x.call(method, &path, None).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["code"], "NOT_FOUND");
    }
    // The deleted function's key opens nothing.
    let a = x
        .execute("crm-order-notify", Some(new_key), json!({}), None)
        .await;
    assert_eq!(a.status, 401, "{}", a.body);
    x.t.app.stop().await;
}

#[tokio::test]
async fn slugs_are_unique_per_tenant_and_well_formed() {
    let x = Xf::new().await;
    let (first, _) = x.sender("order-notify", "Hi").await;
    let (status, body) = x
        .call(
            Method::POST,
            "/external-functions",
            Some(x.body(
                "order-notify",
                "send_message",
                json!({"message_template": "x"}),
            )),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "DUPLICATE_SLUG");
    assert!(body["error"]["details"]["slug"].is_array());
    // Renaming another function onto it is refused too.
    let (second, _) = x.sender("other", "Hi").await;
    let (status, body) = x
        .call(
            Method::PUT,
            &format!("/external-functions/{second}"),
            Some(json!({"slug": "order-notify"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "DUPLICATE_SLUG");
    // Keeping one's own slug is fine.
    let (status, body) = x
        .call(
            Method::PUT,
            &format!("/external-functions/{first}"),
            Some(json!({"slug": "order-notify", "name": "Renamed"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for bad in ["Order", "order_notify", "-order", "order-", "a b", ""] {
        let (status, body) = x
            .call(
                Method::POST,
                "/external-functions",
                Some(x.body(bad, "send_message", json!({"message_template": "x"}))),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert!(body["error"]["details"]["slug"].is_array(), "{bad}: {body}");
    }
    // Another tenant may use the same slug.
    let other = x.t.app.other_tenant_token("slug@test.local").await;
    let other_instance = x.t.app.create_instance(&other, "Other").await;
    let other_uuid = other_instance["uuid"].as_str().unwrap();
    crate::ai_functions::integration(&x.t, &other, other_uuid, "ai_agent").await;
    let mut body = x.body(
        "order-notify",
        "send_message",
        json!({"message_template": "x"}),
    );
    body["instance_uuid"] = json!(other_uuid);
    let (status, created) =
        x.t.call_as(&other, Method::POST, "/external-functions", Some(body))
            .await;
    assert_eq!(status, 201, "{created}");
    x.t.app.stop().await;
}

#[tokio::test]
async fn every_bad_field_and_each_actions_config_is_named() {
    let x = Xf::new().await;
    let (status, body) = x
        .call(
            Method::POST,
            "/external-functions",
            Some(json!({"instance_uuid": "nope", "slug": "Bad Slug", "action_type": "telepathy",
                "rate_limit": 0, "allowed_ips": ["1.2.3.4", "not-an-ip", "10.0.0.0/33"], "is_enabled": "yes"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let mut fields: Vec<&String> = body["error"]["details"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        [
            "action_type",
            "allowed_ips.1",
            "allowed_ips.2",
            "instance_uuid",
            "is_enabled",
            "name",
            "rate_limit",
            "slug"
        ]
    );
    let (status, body) = x
        .call(Method::POST, "/external-functions", Some(json!({"instance_uuid": x.t.uuid, "name": "n", "slug": "s", "action_type": "send_message", "extra": 1})))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["extra"].is_array(), "{body}");

    for (action, config, expect) in [
        ("send_message", json!({}), vec!["config.message_template"]),
        (
            "send_message",
            json!({"message_template": "Order {{order_id"}),
            vec!["config.message_template"],
        ),
        (
            "send_message",
            json!({"message_template": "  "}),
            vec!["config.message_template"],
        ),
        (
            "send_message",
            json!({"message_template": "x".repeat(4097)}),
            vec!["config.message_template"],
        ),
        (
            "send_message",
            json!({"message_template": "Hi", "caption": "x"}),
            vec!["config.caption"],
        ),
        (
            "send_buttons",
            json!({"message_template": "Pick"}),
            vec!["config.buttons"],
        ),
        (
            "send_buttons",
            json!({"message_template": "Pick", "buttons": vec!["a"; 11]}),
            vec!["config.buttons"],
        ),
        (
            "send_buttons",
            json!({"message_template": "Pick", "buttons": ["ok", ""]}),
            vec!["config.buttons.1"],
        ),
        ("send_media", json!({}), vec!["config.media_url"]),
        (
            "send_media",
            json!({"media_url": "https://cdn.example.com/a.jpg"}),
            vec!["config.media_type"],
        ),
        (
            "send_media",
            json!({"media_url": "file:///etc/passwd", "media_type": "image"}),
            vec!["config.media_url"],
        ),
        (
            "send_media",
            json!({"media_url": "https://{{host}}/a.jpg", "media_type": "image"}),
            vec!["config.media_url"],
        ),
        (
            "send_media",
            json!({"media_url": "https://cdn.example.com/a.jpg", "media_type": "gif"}),
            vec!["config.media_type"],
        ),
        (
            "send_media",
            json!({"media_id": "media_doesnotexist"}),
            vec!["config.media_id"],
        ),
        (
            "send_media",
            json!({"media_url": "http://169.254.169.254/latest/{{path}}", "media_type": "document"}),
            vec!["config.media_url"],
        ),
        (
            "send_media",
            json!({"media_url": "http://127.0.0.1:9/a.png", "media_type": "image"}),
            vec!["config.media_url"],
        ),
        (
            "create_contact",
            json!({"phone": "x"}),
            vec!["config.phone"],
        ),
        ("update_contact", json!({"email": 5}), vec!["config.email"]),
        ("create_lead", json!({}), vec!["config.title"]),
        (
            "create_lead",
            json!({"title": "{{name}}", "board_uuid": "b", "priority": "asap"}),
            vec!["config.board_uuid", "config.priority"],
        ),
        (
            "update_lead",
            json!({"board_uuid": "9b2f0c1e-7d3a-4e5b-8c6d-1a2b3c4d5e6f"}),
            vec!["config.board_uuid"],
        ),
        (
            "pause_automation",
            json!({"reason": "{{"}),
            vec!["config.reason"],
        ),
        (
            "resume_automation",
            json!({"reason": "x"}),
            vec!["config.reason"],
        ),
    ] {
        let (status, body) = x
            .call(
                Method::POST,
                "/external-functions",
                Some(x.body("checked", action, config.clone())),
            )
            .await;
        assert_eq!(status, 422, "{action} {config}: {body}");
        let mut got: Vec<&String> = body["error"]["details"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        got.sort();
        assert_eq!(got, expect, "{action} {config}: {body}");
    }
    // And the good ones of each action are saved as given.
    for (i, (action, config)) in [
        ("send_message", json!({"message_template": "Order {{order_id}}: {{status}}"})),
        ("send_buttons", json!({"message_template": "Order {{order_id}}", "buttons": ["Track", "Talk to us"], "footer": "Reply with a number"})),
        ("send_media", json!({"media_url": "https://cdn.example.com/invoices/{{invoice}}.pdf", "media_type": "document", "caption": "Invoice {{invoice}}", "filename": "invoice-{{invoice}}.pdf"})),
        ("create_contact", json!({"name": "{{first}} {{last}}", "company": "ACME"})),
        ("update_contact", json!({"notes": "Order {{order_id}}"})),
        ("create_lead", json!({"title": "Order {{order_id}}", "priority": "high"})),
        ("update_lead", json!({"notes": "Paid {{amount}}"})),
        ("pause_automation", json!({"reason": "Handled by {{agent}}"})),
        ("resume_automation", json!({})),
    ]
    .into_iter()
    .enumerate()
    {
        let (status, body) = x
            .call(Method::POST, "/external-functions", Some(x.body(&format!("good-{i}"), action, config.clone())))
            .await;
        assert_eq!(status, 201, "{action}: {body}");
        assert_eq!(body["data"]["config"], config, "{action}");
        assert_eq!(body["data"]["action_type"], action);
    }
    x.t.app.stop().await;
}
