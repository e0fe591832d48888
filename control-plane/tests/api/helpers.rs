//! Test harness: the real control plane on port 0 with a fresh database per test (SQLite in a
//! temp dir, or a new PostgreSQL database when `DATABASE_URL` is set) and, when `REDIS_URL` is
//! set, Redis under a unique key prefix.

use std::net::SocketAddr;

use control_plane::config::DatabaseTarget;
use control_plane::service::Services;
use control_plane::{App, Config, Listeners};
use reqwest::{Method, RequestBuilder, Response};
use secrecy::SecretString;
use serde_json::Value;

pub const ADMIN_EMAIL: &str = "admin@test.local";
pub const ADMIN_PASSWORD: &str = "correct-horse-battery";

pub struct TestApp {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    /// For test set-up only (creating a second tenant); assertions go through HTTP.
    pub services: Services,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

/// A fresh PostgreSQL database, named uniquely, on the server of `base` (made by the same
/// `db::create_database` the e2e harness uses).
async fn fresh_postgres(base: &str) -> String {
    let name = format!("zapini_test_{}", uuid::Uuid::new_v4().simple());
    control_plane::db::create_database(base, &name)
        .await
        .expect("create test database");
    let (prefix, _) = base.rsplit_once('/').expect("DATABASE_URL has a path");
    format!("{prefix}/{name}")
}

pub fn test_config(dir: &std::path::Path) -> Config {
    let mut config = Config::for_data_dir(dir);
    config.admin_email = Some(ADMIN_EMAIL.into());
    config.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    config
}

/// Applies the run mode the environment asks for (PostgreSQL, Redis) to a config.
pub async fn apply_env(config: &mut Config) {
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        config.database = DatabaseTarget::Postgres(SecretString::from(fresh_postgres(&url).await));
    }
    if let Ok(url) = std::env::var("REDIS_URL")
        && !url.is_empty()
    {
        config.redis_url = Some(SecretString::from(url));
        config.redis_prefix = format!("zapini-test-{}:", uuid::Uuid::new_v4().simple());
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = test_config(dir.path());
    apply_env(&mut config).await;
    tweak(&mut config);
    spawn_with_config(config, dir).await
}

pub async fn spawn_with_config(config: Config, dir: tempfile::TempDir) -> TestApp {
    let http = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let listeners = Listeners {
        http,
        grpc: None,
        metrics: None,
    };
    spawn_with_listeners(config, dir, listeners).await
}

/// [`spawn_with_config`] on listeners the test bound (a gRPC or metrics listener too).
pub async fn spawn_with_listeners(
    config: Config,
    dir: tempfile::TempDir,
    listeners: Listeners,
) -> TestApp {
    let tls = config.tls.is_some();
    let app = App::build(config, listeners).await.expect("app builds");
    let addr = app.http_addr();
    let services = app.services().clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        app.run(async {
            let _ = rx.await;
        })
        .await
        .expect("app runs");
    });
    let scheme = if tls { "https" } else { "http" };
    TestApp {
        addr,
        base: format!("{scheme}://{addr}"),
        client: reqwest::Client::new(),
        services,
        shutdown: Some(tx),
        handle: Some(handle),
        _dir: dir,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn req(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let mut b = self
            .client
            .request(method, self.url(path))
            .header("Accept", "application/json");
        if let Some(t) = token {
            b = b.bearer_auth(t);
        }
        b
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.req(Method::GET, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.req(Method::POST, path, Some(token))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn login_as(&self, email: &str, password: &str) -> String {
        let resp = self
            .req(Method::POST, "/auth/login", None)
            .json(
                &serde_json::json!({"email": email, "password": password, "device_name": "tests"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "login failed");
        let body: Value = resp.json().await.unwrap();
        body["data"]["token"].as_str().unwrap().to_owned()
    }

    pub async fn login(&self) -> String {
        self.login_as(ADMIN_EMAIL, ADMIN_PASSWORD).await
    }

    /// A second tenant with its own admin; returns a logged-in token.
    pub async fn other_tenant_token(&self, email: &str) -> String {
        self.services
            .create_user(
                None,
                "Other",
                "Other Admin",
                email,
                "other-password-1",
                "admin",
            )
            .await
            .expect("create other tenant");
        self.login_as(email, "other-password-1").await
    }

    /// Creates an instance and returns its JSON.
    pub async fn create_instance(&self, token: &str, name: &str) -> Value {
        let resp = self
            .post(
                "/api/v1/instances",
                token,
                serde_json::json!({"name": name, "engine": "sandbox"}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        body["data"]["instance"].clone()
    }

    /// Creates an `sk_` token for an instance and returns the plaintext.
    pub async fn create_sk(&self, token: &str, instance_id: &Value) -> String {
        let resp = self
            .post(
                &format!("/api/v1/instances/{}/tokens", id_str(instance_id)),
                token,
                serde_json::json!({"name": "bot"}),
            )
            .await;
        assert_eq!(resp.status(), 201);
        let body: Value = resp.json().await.unwrap();
        body["data"]["token"].as_str().unwrap().to_owned()
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

pub fn id_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Asserts the reference's error envelope and returns the error code.
pub async fn assert_error(resp: Response, status: u16, code: &str) -> Value {
    assert_eq!(resp.status().as_u16(), status, "unexpected status");
    let body: Value = resp.json().await.expect("error body is JSON");
    assert_eq!(body["success"], false, "{body}");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["error"]["details"].is_object(), "{body}");
    body
}
