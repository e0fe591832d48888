//! The Instance API hot path against a real node and a fake control plane.

use crate::common;

use common::{FakeCp, TestNode, error_code};
use serde_json::json;
use zapini_proto::v1;

fn is_millis_timestamp(s: &str) -> bool {
    // 2025-12-30T17:30:00.000Z
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[19] == b'.' && s.as_bytes()[10] == b'T'
}

#[tokio::test]
async fn health_needs_no_auth() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    let resp = reqwest::get(node.url("/health")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert!(body["uptime"].is_u64());
    assert!(
        is_millis_timestamp(body["timestamp"].as_str().unwrap()),
        "{body}"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn sending_before_pairing_is_not_connected() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    node.wait_ready(&cp).await;
    let (status, body) = node
        .post(
            "/send-message",
            json!({"recipient": "5511999999999", "message": "hi"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(error_code(&body), "INSTANCE_NOT_CONNECTED");
    node.shutdown().await;
}

#[tokio::test]
async fn qr_then_scan_then_status_connected() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    node.wait_ready(&cp).await;

    let (status, body) = node.get("/status").await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], true);
    assert_eq!(body["status"], "qr_ready");
    assert!(body["phone"].is_null());

    let (status, body) = node.get("/qr").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["status"], "qr_ready");
    assert!(
        body["qr"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert!(body["qr_code_text"].as_str().unwrap().starts_with("2@"));

    let (status, body) = node
        .post(
            "/sandbox/scan",
            json!({"phone_number": "+55 11 98888-7777", "push_name": "Shop"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "connected");

    let (status, body) = node.get("/status").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"success": true, "status": "connected", "phone": "5511988887777", "name": "Shop", "platform": "android", "engine": "sandbox", "reason": "paired"})
    );

    let (status, body) = node.get("/qr").await;
    assert_eq!(status, 409);
    assert_eq!(error_code(&body), "CONFLICT");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already connected")
    );

    cp.wait_until("connection event", |s| {
        s.events.values().any(|e| matches!(&e.kind, Some(v1::event::Kind::Connection(c)) if c.status == "connected" && c.phone_number == "5511988887777"))
    })
    .await;
    node.shutdown().await;
}

#[tokio::test]
async fn send_message_accepts_every_alias() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    let bodies = [
        json!({"recipient": "5511999999999", "message": "one"}),
        json!({"number": "+55 (11) 99999-9999", "message": "two", "reply_to": "ABC"}),
        json!({"to": "5511999999999@s.whatsapp.net", "message": "three", "quoted_message_id": "DEF"}),
        json!({"to": 5511999999999u64, "message": "four"}),
    ];
    let mut ids = Vec::new();
    for body in bodies {
        let (status, resp) = node.post("/send-message", body.clone()).await;
        assert_eq!(status, 200, "{body} -> {resp}");
        assert_eq!(resp["success"], true);
        assert_eq!(resp["message"], "Message sent successfully");
        assert!(
            is_millis_timestamp(resp["timestamp"].as_str().unwrap()),
            "{resp}"
        );
        let keys: Vec<_> = resp.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys.len(), 4, "{resp}");
        ids.push(resp["message_id"].as_str().unwrap().to_owned());
    }
    // Every answered send's event is in the buffer, so the control plane hears of all of them.
    cp.wait_until("four message_sent events", |s| {
        s.events
            .values()
            .filter(|e| matches!(e.kind, Some(v1::event::Kind::MessageSent(_))))
            .count()
            == 4
    })
    .await;
    let sent: Vec<v1::WaMessage> = cp
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            Some(v1::event::Kind::MessageSent(m)) => Some(m),
            _ => None,
        })
        .collect();
    assert_eq!(sent.iter().map(|m| m.id.clone()).collect::<Vec<_>>(), ids);
    assert!(
        sent.iter()
            .all(|m| m.chat_jid == "5511999999999@s.whatsapp.net" && m.from_me)
    );
    assert_eq!(sent[1].quoted_id, "ABC");
    assert_eq!(sent[2].quoted_id, "DEF");
    assert_eq!(sent[0].text, "one");
    node.shutdown().await;
}

#[tokio::test]
async fn validation_errors_name_the_field() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;

    let (status, body) = node.post("/send-message", json!({"message": "hi"})).await;
    assert_eq!(status, 422);
    assert_eq!(error_code(&body), "VALIDATION_ERROR");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("recipient") && msg.contains("number") && msg.contains("to"),
        "{msg}"
    );
    assert!(body["error"]["details"]["recipient"].is_array());

    let (status, body) = node
        .post("/send-message", json!({"recipient": "5511999999999"}))
        .await;
    assert_eq!(status, 422);
    assert!(body["error"]["details"]["message"].is_array(), "{body}");

    let (status, body) = node
        .post(
            "/send-message",
            json!({"recipient": "5511999999999", "message": ["x"]}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must be a string")
    );

    let (status, body) = node
        .post("/send-message", json!({"recipient": true, "message": "x"}))
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = node
        .post(
            "/send-message",
            json!({"recipient": "12ab", "message": "x"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["recipient"].is_array(), "{body}");

    // Malformed JSON.
    let resp = node
        .http
        .post(node.url("/send-message"))
        .bearer_auth(common::TOKEN)
        .header("content-type", "application/json")
        .body("{\"recipient\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "INVALID_JSON");

    // A JSON array is not an object.
    let resp = node
        .http
        .post(node.url("/send-message"))
        .bearer_auth(common::TOKEN)
        .body("[1,2]")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Too large.
    let huge = "x".repeat(2 * 1024 * 1024);
    let (status, body) = node
        .post(
            "/send-message",
            json!({"recipient": "5511999999999", "message": huge}),
        )
        .await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(error_code(&body), "PAYLOAD_TOO_LARGE");
    node.shutdown().await;
}

#[tokio::test]
async fn number_not_on_whatsapp() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    let (status, body) = node
        .post(
            "/send-message",
            json!({"recipient": "5511912340000", "message": "hi"}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(error_code(&body), "NUMBER_NOT_FOUND");
    node.shutdown().await;
}

#[tokio::test]
async fn send_reaction_shape() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    let (status, body) = node
        .post("/send-reaction", json!({"to": "5511999999999@s.whatsapp.net", "messageId": "3EB0B430A8B7F23C1D12", "emoji": "👍"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Reaction sent successfully");
    assert!(body["message_id"].is_string());
    let (status, _) = node
        .post(
            "/send-reaction",
            json!({"to": "5511999999999", "message_id": "X", "emoji": ""}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = node
        .post(
            "/send-reaction",
            json!({"to": "5511999999999", "emoji": "x"}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("messageId")
    );
    cp.wait_until("reaction events", |s| {
        s.events
            .values()
            .filter(|e| matches!(&e.kind, Some(v1::event::Kind::Reaction(r)) if r.from_me))
            .count()
            == 2
    })
    .await;
    node.shutdown().await;
}

#[tokio::test]
async fn daily_limit_and_automation_policy() {
    let cp = FakeCp::start().await;
    let today = chrono::Utc::now()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string();
    cp.set_policy(v1::Policy {
        daily_limit: 2,
        messages_sent_today: 1,
        automation_active: false,
        paused_chats: vec![],
        day: today.clone(),
    });
    let node = TestNode::paired(&cp).await;
    let send = json!({"recipient": "5511999999999", "message": "hi"});
    let (status, body) = node.post("/send-message", send.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = node.post("/send-message", send.clone()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(error_code(&body), "DAILY_LIMIT_EXCEEDED");

    // A new policy: unlimited, automation on except for one paused chat.
    cp.wait_until("an open stream", |_| cp.stream_count() > 0)
        .await;
    cp.push(v1::ControlMessage {
        kind: Some(v1::control_message::Kind::Policy(v1::Policy {
            daily_limit: 0,
            messages_sent_today: 0,
            automation_active: true,
            paused_chats: vec!["5511888888888@s.whatsapp.net".into()],
            day: today,
        })),
    });
    // Pushes are applied asynchronously; retry the request until it flips.
    let mut code = String::new();
    for _ in 0..100 {
        let (status, body) = node.post("/send-message", send.clone()).await;
        if status == 409 {
            code = error_code(&body);
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(code, "AUTOMATION_ACTIVE");
    let (status, body) = node
        .post(
            "/send-message",
            json!({"recipient": "5511888888888", "message": "manual"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    cp.push(v1::ControlMessage {
        kind: Some(v1::control_message::Kind::ChatPolicy(v1::ChatPolicy {
            chat_jid: "5511999999999@s.whatsapp.net".into(),
            paused: true,
        })),
    });
    let mut ok = false;
    for _ in 0..100 {
        let (status, _) = node.post("/send-message", send.clone()).await;
        if status == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(ok, "a paused chat accepts manual sends");
    node.shutdown().await;
}
