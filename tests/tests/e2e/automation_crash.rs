//! A control plane killed (`SIGKILL`) in the middle of an automation turn: the real binary
//! with the `process` launcher and a paired sandbox instance, a webhook bot that takes its
//! time. After the restart the turn is taken up again once its lease runs out, and the
//! message is answered exactly once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use zapini_e2e::process::{free_port, spawn_control_plane, storage_env, wait_healthy};
use zapini_e2e::receiver::Receiver;
use zapini_e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, Api, config, eventually, node_bin};

const T: Duration = Duration::from_secs(60);
const CONTACT: &str = "5511988881234";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_cut_by_a_sigkill_is_answered_once_after_the_restart() {
    let node = node_bin().expect("the instance-node binary is built");
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path()).await.unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut envs: Vec<(String, String)> = [
        (
            "ZAPINI_DATA_DIR",
            dir.path().join("data").display().to_string(),
        ),
        ("ZAPINI_HTTP_ADDR", format!("127.0.0.1:{port}")),
        ("ZAPINI_GRPC_ADDR", format!("127.0.0.1:{}", free_port())),
        ("ZAPINI_ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
        ("ZAPINI_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        (
            "ZAPINI_NODE_SECRET",
            "automation-crash-node-secret-0123456789".to_owned(),
        ),
        ("ZAPINI_LAUNCHER", "process".to_owned()),
        ("ZAPINI_NODE_BIN", node.display().to_string()),
        ("ZAPINI_ALLOW_PRIVATE_URLS", "true".to_owned()),
        ("ZAPINI_AUTOMATION_LEASE_SECS", "2".to_owned()),
        ("ZAPINI_RATE_LIMIT_REQUESTS", "1000000".to_owned()),
        ("RUST_LOG", "warn".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    envs.extend(storage_env(&cfg));
    // The bot answers after a while: long enough to kill the control plane meanwhile.
    let bot = Receiver::start().await;
    bot.set_delay(Duration::from_millis(1500));
    let calls: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = calls.clone();
    bot.set_responder(move |body| {
        let v: Value = serde_json::from_slice(body).unwrap_or_default();
        seen.lock().unwrap().push(v.clone());
        serde_json::to_vec(&json!({"replies": [
            {"type": "text", "text": format!("first part for {}", v["text"].as_str().unwrap_or_default())},
            {"type": "text", "text": "second part"}
        ]}))
        .unwrap()
    });

    let api = Api::default();
    let first = spawn_control_plane(&envs);
    wait_healthy(&api.client, &base).await;
    let call = |method: Method,
                path: String,
                token: Option<String>,
                host: Option<String>,
                body: Option<Value>| {
        let api = api.clone();
        async move {
            api.call(method, &path, token.as_deref(), host.as_deref(), body)
                .await
        }
    };
    let user = api.login_at(&base).await;
    let (id, uuid) = api.create_instance_at(&base, &user, "crash").await;
    let uuid = uuid.to_string();
    let host = format!("instance-{id}.localhost");
    let (status, body) = call(
        Method::POST,
        format!("{base}/api/v1/instances/{id}/tokens"),
        Some(user.clone()),
        None,
        Some(json!({"name": "client"})),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let sk = body["data"]["token"].as_str().unwrap().to_owned();
    eventually(T, "node registered and paired", || async {
        let (status, _) = call(
            Method::POST,
            format!("{base}/sandbox/scan"),
            Some(sk.clone()),
            Some(host.clone()),
            Some(json!({"phone_number": "5511999991234"})),
        )
        .await;
        (status == 200).then_some(())
    })
    .await;
    let (status, body) = call(
        Method::POST,
        format!("{base}/api/v1/automation/integrations"),
        Some(user.clone()),
        None,
        Some(
            json!({"instance_id": uuid, "name": "slow bot", "integration_type": "webhook",
                    "settings": {"debounce_ms": 0}, "config": {"url": bot.url}}),
        ),
    )
    .await;
    assert_eq!(status, 201, "{body}");

    let inbound = |text: &'static str| {
        let (base, sk, host) = (base.clone(), sk.clone(), host.clone());
        async move {
            eventually(T, "the contact's message taken", || async {
                let (status, _) = call(
                    Method::POST,
                    format!("{base}/sandbox/inbound"),
                    Some(sk.clone()),
                    Some(host.clone()),
                    Some(json!({"from": CONTACT, "message": text})),
                )
                .await;
                (status == 200).then_some(())
            })
            .await;
        }
    };
    inbound("hello").await;
    // The bot is asked; the control plane dies before it answers.
    bot.wait_until(T, "the bot asked", |r| !r.is_empty()).await;
    drop(first);
    let _second = spawn_control_plane(&envs);
    wait_healthy(&api.client, &base).await;

    let replies = |base: String, user: String| async move {
        let (_, body) = call(
            Method::GET,
            format!("{base}/api/v1/conversations"),
            Some(user.clone()),
            None,
            None,
        )
        .await;
        let conv = body["data"].as_array()?.iter().find(|c| {
            c["chat_jid"]
                .as_str()
                .is_some_and(|j| j.starts_with(CONTACT))
        })?["id"]
            .as_str()?
            .to_owned();
        let (_, body) = call(
            Method::GET,
            format!("{base}/api/v1/conversations/{conv}/messages?per_page=100"),
            Some(user),
            None,
            None,
        )
        .await;
        Some(
            body["data"]["messages"]
                .as_array()?
                .iter()
                .filter(|m| m["is_from_me"] == true)
                .filter_map(|m| m["message_body"].as_str().map(str::to_owned))
                .collect::<Vec<_>>(),
        )
    };
    eventually(T, "the answer after the restart", || async {
        let r = replies(base.clone(), user.clone()).await?;
        (r.len() >= 2).then_some(())
    })
    .await;
    // A marker afterwards: once it is answered, the first message's turn is long settled.
    inbound("MARKER").await;
    let all = eventually(T, "the marker's answer", || async {
        let r = replies(base.clone(), user.clone()).await?;
        let parts = r.iter().filter(|t| *t == "second part").count();
        (r.iter().any(|t| t == "first part for MARKER") && parts >= 2).then_some(r)
    })
    .await;
    let hello = all.iter().filter(|t| *t == "first part for hello").count();
    let second = all.iter().filter(|t| *t == "second part").count();
    assert_eq!(hello, 1, "the cut turn is answered once: {all:?}");
    assert_eq!(second, 2, "each turn's two parts once: {all:?}");
}
