//! Two control planes on one PostgreSQL database share one outbox: each runs a dispatcher,
//! both claim from the same backlog, and still every event arrives, in order per
//! conversation. (SQLite has exactly one control plane; there the test has nothing to check.)

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use uuid::Uuid;
use zapini_e2e::receiver::Receiver;
use zapini_e2e::{Api, ControlPlane, config};

const CHATS: usize = 6;
const PER_CHAT: usize = 80;

async fn report(api: &Api, cp: &ControlPlane, instance: Uuid, chat: usize, n: usize) {
    let jid = format!("55110000001{chat:02}@s.whatsapp.net");
    let (status, body) = api
        .engine_report(
            cp,
            instance,
            "incoming",
            &json!({
                "message": {"conversation": format!("chat {chat} message {n}")},
                "pushName": "Replica",
                "key": {"remoteJid": jid, "fromMe": false, "id": format!("R{chat:02}-{n:04}")}
            }),
        )
        .await;
    assert_eq!(status, 200, "report: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL (DATABASE_URL=postgres://…; SQLite runs one control plane); .ci/run runs it in its PostgreSQL pass"]
async fn two_control_planes_share_the_outbox_and_keep_order() {
    assert!(
        std::env::var("DATABASE_URL").is_ok_and(|u| u.starts_with("postgres")),
        "needs DATABASE_URL=postgres://…"
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path()).await.unwrap();
    // Same database and data directory (so the same secret key); own ports and dispatcher.
    let first = Arc::new(ControlPlane::start(cfg.clone()).await.unwrap());
    let second = Arc::new(ControlPlane::start(cfg).await.unwrap());
    let api = Api::default();
    let user = api.login(&first).await;
    let (id, uuid) = api.create_instance(&first, &user, "replicas").await;
    let rx = Receiver::start().await;
    // Slow enough that both dispatchers have deliveries of the same streams in flight.
    rx.set_delay(Duration::from_millis(3));
    let (status, body) = api
        .call(
            Method::PUT,
            &first.url(&format!("/instances/{id}/webhook")),
            Some(&user),
            None,
            Some(json!({"webhook_url": rx.url, "webhook_secret": "replica-secret-01", "events": ["message.received"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Each conversation's messages are reported in order, alternately to either replica.
    let tasks: Vec<_> = (0..CHATS)
        .map(|chat| {
            let (api, a, b) = (api.clone(), first.clone(), second.clone());
            tokio::spawn(async move {
                for n in 0..PER_CHAT {
                    let cp = if n % 2 == 0 { &a } else { &b };
                    report(&api, cp, uuid, chat, n).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }

    let total = CHATS * PER_CHAT;
    let log = rx
        .wait_until(Duration::from_secs(60), "every event delivered", |log| {
            let mut ids: Vec<String> = log
                .iter()
                .filter(|r| r.ok())
                .map(|r| r.json()["data"]["whatsapp_message_id"].to_string())
                .collect();
            ids.sort();
            ids.dedup();
            ids.len() == total
        })
        .await;
    // Per conversation, first arrivals follow the reported order.
    let mut per_chat: HashMap<String, Vec<String>> = HashMap::new();
    for r in log.iter().filter(|r| r.ok()) {
        let id = r.json()["data"]["whatsapp_message_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let list = per_chat.entry(id[..3].to_owned()).or_default();
        if !list.contains(&id) {
            list.push(id);
        }
    }
    assert_eq!(per_chat.len(), CHATS);
    for (chat, ids) in per_chat {
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "order broken in conversation {chat}");
        assert_eq!(ids.len(), PER_CHAT);
    }
}
