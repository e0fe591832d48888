//! Prometheus metrics and readiness: `/metrics` on its own listener (`ZAPINI_METRICS_ADDR`)
//! and on the API port behind `ZAPINI_METRICS_TOKEN`, series labelled by route template,
//! `/metrics/targets`, and `/health/ready`.

use std::net::TcpListener;

use control_plane::Listeners;
use reqwest::Method;
use sea_orm::ConnectionTrait;
use secrecy::SecretString;
use serde_json::Value;

use crate::helpers::{
    apply_env, assert_error, spawn_app, spawn_app_with, spawn_with_listeners, test_config,
};

const TOKEN: &str = "metrics-token-for-tests-0123456789";

/// The value of the first sample line starting with `prefix` (a metric name with labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn the_metrics_listener_labels_requests_by_route_template() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    apply_env(&mut config).await;
    let metrics = TcpListener::bind("127.0.0.1:0").unwrap();
    let metrics_addr = metrics.local_addr().unwrap();
    let grpc = TcpListener::bind("127.0.0.1:0").unwrap();
    let grpc_addr = grpc.local_addr().unwrap();
    config.metrics.addr = Some(metrics_addr);
    let app = spawn_with_listeners(
        config,
        dir,
        Listeners {
            http: TcpListener::bind("127.0.0.1:0").unwrap(),
            grpc: Some(grpc),
            metrics: Some(metrics),
        },
    )
    .await;
    let user = app.login().await;
    let instance = app.create_instance(&user, "Metered").await;
    let id = instance["id"].as_i64().unwrap();
    for path in [
        format!("/api/v1/instances/{id}"),
        format!("/instances/{id}"),
    ] {
        assert_eq!(app.get(&path, &user).await.status(), 200);
    }
    assert_eq!(app.get("/instances/987654", &user).await.status(), 404);
    assert_eq!(app.get("/no/such/route", &user).await.status(), 404);
    // A gRPC call nodes make, refused without a node credential.
    let mut client = zapini_proto::v1::control_plane_client::ControlPlaneClient::connect(format!(
        "http://{grpc_addr}"
    ))
    .await
    .unwrap();
    let refused = client
        .register(zapini_proto::v1::RegisterRequest {
            instance_uuid: instance["uuid"].as_str().unwrap().to_owned(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);

    let resp = app
        .client
        .get(format!("http://{metrics_addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"),
    );
    let text = resp.text().await.unwrap();
    for (route, status, at_least) in [
        ("/api/v1/instances/{id}", 200, 1.0),
        ("/instances/{id}", 200, 1.0),
        ("/instances/{id}", 404, 1.0),
        ("unmatched", 404, 1.0),
    ] {
        let series = format!(
            "zapini_http_requests_total{{route=\"{route}\",method=\"GET\",status=\"{status}\"}}"
        );
        assert!(
            sample(&text, &series).is_some_and(|n| n >= at_least),
            "{series} in:\n{text}"
        );
    }
    assert!(!text.contains(&format!("\"/instances/{id}\"")), "{text}");
    assert!(!text.contains("/instances/987654"), "{text}");
    assert!(!text.contains("/no/such/route"), "{text}");
    assert!(
        text.contains(
            "zapini_http_request_duration_seconds_bucket{route=\"/api/v1/instances/{id}\",method=\"GET\",status=\"200\",le=\"0.005\"}"
        ),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "zapini_grpc_requests_total{method=\"Register\",code=\"UNAUTHENTICATED\"}"
        )
        .is_some_and(|n| n >= 1.0),
        "{text}"
    );
    // Sampled when scraped: this app's instance, its database pool, the outbox, the nodes.
    let sandbox: f64 = text
        .lines()
        .filter(|l| l.starts_with("zapini_instances{") && l.contains("engine=\"sandbox\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(sandbox >= 1.0, "{text}");
    for name in [
        "zapini_webhook_outbox_pending ",
        "zapini_webhook_outbox_oldest_pending_age_seconds ",
        "zapini_nodes_connected ",
        "zapini_db_pool_connections{pool=\"main\",state=\"in_use\"} ",
        "zapini_db_pool_max_connections{pool=\"main\"} ",
    ] {
        assert!(sample(&text, name).is_some(), "{name} in:\n{text}");
    }
    assert!(
        sample(&text, "zapini_process_resident_memory_bytes ").is_some_and(|b| b > 0.0),
        "{text}"
    );
    assert!(text.contains("# TYPE zapini_process_cpu_seconds_total counter"));

    // Prometheus HTTP service discovery: no node runs here.
    let targets: Value = app
        .client
        .get(format!("http://{metrics_addr}/metrics/targets"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(targets, serde_json::json!([]));
    let other = app
        .client
        .get(format!("http://{metrics_addr}/instances"))
        .send()
        .await
        .unwrap();
    assert_error(other, 404, "NOT_FOUND").await;

    // The API port does not serve metrics without a token configured: an unknown route.
    let resp = app.req(Method::GET, "/metrics", None).send().await.unwrap();
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp = app.get("/metrics", &user).await;
    assert_error(resp, 404, "NOT_FOUND").await;

    // Ready: database, migrations and the gRPC listener.
    for path in ["/health/ready", "/api/v1/health/ready"] {
        let resp = app.req(Method::GET, path, None).send().await.unwrap();
        assert_eq!(resp.status(), 200, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["status"], "ready", "{body}");
        assert_eq!(
            body["checks"],
            serde_json::json!({"database": "ok", "migrations": "ok", "grpc": "ok"})
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn metrics_on_the_api_port_need_the_token() {
    let app = spawn_app_with(|c| c.metrics.token = Some(SecretString::from(TOKEN))).await;
    let resp = app.req(Method::GET, "/metrics", None).send().await.unwrap();
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    assert_error(resp, 401, "UNAUTHENTICATED").await;
    let resp = app
        .get("/metrics", "metrics-token-for-tests-012345678X")
        .await;
    assert_error(resp, 401, "UNAUTHENTICATED").await;
    // A user token is not the metrics token.
    let user = app.login().await;
    let resp = app.get("/metrics", &user).await;
    assert_error(resp, 401, "UNAUTHENTICATED").await;

    let resp = app.get("/metrics", TOKEN).await;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    assert!(
        text.contains(
            "zapini_http_requests_total{route=\"/auth/login\",method=\"POST\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(
        text.contains("zapini_process_resident_memory_bytes "),
        "{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn readiness_names_what_is_not_ready() {
    let app = spawn_app().await;
    // No gRPC listener in this app: not needed for readiness.
    let resp = app
        .req(Method::GET, "/health/ready", None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["checks"]["grpc"], "disabled", "{body}");

    // A migration the database has not recorded: not ready, and /health stays as it was.
    app.services
        .db
        .execute_unprepared("DELETE FROM seaql_migrations WHERE version = 'm20261125_000001_init'")
        .await
        .unwrap();
    let resp = app
        .req(Method::GET, "/api/v1/health/ready", None)
        .send()
        .await
        .unwrap();
    let body = assert_error(resp, 503, "SERVICE_UNAVAILABLE").await;
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("1 database migration is not applied"),
        "{body}"
    );
    assert_eq!(
        body["error"]["details"]["checks"]["migrations"], "pending",
        "{body}"
    );
    assert_eq!(
        body["error"]["details"]["checks"]["database"], "ok",
        "{body}"
    );
    let resp = app.req(Method::GET, "/health", None).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    app.stop().await;
}
