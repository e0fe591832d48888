//! Real processes in end-to-end tests: free ports, the control-plane binary run as a child
//! (killed with `SIGKILL` when dropped), and the `instance-node` processes serving an
//! instance, found by their environment.

use std::time::Duration;

use uuid::Uuid;

use crate::target_bin;

/// A port that was free a moment ago (bound and released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind port 0")
        .local_addr()
        .expect("local address")
        .port()
}

/// A child process killed (`SIGKILL`) and reaped when dropped.
pub struct Binary(pub std::process::Child);

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the control-plane binary with exactly `envs` on top of this process's environment,
/// minus `DATABASE_URL` and `REDIS_URL` (the test's own database is in `envs` when wanted).
pub fn spawn_control_plane(envs: &[(String, String)]) -> Binary {
    spawn_control_plane_logging(envs, None)
}

/// [`spawn_control_plane`] with its log (and its launched nodes') appended to `log`, for a
/// test to show when it fails.
pub fn spawn_control_plane_logging(
    envs: &[(String, String)],
    log: Option<&std::path::Path>,
) -> Binary {
    let bin = target_bin("control-plane").expect("the control-plane binary is built");
    let stderr = match log {
        Some(path) => std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the log file opens")
            .into(),
        None => std::process::Stdio::null(),
    };
    let child = std::process::Command::new(bin)
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .envs(envs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .expect("control plane starts");
    Binary(child)
}

/// Waits until `GET {base}/health` answers 2xx.
pub async fn wait_healthy(client: &reqwest::Client, base: &str) {
    crate::eventually(Duration::from_secs(60), "control plane healthy", || async {
        client
            .get(format!("{base}/health"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
            .map(|_| ())
    })
    .await;
}

/// Live (not zombie) processes whose environment has `ZAPINI_INSTANCE_ID=<instance>`, with
/// that environment.
pub fn node_processes(instance: Uuid) -> Vec<(u32, Vec<u8>)> {
    let needle = format!("ZAPINI_INSTANCE_ID={instance}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(env) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        let running = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false);
        if running && env.split(|b| *b == 0).any(|kv| kv == needle.as_bytes()) {
            found.push((pid, env));
        }
    }
    found
}

/// Pids of the live `instance-node` processes serving `instance`.
pub fn node_pids(instance: Uuid) -> Vec<u32> {
    node_processes(instance)
        .into_iter()
        .map(|(pid, _)| pid)
        .collect()
}

/// `kill -9 pid`.
pub fn sigkill(pid: u32) {
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success(), "kill -9 {pid}");
}

/// The environment that points a control-plane child at the test's own storage: its
/// PostgreSQL database when it has one (SQLite lives in the data dir), and its Redis prefix.
pub fn storage_env(cfg: &control_plane::Config) -> Vec<(String, String)> {
    use secrecy::ExposeSecret;
    let mut envs = Vec::new();
    if let control_plane::config::DatabaseTarget::Postgres(_) = cfg.database {
        envs.push(("DATABASE_URL".into(), cfg.database_url()));
    }
    if let Some(redis) = &cfg.redis_url {
        envs.push(("REDIS_URL".into(), redis.expose_secret().to_owned()));
        envs.push(("ZAPINI_REDIS_PREFIX".into(), cfg.redis_prefix.clone()));
    }
    envs
}
