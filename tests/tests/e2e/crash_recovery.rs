//! Crashes, as an operator meets them: the real control-plane binary with the `process`
//! launcher and a paired sandbox instance, while a client keeps sending and the sandbox keeps
//! receiving. A `SIGKILL` of the control plane, then of the node, leaves the instance connected
//! and serving sends within 2 s of the restart, and every message that was answered 200 is in
//! the history once and reached the webhook once.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use zapini_e2e::process::{
    free_port, node_pids, sigkill, spawn_control_plane_logging, storage_env, wait_healthy,
};
use zapini_e2e::receiver::Receiver;
use zapini_e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, Api, config, eventually, node_bin};

const T: Duration = Duration::from_secs(60);
/// What the issue asks: serving sends again within 2 s of the restart.
const RECOVERY: Duration = Duration::from_secs(2);
/// The history page size limit: all of the test's messages fit on one page.
const MAX_MESSAGES: usize = 90;
const CUSTOMER: &str = "5511988887777";

/// A message the platform answered 200 for.
#[derive(Debug, Clone)]
struct Answered {
    at: Instant,
    outbound: bool,
    text: String,
}

/// Every request the client made, answered or not: what a failure shows.
#[derive(Debug, Clone)]
struct Attempt {
    started: Instant,
    at: Instant,
    wall: chrono::DateTime<chrono::Utc>,
    outcome: String,
}

/// The attempts between `from` and `to`, one line each, times relative to `from`.
fn attempts_between(attempts: &Mutex<Vec<Attempt>>, from: Instant, to: Instant) -> String {
    attempts
        .lock()
        .unwrap()
        .iter()
        .filter(|a| a.at + Duration::from_millis(200) >= from && a.started <= to)
        .map(|a| {
            let rel = |t: Instant| {
                t.checked_duration_since(from)
                    .map_or_else(|| format!("-{:?}", from - t), |d| format!("+{d:?}"))
            };
            format!(
                "  {} → {} ({}): {}\n",
                rel(a.started),
                rel(a.at),
                a.wall.format("%H:%M:%S%.3f"),
                a.outcome
            )
        })
        .collect()
}

/// A client sending and a contact writing, alternately, every 50 ms, through the control
/// plane's Instance API edge; what was answered 200 is recorded, and every attempt.
type Traffic = (
    Arc<Mutex<Vec<Answered>>>,
    Arc<Mutex<Vec<Attempt>>>,
    tokio::task::JoinHandle<()>,
);

fn traffic(api: Api, base: String, host: String, sk: String, stop: Arc<AtomicBool>) -> Traffic {
    let answered = Arc::new(Mutex::new(Vec::new()));
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let log = answered.clone();
    let tries = attempts.clone();
    let task = tokio::spawn(async move {
        let mut i = 0u32;
        while !stop.load(Ordering::Relaxed) && log.lock().unwrap().len() < MAX_MESSAGES {
            i += 1;
            let outbound = i.is_multiple_of(2);
            let text = format!("crash-{i}");
            let (path, body) = if outbound {
                (
                    "/send-message",
                    json!({"recipient": CUSTOMER, "message": text}),
                )
            } else {
                (
                    "/sandbox/inbound",
                    json!({"from": CUSTOMER, "message": text}),
                )
            };
            let started = Instant::now();
            let sent = api
                .client
                .post(format!("{base}{path}"))
                .bearer_auth(&sk)
                .header("host", &host)
                .timeout(Duration::from_secs(5))
                .json(&body)
                .send()
                .await;
            let outcome = match sent {
                Ok(r) if r.status() == 200 => {
                    log.lock().unwrap().push(Answered {
                        at: Instant::now(),
                        outbound,
                        text: text.clone(),
                    });
                    "200".to_owned()
                }
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    format!("{status} {}", body.chars().take(160).collect::<String>())
                }
                Err(e) => format!("error: {e}"),
            };
            tries.lock().unwrap().push(Attempt {
                started,
                at: Instant::now(),
                wall: chrono::Utc::now(),
                outcome: format!("{path} {text}: {outcome}"),
            });
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    (answered, attempts, task)
}

/// The first answer after `since`, and how long after it came.
fn recovered_after(answered: &Mutex<Vec<Answered>>, since: Instant) -> Option<Duration> {
    answered
        .lock()
        .unwrap()
        .iter()
        .find(|a| a.at > since)
        .map(|a| a.at - since)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_control_plane_or_the_node_recovers_within_two_seconds_losing_nothing() {
    let node = node_bin().expect("the instance-node binary is built");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The run mode (SQLite, or a fresh PostgreSQL database and Redis prefix) from the harness.
    let cfg = config(dir.path()).await.unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut envs: Vec<(String, String)> = [
        ("ZAPINI_DATA_DIR", data.display().to_string()),
        ("ZAPINI_HTTP_ADDR", format!("127.0.0.1:{port}")),
        ("ZAPINI_GRPC_ADDR", format!("127.0.0.1:{}", free_port())),
        ("ZAPINI_ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
        ("ZAPINI_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        (
            "ZAPINI_NODE_SECRET",
            "crash-recovery-node-secret-0123456789".to_owned(),
        ),
        ("ZAPINI_LAUNCHER", "process".to_owned()),
        ("ZAPINI_NODE_BIN", node.display().to_string()),
        ("ZAPINI_SANDBOX_RECEIPTS", "manual".to_owned()),
        ("ZAPINI_ALLOW_PRIVATE_URLS", "true".to_owned()),
        ("ZAPINI_WEBHOOK_ALLOW_HTTP", "true".to_owned()),
        (
            "ZAPINI_WEBHOOK_RETRY_SCHEDULE",
            "0,0.2,0.5,1,1,1,1,1,1,1".to_owned(),
        ),
        // The client and the checks below poll; the API rate limit is tested on its own.
        ("ZAPINI_RATE_LIMIT_REQUESTS", "1000000".to_owned()),
        (
            "RUST_LOG",
            "warn,control_plane=info,instance_node=info".to_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    envs.extend(storage_env(&cfg));

    let receiver = Receiver::start().await;
    let api = Api::default();
    let cp_log = dir.path().join("control-plane.log");
    let first = spawn_control_plane_logging(&envs, Some(&cp_log));
    wait_healthy(&api.client, &base).await;
    let user = api.login_at(&base).await;
    let (id, uuid) = api.create_instance_at(&base, &user, "crashes").await;
    let host = format!("instance-{id}.localhost");
    let (status, body) = api
        .call(
            Method::POST,
            &format!("{base}/api/v1/instances/{id}/tokens"),
            Some(&user),
            None,
            Some(json!({"name": "client"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let sk = body["data"]["token"].as_str().unwrap().to_owned();
    let (status, body) = api
        .call(
            Method::PUT,
            &format!("{base}/api/v1/instances/{uuid}/webhook"),
            Some(&user),
            None,
            Some(json!({
                "webhook_url": receiver.url,
                "webhook_secret": "crash-recovery-secret",
                "events": ["message.sent", "message.received"],
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // Pair the sandbox once, through the edge, when the launched node has registered.
    eventually(T, "node registered and paired", || async {
        let (status, _) = api
            .call(
                Method::POST,
                &format!("{base}/sandbox/scan"),
                Some(&sk),
                Some(&host),
                Some(json!({"phone_number": "5511999990001"})),
            )
            .await;
        (status == 200).then_some(())
    })
    .await;

    let stop = Arc::new(AtomicBool::new(false));
    let (answered, attempts, task) = traffic(
        api.clone(),
        base.clone(),
        host.clone(),
        sk.clone(),
        stop.clone(),
    );
    eventually(T, "traffic flowing", || async {
        (answered.lock().unwrap().len() >= 6).then_some(())
    })
    .await;

    // 1. The control plane dies; its node notices and goes; the restarted control plane
    //    launches a new node, which takes the lease and comes back paired.
    drop(first);
    let _second = spawn_control_plane_logging(&envs, Some(&cp_log));
    wait_healthy(&api.client, &base).await;
    let healthy = Instant::now();
    let after_cp = eventually(
        T,
        "sends answered after the control-plane restart",
        || async { recovered_after(&answered, healthy) },
    )
    .await;

    // 2. The node dies; the launcher relaunches it at once and it comes back paired.
    let pids = node_pids(uuid);
    assert_eq!(pids.len(), 1, "one node: {pids:?}");
    let killed = Instant::now();
    sigkill(pids[0]);
    let after_node = eventually(T, "sends answered after the node's crash", || async {
        recovered_after(&answered, killed + Duration::from_millis(10))
    })
    .await;
    eventually(T, "more traffic after both crashes", || async {
        let n = answered
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.at > killed)
            .count();
        (n >= 6).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    task.await.unwrap();
    let answered = answered.lock().unwrap().clone();
    eprintln!(
        "serving again {after_cp:?} after the control plane's restart (healthy), {after_node:?} after the node's SIGKILL; {} messages answered",
        answered.len()
    );
    let log = || std::fs::read_to_string(&cp_log).unwrap_or_default();
    assert!(
        after_cp <= RECOVERY,
        "{after_cp:?} after the control-plane restart; the requests from the restart (healthy at +0):\n{}\nthe control plane's and nodes' log:\n{}",
        attempts_between(&attempts, healthy, healthy + after_cp),
        log()
    );
    assert!(
        after_node <= RECOVERY,
        "{after_node:?} after the node crash; the requests from the kill (+0):\n{}\nthe control plane's and nodes' log:\n{}",
        attempts_between(&attempts, killed, killed + after_node),
        log()
    );

    // Every answered message is in the history exactly once...
    let texts: Vec<&str> = answered.iter().map(|a| a.text.as_str()).collect();
    let history = eventually(T, "every answered message in the history", || async {
        let (status, body) = api
            .call(
                Method::GET,
                &format!("{base}/api/v1/conversations?instance_id={uuid}"),
                Some(&user),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let conv = body["data"].as_array()?.first()?.clone();
        let (status, body) = api
            .call(
                Method::GET,
                &format!(
                    "{base}/api/v1/conversations/{}/messages?limit=100",
                    conv["id"].as_str()?
                ),
                Some(&user),
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let contents: Vec<String> = body["data"]["messages"]
            .as_array()?
            .iter()
            .filter_map(|m| m["message_body"].as_str().map(str::to_owned))
            .collect();
        texts
            .iter()
            .all(|t| contents.iter().any(|c| c == t))
            .then_some(contents)
    })
    .await;
    for text in &texts {
        let n = history.iter().filter(|c| c == text).count();
        assert_eq!(n, 1, "{text} is {n} times in the history");
    }

    // ...and reached the webhook as one event (a redelivery keeps its delivery id).
    let log = receiver
        .wait_until(T, "a webhook for every answered message", |log| {
            let seen: HashSet<String> = log
                .iter()
                .filter(|r| r.ok())
                .filter_map(|r| r.json()["data"]["content"].as_str().map(str::to_owned))
                .collect();
            texts.iter().all(|t| seen.contains(*t))
        })
        .await;
    let mut deliveries: HashMap<String, HashSet<String>> = HashMap::new();
    for r in log.iter().filter(|r| r.ok()) {
        let body: Value = r.json();
        if let Some(content) = body["data"]["content"].as_str() {
            deliveries
                .entry(content.to_owned())
                .or_default()
                .insert(r.header("x-webhook-delivery-id").to_owned());
        }
    }
    for a in &answered {
        let ids = &deliveries[&a.text];
        assert_eq!(
            ids.len(),
            1,
            "{} ({}) delivered as {} different events",
            a.text,
            if a.outbound { "sent" } else { "received" },
            ids.len()
        );
    }
}
