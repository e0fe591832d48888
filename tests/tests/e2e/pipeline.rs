//! End to end: the control plane and sandbox nodes on real sockets, driven only through the
//! endpoints of the API reference (plus the sandbox controls).

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use zapini_e2e::{Node, eventually};

use crate::support::{Setup, T, host, paired_via_edge, setup, wait_registered};

/// A sandbox instance with its own in-process node, paired with `phone` through the edge.
async fn paired_instance(s: &Setup, name: &str, phone: &str) -> (i64, uuid::Uuid, String, Node) {
    let p = paired_via_edge(s, name, phone).await;
    (p.id, p.uuid, p.sk, p.node)
}

async fn conversation_messages(s: &Setup, instance: uuid::Uuid, min: usize) -> (Value, Vec<Value>) {
    eventually(T, "messages stored in the conversation", || async {
        let (status, body) = s
            .api
            .call(
                Method::GET,
                &s.cp
                    .url(&format!("/api/v1/conversations?instance_id={instance}")),
                Some(&s.user),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let conv = body["data"].as_array()?.first()?.clone();
        let (status, body) = s
            .api
            .call(
                Method::GET,
                &s.cp.url(&format!(
                    "/api/v1/conversations/{}/messages?limit=100",
                    conv["id"].as_str()?
                )),
                Some(&s.user),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let msgs = body["data"]["messages"].as_array()?.clone();
        if msgs.len() < min {
            return None;
        }
        // The listing above may predate the last message: read the conversation again.
        let (status, body) = s
            .api
            .call(
                Method::GET,
                &s.cp
                    .url(&format!("/api/v1/conversations/{}", conv["id"].as_str()?)),
                Some(&s.user),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        Some((body["data"].clone(), msgs))
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_send_receipts_reply_and_conversation() {
    let s = setup().await;
    let (id, uuid) = s.api.create_instance(&s.cp, &s.user, "sales").await;
    let sk = s.api.create_sk_token(&s.cp, &s.user, id).await;
    let node = Node::start(s.cp.node_config(uuid, &s.dir.path().join("n1")))
        .await
        .unwrap();

    // QR through the control plane, by numeric id and by UUID.
    let qr = wait_registered(&s, id).await;
    assert!(
        qr["data"]["qr_code"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );
    assert!(!qr["data"]["qr_code_text"].as_str().unwrap().is_empty());
    assert_eq!(qr["data"]["qr_expired"], false);
    let (status, by_uuid) = s
        .api
        .call(
            Method::GET,
            &s.cp.url(&format!("/instances/{uuid}/qr")),
            Some(&s.user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{by_uuid}");
    assert_eq!(by_uuid["data"]["status"], "qr_ready");

    // The node's own /qr through the instance host; the stored status follows the event.
    let (status, body) = s
        .api
        .call(
            Method::GET,
            &s.cp.url("/qr"),
            Some(&sk),
            Some(&host(id)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "qr_ready");
    assert!(
        body["qr"]
            .as_str()
            .unwrap()
            .starts_with("data:image/png;base64,")
    );

    // Sending before pairing is refused clearly.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/send-message"),
            Some(&sk),
            Some(&host(id)),
            Some(json!({"recipient": "5511988887777", "message": "too early"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "INSTANCE_NOT_CONNECTED");

    // Pair in the sandbox.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/sandbox/scan"),
            Some(&sk),
            Some(&host(uuid)),
            Some(json!({"phone_number": "+55 11 99999-0001"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let st = eventually(T, "realtime status connected", || async {
        let (status, body) = s
            .api
            .call(
                Method::GET,
                &s.cp
                    .url(&format!("/api/v1/instances/{uuid}/status?realtime=true")),
                Some(&s.user),
                None,
                None,
            )
            .await;
        (status == 200 && body["data"]["status"] == "connected").then_some(body)
    })
    .await;
    assert_eq!(st["data"]["phone_number"], "5511999990001");
    // The connection event reaches the stored instance too.
    eventually(T, "stored status connected", || async {
        let (_, body) = s
            .api
            .call(
                Method::GET,
                &s.cp.url(&format!("/api/v1/instances/{id}")),
                Some(&s.user),
                None,
                None,
            )
            .await;
        (body["data"]["instance"]["status"] == "connected"
            && body["data"]["instance"]["phone_number"] == "5511999990001")
            .then_some(())
    })
    .await;

    // Send with each recipient alias; the documented response shape.
    let mut sent_ids = Vec::new();
    for (field, text) in [
        ("recipient", "hello"),
        ("number", "second"),
        ("to", "third"),
    ] {
        let (status, body) = s
            .api
            .call(
                Method::POST,
                &s.cp.url("/send-message"),
                Some(&sk),
                Some(&host(id)),
                Some(json!({field: "5511988887777", "message": text})),
            )
            .await;
        assert_eq!(status, 200, "{field}: {body}");
        assert_eq!(body["success"], true);
        assert_eq!(body["message"], "Message sent successfully");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        sent_ids.push(body["message_id"].as_str().unwrap().to_owned());
    }
    // The apex routes an sk_ token to its node as well.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/send-message"),
            Some(&sk),
            None,
            Some(json!({"to": "5511988887777", "message": "via apex", "reply_to": sent_ids[0]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    sent_ids.push(body["message_id"].as_str().unwrap().to_owned());

    // Receipts: delivered, then read; the stored status follows and never goes back.
    for st in ["delivered", "read"] {
        let (status, body) = s
            .api
            .call(
                Method::POST,
                &node.url("/sandbox/receipt"),
                Some(&sk),
                None,
                Some(json!({"message_id": sent_ids[0], "status": st})),
            )
            .await;
        assert_eq!(status, 200, "{st}: {body}");
    }
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &node.url("/sandbox/receipt"),
            Some(&sk),
            None,
            Some(json!({"message_id": sent_ids[0], "status": "delivered"})),
        )
        .await;
    assert!(status == 200 || status == 409 || status == 422, "{body}");

    // A reply arrives.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &node.url("/sandbox/inbound"),
            Some(&sk),
            None,
            Some(json!({"from": "5511988887777", "message": "hi back", "push_name": "Maria", "reply_to": sent_ids[0]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let reply_id = body["data"]["message_id"].as_str().unwrap().to_owned();

    let (conv, msgs) = conversation_messages(&s, uuid, 5).await;
    assert_eq!(conv["contact_number"], "5511988887777");
    assert_eq!(conv["display_name"], "Maria");
    assert_eq!(conv["last_message"], "hi back");
    assert_eq!(conv["unread_count"], 1);
    assert_eq!(msgs.len(), 5, "{msgs:?}");
    let first = msgs
        .iter()
        .find(|m| m["message_id"] == sent_ids[0].as_str())
        .unwrap();
    let reply = msgs
        .iter()
        .find(|m| m["message_id"] == reply_id.as_str())
        .unwrap();
    assert_eq!(reply["direction"], "incoming");
    assert_eq!(reply["message_body"], "hi back");
    assert_eq!(reply["quoted_message_id"], sent_ids[0].as_str());
    assert_eq!(first["direction"], "outgoing");
    eventually(T, "first message read", || async {
        let (_, msgs) = conversation_messages(&s, uuid, 5).await;
        msgs.iter()
            .any(|m| m["message_id"] == sent_ids[0].as_str() && m["status"] == "read")
            .then_some(())
    })
    .await;

    // Counters.
    let (status, stats) = s
        .api
        .call(
            Method::GET,
            &s.cp.url(&format!("/api/v1/instances/{id}/stats")),
            Some(&s.user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["data"]["messages_sent_today"], 4);
    assert_eq!(stats["data"]["messages_received_today"], 1);
    assert_eq!(stats["data"]["remaining_quota"], 496);
    assert_eq!(stats["data"]["conversations_count"], 1);
    assert_eq!(stats["data"]["contacts_count"], 1);

    // Universal send through the control plane, both id forms, alias fields.
    for instance_id in [json!(id), json!(uuid.to_string())] {
        let (status, body) = s
            .api
            .call(
                Method::POST,
                &s.cp.url("/api/v1/chat/send"),
                Some(&s.user),
                None,
                Some(json!({"instance_id": instance_id, "number": "5511988887777", "message": "from the inbox"})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["direction"], "outgoing");
        assert_eq!(body["data"]["status"], "sent");
        assert_eq!(body["data"]["message_body"], "from the inbox");
    }
    let (_, msgs) = conversation_messages(&s, uuid, 7).await;
    assert_eq!(msgs.len(), 7, "each send stored once: {msgs:?}");
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_are_bound_to_their_instance_and_bad_input_is_refused() {
    let s = setup().await;
    let (a, _ua, sk_a, _node_a) = paired_instance(&s, "a", "5511999990002").await;
    let (b, _ub, sk_b, _node_b) = paired_instance(&s, "b", "5511999990003").await;

    // A's token on B's node: refused before anything is sent.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/send-message"),
            Some(&sk_a),
            Some(&host(b)),
            Some(json!({"recipient": "5511988887777", "message": "x"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["success"], false);
    // Unknown token: 401.
    let (status, body) = s
        .api
        .call(
            Method::GET,
            &s.cp.url("/status"),
            Some("sk_nope"),
            Some(&host(a)),
            None,
        )
        .await;
    assert_eq!(status, 401, "{body}");
    // Both work on their own node.
    for (id, sk) in [(a, &sk_a), (b, &sk_b)] {
        let (status, body) = s
            .api
            .call(
                Method::GET,
                &s.cp.url("/status"),
                Some(sk),
                Some(&host(id)),
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "connected");
    }
    // Validation errors name the field.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/send-message"),
            Some(&sk_a),
            Some(&host(a)),
            Some(json!({"message": "no recipient"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    // Unknown instance host: a clear 503/404, never a hang.
    let (status, body) = s
        .api
        .call(
            Method::GET,
            &s.cp.url("/status"),
            Some(&sk_a),
            Some(&host(99_999)),
            None,
        )
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "NODE_UNAVAILABLE");
    // Non-node paths on an instance host are the Universal API.
    let (status, body) = s
        .api
        .call(
            Method::GET,
            &s.cp.url(&format!("/instances/{a}")),
            Some(&sk_a),
            Some(&host(a)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // Revoking A's token reaches A's node: the cached token stops working.
    let (_, list) = s
        .api
        .call(
            Method::GET,
            &s.cp.url(&format!("/api/v1/instances/{a}/tokens")),
            Some(&s.user),
            None,
            None,
        )
        .await;
    let token_id = list["data"]["tokens"][0]["id"].as_str().unwrap().to_owned();
    let (status, body) = s
        .api
        .call(
            Method::DELETE,
            &s.cp
                .url(&format!("/api/v1/instances/{a}/tokens/{token_id}")),
            Some(&s.user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(T, "revoked token refused by the node", || async {
        let (status, _) = s
            .api
            .call(
                Method::GET,
                &s.cp.url("/status"),
                Some(&sk_a),
                Some(&host(a)),
                None,
            )
            .await;
        (status == 401).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_node_for_the_same_instance_is_refused() {
    let s = setup().await;
    let (id, uuid, _sk, _node) = paired_instance(&s, "solo", "5511999990004").await;
    let second = Node::start(s.cp.node_config(uuid, &s.dir.path().join("second")))
        .await
        .unwrap();
    let result = tokio::time::timeout(T, second.finished())
        .await
        .expect("second node gives up");
    let err = result.expect_err("second node must be refused");
    assert!(
        err.downcast_ref::<instance_node::RegistrationRefused>()
            .is_some(),
        "{err:#}"
    );
    // The first one still serves.
    let (status, body) = s
        .api
        .call(
            Method::GET,
            &s.cp
                .url(&format!("/api/v1/instances/{id}/status?realtime=true")),
            Some(&s.user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "connected");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_plane_restart_mid_stream_loses_and_duplicates_nothing() {
    let s = setup().await;
    let (_id, uuid, sk, node) = paired_instance(&s, "restart", "5511999990005").await;
    // Warm the node's token cache so injections keep working while the control plane is away.
    let (status, _) = s
        .api
        .call(Method::GET, &node.url("/status"), Some(&sk), None, None)
        .await;
    assert_eq!(status, 200);

    const N: usize = 60;
    let api = s.api.clone();
    let inject_url = node.url("/sandbox/inbound");
    let sk2 = sk.clone();
    let injector = tokio::spawn(async move {
        let mut ids = Vec::new();
        for i in 0..N {
            let (status, body) = api
                .call(
                    Method::POST,
                    &inject_url,
                    Some(&sk2),
                    None,
                    Some(json!({"from": "5511977776666", "message": format!("msg {i}")})),
                )
                .await;
            assert_eq!(status, 200, "inject {i}: {body}");
            ids.push(body["data"]["message_id"].as_str().unwrap().to_owned());
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        ids
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let Setup { dir, cp, api, user } = s;
    let cp = cp.restart().await.expect("restart on the same ports");
    let s = Setup { dir, cp, api, user };
    let ids = injector.await.unwrap();
    let (_, msgs) = conversation_messages(&s, uuid, N).await;
    assert_eq!(msgs.len(), N);
    // A marker after everything: the node's stream is ordered (a replay comes before newer
    // events), so once the marker is stored any replayed duplicate would be too.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &node.url("/sandbox/inbound"),
            Some(&sk),
            None,
            Some(json!({"from": "5511977776666", "message": "marker"})),
        )
        .await;
    assert_eq!(status, 200, "marker: {body}");
    let (_, with_marker) = conversation_messages(&s, uuid, N + 1).await;
    assert_eq!(with_marker.len(), N + 1, "no duplicates after replay");
    assert_eq!(with_marker[N]["message_body"], "marker");
    let msgs_after = &with_marker[..N];
    let stored: std::collections::HashSet<&str> = msgs_after
        .iter()
        .map(|m| m["message_id"].as_str().unwrap())
        .collect();
    for id in &ids {
        assert!(stored.contains(id.as_str()), "message {id} lost");
    }
    let bodies: Vec<&str> = msgs_after
        .iter()
        .map(|m| m["message_body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies.first(), Some(&"msg 0"));
    assert_eq!(bodies.last(), Some(&format!("msg {}", N - 1).as_str()));
    node.stop().await;
}
