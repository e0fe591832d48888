//! The dashboard's automations and CRM sections over HTTP, checked against the API: flows
//! (the visual editor's cards, a refused save shown on its step, structural edits, test
//! runs, activation, deletion), integrations and their configuration form, AI Functions with
//! a test call to a real local endpoint and the execution log, live sessions and their
//! status, the Kanban board (leads moved and columns reordered as drag-and-drop and the
//! keyboard do, lead pages), the calendar's month and week views; `KANBAN_NOT_ENABLED`;
//! another tenant's ids answer 404 on every page and action; no CSRF header, 403.

use std::time::Duration;

use control_plane::live::Topic;
use reqwest::Method;
use serde_json::{Value, json};

use crate::ai_functions::{Ai, Fake, integration, order_parameter};
use crate::dashboard::Dash;
use crate::helpers::{ADMIN_EMAIL, TestApp};
use crate::inbox_setup::Inbox;
use crate::kanban::{enable_kanban, tenant_of};

/// The last segment of a redirect (the new thing's UUID).
fn last_segment(redirect: &Option<String>) -> String {
    redirect
        .as_deref()
        .expect("a redirect")
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_owned()
}

/// Waits (at most 20 s) for news of `topic` on the live bus.
async fn news(
    rx: &mut tokio::sync::broadcast::Receiver<control_plane::live::LiveEvent>,
    topic: Topic,
) {
    tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match rx.recv().await {
                Ok(e) if e.topic == topic => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(e) => panic!("live bus closed: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {topic:?} news in time"));
}

/// The page's text from `marker` up to the next `until` (one card, row or day of a page).
fn around<'a>(page: &'a str, marker: &str, until: &str) -> &'a str {
    let start = page
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} not in {page}"));
    let rest = &page[start..];
    let end = rest[marker.len()..]
        .find(until)
        .map_or(rest.len(), |i| i + marker.len());
    &rest[..end]
}

/// A second tenant signed in to the dashboard, with its own instance and (when asked) an
/// active AI agent and Kanban, so that our ids answer 404 rather than a feature refusal.
async fn other_tenant<'a>(app: &'a TestApp, t: &Inbox, with_features: bool) -> Dash<'a> {
    let email = "other-dash-auto@test.local";
    let token = app.other_tenant_token(email).await;
    if with_features {
        let inst = app.create_instance(&token, "Theirs").await;
        integration(t, &token, inst["uuid"].as_str().unwrap(), "ai_agent").await;
        enable_kanban(app, email).await;
    }
    Dash::sign_in(app, email, "other-password-1").await
}

fn welcome_definition() -> Value {
    json!({"start": "hi", "steps": [
        {"id": "hi", "type": "send_text", "text": "Hi {{contact.name}}!", "next": "menu"},
        {"id": "menu", "type": "menu", "text": "How can we help?", "options": [
            {"label": "Opening hours", "next": "hours"}, {"label": "A person", "next": "human"}]},
        {"id": "hours", "type": "end", "message": "We are open 9-18h."},
        {"id": "human", "type": "handoff", "message": "A person will answer you."}
    ]})
}

async fn flows(t: &Inbox) -> Vec<Value> {
    t.get("/automation/flows").await["data"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn flows_are_edited_as_cards_with_errors_on_their_step_and_tested() {
    let t = Inbox::new().await;
    let dash = Dash::admin(&t.app).await;
    let (status, created) = t
        .call(
            Method::POST,
            "/automation/flows",
            Some(
                json!({"instance_id": t.uuid, "name": "Welcome", "is_active": false,
                        "definition": welcome_definition()}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let welcome = created["data"]["id"].as_str().unwrap().to_owned();

    // The list, also filtered by instance, and the flow's cards as a tree from the start.
    for path in [
        "/dashboard/automations".to_owned(),
        format!("/dashboard/automations?instance={}", t.uuid),
    ] {
        let (status, page) = dash.get(&path).await;
        assert_eq!(status, 200, "{page}");
        assert!(page.contains(&format!("flow-row-{welcome}")), "{page}");
        assert!(page.contains("Welcome"));
    }
    let (status, page) = dash
        .get(&format!("/dashboard/automations/flows/{welcome}"))
        .await;
    assert_eq!(status, 200, "{page}");
    let order: Vec<usize> = ["hi", "menu", "hours", "human"]
        .iter()
        .map(|id| page.find(&format!("data-step-id=\"{id}\"")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    let menu = around(&page, "data-step-id=\"menu\"", "data-step-id=\"hours\"");
    assert!(menu.contains("How can we help?"), "{menu}");
    assert!(
        page.contains("step-card depth-1\" id=\"step-menu\""),
        "{page}"
    );
    assert!(menu.contains("Option 1: Opening hours") && menu.contains("href=\"#step-hours\""));
    assert!(
        menu.contains("data-path=\"steps.1.options.1.next\""),
        "{menu}"
    );
    // The JSON alongside.
    assert!(
        page.contains("id=\"flow-json\"") && page.contains("&quot;start&quot;: &quot;hi&quot;")
    );

    // A refused save: the API's error, on its step's card and in the flash; nothing stored.
    let mut bad = welcome_definition();
    bad["steps"][2]["type"] = json!("goto");
    bad["steps"][2]["target"] = json!("nowhere");
    bad["steps"][2].as_object_mut().unwrap().remove("message");
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/flows/{welcome}"),
            &[
                ("name", "Welcome"),
                ("priority", "0"),
                ("definition", &bad.to_string()),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("step-card depth-2 has-error\" id=\"step-hours\""),
        "{body}"
    );
    let card = around(&body, "id=\"step-hours\"", "</details>");
    assert!(card.contains("aria-invalid=\"true\""), "{card}");
    assert!(body.contains("hx-swap-oob") && body.contains("definition.steps[2].target"));
    let stored = flows(&t).await;
    assert_eq!(stored[0]["version"], 1);
    assert_eq!(stored[0]["definition"]["steps"][2]["type"], "end");

    // A structural edit: a question inserted after the greeting, the JSON given back.
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/flows/{welcome}/editor"),
            &[
                ("definition", &welcome_definition().to_string()),
                ("op", "add_step"),
                ("kind", "question"),
                ("after", "0"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("data-step-id=\"question_1\""), "{body}");
    assert!(body.contains("id=\"flow-json\"") && body.contains("hx-swap-oob=\"true\""));
    assert!(
        body.contains("&quot;next&quot;: &quot;question_1&quot;"),
        "{body}"
    );

    // A good save: stored as the API stores it (version bumped), the settings too.
    let mut good = welcome_definition();
    good["steps"][0]["text"] = json!("Hello {{contact.name}}!");
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/flows/{welcome}"),
            &[
                ("name", "Welcome v2"),
                ("priority", "5"),
                ("settings", r#"{"debounce_ms": 500}"#),
                ("definition", &good.to_string()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Saved (version 2)"), "{body}");
    let stored = flows(&t).await;
    assert_eq!(stored[0]["name"], "Welcome v2");
    assert_eq!(stored[0]["priority"], 5);
    assert_eq!(stored[0]["version"], 2);
    assert_eq!(stored[0]["settings"]["debounce_ms"], 500);
    assert_eq!(
        stored[0]["definition"]["steps"][0]["text"],
        "Hello {{contact.name}}!"
    );

    // A test run of the page's (unsaved) definition: the transcript.
    let mut unsaved = good.clone();
    unsaved["steps"][3]["message"] = json!("Someone will be right with you.");
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/flows/{welcome}/test"),
            &[
                ("messages", "hello\n2"),
                ("contact_name", "Ana"),
                ("definition", &unsaved.to_string()),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Hello Ana!") && body.contains("Someone will be right with you."),
        "{body}"
    );
    assert!(body.contains("handoff"), "{body}");
    // An invalid one is shown on its card instead.
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/flows/{welcome}/test"),
            &[("messages", "hello"), ("definition", &bad.to_string())],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body.contains("step-card depth-2 has-error\" id=\"step-hours\""),
        "{body}"
    );

    // Activate (from the list's row) and deactivate (from the page).
    let resp = dash
        .req(
            Method::POST,
            &format!("/dashboard/automations/flows/{welcome}/toggle"),
        )
        .header("hx-request", "true")
        .header("hx-target", format!("flow-row-{welcome}"))
        .header("x-csrf-token", &dash.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.text()
            .await
            .unwrap()
            .contains(&format!("id=\"flow-row-{welcome}\""))
    );
    assert_eq!(flows(&t).await[0]["is_active"], true);
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/flows/{welcome}/toggle"),
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Activate"));
    assert_eq!(flows(&t).await[0]["is_active"], false);

    // Create through the page (a starter definition, inactive), then delete it.
    let (status, redirect, body) = dash
        .post(
            "/dashboard/automations/flows",
            &[("name", "Made here"), ("instance_id", &t.uuid)],
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let made = last_segment(&redirect);
    let stored = flows(&t).await;
    let m = stored.iter().find(|f| f["id"] == made.as_str()).unwrap();
    assert_eq!(m["is_active"], false);
    assert_eq!(m["definition"]["start"], "welcome");
    let (status, _, body) = dash
        .post(
            "/dashboard/automations/flows",
            &[("name", " "), ("instance_id", &t.uuid)],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("name"), "{body}");
    let (status, redirect, _) = dash
        .post(&format!("/dashboard/automations/flows/{made}/delete"), &[])
        .await;
    assert_eq!(status, 204);
    assert_eq!(redirect.as_deref(), Some("/dashboard/automations"));
    assert!(flows(&t).await.iter().all(|f| f["id"] != made.as_str()));

    // Another tenant: every page and action of our flow is 404, and nothing changes.
    let other = other_tenant(&t.app, &t, false).await;
    let (status, page) = other.get("/dashboard/automations").await;
    assert_eq!(status, 200);
    assert!(!page.contains("Welcome v2"));
    let (status, _) = other
        .get(&format!("/dashboard/automations/flows/{welcome}"))
        .await;
    assert_eq!(status, 404);
    let def = good.to_string();
    for (path, form) in [
        ("", vec![("name", "Stolen"), ("definition", def.as_str())]),
        ("/editor", vec![("definition", def.as_str())]),
        ("/toggle", vec![]),
        ("/test", vec![("messages", "hi")]),
        ("/delete", vec![]),
    ] {
        let (status, _, body) = other
            .post(
                &format!("/dashboard/automations/flows/{welcome}{path}"),
                &form,
            )
            .await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    let stored = flows(&t).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["name"], "Welcome v2");
}

#[tokio::test]
async fn integrations_are_configured_and_ai_functions_tested_with_their_log() {
    let ai = Ai::new().await;
    let t = &ai.t;
    let fake = Fake::start().await;
    let dash = Dash::admin(&t.app).await;

    // Integrations: the agent made through the API is listed; a webhook bot made here.
    let (status, page) = dash.get("/dashboard/automations/integrations").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains(&format!("integration-row-{}", ai.integration)),
        "{page}"
    );
    let (status, redirect, body) = dash
        .post(
            "/dashboard/automations/integrations",
            &[
                ("name", "My bot"),
                ("integration_type", "webhook"),
                ("instance_id", &t.uuid),
            ],
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let bot = last_segment(&redirect);
    let (status, page) = dash
        .get(&format!("/dashboard/automations/integrations/{bot}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("name=\"config.url\""), "{page}");
    let bot_url = fake.url("/turn");
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/integrations/{bot}"),
            &[
                ("name", "My bot"),
                ("priority", "3"),
                ("config.url", &bot_url),
                ("config.secret", "bot-secret-123"),
                ("config.timeout_seconds", "12"),
                ("config.fallback_message", "One moment."),
                ("config.on_failure", "fallback"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Integration saved"));
    let list = t.get("/automation/integrations").await;
    let shown = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == bot.as_str())
        .unwrap()
        .clone();
    assert_eq!(shown["config"]["url"], bot_url.as_str());
    assert_eq!(shown["config"]["timeout_seconds"], 12);
    assert_eq!(shown["config"]["on_failure"], "fallback");
    assert_eq!(shown["priority"], 3);
    assert_eq!(shown["is_active"], false);
    let secret = shown["config"]["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("****") && !secret.contains("bot-secret"),
        "{secret}"
    );
    // A blank secret keeps the stored one; a bad number names its field.
    let (status, _, _) = dash
        .post(
            &format!("/dashboard/automations/integrations/{bot}"),
            &[
                ("name", "My bot"),
                ("config.url", &bot_url),
                ("config.secret", ""),
            ],
        )
        .await;
    assert_eq!(status, 200);
    let list = t.get("/automation/integrations").await;
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["config"]["secret"] == secret.as_str())
    );
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/integrations/{bot}"),
            &[
                ("name", "My bot"),
                ("config.url", &bot_url),
                ("config.timeout_seconds", "99"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("config.timeout_seconds"), "{body}");
    let (status, _, _) = dash
        .post(
            &format!("/dashboard/automations/integrations/{bot}/toggle"),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let list = t.get("/automation/integrations").await;
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["id"] == bot.as_str() && i["is_active"] == true)
    );

    // AI Functions: created here, the API's validation named on a bad one.
    let (status, _, body) = dash
        .post(
            "/dashboard/automations/functions",
            &[
                ("integration_uuid", &ai.integration),
                ("name", "Bad Name"),
                ("display_name", "Bad"),
                ("description", "x"),
                ("type", "fetch_data"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("<code>name</code>"), "{body}");
    let params = order_parameter().to_string();
    let endpoint = fake.url("/orders/status");
    let (status, redirect, body) = dash
        .post(
            "/dashboard/automations/functions",
            &[
                ("integration_uuid", &ai.integration),
                ("name", "check_order_status"),
                ("display_name", "Check Order Status"),
                ("description", "Checks an order by its number"),
                ("type", "fetch_data"),
                ("endpoint_url", &endpoint),
                ("parameters", &params),
                ("is_enabled", "true"),
            ],
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let function = last_segment(&redirect);
    let (status, shown) = ai
        .call(Method::GET, &format!("/ai-functions/{function}"), None)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["data"]["endpoint_url"], endpoint.as_str());
    assert_eq!(shown["data"]["parameters"][0]["name"], "order_number");
    let (status, page) = dash.get("/dashboard/automations/functions").await;
    assert_eq!(status, 200);
    assert!(page.contains(&format!("function-row-{function}")), "{page}");

    // The test button: the request as sent and the endpoint's answer; logged as a test.
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/functions/{function}/test"),
            &[("parameters", r#"{"order_number": "ORD-12345"}"#)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("order_number=ORD-12345"), "{body}");
    assert!(body.contains("shipped"), "{body}");
    assert!(body.contains("data-status=\"success\""), "{body}");
    assert_eq!(fake.last().query.as_deref(), Some("order_number=ORD-12345"));
    let (status, log) = ai
        .call(
            Method::GET,
            &format!("/ai-functions/{function}/executions"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(log["data"].as_array().unwrap().len(), 1);
    assert_eq!(log["data"][0]["is_test"], true);
    let execution = log["data"][0]["uuid"].as_str().unwrap().to_owned();
    assert!(
        body.contains(&format!("data-execution=\"{execution}\"")),
        "the log is redrawn: {body}"
    );
    let (status, page) = dash
        .get(&format!(
            "/dashboard/automations/functions/{function}/executions"
        ))
        .await;
    assert_eq!(status, 200);
    assert!(page.contains(&execution));
    let (status, page) = dash
        .get(&format!("/dashboard/automations/executions/{execution}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("ORD-12345") && page.contains("shipped"),
        "{page}"
    );

    // Edit, disable, delete: as the API then shows it.
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/functions/{function}"),
            &[
                ("name", "check_order_status"),
                ("display_name", "Order status"),
                ("description", "Looks an order up"),
                ("type", "fetch_data"),
                ("endpoint_url", &endpoint),
                ("http_method", "GET"),
                ("auth_type", "bearer"),
                ("auth_config", r#"{"token": "shop-token-9876"}"#),
                ("parameters", &params),
                ("timeout_seconds", "10"),
                ("headers", ""),
                ("is_enabled", "true"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.contains("shop-token-9876"),
        "secrets are shown masked: {body}"
    );
    let (_, shown) = ai
        .call(Method::GET, &format!("/ai-functions/{function}"), None)
        .await;
    assert_eq!(shown["data"]["display_name"], "Order status");
    assert_eq!(shown["data"]["auth_type"], "bearer");
    assert_eq!(shown["data"]["timeout_seconds"], 10);
    let (status, _, _) = dash
        .post(
            &format!("/dashboard/automations/functions/{function}/toggle"),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let (_, shown) = ai
        .call(Method::GET, &format!("/ai-functions/{function}"), None)
        .await;
    assert_eq!(shown["data"]["is_enabled"], false);

    // Another tenant (with an agent of its own): 404 everywhere.
    let other = other_tenant(&t.app, t, true).await;
    for path in [
        format!("/dashboard/automations/integrations/{bot}"),
        format!("/dashboard/automations/functions/{function}"),
        format!("/dashboard/automations/functions/{function}/executions"),
        format!("/dashboard/automations/executions/{execution}"),
    ] {
        let (status, page) = other.get(&path).await;
        assert_eq!(status, 404, "{path}: {page}");
    }
    for path in [
        format!("/dashboard/automations/integrations/{bot}"),
        format!("/dashboard/automations/integrations/{bot}/toggle"),
        format!("/dashboard/automations/integrations/{bot}/delete"),
        format!("/dashboard/automations/functions/{function}"),
        format!("/dashboard/automations/functions/{function}/toggle"),
        format!("/dashboard/automations/functions/{function}/test"),
        format!("/dashboard/automations/functions/{function}/delete"),
    ] {
        let (status, _, body) = other
            .post(&path, &[("name", "x"), ("description", "x")])
            .await;
        assert_eq!(status, 404, "{path}: {body}");
    }

    // Deleting.
    let (status, redirect, _) = dash
        .post(
            &format!("/dashboard/automations/functions/{function}/delete"),
            &[],
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        redirect.as_deref(),
        Some("/dashboard/automations/functions")
    );
    let (status, _) = ai
        .call(Method::GET, &format!("/ai-functions/{function}"), None)
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = dash
        .post(
            &format!("/dashboard/automations/integrations/{bot}/delete"),
            &[],
        )
        .await;
    assert_eq!(status, 204);
    let list = t.get("/automation/integrations").await;
    assert!(
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["id"] != bot.as_str())
    );
}

#[tokio::test]
async fn without_an_ai_agent_the_functions_page_says_so() {
    let t = Inbox::new().await;
    let dash = Dash::admin(&t.app).await;
    let (status, page) = dash.get("/dashboard/automations/functions").await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("data-code=\"AI_AGENT_NOT_ENABLED\""),
        "{page}"
    );
}

#[tokio::test]
async fn sessions_are_listed_live_and_paused_resumed_and_closed() {
    let t = Inbox::new().await;
    let dash = Dash::admin(&t.app).await;
    let (status, created) = t
        .call(
            Method::POST,
            "/automation/flows",
            Some(
                json!({"instance_id": t.uuid, "name": "Greeter", "settings": {"debounce_ms": 0},
                        "definition": welcome_definition()}),
            ),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let flow = created["data"]["id"].as_str().unwrap().to_owned();

    // A message opens a session; the turn worker tells the watchers.
    let mut rx = t.app.services.live.subscribe();
    t.inbound("5511900000001", "S1", "hi").await;
    news(&mut rx, Topic::Session).await;
    let session = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let list = t.get("/automation/sessions").await;
            if let Some(s) = list["data"].as_array().and_then(|a| a.first()) {
                return s.clone();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("a session opened");
    let id = session["id"].as_str().unwrap().to_owned();

    let (status, page) = dash.get("/dashboard/automations/sessions").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-live=\"session\""));
    let row = around(&page, &format!("id=\"session-{id}\""), "</tr>");
    assert!(
        row.contains("Greeter") && row.contains("5511900000001"),
        "{row}"
    );
    assert!(row.contains("data-status=\"active\""), "{row}");
    // The filters are the API's.
    let (_, table) = dash
        .get(&format!(
            "/dashboard/automations/sessions/table?automation={flow}&status=active&instance={}",
            t.uuid
        ))
        .await;
    assert!(table.contains(&id), "{table}");
    let (_, table) = dash
        .get("/dashboard/automations/sessions/table?status=paused")
        .await;
    assert!(!table.contains(&id), "{table}");
    let resp = dash
        .req(
            Method::GET,
            "/dashboard/automations/sessions/table?status=nope",
        )
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);

    // Pause, resume (the inbox's rule: archive first), close.
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/sessions/{id}/status"),
            &[("status", "paused"), ("reason", "VIP")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("data-status=\"paused\"") && body.contains("Resume"),
        "{body}"
    );
    let shown = t.get(&format!("/automation/sessions/{id}")).await;
    assert_eq!(shown["data"]["status"], "paused");
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/sessions/{id}/status"),
            &[("status", "active")],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("CONFLICT"), "{body}");
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/automations/sessions/{id}/status"),
            &[("status", "closed")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = t.get(&format!("/automation/sessions/{id}")).await;
    assert_eq!(shown["data"]["status"], "closed");

    // Another tenant sees none of it.
    let other = other_tenant(&t.app, &t, false).await;
    let (status, page) = other.get("/dashboard/automations/sessions").await;
    assert_eq!(status, 200);
    assert!(!page.contains(&id));
    let (status, _, _) = other
        .post(
            &format!("/dashboard/automations/sessions/{id}/status"),
            &[("status", "closed")],
        )
        .await;
    assert_eq!(status, 404);
}

async fn column_ids(t: &Inbox, board: &str) -> Vec<String> {
    t.get(&format!("/kanban/boards/{board}/columns")).await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["uuid"].as_str().unwrap().to_owned())
        .collect()
}

async fn titles_in(t: &Inbox, board: &str, column: &str) -> Vec<String> {
    t.get(&format!(
        "/kanban/boards/{board}/leads?column_uuid={column}&status=all"
    ))
    .await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_kanban_board_moves_leads_and_reorders_columns_through_the_api() {
    let t = Inbox::new().await;
    let dash = Dash::admin(&t.app).await;

    // Kanban off: the pages say so, the actions are refused.
    for path in ["/dashboard/crm", "/dashboard/crm/kanban"] {
        let (status, page) = dash.get(path).await;
        assert_eq!(status, 200, "{page}");
        assert!(
            page.contains("data-code=\"KANBAN_NOT_ENABLED\""),
            "{path}: {page}"
        );
    }
    let (status, _, body) = dash
        .post(
            "/dashboard/crm/kanban/boards",
            &[("name", "Sales"), ("instance_id", &t.uuid)],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("KANBAN_NOT_ENABLED"));

    enable_kanban(&t.app, ADMIN_EMAIL).await;
    let (status, redirect, body) = dash
        .post(
            "/dashboard/crm/kanban/boards",
            &[
                ("name", "Sales"),
                ("instance_id", &t.uuid),
                ("description", "Deals"),
            ],
        )
        .await;
    assert_eq!(status, 204, "{body}");
    let board = last_segment(&redirect);
    let columns = column_ids(&t, &board).await;
    assert_eq!(columns.len(), 5);
    let (_, page) = dash.get("/dashboard/crm/kanban").await;
    assert!(page.contains(&board) && page.contains("Sales"));

    // Leads made on the board, in their column's order.
    for (title, value) in [("Lead A", "299.00"), ("Lead B", "")] {
        let (status, _, body) = dash
            .post(
                &format!("/dashboard/crm/kanban/boards/{board}/leads"),
                &[
                    ("title", title),
                    ("column_uuid", &columns[0]),
                    ("value", value),
                    ("priority", "high"),
                    ("phone_number", "5511988887777"),
                    ("status", "open"),
                ],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(title), "{body}");
    }
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/kanban/boards/{board}/leads"),
            &[("title", "Bad"), ("value", "-3")],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("<code>value</code>"), "{body}");
    assert_eq!(
        titles_in(&t, &board, &columns[0]).await,
        ["Lead A", "Lead B"]
    );
    let leads = t.get(&format!("/kanban/boards/{board}/leads")).await;
    let lead = |title: &str| {
        leads["data"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["title"] == title)
            .unwrap()["uuid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (a, b) = (lead("Lead A"), lead("Lead B"));

    // The board: statistics, the columns in order, each lead with its column select.
    let (status, page) = dash
        .get(&format!("/dashboard/crm/kanban/boards/{board}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("data-live=\"crm\"") && page.contains("crm.js"));
    let positions: Vec<usize> = columns
        .iter()
        .map(|c| page.find(&format!("data-column=\"{c}\"")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]));
    assert!(page.contains(&format!("data-lead=\"{a}\"")) && page.contains("R$ 299,00"));

    // A drop (or the keyboard's "up"): B first in its column, watchers told.
    let mut rx = t.app.services.live.subscribe();
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/kanban/leads/{b}/move"),
            &[
                ("column_uuid", &columns[0]),
                ("position", "0"),
                ("status", "open"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    news(&mut rx, Topic::Crm).await;
    assert_eq!(
        titles_in(&t, &board, &columns[0]).await,
        ["Lead B", "Lead A"]
    );
    assert!(
        body.find(&format!("data-lead=\"{b}\"")).unwrap()
            < body.find(&format!("data-lead=\"{a}\"")).unwrap()
    );
    // To another column (the select: last place).
    let (status, _, _) = dash
        .post(
            &format!("/dashboard/crm/kanban/leads/{a}/move"),
            &[("column_uuid", &columns[2]), ("position", "")],
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(titles_in(&t, &board, &columns[2]).await, ["Lead A"]);
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/kanban/leads/{a}/move"),
            &[("column_uuid", "not-a-uuid")],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("column_uuid"));

    // Columns: a drop sends the complete order; the move buttons carry one too.
    let mut reversed = columns.clone();
    reversed.reverse();
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/kanban/boards/{board}/reorder"),
            &[("order", &reversed.join(","))],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(column_ids(&t, &board).await, reversed);
    // The first column's "→" button: its order swaps it with the second.
    let right = [reversed[1].clone(), reversed[0].clone()]
        .into_iter()
        .chain(reversed[2..].iter().cloned())
        .collect::<Vec<_>>()
        .join(",");
    assert!(body.contains(&right), "{body}");
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/kanban/boards/{board}/reorder"),
            &[("order", &reversed[1..].join(","))],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("<code>order</code>"), "{body}");

    // Columns made, renamed and deleted (their leads moved).
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/kanban/boards/{board}/columns"),
            &[("name", "Demo"), ("color", "#14b8a6"), ("position", "")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let now = column_ids(&t, &board).await;
    assert_eq!(now.len(), 6);
    let demo = now.last().unwrap().clone();
    let (status, _, _) = dash
        .post(
            &format!("/dashboard/crm/kanban/columns/{demo}"),
            &[("name", "Demo booked"), ("color", "#14b8a6")],
        )
        .await;
    assert_eq!(status, 200);
    let cols = t.get(&format!("/kanban/boards/{board}/columns")).await;
    assert_eq!(cols["data"][5]["name"], "Demo booked");
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/kanban/columns/{}/delete", columns[2]),
            &[("board", &board), ("move_to", &demo)],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(column_ids(&t, &board).await.len(), 5);
    assert_eq!(titles_in(&t, &board, &demo).await, ["Lead A"]);

    // The lead's page: fields, notes, timeline, won / lost, delete.
    let (status, page) = dash.get(&format!("/dashboard/crm/kanban/leads/{a}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(
        page.contains("Lead A") && page.contains("data-kind=\"moved\""),
        "{page}"
    );
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/kanban/leads/{a}"),
            &[
                ("title", "Lead A (Pro)"),
                ("phone_number", "5511988887777"),
                ("email", "a@example.com"),
                ("value", "349.90"),
                ("priority", "urgent"),
                ("custom_fields", r#"{"plan": "pro"}"#),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = t.get(&format!("/kanban/leads/{a}")).await;
    assert_eq!(shown["data"]["title"], "Lead A (Pro)");
    assert_eq!(shown["data"]["value"], "349.90");
    assert_eq!(shown["data"]["custom_fields"]["plan"], "pro");
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/kanban/leads/{a}/note"),
            &[("content", "Wants a demo on Friday.")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("Wants a demo on Friday."));
    let shown = t.get(&format!("/kanban/leads/{a}")).await;
    assert_eq!(
        shown["data"]["notes"][0]["content"],
        "Wants a demo on Friday."
    );
    let (status, _, _) = dash
        .post(&format!("/dashboard/crm/kanban/leads/{a}/won"), &[])
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        t.get(&format!("/kanban/leads/{a}")).await["data"]["status"],
        "won"
    );
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/kanban/leads/{a}/lost"),
            &[("reason", "Chose a competitor")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = t.get(&format!("/kanban/leads/{a}")).await;
    assert_eq!(shown["data"]["status"], "lost");
    assert_eq!(shown["data"]["lost_reason"], "Chose a competitor");
    let board_now = t.get(&format!("/kanban/boards/{board}")).await;
    assert_eq!(board_now["data"]["stats"]["lost_leads"], 1);
    let (_, page) = dash
        .get(&format!("/dashboard/crm/kanban/boards/{board}/live"))
        .await;
    assert!(page.contains("id=\"board-stats\""), "{page}");

    // Another tenant (Kanban on too): 404 on every page and action with our ids.
    let other = other_tenant(&t.app, &t, true).await;
    for path in [
        format!("/dashboard/crm/kanban/boards/{board}"),
        format!("/dashboard/crm/kanban/boards/{board}/live"),
        format!("/dashboard/crm/kanban/leads/{b}"),
        format!("/dashboard/crm/kanban/leads/{b}/live"),
    ] {
        let (status, page) = other.get(&path).await;
        assert_eq!(status, 404, "{path}: {page}");
    }
    for (path, form) in [
        (
            format!("/dashboard/crm/kanban/boards/{board}"),
            vec![("name", "x")],
        ),
        (
            format!("/dashboard/crm/kanban/boards/{board}/delete"),
            vec![],
        ),
        (
            format!("/dashboard/crm/kanban/boards/{board}/columns"),
            vec![("name", "x")],
        ),
        (
            format!("/dashboard/crm/kanban/boards/{board}/reorder"),
            vec![("order", columns[0].as_str())],
        ),
        (
            format!("/dashboard/crm/kanban/boards/{board}/leads"),
            vec![("title", "x")],
        ),
        (
            format!("/dashboard/crm/kanban/columns/{demo}"),
            vec![("name", "x")],
        ),
        (
            format!("/dashboard/crm/kanban/columns/{demo}/delete"),
            vec![("board", board.as_str())],
        ),
        (
            format!("/dashboard/crm/kanban/leads/{b}"),
            vec![("title", "x")],
        ),
        (
            format!("/dashboard/crm/kanban/leads/{b}/move"),
            vec![("column_uuid", columns[0].as_str())],
        ),
        (format!("/dashboard/crm/kanban/leads/{b}/won"), vec![]),
        (format!("/dashboard/crm/kanban/leads/{b}/lost"), vec![]),
        (
            format!("/dashboard/crm/kanban/leads/{b}/note"),
            vec![("content", "x")],
        ),
        (format!("/dashboard/crm/kanban/leads/{b}/delete"), vec![]),
    ] {
        let (status, _, body) = other.post(&path, &form).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    assert_eq!(
        t.get(&format!("/kanban/leads/{b}")).await["data"]["status"],
        "open"
    );

    // Deleting a lead goes back to its board.
    let (status, redirect, _) = dash
        .post(&format!("/dashboard/crm/kanban/leads/{b}/delete"), &[])
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        redirect.unwrap(),
        format!("/dashboard/crm/kanban/boards/{board}")
    );
    let (status, _) = t
        .call(Method::GET, &format!("/kanban/leads/{b}"), None)
        .await;
    assert_eq!(status, 404);
    let (status, redirect, _) = dash
        .post(&format!("/dashboard/crm/kanban/boards/{board}/delete"), &[])
        .await;
    assert_eq!(status, 204);
    assert_eq!(redirect.as_deref(), Some("/dashboard/crm/kanban"));
    let (status, _) = t
        .call(Method::GET, &format!("/kanban/boards/{board}"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn appointments_show_in_the_month_and_week_in_the_tenants_zone() {
    let t = Inbox::new().await;
    let dash = Dash::admin(&t.app).await;
    let tenant = tenant_of(&t.app, ADMIN_EMAIL).await;
    t.app
        .services
        .set_tenant_features(
            tenant,
            control_plane::service::tenant_settings::FeatureChange {
                timezone: Some(Some("America/Sao_Paulo".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let dash = Dash::sign_in(dash.app, ADMIN_EMAIL, crate::helpers::ADMIN_PASSWORD).await;

    let mut rx = t.app.services.live.subscribe();
    let (status, redirect, body) = dash
        .post(
            "/dashboard/crm/calendar/appointments",
            &[
                ("title", "Consultation"),
                ("instance_id", &t.uuid),
                ("starts_at", "2026-05-14T10:00"),
                ("ends_at", "2026-05-14T11:30"),
                ("client_name", "John Doe"),
                ("client_phone", "+55 11 99999-9999"),
                ("reminder_minutes", "30"),
                ("color", "#10b981"),
                ("view", "week"),
            ],
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        redirect.as_deref(),
        Some("/dashboard/crm/calendar?view=week&date=2026-05-14")
    );
    news(&mut rx, Topic::Crm).await;
    let list = t
        .get("/calendar/appointments?start=2026-05-01&end=2026-05-31")
        .await;
    let a = list["data"][0].clone();
    assert_eq!(a["starts_at"], "2026-05-14T10:00:00-03:00");
    assert_eq!(a["client_phone"], "5511999999999");
    let id = a["uuid"].as_str().unwrap().to_owned();
    let (status, _, body) = dash
        .post(
            "/dashboard/crm/calendar/appointments",
            &[
                ("title", "No time"),
                ("instance_id", &t.uuid),
                ("reminder_minutes", "soon"),
            ],
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("reminder_minutes"), "{body}");

    // The month and the week: on its day, at its local time; not in another week.
    for path in [
        "/dashboard/crm/calendar?view=month&date=2026-05-02",
        "/dashboard/crm/calendar?view=week&date=2026-05-14",
        "/dashboard/crm/calendar?view=week&date=2026-05-11",
    ] {
        let (status, page) = dash.get(path).await;
        assert_eq!(status, 200, "{page}");
        let day = around(&page, "data-date=\"2026-05-14\"", "</section>");
        assert!(
            day.contains(&format!("data-appointment=\"{id}\"")),
            "{path}: {day}"
        );
        assert!(
            day.contains(">10:00<") && day.contains("Consultation"),
            "{day}"
        );
        assert!(page.contains("Times in America&#x2f;Sao_Paulo"), "{page}");
    }
    let (_, page) = dash
        .get("/dashboard/crm/calendar?view=week&date=2026-05-21")
        .await;
    assert!(!page.contains(&id));
    let (_, page) = dash
        .get("/dashboard/crm/calendar?view=month&date=2026-06-01")
        .await;
    assert!(!page.contains(&id));
    let (status, _) = dash.get("/dashboard/crm/calendar?date=14/05/2026").await;
    assert_eq!(status, 422);

    // The appointment's page: edit, confirm, complete; a refused transition is the API's.
    let (status, page) = dash
        .get(&format!("/dashboard/crm/calendar/appointments/{id}"))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("value=\"2026-05-14T10:00\""), "{page}");
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/calendar/appointments/{id}"),
            &[
                ("title", "Consultation (online)"),
                ("starts_at", "2026-05-14T14:00"),
                ("ends_at", "2026-05-14T15:00"),
                ("client_name", "John Doe"),
                ("client_phone", "5511999999999"),
                ("location", "Google Meet"),
                ("reminder_minutes", ""),
                ("color", "#10b981"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = t.get(&format!("/calendar/appointments/{id}")).await;
    assert_eq!(shown["data"]["title"], "Consultation (online)");
    assert_eq!(shown["data"]["starts_at"], "2026-05-14T14:00:00-03:00");
    assert_eq!(shown["data"]["location"], "Google Meet");
    assert_eq!(shown["data"]["reminder_minutes"], Value::Null);
    for (action, status_after) in [("confirm", "confirmed"), ("complete", "completed")] {
        let (status, _, body) = dash
            .post(
                &format!("/dashboard/crm/calendar/appointments/{id}/{action}"),
                &[],
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let shown = t.get(&format!("/calendar/appointments/{id}")).await;
        assert_eq!(shown["data"]["status"], status_after);
    }
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/calendar/appointments/{id}/cancel"),
            &[],
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("CONFLICT"));

    // to-kanban: refused without Kanban, a lead with it.
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/calendar/appointments/{id}/to-kanban"),
            &[],
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("KANBAN_NOT_ENABLED"));
    enable_kanban(&t.app, ADMIN_EMAIL).await;
    let (status, _, body) = dash
        .post(
            &format!("/dashboard/crm/calendar/appointments/{id}/to-kanban"),
            &[("board_uuid", "")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("id=\"appointment-lead\""), "{body}");
    let boards = t.get("/kanban/boards").await;
    let board = boards["data"][0]["uuid"].as_str().unwrap();
    let leads = t.get(&format!("/kanban/boards/{board}/leads")).await;
    assert_eq!(leads["data"][0]["title"], "John Doe");
    assert_eq!(leads["data"][0]["source"], "calendar");

    // Another tenant: 404 everywhere.
    let other = other_tenant(&t.app, &t, true).await;
    let (status, _) = other
        .get(&format!("/dashboard/crm/calendar/appointments/{id}"))
        .await;
    assert_eq!(status, 404);
    let (_, page) = other.get("/dashboard/crm/calendar?date=2026-05-14").await;
    assert!(!page.contains(&id));
    for action in [
        "",
        "/confirm",
        "/complete",
        "/cancel",
        "/to-kanban",
        "/delete",
    ] {
        let (status, _, body) = other
            .post(
                &format!("/dashboard/crm/calendar/appointments/{id}{action}"),
                &[("title", "x")],
            )
            .await;
        assert_eq!(status, 404, "{action}: {body}");
    }

    // Cancel another one, then delete it.
    let (status, created) = t
        .call(
            Method::POST,
            "/calendar/appointments",
            Some(json!({"instance_id": t.uuid, "title": "Follow-up", "starts_at": "2026-05-20T09:00:00"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let second = created["data"]["uuid"].as_str().unwrap().to_owned();
    let (status, _, _) = dash
        .post(
            &format!("/dashboard/crm/calendar/appointments/{second}/cancel"),
            &[],
        )
        .await;
    assert_eq!(status, 200);
    let shown = t.get(&format!("/calendar/appointments/{second}")).await;
    assert_eq!(shown["data"]["status"], "cancelled");
    let (status, redirect, _) = dash
        .post(
            &format!("/dashboard/crm/calendar/appointments/{second}/delete"),
            &[],
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        redirect.as_deref(),
        Some("/dashboard/crm/calendar?date=2026-05-20")
    );
    let (status, _) = t
        .call(
            Method::GET,
            &format!("/calendar/appointments/{second}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn state_changes_without_the_csrf_header_are_refused() {
    let t = Inbox::new().await;
    enable_kanban(&t.app, ADMIN_EMAIL).await;
    let dash = Dash::admin(&t.app).await;
    let id = uuid::Uuid::new_v4();
    for path in [
        "/dashboard/automations/flows".to_owned(),
        format!("/dashboard/automations/flows/{id}"),
        format!("/dashboard/automations/flows/{id}/test"),
        "/dashboard/automations/integrations".to_owned(),
        "/dashboard/automations/functions".to_owned(),
        format!("/dashboard/automations/sessions/{id}/status"),
        "/dashboard/crm/kanban/boards".to_owned(),
        format!("/dashboard/crm/kanban/leads/{id}/move"),
        format!("/dashboard/crm/kanban/boards/{id}/reorder"),
        "/dashboard/crm/calendar/appointments".to_owned(),
    ] {
        let resp = dash
            .req(Method::POST, &path)
            .header("hx-request", "true")
            .form(&[("name", "x"), ("instance_id", t.uuid.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 403, "{path}");
        assert!(resp.text().await.unwrap().contains("CSRF"));
    }
    assert!(
        t.get("/automation/flows").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(
        t.get("/kanban/boards").await["data"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}
