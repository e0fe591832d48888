//! Flow definitions through the API: saved with a flow (validated, each kind of mistake a 422
//! naming the step and field), versioned on change, shown in the flow's view; and the test
//! route playing a scripted conversation through menu, question, condition, a real HTTP call
//! to a local fake server, a wait and a hand-off, without sending anything. Tenant and `sk_`
//! isolation.

use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};

use crate::inbox_setup::Inbox;

async fn create(t: &Inbox, definition: Value) -> (u16, Value) {
    t.call(
        Method::POST,
        "/automation/flows",
        Some(json!({"instance_id": t.uuid, "name": "Flow", "definition": definition})),
    )
    .await
}

/// Asserts a 422 whose details name `field` and whose message names `step`.
fn assert_invalid(status: u16, body: &Value, field: &str, step: &str) {
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{body}");
    let details = &body["error"]["details"];
    assert!(details[field].is_array(), "expected {field}: {body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("'{step}'")), "{message}");
}

fn welcome() -> Value {
    json!({"start": "welcome", "steps": [
        {"id": "welcome", "type": "send_text", "text": "Hi {{contact.name}}!", "next": "bye"},
        {"id": "bye", "type": "end"}
    ]})
}

#[tokio::test]
async fn definitions_are_validated_versioned_and_shown() {
    let t = Inbox::new().await;
    let (status, body) = create(&t, welcome()).await;
    assert_eq!(status, 201, "{body}");
    let flow = body["data"].clone();
    assert_eq!(flow["definition"]["start"], "welcome");
    assert_eq!(
        flow["definition"]["steps"][0]["text"],
        "Hi {{contact.name}}!"
    );
    assert_eq!(flow["version"], 1);
    let id = flow["id"].as_str().unwrap().to_owned();

    // Without a definition: none shown.
    let (status, body) = t
        .call(
            Method::POST,
            "/api/v1/automation/flows",
            Some(json!({"instance_id": t.uuid, "name": "Empty"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(body["data"].get("definition").is_none(), "{body}");

    // Each kind of mistake names the step and the field.
    let cases = [
        (
            json!({"start": "a", "steps": [{"id": "a", "type": "send_text", "text": "x", "next": "ghost"}]}),
            "definition.steps[0].next",
            "a",
        ),
        (
            json!({"start": "a", "steps": [{"id": "a", "type": "end"}, {"id": "island", "type": "end"}]}),
            "definition.steps[1].id",
            "island",
        ),
        (
            json!({"start": "a", "steps": [
                {"id": "a", "type": "send_text", "text": "x", "next": "b"},
                {"id": "b", "type": "goto", "target": "a"}]}),
            "definition.steps[1].target",
            "b",
        ),
        (
            json!({"start": "a", "steps": [{"id": "a", "type": "send_text", "text": "x", "next": "b"}, {"id": "b", "type": "fly"}]}),
            "definition.steps[1].type",
            "b",
        ),
        (
            json!({"start": "a", "steps": [{"id": "a", "type": "question", "text": "Name?"}]}),
            "definition.steps[0].save_as",
            "a",
        ),
        (
            json!({"start": "a", "steps": [{"id": "a", "type": "end"}, {"id": "a", "type": "end"}]}),
            "definition.steps[1].id",
            "a",
        ),
        (
            json!({"start": "a", "steps": [{"id": "a", "type": "ai_agent", "integration_id": uuid::Uuid::new_v4()}]}),
            "definition.steps[0].integration_id",
            "a",
        ),
    ];
    for (definition, field, step) in cases {
        let (status, body) = create(&t, definition).await;
        assert_invalid(status, &body, field, step);
    }
    let (status, body) = create(&t, json!({"steps": []})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["details"]["definition.start"].is_array(),
        "{body}"
    );

    // An AI agent integration of the instance may be named.
    let (_, agent) = t
        .call(
            Method::POST,
            "/automation/integrations",
            Some(json!({"instance_id": t.uuid, "name": "Agent", "integration_type": "ai_agent"})),
        )
        .await;
    let agent_id = agent["data"]["id"].as_str().unwrap();
    let (status, body) = create(
        &t,
        json!({"start": "a", "steps": [{"id": "a", "type": "ai_agent", "integration_id": agent_id}]}),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    // The same definition again keeps the version; a name change too; a new one bumps it.
    let patch = |body: Value| {
        let path = format!("/automation/flows/{id}");
        let t = &t;
        async move { t.call(Method::PATCH, &path, Some(body)).await }
    };
    let (status, body) = patch(json!({"definition": welcome(), "name": "Renamed"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["version"], 1);
    assert_eq!(body["data"]["name"], "Renamed");
    let mut changed = welcome();
    changed["steps"][0]["text"] = json!("Hello!");
    let (status, body) = patch(json!({"definition": changed})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["version"], 2);
    assert_eq!(body["data"]["definition"]["steps"][0]["text"], "Hello!");
    // An invalid one changes nothing.
    let (status, body) =
        patch(json!({"definition": {"start": "welcome", "steps": [{"id": "welcome", "type": "wait", "seconds": 0}]}}))
            .await;
    assert_invalid(status, &body, "definition.steps[0].seconds", "welcome");
    let listed = t
        .get(&format!("/automation/flows?instance_id={}", t.uuid))
        .await;
    let shown = listed["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(shown["version"], 2);
    assert_eq!(shown["definition"]["steps"][0]["text"], "Hello!");

    // Integrations have no definition.
    let (status, body) = t
        .call(
            Method::PATCH,
            &format!("/automation/integrations/{agent_id}"),
            Some(json!({"definition": welcome()})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["definition"].is_array(), "{body}");
    let (status, body) = t
        .call(
            Method::POST,
            "/automation/integrations",
            Some(json!({"instance_id": t.uuid, "name": "Bot", "definition": welcome()})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
}

type Seen = Arc<Mutex<Vec<Value>>>;

/// A local stand-in for a tenant's API: answers a customer's plan and records each body (with
/// the `Authorization` header it came with as `_auth`).
async fn fake_crm() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/customers",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, axum::Json(body): axum::Json<Value>| {
                let record = record.clone();
                async move {
                    let plan = if body["email"] == "ana@example.com" {
                        "gold"
                    } else {
                        "basic"
                    };
                    let mut recorded = body;
                    if let Some(auth) = headers.get("authorization") {
                        recorded["_auth"] = json!(auth.to_str().unwrap());
                    }
                    record.lock().unwrap().push(recorded);
                    axum::Json(json!({"customer": {"plans": [{"name": plan}]}}))
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

fn support_flow(crm: &str) -> Value {
    json!({"start": "welcome", "steps": [
        {"id": "welcome", "type": "send_text", "text": "Hi {{contact.name}}!", "next": "menu"},
        {"id": "menu", "type": "menu", "text": "How can we help?", "save_as": "topic",
         "retry_message": "Reply 1 or 2.",
         "options": [{"label": "Plans", "value": "plans", "next": "email"}, {"label": "Human", "next": "human"}]},
        {"id": "email", "type": "question", "text": "Your e-mail?", "save_as": "email", "validate": "email",
         "next": "lookup"},
        {"id": "lookup", "type": "http_request", "method": "POST", "url": format!("{crm}/customers"),
         "body": {"email": "{{email}}", "phone": "{{contact.phone}}"},
         "auth": {"type": "bearer", "token": "crm-secret-token"},
         "save": {"plan": "customer.plans.0.name"}, "status_var": "status", "next": "check"},
        {"id": "check", "type": "condition",
         "rules": [{"var": "plan", "op": "equals", "value": "GOLD", "next": "vip"}], "else_next": "human"},
        {"id": "vip", "type": "add_tag", "tag": "vip", "next": "pause"},
        {"id": "pause", "type": "wait", "seconds": 30, "next": "bye"},
        {"id": "bye", "type": "end", "message": "Thanks, {{contact.name}}: your plan is {{plan}}."},
        {"id": "human", "type": "handoff", "message": "A person will answer you."}
    ]})
}

#[tokio::test]
async fn the_test_route_plays_a_scripted_conversation() {
    let t = Inbox::with_config(|c| c.allow_private_urls = true).await;
    let (crm, seen) = fake_crm().await;
    let (status, body) = create(&t, support_flow(&crm)).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/automation/flows/{id}/test");

    // The credential is sealed at rest and shown sealed; the definition sent back as shown,
    // or again with the secret in clear, is no change.
    let shown = body["data"]["definition"].clone();
    let token = shown["steps"][3]["auth"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!token.contains("crm-secret-token"), "{token}");
    for definition in [shown, support_flow(&crm)] {
        let (status, body) = t
            .call(
                Method::PATCH,
                &format!("/automation/flows/{id}"),
                Some(json!({"definition": definition})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["version"], 1, "{body}");
    }

    let (status, body) = t
        .call(
            Method::POST,
            &path,
            Some(json!({
                "messages": ["hi", "9", "plans", "not an email", "ana@example.com"],
                "contact": {"name": "Ana", "phone": "5511999990000"}
            })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let run = &body["data"];
    let lines: Vec<(String, String, String)> = run["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["from"].as_str().unwrap().to_owned(),
                l["type"].as_str().unwrap().to_owned(),
                l["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(&str, &str, &str)> = vec![
        ("user", "text", "hi"),
        ("bot", "text", "Hi Ana!"),
        ("bot", "menu", "How can we help?\n\n1. Plans\n2. Human"),
        ("user", "text", "9"),
        ("bot", "text", "Reply 1 or 2."),
        ("user", "text", "plans"),
        ("bot", "text", "Your e-mail?"),
        ("user", "text", "not an email"),
        ("bot", "text", "Please enter a valid e-mail address."),
        ("user", "text", "ana@example.com"),
        ("bot", "action", "add tag vip"),
        ("bot", "note", "wait of 30 s skipped (test run)"),
        ("bot", "text", "Thanks, Ana: your plan is gold."),
    ];
    let expected: Vec<(String, String, String)> = expected
        .into_iter()
        .map(|(a, b, c)| (a.into(), b.into(), c.into()))
        .collect();
    assert_eq!(lines, expected, "{body}");
    assert_eq!(run["transcript"][2]["step"], "menu");
    assert_eq!(run["variables"]["topic"], "plans");
    assert_eq!(run["variables"]["email"], "ana@example.com");
    assert_eq!(run["variables"]["plan"], "gold");
    assert_eq!(run["variables"]["status"], 200);
    assert_eq!(run["stopped_at"], json!({"step": "bye", "status": "ended"}));
    assert_eq!(
        run["actions"],
        json!([{"type": "add_tag", "tag": "vip", "step": "vip"}])
    );
    assert_eq!(run["unused_messages"], 0);
    // The HTTP step really called the fake server, with the templated body.
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            json!({"email": "ana@example.com", "phone": "5511999990000", "_auth": "Bearer crm-secret-token"})
        ]
    );

    // Another customer goes to a person; messages after the hand-off are unused. The sk_
    // token of the flow's instance may test it, at the /api/v1 form too.
    let sk = t.app.create_sk(&t.token, &t.instance["id"]).await;
    let (status, body) = t
        .call_as(
            &sk,
            Method::POST,
            &format!("/api/v1{path}"),
            Some(json!({"messages": ["hi", "1", "bo@example.com", "hello?"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let run = &body["data"];
    assert_eq!(
        run["stopped_at"],
        json!({"step": "human", "status": "handoff"})
    );
    assert_eq!(run["variables"]["plan"], "basic");
    assert_eq!(run["unused_messages"], 1);
    assert_eq!(
        run["actions"],
        json!([{"type": "handoff", "step": "human"}])
    );
    let last = run["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .nth(1)
        .unwrap();
    assert_eq!(last["text"], "A person will answer you.");
    assert_eq!(seen.lock().unwrap().len(), 2);

    // No messages: the flow starts and waits at the menu.
    let (status, body) = t.call(Method::POST, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["stopped_at"],
        json!({"step": "menu", "status": "waiting_for_user"})
    );

    // An unsaved definition is tested instead of the stored one, and validated.
    let (status, body) = t
        .call(
            Method::POST,
            &path,
            Some(json!({"messages": ["hi"], "variables": {"plan": "x"}, "definition": {
                "start": "s", "steps": [{"id": "s", "type": "send_text", "text": "plan={{plan}}"}]}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["transcript"][1]["text"], "plan=x");
    assert_eq!(body["data"]["stopped_at"]["status"], "ended");
    let (status, body) = t
        .call(
            Method::POST,
            &path,
            Some(json!({"definition": {"start": "s", "steps": [{"id": "s", "type": "send_text", "text": "x", "next": "nowhere"}]}})),
        )
        .await;
    assert_invalid(status, &body, "definition.steps[0].next", "s");

    // Limits, and a flow without a definition.
    let many: Vec<String> = (0..51).map(|i| i.to_string()).collect();
    let (status, body) = t
        .call(Method::POST, &path, Some(json!({"messages": many})))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["messages"].is_array(), "{body}");
    let (_, empty) = t
        .call(
            Method::POST,
            "/automation/flows",
            Some(json!({"instance_id": t.uuid, "name": "Empty"})),
        )
        .await;
    let empty_id = empty["data"]["id"].as_str().unwrap();
    let (status, body) = t
        .call(
            Method::POST,
            &format!("/automation/flows/{empty_id}/test"),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["definition"].is_array(), "{body}");
}

#[tokio::test]
async fn http_steps_of_a_test_run_keep_to_the_ssrf_guard() {
    // Private addresses are refused unless the platform allows them: the step fails, and the
    // flow follows error_next with the reason.
    let t = Inbox::new().await;
    let (crm, seen) = fake_crm().await;
    let definition = json!({"start": "h", "steps": [
        {"id": "h", "type": "http_request", "method": "POST", "url": format!("{crm}/customers"),
         "body": {"email": "x"}, "next": "ok", "error_next": "err"},
        {"id": "ok", "type": "end", "message": "ok"},
        {"id": "err", "type": "end", "message": "failed: {{http_error}}"}
    ]});
    let (status, body) = create(&t, definition).await;
    assert_eq!(status, 201, "{body}");
    let id = body["data"]["id"].as_str().unwrap();
    let (status, body) = t
        .call(Method::POST, &format!("/automation/flows/{id}/test"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let text = body["data"]["transcript"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(text.starts_with("failed: the URL"), "{text}");
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn flows_of_other_tenants_and_instances_are_not_found() {
    let t = Inbox::new().await;
    let (_, body) = create(&t, welcome()).await;
    let id = body["data"]["id"].as_str().unwrap().to_owned();

    let other = t.app.other_tenant_token("other@test.local").await;
    for (method, path, body) in [
        (
            Method::POST,
            format!("/automation/flows/{id}/test"),
            json!({}),
        ),
        (
            Method::PATCH,
            format!("/automation/flows/{id}"),
            json!({"definition": welcome()}),
        ),
    ] {
        let (status, resp) = t.call_as(&other, method, &path, Some(body)).await;
        assert_eq!(status, 404, "{resp}");
        assert_eq!(resp["error"]["code"], "NOT_FOUND");
    }

    // The sk_ token of another instance of the same tenant does not reach it either.
    let second = t.app.create_instance(&t.token, "Second").await;
    let sk = t.app.create_sk(&t.token, &second["id"]).await;
    let (status, resp) = t
        .call_as(
            &sk,
            Method::POST,
            &format!("/automation/flows/{id}/test"),
            None,
        )
        .await;
    assert_eq!(status, 404, "{resp}");
    let (status, resp) = t
        .call(Method::POST, "/automation/flows/not-a-uuid/test", None)
        .await;
    assert_eq!(status, 404, "{resp}");
}

#[tokio::test]
async fn flow_answers_match_their_description() {
    let t = Inbox::with_config(|c| c.allow_private_urls = true).await;
    let doc = crate::openapi_inbox::Described::fetch(&t).await;
    let (crm, _) = fake_crm().await;
    let (status, body) = create(&t, support_flow(&crm)).await;
    doc.check("post", "/automation/flows", status, &body);
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    let (status, body) = create(&t, json!({"start": "x", "steps": []})).await;
    doc.check("post", "/automation/flows", status, &body);
    let list = t.get("/automation/flows").await;
    doc.check("get", "/automation/flows", 200, &list);
    let (status, body) = t
        .call(
            Method::PATCH,
            &format!("/automation/flows/{id}"),
            Some(json!({"definition": welcome()})),
        )
        .await;
    doc.check("patch", "/automation/flows/{id}", status, &body);
    let (status, body) = t
        .call(
            Method::POST,
            &format!("/automation/flows/{id}/test"),
            Some(json!({"messages": ["hi"], "definition": support_flow(&crm)})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    doc.check("post", "/automation/flows/{id}/test", status, &body);
    // Every step type, numbers and strings where a field takes either.
    let agent = t
        .call(
            Method::POST,
            "/automation/integrations",
            Some(json!({"instance_id": t.uuid, "name": "Agent", "integration_type": "ai_agent"})),
        )
        .await
        .1["data"]["id"]
        .clone();
    let every = json!({"start": "a", "utc_offset_minutes": -180, "meta": {"editor": 1}, "steps": [
        {"id": "a", "type": "send_media", "media_type": "image", "url": "https://example.com/a.png", "caption": "c", "next": "b", "meta": {"x": 1}},
        {"id": "b", "type": "condition", "rules": [
            {"var": "n", "op": "gt", "value": 3, "next": "c"},
            {"op": "business_hours", "days": [1, 2], "from": "09:00", "to": "18:00", "next": "c"}], "else_next": "c"},
        {"id": "c", "type": "http_request", "url": format!("{crm}/customers"), "method": "POST",
         "body": "{\"email\": \"x\"}", "headers": {"content-type": "application/json"},
         "auth": {"type": "bearer", "token": "t"}, "timeout_seconds": 5, "next": "d"},
        {"id": "d", "type": "remove_tag", "tag": "t", "next": "e"},
        {"id": "e", "type": "set_contact_field", "field": "company", "value": "ACME", "next": "f"},
        {"id": "f", "type": "goto", "target": "g"},
        {"id": "g", "type": "question", "text": "Color?", "save_as": "color", "validate": "options",
         "options": ["red", "blue"], "max_retries": 0, "timeout_minutes": 5, "timeout_next": "h", "next": "h"},
        {"id": "h", "type": "ai_agent", "integration_id": agent, "message": "bye"}
    ]});
    let (status, body) = create(&t, every.clone()).await;
    doc.check("post", "/automation/flows", status, &body);
    assert_eq!(status, 201, "{body}");
    let (status, body) = t
        .call(
            Method::POST,
            &format!("/automation/flows/{id}/test"),
            Some(json!({"messages": ["hi", "red"], "definition": every})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["stopped_at"]["status"], "ai_agent", "{body}");
    doc.check("post", "/automation/flows/{id}/test", status, &body);
    for messages in [json!(["hi", "1", "ana@example.com"]), json!(["hi", "2"])] {
        let (status, body) = t
            .call(
                Method::POST,
                &format!("/automation/flows/{id}/test"),
                Some(json!({"messages": messages, "definition": support_flow(&crm)})),
            )
            .await;
        doc.check("post", "/automation/flows/{id}/test", status, &body);
    }
}
