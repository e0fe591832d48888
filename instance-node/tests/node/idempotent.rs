//! Sends with a client reference (gRPC `client_ref`, HTTP `Idempotency-Key`): one send per
//! reference, the first answer repeated, the daily limit counted once, and the reference on
//! the send's `message_sent` event.

use crate::common;

use common::{FakeCp, SECRET, TOKEN, TestNode, error_code};
use serde_json::{Value, json};
use tonic::metadata::MetadataValue;
use zapini_proto::v1;
use zapini_proto::v1::instance_node_client::InstanceNodeClient;

type Client = InstanceNodeClient<tonic::transport::Channel>;

async fn client(node: &TestNode) -> Client {
    InstanceNodeClient::connect(format!("http://{}", node.grpc))
        .await
        .unwrap()
}

fn authed<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    let value: MetadataValue<_> = format!("Bearer {SECRET}").parse().unwrap();
    req.metadata_mut().insert("authorization", value);
    req
}

fn text(to: &str, text: &str, client_ref: &str) -> tonic::Request<v1::SendTextRequest> {
    authed(v1::SendTextRequest {
        to: to.into(),
        text: text.into(),
        client_ref: client_ref.into(),
        ..Default::default()
    })
}

/// A node whose policy allows `daily_limit` sends today.
async fn limited_node(cp: &FakeCp, daily_limit: u32) -> TestNode {
    cp.set_policy(v1::Policy {
        daily_limit,
        messages_sent_today: 0,
        automation_active: false,
        paused_chats: vec![],
        day: chrono::Utc::now()
            .date_naive()
            .format("%Y-%m-%d")
            .to_string(),
    });
    TestNode::paired(cp).await
}

/// The `message_sent` events the control plane has committed.
fn sent_events(cp: &FakeCp) -> Vec<v1::WaMessage> {
    cp.events()
        .into_iter()
        .filter_map(|e| match e.kind {
            Some(v1::event::Kind::MessageSent(m)) => Some(m),
            _ => None,
        })
        .collect()
}

/// Waits until the `message_sent` event of `message_id` is committed. Events stream in
/// order, so every send answered before it has its event committed too.
async fn wait_sent_event(cp: &FakeCp, message_id: &str) {
    cp.wait_until(&format!("message_sent {message_id}"), |s| {
        s.events
            .values()
            .any(|e| matches!(&e.kind, Some(v1::event::Kind::MessageSent(m)) if m.id == message_id))
    })
    .await;
}

async fn post_with_key(node: &TestNode, path: &str, key: &str, body: Value) -> (u16, Value) {
    let resp = node
        .http
        .post(node.url(path))
        .bearer_auth(TOKEN)
        .header("Idempotency-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn a_repeated_client_ref_answers_the_first_send_and_counts_once() {
    let cp = FakeCp::start().await;
    let node = limited_node(&cp, 2).await;
    let mut c = client(&node).await;

    let first = c
        .send_text(text("5511999999999", "your order shipped", "auto:1:0"))
        .await
        .unwrap()
        .into_inner();
    let again = c
        .send_text(text("5511999999999", "your order shipped", "auto:1:0"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again, first, "same message id and timestamp");

    // Another reference is another send; it takes the second (and last) send of the day, so
    // the repeat above was not counted.
    let second = c
        .send_text(text("5511999999999", "anything else?", "auto:1:1"))
        .await
        .unwrap()
        .into_inner();
    assert_ne!(second.message_id, first.message_id);
    let err = c
        .send_text(text("5511999999999", "one too many", "auto:1:2"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    // A repeat still answers once the limit is reached: it sends nothing.
    let late = c
        .send_text(text("5511999999999", "your order shipped", "auto:1:0"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(late, first);

    wait_sent_event(&cp, &second.message_id).await;
    let sent = sent_events(&cp);
    let refs: Vec<(&str, &str)> = sent
        .iter()
        .map(|m| (m.id.as_str(), m.client_ref.as_str()))
        .collect();
    assert_eq!(
        refs,
        vec![
            (first.message_id.as_str(), "auto:1:0"),
            (second.message_id.as_str(), "auto:1:1"),
        ]
    );
    node.shutdown().await;
}

#[tokio::test]
async fn concurrent_sends_with_one_client_ref_send_once() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    let c = client(&node).await;
    let sends: Vec<_> = (0..8)
        .map(|_| {
            let mut c = c.clone();
            tokio::spawn(async move {
                c.send_text(text("5511999999999", "once", "auto:9:0"))
                    .await
                    .map(|r| r.into_inner())
            })
        })
        .collect();
    let mut answers = Vec::new();
    for send in sends {
        answers.push(send.await.unwrap().unwrap());
    }
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");

    // A marker after them: every earlier send's event is committed before its own.
    let marker = c
        .clone()
        .send_text(text("5511999999999", "marker", ""))
        .await
        .unwrap()
        .into_inner();
    wait_sent_event(&cp, &marker.message_id).await;
    let sent = sent_events(&cp);
    let once: Vec<_> = sent.iter().filter(|m| m.text == "once").collect();
    assert_eq!(once.len(), 1, "{sent:?}");
    assert_eq!(once[0].id, answers[0].message_id);
    assert_eq!(once[0].client_ref, "auto:9:0");
    let marker_event = sent.iter().find(|m| m.id == marker.message_id).unwrap();
    assert_eq!(marker_event.client_ref, "", "no reference, none reported");
    node.shutdown().await;
}

#[tokio::test]
async fn media_sends_are_idempotent_too() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    let mut c = client(&node).await;
    let media = |client_ref: &str| {
        authed(v1::SendMediaRequest {
            to: "5511999999999".into(),
            media_type: "document".into(),
            data: b"%PDF-1.4".to_vec(),
            filename: "invoice.pdf".into(),
            client_ref: client_ref.into(),
            ..Default::default()
        })
    };
    let first = c.send_media(media("auto:3:0")).await.unwrap().into_inner();
    let again = c.send_media(media("auto:3:0")).await.unwrap().into_inner();
    assert_eq!(again, first);
    let other = c.send_media(media("auto:3:1")).await.unwrap().into_inner();
    assert_ne!(other.message_id, first.message_id);

    wait_sent_event(&cp, &other.message_id).await;
    let refs: Vec<String> = sent_events(&cp)
        .into_iter()
        .map(|m| format!("{} {}", m.id, m.client_ref))
        .collect();
    assert_eq!(
        refs,
        vec![
            format!("{} auto:3:0", first.message_id),
            format!("{} auto:3:1", other.message_id),
        ]
    );
    node.shutdown().await;
}

#[tokio::test]
async fn an_invalid_client_ref_is_refused_naming_it() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    let mut c = client(&node).await;
    for bad in ["has space", &"x".repeat(129)] {
        let err = c
            .send_text(text("5511999999999", "hi", bad))
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        assert!(err.message().contains("client_ref"), "{}", err.message());
    }
    node.shutdown().await;
}

#[tokio::test]
async fn the_idempotency_key_header_makes_http_sends_idempotent() {
    let cp = FakeCp::start().await;
    let node = limited_node(&cp, 2).await;
    let body = json!({"recipient": "5511888888888", "message": "receipt #41"});

    let (status, first) = post_with_key(&node, "/send-message", "order-41", body.clone()).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = post_with_key(&node, "/send-message", "order-41", body.clone()).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again, first, "same message_id and timestamp");

    let (status, other) = post_with_key(&node, "/send-message", "order-42", body.clone()).await;
    assert_eq!(status, 200, "{other}");
    assert_ne!(other["message_id"], first["message_id"]);
    // The repeat was not counted: the limit of 2 is reached only now.
    let (status, refused) = node.post("/send-message", body.clone()).await;
    assert_eq!(status, 429, "{refused}");
    assert_eq!(error_code(&refused), "DAILY_LIMIT_EXCEEDED");

    wait_sent_event(&cp, other["message_id"].as_str().unwrap()).await;
    let refs: Vec<String> = sent_events(&cp).into_iter().map(|m| m.client_ref).collect();
    // Kept apart from the control plane's own references.
    assert_eq!(refs, vec!["api:order-41", "api:order-42"]);

    for bad in ["two words", &"k".repeat(129)] {
        let (status, body) = post_with_key(&node, "/send-message", bad, body.clone()).await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(error_code(&body), "VALIDATION_ERROR");
        assert!(
            body["error"]["details"]["Idempotency-Key"].is_array(),
            "{body}"
        );
    }
    let (status, body) = post_with_key(
        &node,
        "/send-media",
        "",
        json!({"recipient": "5511888888888", "media_url": "https://example.com/a.jpg", "media_type": "image"}),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["details"]["Idempotency-Key"].is_array(),
        "{body}"
    );
    node.shutdown().await;
}
