//! One tenant cannot hold up another: a tenant whose webhook endpoint hangs holds only its
//! share of the dispatcher; and a refreshed token stops working on the nodes at once.

use crate::support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use support::{T, paired, setup, setup_with};
use uuid::Uuid;
use zapini_e2e::eventually;
use zapini_e2e::receiver::Receiver;

/// An endpoint that accepts connections and never answers; counts them.
async fn hanging_endpoint() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            held.push(socket);
        }
    });
    (url, accepted)
}

async fn inbound(s: &support::Setup, instance: Uuid, from: &str, id: &str) {
    let jid = format!("{from}@s.whatsapp.net");
    let (status, body) = s
        .api
        .engine_report(
            &s.cp,
            instance,
            "incoming",
            &json!({
                "remoteJid": jid,
                "message": {"conversation": "hi"},
                "messageTimestamp": chrono::Utc::now().timestamp(),
                "pushName": "Someone",
                "key": {"remoteJid": jid, "fromMe": false, "id": id}
            }),
        )
        .await;
    assert_eq!(status, 200, "report: {body}");
}

async fn put_webhook(s: &support::Setup, token: &str, instance: i64, url: &str) {
    let (status, body) = s
        .api
        .call(
            Method::PUT,
            &s.cp.url(&format!("/api/v1/instances/{instance}/webhook")),
            Some(token),
            None,
            Some(json!({"webhook_url": url, "webhook_secret": "secret-of-the-hook", "is_active": true})),
        )
        .await;
    assert!(
        status == 200 || status == 201,
        "PUT webhook: {status} {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_with_a_hanging_endpoint_does_not_delay_another_tenants_deliveries() {
    let s = setup_with(|c| {
        c.webhooks.concurrency = 4;
        c.webhooks.tenant_concurrency = 2;
        c.webhooks.timeout = Duration::from_secs(30);
    })
    .await;
    let (hang_url, accepted) = hanging_endpoint().await;
    let (slow_id, slow_uuid) = s.api.create_instance(&s.cp, &s.user, "slow").await;
    put_webhook(&s, &s.user, slow_id, &hang_url).await;
    let other = s.other_tenant("fair@other.local").await;
    let (fast_id, fast_uuid) = s.api.create_instance(&s.cp, &other, "fast").await;
    let rx = Receiver::start().await;
    put_webhook(&s, &other, fast_id, &rx.url).await;

    // Many chats (streams) of the slow tenant, all stuck on its endpoint.
    for i in 0..12 {
        inbound(
            &s,
            slow_uuid,
            &format!("55119000010{i:02}"),
            &format!("SLOW-{i}"),
        )
        .await;
    }
    eventually(T, "the slow tenant's attempts in flight", || async {
        (accepted.load(Ordering::SeqCst) >= 2).then_some(())
    })
    .await;

    let started = Instant::now();
    inbound(&s, fast_uuid, "5511900002000", "FAST-1").await;
    rx.wait_until(
        Duration::from_secs(10),
        "the other tenant's delivery",
        |log| {
            log.iter()
                .any(|r| r.ok() && r.json()["event"] == "message.received")
        },
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "delivered after {:?}",
        started.elapsed()
    );
    // The slow tenant never held more than its share.
    assert!(
        accepted.load(Ordering::SeqCst) <= 2,
        "{} attempts of one tenant in flight; its share is 2",
        accepted.load(Ordering::SeqCst)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refreshed_token_stops_working_on_the_nodes_at_once() {
    let s = setup().await;
    let p = paired(&s, "refresh", "5511999990101").await;
    // The node learns the token (and caches it as allowed).
    let (status, body) = s
        .api
        .call(
            Method::GET,
            &p.node.url("/status"),
            Some(&s.user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/api/v1/auth/refresh"),
            Some(&s.user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let fresh = body["data"]["token"].as_str().unwrap().to_owned();
    // Well inside the node's cache lifetime (60 s): only the pushed revocation explains it.
    eventually(
        Duration::from_secs(10),
        "old token refused by the node",
        || async {
            let (status, _) = s
                .api
                .call(
                    Method::GET,
                    &p.node.url("/status"),
                    Some(&s.user),
                    None,
                    None,
                )
                .await;
            (status == 401).then_some(())
        },
    )
    .await;
    let (status, body) = s
        .api
        .call(
            Method::GET,
            &p.node.url("/status"),
            Some(&fresh),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
}
