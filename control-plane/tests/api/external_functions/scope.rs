//! Another tenant's ids are 404 on every route; `sk_` tokens reach their own instance's
//! functions only; without an active AI Agent integration every route, and the call, answer
//! `AI_AGENT_NOT_ENABLED`.

use reqwest::Method;
use serde_json::json;

use super::Xf;
use crate::ai_functions::integration;

#[tokio::test]
async fn other_tenants_ids_are_not_found_on_every_route() {
    let x = Xf::new().await;
    let (uuid, key) = x.sender("notify", "Hi {{name}}").await;
    let other = x.t.app.other_tenant_token("other@test.local").await;
    let other_instance = x.t.app.create_instance(&other, "Other").await;
    let other_uuid = other_instance["uuid"].as_str().unwrap();
    integration(&x.t, &other, other_uuid, "ai_agent").await;
    for (method, path, body) in [
        (Method::GET, format!("/external-functions/{uuid}"), None),
        (
            Method::PUT,
            format!("/external-functions/{uuid}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/external-functions/{uuid}"), None),
        (
            Method::POST,
            format!("/external-functions/{uuid}/toggle"),
            None,
        ),
        (
            Method::POST,
            format!("/external-functions/{uuid}/regenerate-key"),
            None,
        ),
        (
            Method::GET,
            format!("/external-functions/{uuid}/logs"),
            None,
        ),
    ] {
        for prefix in ["", "/api/v1"] {
            let path = format!("{prefix}{path}");
            let (status, answer) =
                x.t.call_as(&other, method.clone(), &path, body.clone())
                    .await;
            assert_eq!(status, 404, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "NOT_FOUND");
        }
    }
    // Nor can it create a function on this tenant's instance, or list this tenant's.
    let (status, answer) =
        x.t.call_as(
            &other,
            Method::POST,
            "/external-functions",
            Some(x.body("mine", "send_message", json!({"message_template": "x"}))),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "INSTANCE_NOT_FOUND");
    let (status, answer) =
        x.t.call_as(
            &other,
            Method::GET,
            &format!("/external-functions?instance_id={}", x.t.uuid),
            None,
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    let (_, list) =
        x.t.call_as(&other, Method::GET, "/external-functions", None)
            .await;
    assert_eq!(list["meta"]["pagination"]["total"], 0);
    // Nothing changed for the owner, and its key still works as before.
    let shown = x.t.get(&format!("/external-functions/{uuid}")).await;
    assert_eq!(shown["data"]["name"], "Function notify");
    assert_eq!(shown["data"]["is_enabled"], true);
    let a = x.execute("notify", Some(&key), json!({}), None).await;
    assert_eq!(a.status, 422, "{}", a.body);
    x.t.app.stop().await;
}

#[tokio::test]
async fn sk_tokens_reach_their_own_instances_functions_only() {
    let x = Xf::new().await;
    let (own, _) = x.sender("own", "Hi").await;
    let second = x.t.app.create_instance(&x.t.token, "Second").await;
    let second_uuid = second["uuid"].as_str().unwrap().to_owned();
    integration(&x.t, &x.t.token, &second_uuid, "ai_agent").await;
    let mut body = x.body("theirs", "send_message", json!({"message_template": "Hi"}));
    body["instance_uuid"] = json!(second_uuid);
    let (theirs, _) = x.create(body).await;

    let sk = x.t.app.create_sk(&x.t.token, &x.t.instance["id"]).await;
    let (status, list) =
        x.t.call_as(&sk, Method::GET, "/external-functions", None)
            .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["meta"]["pagination"]["total"], 1);
    assert_eq!(list["data"][0]["uuid"], own.as_str());
    let (status, _) =
        x.t.call_as(
            &sk,
            Method::GET,
            &format!("/external-functions/{own}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    for (method, path) in [
        (Method::GET, format!("/external-functions/{theirs}")),
        (Method::PUT, format!("/external-functions/{theirs}")),
        (Method::POST, format!("/external-functions/{theirs}/toggle")),
        (
            Method::POST,
            format!("/external-functions/{theirs}/regenerate-key"),
        ),
        (Method::GET, format!("/external-functions/{theirs}/logs")),
        (Method::DELETE, format!("/external-functions/{theirs}")),
    ] {
        let (status, answer) =
            x.t.call_as(&sk, method.clone(), &path, Some(json!({"name": "x"})))
                .await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    // Creating on another instance of the tenant is refused; on its own it works.
    let mut body = x.body("sk-fn", "send_message", json!({"message_template": "Hi"}));
    body["instance_uuid"] = json!(second_uuid);
    let (status, answer) =
        x.t.call_as(&sk, Method::POST, "/external-functions", Some(body))
            .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "INSTANCE_FORBIDDEN");
    let (status, answer) =
        x.t.call_as(
            &sk,
            Method::POST,
            "/external-functions",
            Some(x.body("sk-fn", "send_message", json!({"message_template": "Hi"}))),
        )
        .await;
    assert_eq!(status, 201, "{answer}");
    // Moving its own function to the other instance is refused too.
    let (status, answer) =
        x.t.call_as(
            &sk,
            Method::PUT,
            &format!("/external-functions/{own}"),
            Some(json!({"instance_uuid": second_uuid})),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    // An sk_ token is not a function key.
    let a = x.execute("own", Some(&sk), json!({}), None).await;
    assert_eq!(a.status, 401, "{}", a.body);
    x.t.app.stop().await;
}

#[tokio::test]
async fn without_an_active_ai_agent_every_route_and_the_call_are_refused() {
    let x = Xf::new().await;
    let (uuid, key) = x.sender("notify", "Hi").await;
    // An instance without an agent: its sk_ token sees the gate shut.
    let bare = x.t.app.create_instance(&x.t.token, "Bare").await;
    let sk_bare = x.t.app.create_sk(&x.t.token, &bare["id"]).await;
    let (status, answer) =
        x.t.call_as(&sk_bare, Method::GET, "/external-functions", None)
            .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "AI_AGENT_NOT_ENABLED");

    // The tenant's only agent is deactivated: everything is refused, the call included.
    let (status, answer) = x
        .call(
            Method::PATCH,
            &format!("/automation/integrations/{}", x.integration),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    for (method, path, body) in [
        (Method::GET, "/external-functions".to_owned(), None),
        (
            Method::POST,
            "/external-functions".to_owned(),
            Some(x.body("x", "send_message", json!({"message_template": "x"}))),
        ),
        (Method::GET, format!("/external-functions/{uuid}"), None),
        (
            Method::PUT,
            format!("/external-functions/{uuid}"),
            Some(json!({"name": "x"})),
        ),
        (Method::DELETE, format!("/external-functions/{uuid}"), None),
        (
            Method::POST,
            format!("/external-functions/{uuid}/toggle"),
            None,
        ),
        (
            Method::POST,
            format!("/external-functions/{uuid}/regenerate-key"),
            None,
        ),
        (
            Method::GET,
            format!("/external-functions/{uuid}/logs"),
            None,
        ),
    ] {
        let (status, answer) = x.call(method.clone(), &path, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert_eq!(
            answer["error"]["code"], "AI_AGENT_NOT_ENABLED",
            "{method} {path}"
        );
    }
    let a = x.execute("notify", Some(&key), json!({}), None).await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "AI_AGENT_NOT_ENABLED");
    // Active again: the refused call is in the log.
    x.call(
        Method::PATCH,
        &format!("/automation/integrations/{}", x.integration),
        Some(json!({"is_active": true})),
    )
    .await;
    let logs = x.logs(&uuid).await;
    assert_eq!(logs.len(), 1);
    assert_eq!(logs[0]["error_code"], "AI_AGENT_NOT_ENABLED");
    assert_eq!(logs[0]["http_status"], 403);
    x.t.app.stop().await;
}
