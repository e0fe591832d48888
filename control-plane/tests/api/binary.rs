//! The real `control-plane` binary as an operator runs it: configuration from the
//! environment, the first admin bootstrapped, the README quickstart, and the subcommands.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_control-plane");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Running {
    child: Child,
    base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command(data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ZAPINI_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn");
    cmd
}

async fn start(data_dir: &std::path::Path, extra: &[(&str, &str)]) -> Running {
    let port = free_port();
    let mut cmd = command(data_dir);
    // Nodes are launched by the e2e tests (tests/); here the control plane runs alone.
    cmd.env("ZAPINI_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("ZAPINI_GRPC_ADDR", "127.0.0.1:0")
        .env("ZAPINI_LAUNCHER", "external")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let child = cmd.spawn().expect("spawn control-plane");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    let client = reqwest::Client::new();
    loop {
        if let Ok(r) = client.get(format!("{base}/health")).send().await
            && r.status().is_success()
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "control-plane did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Running { child, base }
}

#[tokio::test]
async fn readme_quickstart_works_against_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let running = start(
        dir.path(),
        &[
            ("ZAPINI_ADMIN_EMAIL", "admin@example.com"),
            ("ZAPINI_ADMIN_PASSWORD", "change-me-please"),
        ],
    )
    .await;
    let c = reqwest::Client::new();
    let base = &running.base;
    let login: Value = c
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "admin@example.com", "password": "change-me-please", "device_name": "curl"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["data"]["token"].as_str().unwrap();
    let created: Value = c
        .post(format!("{base}/api/v1/instances"))
        .bearer_auth(token)
        .json(&json!({"name": "Support", "engine": "sandbox"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["data"]["instance"]["id"].as_i64().unwrap();
    let sk: Value = c
        .post(format!("{base}/api/v1/instances/{id}/tokens"))
        .bearer_auth(token)
        .json(&json!({"name": "my-bot"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sk = sk["data"]["token"].as_str().unwrap();
    let me: Value = c
        .get(format!("{base}/instances/{id}"))
        .bearer_auth(sk)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["instance"]["name"], "Support");
    assert!(
        dir.path().join("zapini.db").is_file(),
        "SQLite file in the data dir"
    );
}

#[tokio::test]
async fn first_start_without_a_password_logs_a_generated_one_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut running = start(dir.path(), &[]).await;
    let _ = running.child.kill();
    let out = running.child.wait_with_output_after_kill();
    let password = out
        .lines()
        .find_map(|l| l.split("password=").nth(1))
        .map(|p| {
            p.split_whitespace()
                .next()
                .unwrap()
                .trim_matches('"')
                .to_owned()
        })
        .expect("generated password logged");
    let again = start(dir.path(), &[]).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/auth/login", again.base))
        .json(&json!({"email": "admin@zapini.local", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    drop(again);
}

trait DrainStdout {
    fn wait_with_output_after_kill(&mut self) -> String;
}

impl DrainStdout for Child {
    fn wait_with_output_after_kill(&mut self) -> String {
        use std::io::Read;
        let _ = self.wait();
        let mut s = String::new();
        if let Some(mut e) = self.stdout.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

#[test]
fn invalid_configuration_names_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    for (key, value) in [
        ("ZAPINI_HTTP_ADDR", "nowhere"),
        ("DATABASE_URL", "mysql://localhost/x"),
        ("ZAPINI_ADMIN_EMAIL", "not-an-email"),
    ] {
        let out = command(dir.path()).env(key, value).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{key}: {err}");
    }
}

#[tokio::test]
async fn migrate_and_create_user_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path()).arg("migrate").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = command(dir.path())
        .args([
            "create-user",
            "--email",
            "ops@example.com",
            "--name",
            "Ops",
            "--tenant-name",
            "Acme",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let password = stdout
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("generated password printed")
        .to_owned();
    let tenant = stdout
        .split("tenant Acme (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("tenant uuid printed")
        .to_owned();
    let out = command(dir.path())
        .args(["tenant-rate-limit", "--tenant", &tenant, "--requests", "7"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = command(dir.path())
        .args(["create-user", "--email", "ops@example.com"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "duplicate email must fail");

    let running = start(dir.path(), &[]).await;
    let resp = reqwest::Client::new()
        .post(format!("{}/auth/login", running.base))
        .json(&json!({"email": "ops@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: Value = resp.json().await.unwrap();
    let token = body["data"]["token"].as_str().unwrap();
    let resp = reqwest::Client::new()
        .get(format!("{}/instances", running.base))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-ratelimit-limit"], "7");
}

#[tokio::test]
async fn tenant_quota_subcommands_set_and_show_limits() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .args([
            "create-user",
            "--email",
            "quota@example.com",
            "--password",
            "quota-password-1",
            "--tenant-name",
            "Quota",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tenant = stdout
        .split("tenant Quota (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("tenant uuid printed")
        .to_owned();
    let out = command(dir.path())
        .args([
            "tenant",
            "set-quota",
            "--tenant",
            &tenant,
            "--instances",
            "1",
            "--media-bytes",
            "0",
            "--requests-per-tenant",
            "5000",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["limits"]["instances"], 1);
    assert_eq!(shown["limits"]["media_bytes"], Value::Null, "0 = unlimited");
    assert_eq!(shown["limits"]["requests_per_tenant"], 5000);
    assert_eq!(shown["usage"]["instances"], 0);
    let out = command(dir.path())
        .args([
            "tenant",
            "set-quota",
            "--tenant",
            &tenant,
            "--instances",
            "lots",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a bad value is refused");

    let running = start(dir.path(), &[]).await;
    let client = reqwest::Client::new();
    let body: Value = client
        .post(format!("{}/auth/login", running.base))
        .json(&json!({"email": "quota@example.com", "password": "quota-password-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["data"]["token"].as_str().unwrap().to_owned();
    let create = || {
        client
            .post(format!("{}/instances", running.base))
            .bearer_auth(&token)
            .json(&json!({"name": "one", "engine": "sandbox"}))
            .send()
    };
    assert_eq!(create().await.unwrap().status(), 201);
    let resp = create().await.unwrap();
    assert_eq!(resp.status(), 403);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "QUOTA_EXCEEDED", "{body}");

    let out = command(dir.path())
        .args(["tenant", "show", "--tenant", &tenant])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["usage"]["instances"], 1);
    let out = command(dir.path())
        .args([
            "tenant",
            "set-quota",
            "--tenant",
            &tenant,
            "--instances",
            "default",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["limits"]["instances"], 100);
}

#[tokio::test]
async fn tenant_features_are_set_by_the_operator_and_shown_on_me() {
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .args([
            "create-user",
            "--email",
            "features@example.com",
            "--password",
            "features-password-1",
            "--tenant-name",
            "Features",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let tenant = stdout
        .split("tenant Features (")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .expect("tenant uuid printed")
        .to_owned();
    let set = |args: &[&str]| {
        let mut all = vec!["tenant", "set-features", "--tenant", &tenant];
        all.extend_from_slice(args);
        command(dir.path()).args(all).output().unwrap()
    };
    let out = set(&["--kanban", "on", "--timezone", "America/Sao_Paulo"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shown: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(shown["features"]["kanban_enabled"], true);
    assert_eq!(shown["features"]["voice_enabled"], false);
    assert_eq!(shown["features"]["timezone"], "America/Sao_Paulo");
    assert_eq!(shown["features"]["currency"], "BRL", "the default");
    let out = set(&["--timezone", "Mars/Olympus"]);
    assert!(!out.status.success(), "an unknown time zone is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("timezone"));
    let out = set(&["--kanban", "maybe"]);
    assert!(!out.status.success(), "a switch is on or off");
    let out = set(&[
        "--currency",
        "USD",
        "--locale",
        "en-US",
        "--timezone",
        "default",
    ]);
    assert!(out.status.success());

    let running = start(dir.path(), &[]).await;
    let client = reqwest::Client::new();
    let body: Value = client
        .post(format!("{}/auth/login", running.base))
        .json(&json!({"email": "features@example.com", "password": "features-password-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = body["data"]["token"].as_str().unwrap().to_owned();
    let me: Value = client
        .get(format!("{}/auth/me", running.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let t = &me["data"]["tenant"];
    assert_eq!(t["name"], "Features");
    assert_eq!(t["kanban_enabled"], true, "{me}");
    assert_eq!(t["voice_enabled"], false);
    assert_eq!(t["currency"], "USD");
    assert_eq!(t["locale"], "en-US");
    assert_eq!(t["timezone"], "UTC", "back to the default");
}
