//! Another tenant's ids are 404; `sk_` tokens reach their own instance's functions only.

use reqwest::Method;
use serde_json::json;

use super::{Ai, Fake, integration};

#[tokio::test]
async fn other_tenants_ids_are_not_found() {
    let ai = Ai::new().await;
    let fake = Fake::start().await;
    let uuid = ai
        .create(ai.body("fn_a", json!({"endpoint_url": fake.url("/ok")})))
        .await;
    let execution = ai.test(&uuid, json!({})).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();

    // Another tenant, with its own active ai_agent integration.
    let other = ai.t.app.other_tenant_token("other@test.local").await;
    let other_instance = ai.t.app.create_instance(&other, "Other").await;
    let other_uuid = other_instance["uuid"].as_str().unwrap();
    integration(&ai.t, &other, other_uuid, "ai_agent").await;
    let paths = [
        (Method::GET, format!("/ai-functions/{uuid}"), None),
        (
            Method::PUT,
            format!("/ai-functions/{uuid}"),
            Some(json!({"display_name": "x"})),
        ),
        (Method::DELETE, format!("/ai-functions/{uuid}"), None),
        (Method::POST, format!("/ai-functions/{uuid}/toggle"), None),
        (
            Method::POST,
            format!("/ai-functions/{uuid}/test"),
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("/ai-functions/{uuid}/executions"),
            None,
        ),
        (
            Method::GET,
            format!("/ai-functions/executions/{execution}"),
            None,
        ),
    ];
    for (method, path, body) in &paths {
        let (status, answer) =
            ai.t.call_as(&other, method.clone(), path, body.clone())
                .await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
        assert_eq!(answer["error"]["code"], "NOT_FOUND");
    }
    // Nor can it attach a function to this tenant's integration.
    let (status, answer) =
        ai.t.call_as(
            &other,
            Method::POST,
            "/ai-functions",
            Some(ai.body("fn_x", json!({}))),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    let list =
        ai.t.call_as(&other, Method::GET, "/ai-functions", None)
            .await
            .1;
    assert_eq!(list["meta"]["pagination"]["total"], 0);
    // Nothing changed for the owner.
    let shown = ai.t.get(&format!("/ai-functions/{uuid}")).await;
    assert_eq!(shown["data"]["is_enabled"], true);
    assert_eq!(shown["data"]["executions_count"], 1);
    ai.t.app.stop().await;
}

#[tokio::test]
async fn sk_tokens_reach_their_own_instances_functions_only() {
    let ai = Ai::new().await;
    let fake = Fake::start().await;
    let own = ai
        .create(ai.body("own_fn", json!({"endpoint_url": fake.url("/ok")})))
        .await;
    let own_execution = ai.test(&own, json!({})).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    // A second instance with its own agent and function.
    let second = ai.t.app.create_instance(&ai.t.token, "Second").await;
    let second_uuid = second["uuid"].as_str().unwrap().to_owned();
    let second_agent = integration(&ai.t, &ai.t.token, &second_uuid, "ai_agent").await;
    let mut body = ai.body("their_fn", json!({"endpoint_url": fake.url("/ok")}));
    body["integration_uuid"] = json!(second_agent);
    let theirs = ai.create(body).await;
    let their_execution = ai.test(&theirs, json!({})).await["uuid"]
        .as_str()
        .unwrap()
        .to_owned();

    let sk = ai.t.app.create_sk(&ai.t.token, &ai.t.instance["id"]).await;
    let (status, list) = ai.t.call_as(&sk, Method::GET, "/ai-functions", None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["meta"]["pagination"]["total"], 1);
    assert_eq!(list["data"][0]["uuid"], own.as_str());
    let (status, _) =
        ai.t.call_as(&sk, Method::GET, &format!("/ai-functions/{own}"), None)
            .await;
    assert_eq!(status, 200);
    let (status, _) =
        ai.t.call_as(
            &sk,
            Method::GET,
            &format!("/ai-functions/executions/{own_execution}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    for (method, path) in [
        (Method::GET, format!("/ai-functions/{theirs}")),
        (Method::POST, format!("/ai-functions/{theirs}/toggle")),
        (Method::DELETE, format!("/ai-functions/{theirs}")),
        (
            Method::GET,
            format!("/ai-functions/executions/{their_execution}"),
        ),
        (
            Method::GET,
            format!("/ai-functions?integration_uuid={second_agent}"),
        ),
    ] {
        let (status, answer) = ai.t.call_as(&sk, method.clone(), &path, None).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    let mut body = ai.body("sk_fn", json!({}));
    body["integration_uuid"] = json!(second_agent);
    let (status, answer) =
        ai.t.call_as(&sk, Method::POST, "/ai-functions", Some(body))
            .await;
    assert_eq!(status, 404, "{answer}");
    let (status, created) =
        ai.t.call_as(
            &sk,
            Method::POST,
            "/ai-functions",
            Some(ai.body("sk_fn", json!({}))),
        )
        .await;
    assert_eq!(status, 201, "{created}");

    // An sk_ token of an instance without an active ai_agent integration: the gate is shut.
    let third = ai.t.app.create_instance(&ai.t.token, "Third").await;
    let sk3 = ai.t.app.create_sk(&ai.t.token, &third["id"]).await;
    let (status, answer) = ai.t.call_as(&sk3, Method::GET, "/ai-functions", None).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "AI_AGENT_NOT_ENABLED");
    ai.t.app.stop().await;
}
