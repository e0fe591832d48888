//! Outgoing webhooks end to end: a real control plane, real sandbox nodes or signed engine
//! reports as the event source, and a real HTTP receiver that checks what arrives.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use uuid::Uuid;
use zapini_e2e::receiver::{Received, Receiver};
use zapini_e2e::{Node, eventually};

use crate::support::{Setup, T, host, setup, setup_with};
use zapini_shared::signing::{sign_hex, sign_timestamped_hex};

const SECRET: &str = "your_secret_key_here";

/// What these tests do on top of the shared set-up.
trait WebhookSetup {
    async fn put_webhook(&self, instance: impl std::fmt::Display, body: Value) -> Value;
    async fn inbound(&self, instance: Uuid, from: &str, id: &str, text: &str);
}

impl WebhookSetup for Setup {
    async fn put_webhook(&self, instance: impl std::fmt::Display, body: Value) -> Value {
        let (status, resp) = self
            .call(
                Method::PUT,
                &format!("/instances/{instance}/webhook"),
                Some(body),
            )
            .await;
        assert!(
            status == 200 || status == 201,
            "PUT webhook: {status} {resp}"
        );
        resp
    }

    /// An inbound text from `from`, reported by an external engine.
    async fn inbound(&self, instance: Uuid, from: &str, id: &str, text: &str) {
        let jid = format!("{from}@s.whatsapp.net");
        let (status, body) = self
            .api
            .engine_report(
                &self.cp,
                instance,
                "incoming",
                &json!({
                    "remoteJid": jid,
                    "message": {"conversation": text},
                    "messageTimestamp": 1_705_312_200,
                    "pushName": "John Doe",
                    "key": {"remoteJid": jid, "fromMe": false, "id": id}
                }),
            )
            .await;
        assert_eq!(status, 200, "report: {body}");
    }
}

/// Checks the reference's headers and both signatures of one delivery.
fn assert_signed(r: &Received, secret: &str, instance: Uuid) {
    assert_eq!(r.header("content-type"), "application/json");
    assert_eq!(r.header("user-agent"), "Zapini-Webhook/1.0");
    assert_eq!(r.header("x-instance-uuid"), instance.to_string());
    assert_eq!(
        r.header("x-webhook-signature"),
        sign_hex(secret.as_bytes(), &r.body),
        "X-Webhook-Signature is the hex HMAC of the exact body"
    );
    let body = r.json();
    assert_eq!(r.header("x-webhook-event"), body["event"].as_str().unwrap());
    assert_eq!(body["instance_uuid"], instance.to_string());
    assert!(
        body["timestamp"].as_str().unwrap().ends_with("+00:00"),
        "{body}"
    );
    Uuid::parse_str(r.header("x-webhook-delivery-id")).expect("delivery id is a UUID");
    let ts: i64 = r.header("x-webhook-timestamp").parse().expect("timestamp");
    let v2 = r.header("x-webhook-signature-v2");
    assert_eq!(
        v2.split(' ').next().unwrap(),
        format!(
            "v1={}",
            sign_timestamped_hex(secret.as_bytes(), ts, &r.body)
        )
    );
}

fn events_of(log: &[Received]) -> Vec<String> {
    log.iter()
        .filter(|r| r.ok())
        .map(|r| r.header("x-webhook-event").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_session_delivers_every_event_signed_and_shaped_as_the_reference() {
    let s = setup().await;
    let rx = Receiver::start().await;
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "hooks").await;
    let sk = s.api.create_sk_token(&s.cp, &s.user, id).await;
    // Configured with an sk_ token through the instance host, as the reference shows.
    let (status, body) = s
        .api
        .call(
            Method::PUT,
            &s.cp.url(&format!("/instances/{uuid}/webhook")),
            Some(&sk),
            Some(&host(id)),
            Some(json!({"webhook_url": rx.url, "webhook_secret": SECRET, "is_active": true})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["secret_hint"], "********here");
    assert!(body["data"].get("webhook_secret").is_none(), "{body}");

    let node = Node::start(s.cp.node_config(uuid, &s.dir.path().join("node")))
        .await
        .unwrap();
    rx.wait_until(T, "instance.qr", |log| {
        events_of(log).contains(&"instance.qr".to_owned())
    })
    .await;
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &node.url("/sandbox/scan"),
            Some(&sk),
            None,
            Some(json!({"phone_number": "5511999990001"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let connected = rx
        .wait_until(T, "instance.connected", |log| {
            events_of(log).contains(&"instance.connected".to_owned())
        })
        .await;
    let connected = connected
        .iter()
        .find(|r| r.header("x-webhook-event") == "instance.connected")
        .unwrap()
        .json();
    assert_eq!(connected["data"]["new_status"], "connected");
    assert_eq!(connected["data"]["previous_status"], "qr_ready");
    assert_eq!(connected["data"]["phone_number"], "5511999990001");

    // Send, get receipts, receive a reply, a reaction, an edit and a revoke.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &node.url("/send-message"),
            Some(&sk),
            None,
            Some(json!({"to": "5511888888888", "message": "Thanks for contacting us!"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let sent_wa = body["message_id"].as_str().unwrap().to_owned();
    for st in ["delivered", "read"] {
        let (status, body) = s
            .api
            .call(
                Method::POST,
                &node.url("/sandbox/receipt"),
                Some(&sk),
                None,
                Some(json!({"message_id": sent_wa, "status": st})),
            )
            .await;
        assert!(status == 200 || status == 409, "{st}: {body}");
    }
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &node.url("/sandbox/inbound"),
            Some(&sk),
            None,
            Some(json!({"from": "5511888888888", "message": "Hello, I need help!", "push_name": "John Doe"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let in_wa = body["data"]["message_id"].as_str().unwrap().to_owned();
    for (path, extra) in [
        (
            "/sandbox/reaction",
            json!({"message_id": sent_wa, "emoji": "👍"}),
        ),
        (
            "/sandbox/edit",
            json!({"message_id": in_wa, "text": "Hello, I need help now!"}),
        ),
        ("/sandbox/revoke", json!({"message_id": in_wa})),
    ] {
        let mut body = extra;
        body["from"] = json!("5511888888888");
        let (status, resp) = s
            .api
            .call(Method::POST, &node.url(path), Some(&sk), None, Some(body))
            .await;
        assert_eq!(status, 200, "{path}: {resp}");
    }
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &node.url("/sandbox/groups"),
            Some(&sk),
            None,
            Some(json!({"subject": "Team", "participants": ["5511888888888"]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let log = rx
        .wait_until(T, "every message event", |log| {
            let ev = events_of(log);
            [
                "message.sent",
                "message.received",
                "message.reaction",
                "message.edited",
                "message.deleted",
                "contact.update",
                "group.update",
            ]
            .iter()
            .all(|e| ev.contains(&e.to_string()))
                && log
                    .iter()
                    .filter(|r| r.ok() && r.header("x-webhook-event") == "message.status")
                    .any(|r| r.json()["data"]["new_status"] == "read")
        })
        .await;
    for r in log.iter().filter(|r| r.ok()) {
        assert_signed(r, SECRET, uuid);
    }
    let find = |event: &str| {
        log.iter()
            .find(|r| r.ok() && r.header("x-webhook-event") == event)
            .unwrap()
            .json()
    };
    let sent = find("message.sent");
    let data = &sent["data"];
    assert_eq!(data["whatsapp_message_id"], sent_wa.as_str());
    assert_eq!(data["recipient_number"], "5511888888888");
    assert_eq!(data["content"], "Thanks for contacting us!");
    assert_eq!(data["media_type"], Value::Null);
    assert_eq!(data["media_url"], Value::Null);
    assert!(data["conversation_id"].is_i64());
    Uuid::parse_str(data["message_id"].as_str().unwrap()).expect("message_id is our UUID");
    let keys: Vec<&str> = sent
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["event", "instance_uuid", "timestamp", "data"]);

    let received = find("message.received");
    let data = &received["data"];
    assert_eq!(data["whatsapp_message_id"], in_wa.as_str());
    assert_eq!(data["sender_number"], "5511888888888");
    assert_eq!(data["sender_name"], "John Doe");
    assert_eq!(data["content"], "Hello, I need help!");
    assert!(data["timestamp"].as_str().unwrap().ends_with("+00:00"));
    assert_eq!(data["conversation_id"], sent["data"]["conversation_id"]);

    let statuses: Vec<(String, String)> = log
        .iter()
        .filter(|r| r.ok() && r.header("x-webhook-event") == "message.status")
        .map(|r| {
            let d = r.json()["data"].clone();
            assert_eq!(d["whatsapp_message_id"], sent_wa.as_str());
            assert_eq!(d["message_id"], sent["data"]["message_id"]);
            assert_eq!(d["recipient_number"], "5511888888888");
            (
                d["previous_status"].as_str().unwrap().to_owned(),
                d["new_status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&("sent".into(), "delivered".into()))
            || statuses.contains(&("sent".into(), "read".into())),
        "{statuses:?}"
    );
    let reaction = find("message.reaction");
    assert_eq!(reaction["data"]["reaction"], "👍");
    assert_eq!(reaction["data"]["message_id"], sent["data"]["message_id"]);
    assert_eq!(
        find("message.edited")["data"]["content"],
        "Hello, I need help now!"
    );
    assert_eq!(
        find("message.deleted")["data"]["whatsapp_message_id"],
        in_wa.as_str()
    );

    // The contact appeared with the send, then got its name with the reply.
    let contacts: Vec<Value> = log
        .iter()
        .filter(|r| r.ok() && r.header("x-webhook-event") == "contact.update")
        .map(|r| r.json()["data"].clone())
        .collect();
    assert!(
        contacts
            .iter()
            .all(|c| c["phone_number"] == "5511888888888"),
        "{contacts:?}"
    );
    assert_eq!(contacts.last().unwrap()["push_name"], "John Doe");
    let group = find("group.update");
    assert_eq!(group["data"]["subject"], "Team");
    assert!(
        group["data"]["group_jid"]
            .as_str()
            .unwrap()
            .ends_with("@g.us")
    );

    // Per-conversation order: the sent message precedes its statuses and the reaction.
    let position = |pred: &dyn Fn(&Received) -> bool| log.iter().position(|r| r.ok() && pred(r));
    let sent_at = position(&|r| r.header("x-webhook-event") == "message.sent").unwrap();
    let status_at = position(&|r| r.header("x-webhook-event") == "message.status").unwrap();
    assert!(sent_at < status_at);

    // The delivery log lists them; a delivery shows its attempts.
    let body = eventually(T, "the log records the deliveries", || async {
        let (status, body) = s
            .call(
                Method::GET,
                &format!("/api/v1/instances/{id}/webhook/deliveries?status=delivered&per_page=100"),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        (body["meta"]["pagination"]["total"].as_u64().unwrap() >= 8).then_some(body)
    })
    .await;
    let first = &body["data"][0];
    assert_eq!(first["status"], "delivered");
    assert!(first["last_latency_ms"].is_i64(), "{first}");
    let (status, detail) = s
        .call(
            Method::GET,
            &format!(
                "/instances/{uuid}/webhook/deliveries/{}",
                first["id"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 200, "{detail}");
    assert_eq!(detail["data"]["attempts_log"][0]["status_code"], 200);
    assert!(detail["data"]["payload"]["event"].is_string());

    // The connection drops: instance.disconnected, with the reason.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &node.url("/sandbox/fault"),
            Some(&sk),
            None,
            Some(json!({"fault": "logged_out"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let log = rx
        .wait_until(T, "instance.disconnected", |log| {
            events_of(log).contains(&"instance.disconnected".to_owned())
        })
        .await;
    let gone = log
        .iter()
        .find(|r| r.header("x-webhook-event") == "instance.disconnected")
        .unwrap();
    assert_signed(gone, SECRET, uuid);
    let gone = gone.json();
    assert_eq!(gone["data"]["previous_status"], "connected");
    assert_eq!(gone["data"]["new_status"], "disconnected");
    assert!(gone["data"]["reason"].is_string(), "{gone}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriptions_choose_events_and_names_from_either_vocabulary() {
    let s = setup().await;
    let rx = Receiver::start().await;
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "subs").await;
    let resp = s
        .put_webhook(
            id,
            json!({"webhook_url": rx.url, "webhook_secret": SECRET, "events": ["message.incoming", "message.status"]}),
        )
        .await;
    assert_eq!(
        resp["data"]["events"],
        json!(["message.incoming", "message.status"])
    );
    s.inbound(uuid, "5511777777777", "IN-1", "first").await;
    let (status, body) = s
        .api
        .engine_report(
            &s.cp,
            uuid,
            "connection",
            &json!({"status": "connected", "phone_number": "5511000000001"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    s.inbound(uuid, "5511777777777", "IN-2", "second").await;
    let log = rx
        .wait_until(T, "two incoming messages", |log| {
            log.iter().filter(|r| r.ok()).count() >= 2
        })
        .await;
    // Named as subscribed; the connection change was not asked for.
    assert_eq!(events_of(&log), ["message.incoming", "message.incoming"]);
    assert_eq!(log[0].json()["event"], "message.incoming");
    assert_eq!(log[0].json()["data"]["whatsapp_message_id"], "IN-1");
    assert_eq!(log[1].json()["data"]["whatsapp_message_id"], "IN-2");

    // The other vocabulary: connection.update sees every change.
    s.put_webhook(
        id,
        json!({"webhook_url": rx.url, "events": "connection.update,qr.update"}),
    )
    .await;
    let (status, _) = s
        .api
        .engine_report(
            &s.cp,
            uuid,
            "qr",
            &json!({"qr": "2@ABC123", "qr_image": "data:image/png;base64,iVBORw0KGgo=", "generated_at": "2025-01-15T10:30:00Z"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .api
        .engine_report(&s.cp, uuid, "connection", &json!({"status": "offline"}))
        .await;
    assert_eq!(status, 200);
    let log = rx
        .wait_until(T, "qr.update and connection.update", |log| {
            log.iter().filter(|r| r.ok()).count() >= 4
        })
        .await;
    let qr = log[2].json();
    assert_eq!(qr["event"], "qr.update");
    assert_eq!(qr["data"]["qr"], "2@ABC123");
    let conn = log[3].json();
    assert_eq!(conn["event"], "connection.update");
    assert_eq!(conn["data"]["new_status"], "disconnected");
    assert_eq!(conn["data"]["reason"], "offline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_receiver_gets_every_event_in_order_once_it_recovers() {
    let s = setup().await;
    let rx = Receiver::start().await;
    // Four failures in a row, then it recovers (the schedule allows five attempts).
    rx.answer_next(&[500, 503, 500, 502]);
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "flaky").await;
    s.put_webhook(
        id,
        json!({"webhook_url": rx.url, "webhook_secret": SECRET, "events": ["message.received"]}),
    )
    .await;
    for i in 0..12 {
        let from = if i % 3 == 0 {
            "5511000000003"
        } else {
            "5511000000004"
        };
        s.inbound(uuid, from, &format!("M{i:02}"), &format!("text {i}"))
            .await;
    }
    let log = rx
        .wait_until(T, "all 12 messages delivered", |log| {
            let mut ids: Vec<String> = log
                .iter()
                .filter(|r| r.ok())
                .map(|r| {
                    r.json()["data"]["whatsapp_message_id"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect();
            ids.sort();
            ids.dedup();
            ids.len() == 12
        })
        .await;
    assert!(log.iter().filter(|r| !r.ok()).count() >= 4);
    // Per conversation, first successful deliveries arrive in the order the messages did.
    let mut per_chat: HashMap<String, Vec<String>> = HashMap::new();
    for r in log.iter().filter(|r| r.ok()) {
        let d = r.json()["data"].clone();
        let list = per_chat
            .entry(d["sender_number"].as_str().unwrap().to_owned())
            .or_default();
        let id = d["whatsapp_message_id"].as_str().unwrap().to_owned();
        if !list.contains(&id) {
            list.push(id);
        }
    }
    for (chat, ids) in per_chat {
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "order broken for {chat}");
    }
    // The failed attempts are in the log, with their status codes (once it is written).
    let body = eventually(T, "the log shows every delivery delivered", || async {
        let (status, body) = s
            .call(
                Method::GET,
                &format!("/instances/{id}/webhook/deliveries?per_page=100"),
                None,
            )
            .await;
        assert_eq!(status, 200);
        body["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["status"] == "delivered")
            .then_some(body)
    })
    .await;
    let retried: Vec<&Value> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["attempts"].as_i64().unwrap() > 1)
        .collect();
    assert!(!retried.is_empty(), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exhausted_deliveries_fail_and_can_be_replayed() {
    let s = setup_with(|c| {
        c.webhooks.retry_schedule = vec![Duration::ZERO, Duration::from_millis(100)];
    })
    .await;
    let rx = Receiver::start().await;
    rx.set_default(500);
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "replay").await;
    s.put_webhook(
        id,
        json!({"webhook_url": rx.url, "webhook_secret": SECRET, "events": ["message.received"]}),
    )
    .await;
    let since = chrono_now();
    s.inbound(uuid, "5511000000005", "R1", "one").await;
    s.inbound(uuid, "5511000000006", "R2", "two").await;
    let failed = eventually(T, "both deliveries failed", || async {
        let (_, body) = s
            .call(
                Method::GET,
                &format!("/instances/{id}/webhook/deliveries?status=failed"),
                None,
            )
            .await;
        (body["meta"]["pagination"]["total"] == 2).then_some(body)
    })
    .await;
    assert_eq!(failed["data"][0]["attempts"], 2);
    assert_eq!(failed["data"][0]["last_status_code"], 500);
    assert_eq!(failed["data"][0]["last_error"], "HTTP 500: ok");
    let (_, hook) = s
        .call(Method::GET, &format!("/instances/{uuid}/webhook"), None)
        .await;
    assert!(hook["data"]["failing_since"].is_string(), "{hook}");

    // Replay one: same body, same delivery id.
    rx.set_default(200);
    let one = failed["data"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = s
        .call(
            Method::POST,
            &format!("/instances/{id}/webhook/deliveries/{one}/replay"),
            None,
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let log = rx
        .wait_until(T, "the replayed delivery", |log| log.iter().any(|r| r.ok()))
        .await;
    let replayed = log.iter().find(|r| r.ok()).unwrap();
    assert_eq!(replayed.header("x-webhook-delivery-id"), one);
    let earlier = log
        .iter()
        .find(|r| !r.ok() && r.header("x-webhook-delivery-id") == one)
        .unwrap();
    assert_eq!(earlier.body, replayed.body, "a replay sends the same bytes");

    // Replay every failed one since a time.
    let (status, body) = s
        .call(
            Method::POST,
            &format!("/instances/{id}/webhook/replay"),
            Some(json!({"since": since})),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["data"]["queued"], 1);
    rx.wait_until(T, "both delivered", |log| {
        log.iter().filter(|r| r.ok()).count() >= 2
    })
    .await;
    let (_, hook) = s
        .call(Method::GET, &format!("/instances/{uuid}/webhook"), None)
        .await;
    assert_eq!(hook["data"]["failing_since"], Value::Null, "{hook}");
    let (status, body) = s
        .call(
            Method::POST,
            &format!("/instances/{id}/webhook/replay"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
}

fn chrono_now() -> String {
    (chrono::Utc::now() - chrono::Duration::seconds(1)).to_rfc3339()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_disables_the_endpoint_and_a_put_enables_it_again() {
    let s = setup().await;
    let rx = Receiver::start().await;
    rx.answer_next(&[410]);
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "gone").await;
    s.put_webhook(
        id,
        json!({"webhook_url": rx.url, "webhook_secret": SECRET, "events": ["message.received"]}),
    )
    .await;
    s.inbound(uuid, "5511000000007", "G1", "one").await;
    let hook = eventually(T, "endpoint disabled", || async {
        let (_, body) = s
            .call(Method::GET, &format!("/instances/{id}/webhook"), None)
            .await;
        (body["data"]["status"] == "disabled").then_some(body)
    })
    .await;
    assert_eq!(
        hook["data"]["disabled_reason"],
        "Disabled because the endpoint answered 410 Gone."
    );
    // Nothing new is queued while disabled: G2 arrives while disabled, G3 after re-enabling.
    // Deliveries of one chat keep their order, so a queued G2 would reach the receiver before
    // G3: once G3 is in, G2 can be known never to come.
    s.inbound(uuid, "5511000000007", "G2", "two").await;
    let resp = s.put_webhook(id, json!({"webhook_url": rx.url})).await;
    assert_eq!(resp["data"]["status"], "active");
    assert_eq!(resp["data"]["disabled_reason"], Value::Null);
    s.inbound(uuid, "5511000000007", "G3", "three").await;
    let log = rx
        .wait_until(T, "delivery after re-enabling", |log| {
            log.iter().any(|r| r.ok())
        })
        .await;
    let delivered = log.iter().find(|r| r.ok()).unwrap().json();
    assert_eq!(delivered["data"]["whatsapp_message_id"], "G3");
    assert!(
        !rx.received()
            .iter()
            .any(|r| r.json()["data"]["whatsapp_message_id"] == "G2"),
        "G2 came in while the webhook was disabled and must not be delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_rotation_signs_with_both_secrets_during_the_overlap() {
    let s = setup().await;
    let rx = Receiver::start().await;
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "rotate").await;
    s.put_webhook(
        id,
        json!({"webhook_url": rx.url, "webhook_secret": "old-secret-1234", "events": ["message.received"]}),
    )
    .await;
    let resp = s
        .put_webhook(
            uuid,
            json!({"webhook_url": rx.url, "webhook_secret": "new-secret-5678"}),
        )
        .await;
    assert!(
        resp["data"]["previous_secret_expires_at"].is_string(),
        "{resp}"
    );
    s.inbound(uuid, "5511000000008", "S1", "signed twice").await;
    let log = rx
        .wait_until(T, "a delivery", |log| log.iter().any(|r| r.ok()))
        .await;
    let r = &log[0];
    assert_signed(r, "new-secret-5678", uuid);
    assert_eq!(
        r.header("x-webhook-signature-previous"),
        sign_hex(b"old-secret-1234", &r.body)
    );
    let ts: i64 = r.header("x-webhook-timestamp").parse().unwrap();
    let v2: Vec<&str> = r.header("x-webhook-signature-v2").split(' ').collect();
    assert_eq!(
        v2[1],
        format!(
            "v1={}",
            sign_timestamped_hex(b"old-secret-1234", ts, &r.body)
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_api_validates_masks_and_isolates() {
    let s = setup().await;
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "config").await;
    let (other_id, _) = s.api.create_instance(&s.cp, &s.user, "other").await;
    let other_sk = s.api.create_sk_token(&s.cp, &s.user, other_id).await;

    let (status, body) = s
        .call(Method::GET, &format!("/instances/{id}/webhook"), None)
        .await;
    assert_eq!(status, 404, "{body}");
    // Without a secret, one is generated and shown once.
    let (status, body) = s
        .call(
            Method::PUT,
            &format!("/api/v1/instances/{uuid}/webhook"),
            Some(json!({"webhook_url": "https://hooks.example.com/zapini"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let secret = body["data"]["webhook_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() > 30);
    assert_eq!(body["data"]["is_active"], true);
    assert_eq!(
        body["data"]["events"].as_array().unwrap().len(),
        control_plane::webhooks::events::NAMES.len()
    );
    let (status, body) = s
        .call(Method::GET, &format!("/instances/{id}/webhook"), None)
        .await;
    assert_eq!(status, 200);
    assert!(body["data"].get("webhook_secret").is_none());
    assert_eq!(
        body["data"]["secret_hint"],
        format!("********{}", &secret[secret.len() - 4..])
    );
    assert!(!body.to_string().contains(&secret));

    for (bad, field) in [
        (json!({"webhook_url": "ftp://x.example.com"}), "webhook_url"),
        (json!({"webhook_url": "not a url"}), "webhook_url"),
        (json!({}), "webhook_url"),
        (
            json!({"webhook_url": "https://x.example.com", "events": ["message.nope"]}),
            "events",
        ),
        (
            json!({"webhook_url": "https://x.example.com", "webhook_secret": "short"}),
            "webhook_secret",
        ),
        (
            json!({"webhook_url": "https://x.example.com", "is_active": "maybe"}),
            "is_active",
        ),
        (json!({"webhook_url": 42}), "webhook_url"),
    ] {
        let (status, body) = s
            .call(
                Method::PUT,
                &format!("/instances/{id}/webhook"),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR", "{bad}: {body}");
        assert!(body.to_string().contains(field), "{bad}: {body}");
    }
    let resp = s
        .api
        .client
        .put(s.cp.url(&format!("/instances/{id}/webhook")))
        .bearer_auth(&s.user)
        .header("content-type", "application/json")
        .body("{\"webhook_url\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Another instance's sk_ token, and unknown ids.
    let (status, body) = s
        .api
        .call(
            Method::GET,
            &s.cp.url(&format!("/instances/{id}/webhook")),
            Some(&other_sk),
            None,
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = s.call(Method::GET, "/instances/999999/webhook", None).await;
    assert_eq!(status, 404);
    let (status, _) = s
        .call(
            Method::GET,
            &format!("/instances/{id}/webhook/deliveries/{}", Uuid::new_v4()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .call(
            Method::GET,
            &format!("/instances/{id}/webhook/deliveries?status=lost"),
            None,
        )
        .await;
    assert_eq!(status, 422);

    let (status, body) = s
        .call(Method::DELETE, &format!("/instances/{uuid}/webhook"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = s
        .call(Method::GET, &format!("/instances/{id}/webhook"), None)
        .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_and_plain_http_urls_are_refused_by_default() {
    let s = setup_with(|c| {
        c.allow_private_urls = false;
        c.webhooks.allow_http = false;
    })
    .await;
    let (id, _) = s.api.create_instance(&s.cp, &s.user, "ssrf").await;
    for url in [
        "https://127.0.0.1:9/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/hook",
        "http://hooks.example.com/hook",
    ] {
        let (status, body) = s
            .call(
                Method::PUT,
                &format!("/instances/{id}/webhook"),
                Some(json!({"webhook_url": url})),
            )
            .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_reports_need_a_valid_signature_and_feed_the_inbox() {
    let s = setup().await;
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "engine").await;
    let body = json!({
        "remoteJid": "5511999999999@s.whatsapp.net",
        "message": {"conversation": "Hello!"},
        "key": {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": false, "id": "ABC123"}
    });
    let url = s.cp.url(&format!("/webhooks/instance/{uuid}/incoming"));
    let bytes = serde_json::to_vec(&body).unwrap();
    // Unsigned, wrongly signed, stale, or signed for the wrong body: 401.
    let (ts, _) = zapini_e2e::sign_report(zapini_e2e::NODE_SECRET, &bytes);
    let stale_ts = (ts.parse::<i64>().unwrap() - 3600).to_string();
    let stale = sign_timestamped_hex(
        zapini_e2e::NODE_SECRET.as_bytes(),
        stale_ts.parse().unwrap(),
        &bytes,
    );
    for (t, sig) in [
        (None, None),
        (Some(ts.as_str()), Some("00".repeat(32))),
        (Some(stale_ts.as_str()), Some(stale)),
    ] {
        let mut req = s
            .api
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(bytes.clone());
        if let Some(t) = t {
            req = req.header("x-webhook-timestamp", t);
        }
        if let Some(sig) = sig {
            req = req.header("x-webhook-signature", sig);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], "UNAUTHENTICATED");
    }
    // The per-instance engine key works too.
    let key = sign_hex(
        zapini_e2e::NODE_SECRET.as_bytes(),
        format!("zapini-incoming:{uuid}").as_bytes(),
    );
    let (ts2, sig2) = zapini_e2e::sign_report(&key, &bytes);
    let resp = s
        .api
        .client
        .post(&url)
        .header("content-type", "application/json")
        .header("x-webhook-timestamp", ts2)
        .header("x-webhook-signature", sig2)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    // The same message again is stored once.
    let (status, _) = s.api.engine_report(&s.cp, uuid, "incoming", &body).await;
    assert_eq!(status, 200);
    let (status, body) = s
        .api
        .engine_report(
            &s.cp,
            uuid,
            "status",
            &json!({"key": {"id": "ABC123"}, "status": 9}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let (status, _) = s
        .api
        .engine_report(&s.cp, Uuid::new_v4(), "incoming", &json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .api
        .engine_report(&s.cp, uuid, "nonsense", &json!({}))
        .await;
    assert_eq!(status, 404);
    let (status, convs) = s
        .call(
            Method::GET,
            &format!("/conversations?instance_id={id}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(convs["data"].as_array().unwrap().len(), 1, "{convs}");
    assert_eq!(convs["data"][0]["last_message"], "Hello!");
    let (_, stats) = s
        .call(Method::GET, &format!("/instances/{id}/stats"), None)
        .await;
    assert_eq!(stats["data"]["messages_received_today"], 1, "{stats}");
}

/// The reference's Node.js snippet, as a server: it parses the body, re-serializes it with
/// `JSON.stringify` and checks the HMAC of that against `X-Webhook-Signature`, answering 200
/// or 401. It prints one JSON line per request.
const NODE_RECEIVER: &str = r#"
const http = require('http');
const crypto = require('crypto');
const secret = process.argv[2];
const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    const body = JSON.parse(raw);
    const signature = req.headers['x-webhook-signature'];
    const payload = JSON.stringify(body);
    const expected = crypto.createHmac('sha256', secret).update(payload).digest('hex');
    const ok = typeof signature === 'string' && signature.length === expected.length &&
      crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expected));
    console.log(JSON.stringify({ id: body.data.whatsapp_message_id, ok, same: payload === raw }));
    res.writeHead(ok ? 200 : 401);
    res.end(ok ? 'OK' : 'Invalid signature');
  });
});
server.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: server.address().port })));
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Node.js (`node`); .ci/run runs it when node is installed"]
async fn the_reference_nodejs_snippet_verifies_every_delivery() {
    use tokio::io::AsyncBufReadExt;
    let s = setup().await;
    let script = s.dir.path().join("receiver.js");
    std::fs::write(&script, NODE_RECEIVER).unwrap();
    let mut child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(SECRET)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    let url = format!("http://127.0.0.1:{}/webhook", first["port"]);

    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "javascript").await;
    s.put_webhook(
        id,
        json!({"webhook_url": url, "webhook_secret": SECRET, "events": ["message.received"]}),
    )
    .await;
    let texts = [
        "plain ascii",
        "Olá, você está aí? ação — “aspas” ‘simples’ …",
        "emoji 👍🏽🎉 and 中文 and עברית and Ελληνικά",
        "quotes \" backslash \\ slash / tab \t newline \n return \r",
        "controls \u{1} \u{1f} \u{7f} and separators \u{2028} \u{2029}",
        "<script>alert('x')</script> & entities &amp; 1e21 -0 1.0",
        "{\"looks\": \"like json\", \"n\": 1.50}",
    ];
    for (i, text) in texts.iter().enumerate() {
        s.inbound(uuid, "5511000000009", &format!("JS{i}"), text)
            .await;
    }
    let jid = "5511000000009@s.whatsapp.net";
    let (status, body) = s
        .api
        .engine_report(
            &s.cp,
            uuid,
            "incoming",
            &json!({
                "key": {"remoteJid": jid, "fromMe": false, "id": "JSLOC"},
                "message": {"locationMessage": {"degreesLatitude": -23.5505199, "degreesLongitude": -46.6333094, "name": "Praça da Sé"}},
                "messageTimestamp": "1705312200"
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let expected = texts.len() + 1;
    let mut seen = Vec::new();
    while seen.len() < expected {
        let line = tokio::time::timeout(T, lines.next_line())
            .await
            .expect("the Node.js receiver answers")
            .unwrap()
            .expect("a line per request");
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], true, "JavaScript could not verify {v}");
        assert_eq!(v["same"], true, "JSON.stringify changed the bytes: {v}");
        seen.push(v["id"].as_str().unwrap().to_owned());
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_failing_too_long_is_disabled_with_the_reason() {
    let s = setup_with(|c| {
        c.webhooks.disable_after = Duration::from_secs(1);
        c.webhooks.retry_schedule = vec![Duration::ZERO; 1]
            .into_iter()
            .chain(std::iter::repeat_n(Duration::from_millis(300), 10))
            .collect();
    })
    .await;
    let rx = Receiver::start().await;
    rx.set_default(503);
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "failing").await;
    s.put_webhook(
        id,
        json!({"webhook_url": rx.url, "webhook_secret": SECRET, "events": ["message.received"]}),
    )
    .await;
    s.inbound(uuid, "5511000000010", "F1", "never acknowledged")
        .await;
    let hook = eventually(T, "endpoint disabled after failing", || async {
        let (_, body) = s
            .call(Method::GET, &format!("/instances/{id}/webhook"), None)
            .await;
        (body["data"]["status"] == "disabled").then_some(body)
    })
    .await;
    assert_eq!(
        hook["data"]["disabled_reason"],
        "Disabled after 1 seconds without a successful delivery."
    );
    assert!(hook["data"]["failing_since"].is_string());
    // The undelivered event waits; fixing the endpoint and re-enabling delivers it.
    rx.set_default(200);
    s.put_webhook(id, json!({"webhook_url": rx.url})).await;
    let log = rx
        .wait_until(T, "the waiting event", |log| log.iter().any(|r| r.ok()))
        .await;
    let ok = log.iter().find(|r| r.ok()).unwrap().json();
    assert_eq!(ok["data"]["whatsapp_message_id"], "F1");
}
