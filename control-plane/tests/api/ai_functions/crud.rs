//! Create, list (filters, pagination), show, update (partial), toggle and delete at both URL
//! forms; validation errors naming each field; the reference's error codes.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Ai, TOKEN, integration, order_parameter};
use crate::helpers::assert_error;
use crate::inbox_setup::Inbox;

#[tokio::test]
async fn crud_at_both_url_forms_with_filters_and_pagination() {
    let ai = Ai::new().await;
    let (status, created) = ai
        .call(
            Method::POST,
            "/ai-functions",
            Some(ai.body(
                "check_order_status",
                json!({
                    "endpoint_url": "https://api.myshop.com/orders/status",
                    "http_method": "GET",
                    "auth_type": "bearer",
                    "auth_config": {"token": TOKEN},
                    "parameters": order_parameter(),
                }),
            )),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["message"], "AI function created successfully");
    let f = &created["data"];
    let uuid = f["uuid"].as_str().unwrap().to_owned();
    assert_eq!(f["integration_uuid"], ai.integration.as_str());
    assert_eq!(f["instance_id"], ai.t.uuid.as_str());
    assert_eq!(f["type"], "fetch_data");
    assert_eq!(f["http_method"], "GET");
    assert_eq!(f["auth_type"], "bearer");
    assert_eq!(f["auth_config"], json!({"token": "********1234"}));
    assert_eq!(f["parameters"][0]["name"], "order_number");
    assert_eq!(f["parameters"][0]["collect_from_user"], true);
    assert_eq!(f["is_enabled"], true);
    assert_eq!(f["timeout_seconds"], 15);
    assert_eq!(f["executions_count"], 0);
    assert_eq!(f["last_executed_at"], Value::Null);

    // The /api/v1 form, with defaults: POST for an action.
    let (status, second) = ai
        .call(
            Method::POST,
            "/api/v1/ai-functions",
            Some(ai.body(
                "create_ticket",
                json!({"type": "action", "display_name": "Create Ticket",
                    "description": "Opens a support ticket", "is_enabled": false}),
            )),
        )
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["data"]["http_method"], "POST");
    assert_eq!(second["data"]["auth_config"], Value::Null);
    let second_uuid = second["data"]["uuid"].as_str().unwrap().to_owned();

    for prefix in ["", "/api/v1"] {
        let list = ai.t.get(&format!("{prefix}/ai-functions")).await;
        assert_eq!(list["meta"]["pagination"]["total"], 2, "{list}");
        assert_eq!(list["meta"]["pagination"]["per_page"], 20);
        // Newest first.
        assert_eq!(list["data"][0]["uuid"], second_uuid.as_str());
        let shown = ai.t.get(&format!("{prefix}/ai-functions/{uuid}")).await;
        assert_eq!(shown["data"]["name"], "check_order_status");
    }
    let page = ai.t.get("/ai-functions?per_page=1&page=2").await;
    assert_eq!(page["data"][0]["uuid"], uuid.as_str());
    assert_eq!(page["meta"]["pagination"]["last_page"], 2);
    for (q, expect) in [
        ("type=fetch_data", vec![uuid.as_str()]),
        ("type=action", vec![second_uuid.as_str()]),
        ("enabled=false", vec![second_uuid.as_str()]),
        ("enabled=true", vec![uuid.as_str()]),
        ("search=ORDER", vec![uuid.as_str()]),
        ("search=support%20ticket", vec![second_uuid.as_str()]),
        ("search=nothing-like-it", vec![]),
    ] {
        let list = ai.t.get(&format!("/ai-functions?{q}")).await;
        let got: Vec<&str> = list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["uuid"].as_str().unwrap())
            .collect();
        assert_eq!(got, expect, "{q}");
    }
    let list =
        ai.t.get(&format!(
            "/ai-functions?integration_uuid={}",
            ai.integration
        ))
        .await;
    assert_eq!(list["data"].as_array().unwrap().len(), 2);
    let (status, _) = ai
        .call(
            Method::GET,
            &format!("/ai-functions?integration_uuid={}", uuid::Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    for (q, field) in [
        ("per_page=101", "per_page"),
        ("type=telepathy", "type"),
        ("enabled=maybe", "enabled"),
        ("integration_uuid=nope", "integration_uuid"),
    ] {
        let (status, body) = ai
            .call(Method::GET, &format!("/ai-functions?{q}"), None)
            .await;
        assert_eq!(status, 422, "{q}: {body}");
        assert!(body["error"]["details"][field].is_array(), "{q}: {body}");
    }

    // PUT is partial: only what is given changes.
    let (status, updated) = ai
        .call(
            Method::PUT,
            &format!("/api/v1/ai-functions/{uuid}"),
            Some(json!({"display_name": "Order status", "timeout_seconds": 5})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["message"], "AI function updated successfully");
    assert_eq!(updated["data"]["display_name"], "Order status");
    assert_eq!(updated["data"]["timeout_seconds"], 5);
    assert_eq!(updated["data"]["name"], "check_order_status");
    assert_eq!(
        updated["data"]["auth_config"],
        json!({"token": "********1234"})
    );
    assert_eq!(updated["data"]["parameters"][0]["name"], "order_number");
    // null clears the optional fields.
    let (status, updated) = ai
        .call(
            Method::PUT,
            &format!("/ai-functions/{uuid}"),
            Some(
                json!({"endpoint_url": null, "timeout_seconds": null, "headers": {"X-Shop": "1"}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["data"]["endpoint_url"], Value::Null);
    assert_eq!(updated["data"]["timeout_seconds"], 15);
    assert_eq!(updated["data"]["headers"], json!({"X-Shop": "1"}));

    // Toggle, both ways.
    for (prefix, enabled) in [("", false), ("/api/v1", true)] {
        let (status, toggled) = ai
            .call(
                Method::POST,
                &format!("{prefix}/ai-functions/{uuid}/toggle"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{toggled}");
        assert_eq!(toggled["data"]["is_enabled"], enabled);
    }

    for (prefix, id) in [("", &uuid), ("/api/v1", &second_uuid)] {
        let (status, deleted) = ai
            .call(Method::DELETE, &format!("{prefix}/ai-functions/{id}"), None)
            .await;
        assert_eq!(status, 200, "{deleted}");
        assert_eq!(deleted["message"], "AI function deleted successfully");
        let resp =
            ai.t.app
                .get(&format!("{prefix}/ai-functions/{id}"), &ai.t.token)
                .await;
        assert_error(resp, 404, "NOT_FOUND").await;
    }
    let list = ai.t.get("/ai-functions").await;
    assert_eq!(list["meta"]["pagination"]["total"], 0);
    ai.t.app.stop().await;
}

#[tokio::test]
async fn validation_errors_name_each_field() {
    let ai = Ai::new().await;
    let (status, body) = ai
        .call(Method::POST, "/ai-functions", Some(json!({})))
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    for field in [
        "integration_uuid",
        "name",
        "display_name",
        "description",
        "type",
    ] {
        assert!(
            body["error"]["details"][field].is_array(),
            "{field}: {body}"
        );
    }

    let cases = [
        (json!({"name": "Check Order"}), "name"),
        (json!({"name": "1check"}), "name"),
        (json!({"name": "a".repeat(65)}), "name"),
        (json!({"type": "telepathy"}), "type"),
        (json!({"http_method": "TRACE"}), "http_method"),
        (json!({"auth_type": "oauth"}), "auth_type"),
        (json!({"timeout_seconds": 0}), "timeout_seconds"),
        (json!({"timeout_seconds": 31}), "timeout_seconds"),
        (json!({"is_enabled": "yes"}), "is_enabled"),
        (
            json!({"endpoint_url": "ftp://files.example.com/x"}),
            "endpoint_url",
        ),
        (json!({"endpoint_url": "not a url"}), "endpoint_url"),
        (
            json!({"headers": {"Bad Header": "x"}}),
            "headers.Bad Header",
        ),
        (json!({"headers": {"Host": "x"}}), "headers.Host"),
        (json!({"parameters": {"a": 1}}), "parameters"),
        (
            json!({"parameters": [{"display_name": "x"}]}),
            "parameters.0.name",
        ),
        (
            json!({"parameters": [{"name": "ok"}, {"name": "9x"}]}),
            "parameters.1.name",
        ),
        (
            json!({"parameters": [{"name": "a", "type": "date"}]}),
            "parameters.0.type",
        ),
        (
            json!({"parameters": [{"name": "a"}, {"name": "a"}]}),
            "parameters.1.name",
        ),
        (
            json!({"parameters": [{"name": "a", "is_required": "yes"}]}),
            "parameters.0.is_required",
        ),
        (
            json!({"parameters": [{"name": "a", "type": "integer", "enum": [1, "two"]}]}),
            "parameters.0.enum.1",
        ),
        (
            json!({"parameters": [{"name": "a", "colour": 1}]}),
            "parameters.0.colour",
        ),
        (json!({"auth_type": "bearer"}), "auth_config"),
        (
            json!({"auth_type": "bearer", "auth_config": {}}),
            "auth_config.token",
        ),
        (
            json!({"auth_type": "basic", "auth_config": {"username": "u"}}),
            "auth_config.password",
        ),
        (
            json!({"auth_type": "api_key", "auth_config": {"key": "k-12345", "in": "cookie"}}),
            "auth_config.in",
        ),
        (
            json!({"auth_type": "custom", "auth_config": {"headers": {}}}),
            "auth_config.headers",
        ),
        (
            json!({"auth_type": "bearer", "auth_config": {"token": "t-12345", "extra": 1}}),
            "auth_config.extra",
        ),
        (
            json!({"auth_type": "none", "auth_config": {"token": "x"}}),
            "auth_config",
        ),
    ];
    for (extra, field) in cases {
        let (status, body) = ai
            .call(
                Method::POST,
                "/ai-functions",
                Some(ai.body("fn_a", extra.clone())),
            )
            .await;
        assert_eq!(status, 422, "{extra}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{extra}: {body}");
        assert!(
            body["error"]["details"][field].is_array(),
            "{extra}: {field} not named in {body}"
        );
    }
    // Unknown fields, and a body that is not an object.
    let (status, body) = ai
        .call(
            Method::POST,
            "/ai-functions",
            Some(ai.body("fn_a", json!({"colour": 1}))),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["colour"].is_array(), "{body}");
    let uuid = ai.create(ai.body("fn_a", json!({}))).await;
    let (status, body) = ai
        .call(
            Method::PUT,
            &format!("/ai-functions/{uuid}"),
            Some(json!({"name": "Bad", "parameters": [{"name": "x", "type": 5}]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["name"].is_array(), "{body}");
    assert!(
        body["error"]["details"]["parameters.0.type"].is_array(),
        "{body}"
    );
    let (status, body) = ai
        .call(
            Method::POST,
            &format!("/ai-functions/{uuid}/test"),
            Some(json!({"parameters": [1, 2]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["parameters"].is_array(), "{body}");
    ai.t.app.stop().await;
}

#[tokio::test]
async fn the_reference_error_codes() {
    // No active ai_agent integration: every route answers AI_AGENT_NOT_ENABLED.
    let t = Inbox::new().await;
    let any = uuid::Uuid::new_v4();
    let routes = [
        (Method::GET, "/ai-functions".to_owned(), None),
        (
            Method::POST,
            "/api/v1/ai-functions".to_owned(),
            Some(json!({})),
        ),
        (Method::GET, format!("/ai-functions/{any}"), None),
        (Method::PUT, format!("/ai-functions/{any}"), Some(json!({}))),
        (Method::DELETE, format!("/ai-functions/{any}"), None),
        (Method::POST, format!("/ai-functions/{any}/toggle"), None),
        (
            Method::POST,
            format!("/ai-functions/{any}/test"),
            Some(json!({})),
        ),
        (Method::GET, format!("/ai-functions/{any}/executions"), None),
        (Method::GET, format!("/ai-functions/executions/{any}"), None),
    ];
    let check_gate = async |t: &Inbox| {
        for (method, path, body) in &routes {
            let (status, answer) = t.call(method.clone(), path, body.clone()).await;
            assert_eq!(status, 403, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "AI_AGENT_NOT_ENABLED", "{answer}");
        }
    };
    check_gate(&t).await;
    // A webhook integration, or an inactive ai_agent one, does not open the gate.
    let webhook = integration(&t, &t.token, &t.uuid, "webhook").await;
    let agent = integration(&t, &t.token, &t.uuid, "ai_agent").await;
    let (status, _) = t
        .call(
            Method::PATCH,
            &format!("/automation/integrations/{agent}"),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(status, 200);
    check_gate(&t).await;
    let (status, _) = t
        .call(
            Method::PATCH,
            &format!("/automation/integrations/{agent}"),
            Some(json!({"is_active": true})),
        )
        .await;
    assert_eq!(status, 200);

    let ai = Ai {
        t,
        integration: agent,
    };
    // INVALID_INTEGRATION_TYPE: the integration is a webhook.
    let mut body = ai.body("fn_a", json!({}));
    body["integration_uuid"] = json!(webhook);
    let (status, answer) = ai.call(Method::POST, "/ai-functions", Some(body)).await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "INVALID_INTEGRATION_TYPE");
    let uuid = ai.create(ai.body("fn_a", json!({}))).await;
    let (status, answer) = ai
        .call(
            Method::PUT,
            &format!("/ai-functions/{uuid}"),
            Some(json!({"integration_uuid": webhook})),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "INVALID_INTEGRATION_TYPE");

    // DUPLICATE_NAME: per integration, on create and on rename.
    let (status, answer) = ai
        .call(
            Method::POST,
            "/ai-functions",
            Some(ai.body("fn_a", json!({}))),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "DUPLICATE_NAME");
    assert!(answer["error"]["details"]["name"].is_array());
    let other = ai.create(ai.body("fn_b", json!({}))).await;
    let (status, answer) = ai
        .call(
            Method::PUT,
            &format!("/ai-functions/{other}"),
            Some(json!({"name": "fn_a"})),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert_eq!(answer["error"]["code"], "DUPLICATE_NAME");
    // The same name in another ai_agent integration is fine.
    let second = integration(&ai.t, &ai.t.token, &ai.t.uuid, "ai_agent").await;
    let mut body = ai.body("fn_a", json!({}));
    body["integration_uuid"] = json!(second);
    ai.create(body).await;
    // An unknown integration is 404.
    let mut body = ai.body("fn_c", json!({}));
    body["integration_uuid"] = json!(uuid::Uuid::new_v4());
    let (status, answer) = ai.call(Method::POST, "/ai-functions", Some(body)).await;
    assert_eq!(status, 404, "{answer}");
    ai.t.app.stop().await;
}
