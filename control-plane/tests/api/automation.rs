//! Automation control: status, pause (reason, paused_by), resume only after archiving
//! (which unarchives), bulk pause/resume with counts, both URL forms, flows and
//! integrations toggling the instance's automation, and `AUTOMATION_ACTIVE` on manual sends.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::assert_error;
use crate::inbox_setup::Inbox;

async fn automation(t: &Inbox, c: &str) -> Value {
    t.get(&format!("/conversations/{c}/automation")).await["data"].clone()
}

#[tokio::test]
async fn pause_resume_and_the_send_guard() {
    let t = Inbox::new().await;
    t.inbound("5511900000001", "A1", "hi").await;
    let c = t.conversation_of("5511900000001").await;

    // No active flow or integration: nothing blocks, nothing to resume.
    let st = automation(&t, &c).await;
    assert_eq!(st["automation_status"], "inactive");
    assert_eq!(st["can_send_manual_message"], true);
    let send = json!({"instance_id": t.uuid, "recipient": "5511900000001", "message": "manual"});
    let resp = t.app.post("/chat/send", &t.token, send.clone()).await;
    assert_error(resp, 503, "NODE_UNAVAILABLE").await;

    // An active flow automates every conversation of the instance.
    let (status, flow) = t
        .call(
            Method::POST,
            "/automation/flows",
            Some(json!({"instance_id": t.uuid, "name": "Welcome"})),
        )
        .await;
    assert_eq!(status, 201, "{flow}");
    assert_eq!(flow["data"]["is_active"], true);
    let flow_id = flow["data"]["id"].as_str().unwrap().to_owned();
    let st = automation(&t, &c).await;
    assert_eq!(st["conversation_id"], c.as_str());
    assert_eq!(st["automation_status"], "active");
    assert_eq!(st["is_automation_active"], true);
    assert_eq!(st["can_send_manual_message"], false);
    assert_eq!(st["paused_at"], Value::Null);
    let shown = t.get(&format!("/api/v1/chat/conversations/{c}")).await;
    assert_eq!(shown["data"]["automation_status"], "active");
    assert_eq!(shown["data"]["can_send_manual_message"], false);

    let resp = t
        .app
        .post("/api/v1/chat/send", &t.token, send.clone())
        .await;
    let err = assert_error(resp, 409, "AUTOMATION_ACTIVE").await;
    assert_eq!(
        err["error"]["message"],
        "Cannot send messages. This conversation has active automation. Pause the automation first to send messages manually."
    );
    assert_eq!(err["error"]["conversation_id"], c.as_str());
    // A number without a conversation yet is automated too.
    let resp = t
        .app
        .post(
            "/chat/send",
            &t.token,
            json!({"instance_id": t.uuid, "recipient": "5511977778888", "message": "x"}),
        )
        .await;
    assert_error(resp, 409, "AUTOMATION_ACTIVE").await;

    // Pause: the manual send passes the guard (and reaches the missing node).
    let (status, body) = t
        .call(
            Method::POST,
            &format!("/conversations/{c}/automation/pause"),
            Some(json!({"reason": "Manual takeover for VIP client"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        "Automation paused. You can now send messages manually."
    );
    assert_eq!(body["data"]["automation_status"], "paused");
    assert_eq!(body["data"]["paused_by"], "Administrator");
    assert!(body["data"]["paused_at"].is_string());
    let st = automation(&t, &c).await;
    assert_eq!(st["pause_reason"], "Manual takeover for VIP client");
    assert_eq!(st["can_send_manual_message"], true);
    let resp = t.app.post("/chat/send", &t.token, send.clone()).await;
    assert_error(resp, 503, "NODE_UNAVAILABLE").await;

    // Resume needs the conversation archived first; resuming unarchives it.
    let resp = t
        .app
        .post(
            &format!("/conversations/{c}/automation/resume"),
            &t.token,
            json!({}),
        )
        .await;
    assert_error(resp, 409, "CONFLICT").await;
    t.call(Method::POST, &format!("/conversations/{c}/archive"), None)
        .await;
    let (status, body) = t
        .call(
            Method::POST,
            &format!("/conversations/{c}/automation/resume"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["message"],
        "Automation resumed. AI will handle this conversation."
    );
    assert_eq!(body["data"]["automation_status"], "active");
    assert_eq!(
        t.get(&format!("/conversations/{c}")).await["data"]["is_archived"],
        false
    );

    // The chat API forms.
    let (status, body) = t
        .call(
            Method::POST,
            &format!("/api/v1/chat/conversations/{c}/pause-automation"),
            Some(json!({"reason": "Manual intervention required"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Automation paused successfully");
    assert_eq!(body["data"]["automation_paused"], true);
    assert_eq!(body["data"]["reason"], "Manual intervention required");
    assert_eq!(body["data"]["conversation_id"], c.as_str());
    let resp = t
        .app
        .post(
            &format!("/api/v1/chat/conversations/{c}/resume-automation"),
            &t.token,
            json!({}),
        )
        .await;
    assert_error(resp, 409, "CONFLICT").await;
    t.call(
        Method::POST,
        &format!("/chat/conversations/{c}/archive"),
        None,
    )
    .await;
    let (status, body) = t
        .call(
            Method::POST,
            &format!("/api/v1/chat/conversations/{c}/resume-automation"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["automation_paused"], false);
    assert!(body["data"]["resumed_at"].is_string());

    // Turning the flow off ends the automation.
    let (status, _) = t
        .call(
            Method::PATCH,
            &format!("/automation/flows/{flow_id}"),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(automation(&t, &c).await["automation_status"], "inactive");
    // An active integration does the same as a flow.
    let (status, body) = t
        .call(
            Method::POST,
            "/automation/integrations",
            Some(json!({"instance_id": t.instance_id(), "name": "AI", "integration_type": "ai_agent"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(automation(&t, &c).await["automation_status"], "active");
    let listed = t.get("/automation/integrations").await;
    assert_eq!(listed["data"][0]["integration_type"], "ai_agent");
    let resp = t
        .app
        .post(
            "/automation/integrations",
            &t.token,
            json!({"instance_id": t.uuid, "name": "X", "integration_type": "telepathy"}),
        )
        .await;
    assert_error(resp, 422, "VALIDATION_ERROR").await;
    t.app.stop().await;
}

#[tokio::test]
async fn bulk_pause_and_resume() {
    let t = Inbox::new().await;
    for n in 1..=3 {
        t.inbound(&format!("551190000000{n}"), &format!("M{n}"), "hi")
            .await;
    }
    let a = t.conversation_of("5511900000001").await;
    let b = t.conversation_of("5511900000002").await;
    let c = t.conversation_of("5511900000003").await;
    // Without automation everything is skipped.
    let (_, body) = t
        .call(
            Method::POST,
            "/conversations/automation/bulk-pause",
            Some(json!({"conversation_ids": [a, b]})),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({"paused": 0, "skipped": 2, "errors": 0})
    );

    t.call(
        Method::POST,
        "/automation/flows",
        Some(json!({"instance_id": t.uuid, "name": "Bot"})),
    )
    .await;
    let other = t.app.other_tenant_token("bulk-other@test.local").await;
    let other_inst = t.app.create_instance(&other, "Theirs").await;
    let _ = other_inst;
    let (status, body) = t
        .call(
            Method::POST,
            "/api/v1/conversations/automation/bulk-pause",
            Some(json!({"conversation_ids": [a, b, uuid::Uuid::new_v4(), "junk"], "reason": "Bulk pause for maintenance"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "2 conversations paused");
    assert_eq!(
        body["data"],
        json!({"paused": 2, "skipped": 0, "errors": 2})
    );
    assert_eq!(
        automation(&t, &a).await["pause_reason"],
        "Bulk pause for maintenance"
    );
    // Already paused: skipped.
    let (_, body) = t
        .call(
            Method::POST,
            "/conversations/automation/bulk-pause",
            Some(json!({"conversation_ids": [a, c]})),
        )
        .await;
    assert_eq!(
        body["data"],
        json!({"paused": 1, "skipped": 1, "errors": 0})
    );

    // Resume: not paused is skipped, not archived is an error, archived is resumed.
    t.call(Method::POST, &format!("/conversations/{a}/archive"), None)
        .await;
    let (status, body) = t
        .call(
            Method::POST,
            "/conversations/automation/bulk-resume",
            Some(json!({"conversation_ids": [a, b]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "1 automations resumed");
    assert_eq!(
        body["data"],
        json!({"resumed": 1, "skipped": 0, "errors": 1})
    );
    assert_eq!(automation(&t, &a).await["automation_status"], "active");
    assert_eq!(automation(&t, &b).await["automation_status"], "paused");

    let many: Vec<String> = (0..101).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    for body in [
        json!({"conversation_ids": many}),
        json!({}),
        json!({"conversation_ids": []}),
    ] {
        let resp = t
            .app
            .post("/conversations/automation/bulk-pause", &t.token, body)
            .await;
        assert_error(resp, 422, "VALIDATION_ERROR").await;
    }
    t.app.stop().await;
}
