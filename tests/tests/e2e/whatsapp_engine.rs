//! End to end with the real `whatsapp` engine on a machine where WhatsApp is unreachable
//! (the WebSocket endpoint points at a closed local port, so the run is the same everywhere):
//! an instance created without an engine gets `whatsapp`, its node reports "cannot reach
//! WhatsApp" and the control plane records the reason on the instance; the pair-code and
//! logout routes reach the node, validate their input and keep tenants apart.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use zapini_e2e::{Api, ControlPlane, Node, config, eventually};

const T: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whatsapp_instance_offline_pair_code_and_logout() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path()).await.unwrap();
    // The test polls the instance every 50 ms while the node's events arrive; the API rate
    // limit (100 per window, tested on its own) turned late polls into 429s.
    cfg.rate_limit_requests = 100_000;
    let cp = ControlPlane::start(cfg).await.unwrap();
    let api = Api::default();
    let user = api.login(&cp).await;

    // The production default engine.
    let (status, body) = api
        .call(
            Method::POST,
            &cp.url("/api/v1/instances"),
            Some(&user),
            None,
            Some(json!({"name": "Real"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let inst = &body["data"]["instance"];
    assert_eq!(inst["engine"], "whatsapp");
    let id = inst["id"].as_i64().unwrap();
    let uuid: uuid::Uuid = inst["uuid"].as_str().unwrap().parse().unwrap();

    // A closed port: every connect fails at once, like an unreachable WhatsApp.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_addr = closed.local_addr().unwrap();
    drop(closed);
    let mut node_config = cp.node_config(uuid, &dir.path().join(format!("node-{uuid}")));
    node_config.engine = instance_node::engine::EngineKind::Whatsapp;
    node_config.whatsapp.ws_url = Some(format!("ws://{closed_addr}/ws/chat"));
    node_config.whatsapp.unreachable_after = Duration::from_secs(2);
    let node = Node::start(node_config).await.unwrap();

    // The stored status and its reason, as the node reported them.
    let instance = eventually(T, "the instance reported unreachable", || async {
        let (status, body) = api
            .call(
                Method::GET,
                &cp.url(&format!("/api/v1/instances/{id}")),
                Some(&user),
                None,
                None,
            )
            .await;
        (status == 200 && body["data"]["instance"]["status_reason"] == "unreachable")
            .then_some(body)
    })
    .await;
    assert_eq!(instance["data"]["instance"]["status"], "disconnected");
    assert_eq!(instance["data"]["instance"]["connected"], false);

    let (status, body) = api
        .call(
            Method::GET,
            &cp.url(&format!("/api/v1/instances/{id}/status?realtime=true")),
            Some(&user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "disconnected");
    assert_eq!(body["data"]["reason"], "unreachable");
    let (status, body) = api
        .call(
            Method::GET,
            &cp.url(&format!("/api/v1/instances/{id}/status")),
            Some(&user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["reason"], "unreachable");

    // The node's own status shows the engine, the reason and the pacing it applies.
    let (status, body) = api
        .call(
            Method::GET,
            &cp.url("/status"),
            Some(&user),
            Some(&format!("instance-{id}.localhost")),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["engine"], "whatsapp");
    assert_eq!(body["reason"], "unreachable");
    assert_eq!(body["pacing"]["enabled"], true);
    assert_eq!(body["pacing"]["new_chats_per_hour"], 30);
    assert_eq!(body["pacing"]["recipient_gap_ms"], 3000);

    // Sending while unreachable: not connected.
    let (status, body) = api
        .call(
            Method::POST,
            &cp.url("/send-message"),
            Some(&user),
            Some(&format!("instance-{id}.localhost")),
            Some(json!({"recipient": "5511988887777", "message": "hi"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "INSTANCE_NOT_CONNECTED");

    // Pair code: validation, then the node answers that WhatsApp cannot be reached.
    let pair = |body: Value| {
        let api = api.clone();
        let url = cp.url(&format!("/api/v1/instances/{id}/pair-code"));
        let user = user.clone();
        async move {
            api.call(Method::POST, &url, Some(&user), None, Some(body))
                .await
        }
    };
    let (status, body) = pair(json!({})).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["details"]["phone_number"].is_array(),
        "{body}"
    );
    let (status, body) = pair(json!({"phone_number": "12"})).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = pair(json!({"phone_number": "5511999990000"})).await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cannot reach WhatsApp"),
        "{body}"
    );

    // Logout deletes the session and records why.
    let session = dir
        .path()
        .join(format!("node-{uuid}"))
        .join("whatsapp")
        .join("whatsapp.db");
    assert!(session.exists());
    let (status, body) = api
        .call(
            Method::POST,
            &cp.url(&format!("/api/v1/instances/{id}/logout")),
            Some(&user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "disconnected");
    assert_eq!(body["data"]["reason"], "logged_out");
    assert!(!session.exists(), "logout deletes the session keys");
    eventually(T, "the reason stored on the instance", || async {
        let (_, body) = api
            .call(
                Method::GET,
                &cp.url(&format!("/api/v1/instances/{id}")),
                Some(&user),
                None,
                None,
            )
            .await;
        (body["data"]["instance"]["status_reason"] == "logged_out").then_some(())
    })
    .await;

    node.stop().await;
}
