//! Metrics in the process launcher's layout, as Prometheus would scrape it: the real
//! control-plane binary with `ZAPINI_METRICS_ADDR` and `ZAPINI_METRICS_TOKEN` lists the nodes
//! it launched on `/metrics/targets`, and each node serves `/metrics` at that target behind
//! the same token (the launcher passes it on).

use std::time::Duration;

use serde_json::Value;
use zapini_e2e::process::{free_port, spawn_control_plane, storage_env, wait_healthy};
use zapini_e2e::{ADMIN_EMAIL, ADMIN_PASSWORD, Api, config, eventually, node_bin};

const T: Duration = Duration::from_secs(60);
const TOKEN: &str = "e2e-metrics-token-0123456789abcdef";

/// The value of the first sample line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_finds_and_scrapes_launched_nodes() {
    let node = node_bin().expect("the instance-node binary is built");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = config(dir.path()).await.unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let metrics_addr = format!("127.0.0.1:{}", free_port());
    let mut envs: Vec<(String, String)> = [
        ("ZAPINI_DATA_DIR", data.display().to_string()),
        ("ZAPINI_HTTP_ADDR", format!("127.0.0.1:{port}")),
        ("ZAPINI_GRPC_ADDR", format!("127.0.0.1:{}", free_port())),
        ("ZAPINI_METRICS_ADDR", metrics_addr.clone()),
        ("ZAPINI_METRICS_TOKEN", TOKEN.to_owned()),
        ("ZAPINI_ADMIN_EMAIL", ADMIN_EMAIL.to_owned()),
        ("ZAPINI_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ("ZAPINI_LAUNCHER", "process".to_owned()),
        ("ZAPINI_NODE_BIN", node.display().to_string()),
        ("ZAPINI_LEASE_TTL_SECS", "5".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    envs.extend(storage_env(&cfg));
    let _cp = spawn_control_plane(&envs);
    let api = Api::default();
    wait_healthy(&api.client, &base).await;
    let user = api.login_at(&base).await;
    let (id, uuid) = api.create_instance_at(&base, &user, "scraped").await;
    let uuid = uuid.to_string();

    // Service discovery: the launched node, once it holds its lease.
    let group: Value = eventually(T, "the node listed as a target", || async {
        let groups: Value = api
            .client
            .get(format!("http://{metrics_addr}/metrics/targets"))
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        groups.as_array()?.first().cloned()
    })
    .await;
    assert_eq!(
        group["labels"]["zapini_instance_uuid"],
        uuid.as_str(),
        "{group}"
    );
    assert_eq!(
        group["labels"]["zapini_instance_id"],
        id.to_string(),
        "{group}"
    );
    assert_eq!(group["labels"]["zapini_engine"], "sandbox", "{group}");
    assert_eq!(group["labels"]["__scheme__"], "http", "{group}");
    let target = group["targets"][0].as_str().unwrap().to_owned();

    // The node's own metrics at that target, behind the token the launcher gave it.
    let node_metrics = format!("http://{target}/metrics");
    let refused = api.client.get(&node_metrics).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    let text = api
        .client
        .get(&node_metrics)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("component=\"instance-node\""), "{text}");
    assert!(
        sample(&text, "zapini_node_buffer_bytes ").is_some(),
        "{text}"
    );
    assert!(
        sample(&text, "zapini_process_resident_memory_bytes ").is_some_and(|b| b > 0.0),
        "{text}"
    );

    // The control plane's: its nodes' gRPC calls, the connected node, the instance.
    let text = eventually(T, "the node's stream counted", || async {
        let text = api
            .client
            .get(format!("http://{metrics_addr}/metrics"))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        (sample(&text, "zapini_nodes_connected ") == Some(1.0)).then_some(text)
    })
    .await;
    assert!(text.contains("component=\"control-plane\""), "{text}");
    assert!(
        sample(
            &text,
            "zapini_grpc_requests_total{method=\"Register\",code=\"OK\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("zapini_instances{") && l.contains("engine=\"sandbox\"")),
        "{text}"
    );
    // And on the API port, behind the same token.
    let resp = api
        .client
        .get(format!("{base}/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let resp = api
        .client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let ready = api
        .client
        .get(format!("{base}/health/ready"))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["grpc"], "ok", "{ready}");
}
