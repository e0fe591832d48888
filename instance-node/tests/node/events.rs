//! The control-plane link: registration, the durable events stream, replays, refusals.

use crate::common;

use std::time::Duration;

use common::{FakeCp, TestNode};
use instance_node::RegistrationRefused;
use serde_json::json;
use zapini_proto::v1;

fn received(cp: &FakeCp) -> Vec<(u64, v1::WaMessage)> {
    cp.events()
        .into_iter()
        .filter_map(|e| match e.kind {
            Some(v1::event::Kind::MessageReceived(m)) => Some((e.seq, m)),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn registration_announces_the_node() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    node.wait_ready(&cp).await;
    let (reg, hello) = {
        let st = cp.state.lock().unwrap();
        (st.registrations[0].clone(), st.hellos[0].clone())
    };
    assert_eq!(reg.instance_uuid, node.instance.to_string());
    assert_eq!(reg.engine, "sandbox");
    assert_eq!(reg.protocol_version, zapini_proto::PROTOCOL_VERSION);
    assert_eq!(reg.http_url, node.base);
    assert_eq!(reg.grpc_url, format!("http://{}", node.grpc));
    assert!(!reg.node_id.is_empty());
    let buffer_id = std::fs::read_to_string(node.data_dir.path().join("buffer_id")).unwrap();
    assert_eq!(reg.buffer_id, buffer_id.trim());
    assert_eq!(hello.buffer_id, reg.buffer_id);
    assert_eq!(hello.lease_id, "lease-1");
    node.shutdown().await;
}

#[tokio::test]
async fn inbound_messages_arrive_in_order_with_increasing_seq() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let (status, body) = node
            .post("/sandbox/inbound", json!({"from": "5511977776666", "message": format!("hello {i}"), "push_name": "Ana"}))
            .await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["data"]["message_id"].as_str().unwrap().to_owned());
    }
    let (status, body) = node
        .post("/sandbox/inbound", json!({"from": "5511977776666", "media": {"type": "image", "caption": "pic", "size": 10}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = node
        .post("/sandbox/inbound", json!({"from": "5511977776666", "location": {"latitude": -23.5, "longitude": -46.6, "name": "SP"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = node
        .post("/sandbox/inbound", json!({"from": "5511977776666"}))
        .await;
    assert_eq!(status, 422, "{body}");

    cp.wait_until("seven inbound messages", |s| {
        s.events
            .values()
            .filter(|e| matches!(e.kind, Some(v1::event::Kind::MessageReceived(_))))
            .count()
            == 7
    })
    .await;
    let got = received(&cp);
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    let texts: Vec<String> = got.iter().take(5).map(|(_, m)| m.text.clone()).collect();
    assert_eq!(
        texts,
        (0..5).map(|i| format!("hello {i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        got.iter()
            .take(5)
            .map(|(_, m)| m.id.clone())
            .collect::<Vec<_>>(),
        ids
    );
    assert_eq!(got[0].1.chat_jid, "5511977776666@s.whatsapp.net");
    assert_eq!(got[0].1.push_name, "Ana");
    assert_eq!(got[5].1.r#type, v1::MessageType::Image as i32);
    assert_eq!(got[5].1.media.as_ref().unwrap().caption, "pic");
    assert_eq!(got[6].1.location.as_ref().unwrap().name, "SP");
    // Every seq from 1 up is present: nothing skipped.
    let all: Vec<u64> = cp.events().iter().map(|e| e.seq).collect();
    assert_eq!(all, (1..=all.len() as u64).collect::<Vec<_>>());
    node.shutdown().await;
}

/// A declared media size is made up in memory, so it is capped at 16 MB: 60 GB is a 422
/// naming the field (not an allocation), and the node keeps serving.
#[tokio::test]
async fn inbound_media_sizes_over_16_mb_are_refused() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    for size in [60_000_000_000u64, 16 * 1024 * 1024 + 1] {
        let (status, body) = node
            .post(
                "/sandbox/inbound",
                json!({"from": "5511977776666", "media": {"type": "document", "size": size}}),
            )
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
        assert!(
            body["error"]["message"].as_str().unwrap().contains("16 MB"),
            "{body}"
        );
    }
    let (status, body) = node
        .post(
            "/sandbox/inbound",
            json!({"from": "5511977776666", "media": {"type": "document", "size": 16 * 1024 * 1024}}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    node.shutdown().await;
}

#[tokio::test]
async fn receipts_are_reported_as_status_events() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    let (status, body) = node
        .post(
            "/send-message",
            json!({"recipient": "5511999999999", "message": "hi"}),
        )
        .await;
    assert_eq!(status, 200);
    let id = body["message_id"].as_str().unwrap().to_owned();
    for s in ["delivered", "read"] {
        let (status, body) = node
            .post("/sandbox/receipt", json!({"message_id": id, "status": s}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["advanced"], true);
    }
    // Backwards is a no-op.
    let (_, body) = node
        .post(
            "/sandbox/receipt",
            json!({"message_id": id, "status": "delivered"}),
        )
        .await;
    assert_eq!(body["data"]["advanced"], false);
    let (status, _) = node
        .post(
            "/sandbox/receipt",
            json!({"message_id": id, "status": "played"}),
        )
        .await;
    assert_eq!(status, 422);

    cp.wait_until("three receipts", |s| {
        s.events
            .values()
            .filter(|e| matches!(e.kind, Some(v1::event::Kind::Status(_))))
            .count()
            == 3
    })
    .await;
    let codes: Vec<u32> = cp
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            Some(v1::event::Kind::Status(r)) => {
                assert_eq!(r.message_ids, vec![id.clone()]);
                Some(r.status)
            }
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![2, 3, 4]);
    node.shutdown().await;
}

#[tokio::test]
async fn events_survive_a_control_plane_restart() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    cp.wait_until("connected event acked", |s| {
        s.events.values().any(
            |e| matches!(&e.kind, Some(v1::event::Kind::Connection(c)) if c.status == "connected"),
        )
    })
    .await;
    let before = cp.events().len();

    cp.stop().await;
    // The hot path keeps working with the control plane gone (cached token).
    let mut ids = Vec::new();
    for i in 0..20 {
        let (status, body) = node
            .post(
                "/sandbox/inbound",
                json!({"from": "5511977776666", "message": format!("offline {i}")}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        ids.push(body["data"]["message_id"].as_str().unwrap().to_owned());
    }
    let (status, _) = node
        .post(
            "/send-message",
            json!({"recipient": "5511999999999", "message": "while away"}),
        )
        .await;
    assert_eq!(status, 200);
    // Let the node fail a few reconnects (its backoff is 100 ms doubling to 1 s in tests).
    tokio::time::sleep(Duration::from_millis(700)).await;
    cp.restart().await;

    cp.wait_until("all offline messages", |s| {
        s.events.values().filter(|e| matches!(&e.kind, Some(v1::event::Kind::MessageReceived(m)) if m.text.starts_with("offline"))).count() == 20
    })
    .await;
    let got: Vec<String> = received(&cp)
        .into_iter()
        .filter(|(_, m)| m.text.starts_with("offline"))
        .map(|(_, m)| m.id)
        .collect();
    assert_eq!(got, ids);
    let all: Vec<u64> = cp.events().iter().map(|e| e.seq).collect();
    assert_eq!(
        all,
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "no seq lost"
    );
    assert!(all.len() >= before + 21);
    // More than one stream was opened: the node reconnected by itself.
    assert!(cp.state.lock().unwrap().hellos.len() >= 2);
    node.shutdown().await;
}

#[tokio::test]
async fn unacked_events_are_replayed_after_a_node_restart() {
    let cp = FakeCp::start().await;
    let node = TestNode::paired(&cp).await;
    cp.wait_until("connected", |s| {
        s.events.values().any(
            |e| matches!(&e.kind, Some(v1::event::Kind::Connection(c)) if c.status == "connected"),
        )
    })
    .await;
    cp.stop().await;
    for i in 0..3 {
        let (status, _) = node
            .post(
                "/sandbox/inbound",
                json!({"from": "5511977776666", "message": format!("kept {i}")}),
            )
            .await;
        assert_eq!(status, 200);
    }
    let instance = node.instance;
    let dir = node.data_dir.clone();
    node.shutdown().await;

    cp.restart().await;
    let config = common::node_config(&cp, instance, dir.path(), None);
    let node = TestNode::run(config, dir);
    cp.wait_until("the kept messages", |s| {
        s.events.values().filter(|e| matches!(&e.kind, Some(v1::event::Kind::MessageReceived(m)) if m.text.starts_with("kept"))).count() == 3
    })
    .await;
    let all: Vec<u64> = cp.events().iter().map(|e| e.seq).collect();
    assert_eq!(
        all,
        (1..=all.len() as u64).collect::<Vec<_>>(),
        "no seq lost or reused"
    );
    // Same buffer, same buffer id.
    let ids: Vec<String> = {
        let st = cp.state.lock().unwrap();
        st.registrations
            .iter()
            .map(|r| r.buffer_id.clone())
            .collect()
    };
    assert!(
        ids.len() >= 2 && ids.iter().all(|id| id == &ids[0]),
        "{ids:?}"
    );
    node.shutdown().await;
}

async fn refused_with(code: tonic::Code) -> RegistrationRefused {
    let cp = FakeCp::start().await;
    cp.set_refuse(Some(code));
    let mut node = TestNode::start(&cp).await;
    let task = node.task.take().unwrap();
    let result = tokio::time::timeout(common::WAIT, task)
        .await
        .expect("run ends")
        .unwrap();
    let err = result.expect_err("a refused node stops");
    err.downcast_ref::<RegistrationRefused>()
        .cloned()
        .expect("a RegistrationRefused error")
}

#[tokio::test]
async fn registration_refused_ends_run_with_a_distinct_error() {
    let lease = refused_with(tonic::Code::AlreadyExists).await;
    assert!(
        matches!(lease, RegistrationRefused::LeaseHeld { .. }),
        "{lease:?}"
    );
    assert_eq!(lease.exit_code(), 3);
    let unknown = refused_with(tonic::Code::NotFound).await;
    assert!(matches!(
        unknown,
        RegistrationRefused::UnknownInstance { .. }
    ));
    assert_eq!(unknown.exit_code(), 4);
}

/// The holder of the lease is usually the node being replaced, still shutting down: a
/// refusal is asked again within a second, and the node registers once the holder is gone.
#[tokio::test]
async fn a_lease_held_refusal_is_asked_again_within_a_second() {
    let cp = FakeCp::start().await;
    cp.set_refuse(Some(tonic::Code::AlreadyExists));
    let mut node = TestNode::start(&cp).await;
    let deadline = std::time::Instant::now() + common::WAIT;
    while cp.state.lock().unwrap().refusals < 2 {
        assert!(std::time::Instant::now() < deadline, "asked again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second_refusal = std::time::Instant::now();
    cp.set_refuse(None);
    node.wait_ready(&cp).await;
    assert!(
        second_refusal.elapsed() < Duration::from_secs(1),
        "registered {:?} after the holder went away",
        second_refusal.elapsed()
    );
    let task = node.task.take().unwrap();
    assert!(!task.is_finished(), "the node still runs");
    task.abort();
}

#[tokio::test]
async fn registration_is_retried_while_the_control_plane_is_down() {
    let cp = FakeCp::start().await;
    cp.stop().await;
    let node = TestNode::start(&cp).await;
    // Several attempts fail (connection refused), then the control plane appears.
    tokio::time::sleep(Duration::from_millis(500)).await;
    cp.restart().await;
    node.wait_ready(&cp).await;
    node.shutdown().await;
}
