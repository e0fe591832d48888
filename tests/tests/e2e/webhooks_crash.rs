//! A control plane killed with SIGKILL in the middle of webhook deliveries, then started
//! again on the same database, delivers every pending event: the real binary, a real
//! receiver, nothing in memory survives the kill.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::json;
use zapini_e2e::process::{free_port, spawn_control_plane, storage_env, wait_healthy};
use zapini_e2e::receiver::Receiver;
use zapini_e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, Api, NODE_SECRET, config, sign_report};

const EVENTS: usize = 240;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_delivery_then_restart_delivers_every_pending_event() {
    let dir = tempfile::tempdir().unwrap();
    // The run mode (SQLite, or a fresh PostgreSQL database and Redis prefix) from the harness.
    let cfg = config(dir.path()).await.unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut envs: Vec<(String, String)> = [
        ("ZAPINI_DATA_DIR", dir.path().display().to_string()),
        ("ZAPINI_HTTP_ADDR", format!("127.0.0.1:{port}")),
        ("ZAPINI_GRPC_ADDR", format!("127.0.0.1:{}", free_port())),
        ("ZAPINI_ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
        ("ZAPINI_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ("ZAPINI_NODE_SECRET", NODE_SECRET.to_owned()),
        ("ZAPINI_LAUNCHER", "external".to_owned()),
        ("ZAPINI_ALLOW_PRIVATE_URLS", "true".to_owned()),
        ("ZAPINI_WEBHOOK_ALLOW_HTTP", "true".to_owned()),
        ("ZAPINI_WEBHOOK_TIMEOUT_SECS", "1".to_owned()),
        ("ZAPINI_WEBHOOK_CONCURRENCY", "4".to_owned()),
        (
            "ZAPINI_WEBHOOK_RETRY_SCHEDULE",
            "0,0.2,0.5,1,1,1,1,1,1,1".to_owned(),
        ),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    envs.extend(storage_env(&cfg));

    let receiver = Receiver::start().await;
    // Slow (4 in flight, 200 ms each) so that most events are still pending at the kill.
    receiver.set_delay(Duration::from_millis(200));
    let first = spawn_control_plane(&envs);
    let client = reqwest::Client::new();
    wait_healthy(&client, &base).await;
    let api = Api::default();
    let token = api.login_at(&base).await;
    let (_, uuid) = api.create_instance_at(&base, &token, "crash").await;
    let put = client
        .put(format!("{base}/api/v1/instances/{uuid}/webhook"))
        .bearer_auth(&token)
        .json(&json!({"webhook_url": receiver.url, "webhook_secret": "crash-secret-123", "events": ["message.received"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 201);

    for i in 0..EVENTS {
        let jid = format!("55110000{:05}@s.whatsapp.net", i % 12);
        let body = serde_json::to_vec(&json!({
            "key": {"remoteJid": jid, "fromMe": false, "id": format!("K{i:04}")},
            "message": {"conversation": format!("event {i}")}
        }))
        .unwrap();
        let (ts, sig) = sign_report(NODE_SECRET, &body);
        let resp = client
            .post(format!("{base}/webhooks/instance/{uuid}/incoming"))
            .header("content-type", "application/json")
            .header("x-webhook-timestamp", ts)
            .header("x-webhook-signature", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }
    receiver
        .wait_until(
            Duration::from_secs(60),
            "some deliveries before the kill",
            |log| log.len() >= 20,
        )
        .await;
    drop(first); // SIGKILL
    let before = receiver.delivered().len();
    assert!(
        before < EVENTS,
        "the kill must land mid-delivery ({before})"
    );

    let _second = spawn_control_plane(&envs);
    wait_healthy(&client, &base).await;
    let log = receiver
        .wait_until(
            Duration::from_secs(90),
            "every event after the restart",
            |log| {
                let ids: HashSet<String> = log
                    .iter()
                    .filter(|r| r.ok())
                    .map(|r| {
                        r.json()["data"]["whatsapp_message_id"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect();
                ids.len() == EVENTS
            },
        )
        .await;
    let delivered = log.iter().filter(|r| r.ok()).count();
    eprintln!(
        "{before} delivered before SIGKILL; {EVENTS} distinct events after restart, {} duplicate deliveries",
        delivered - EVENTS
    );
}
