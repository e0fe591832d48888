//! The real `instance-node` binary with the `whatsapp` engine, on a machine where WhatsApp is
//! unreachable (this one): it registers, reports a first QR code or a clear "cannot reach
//! WhatsApp" (`disconnected`, reason `unreachable`) within a bounded time, and then stays calm:
//! its CPU time over 30 s offline must stay small (no reconnect spin). On a machine that does
//! reach WhatsApp the first QR arrives instead, and the calm part holds the same.
//!
//! It also prints the node's idle RSS, the figure the README reports; point
//! `ZAPINI_TEST_NODE_BIN` at a release build (`target/release/instance-node`) to measure that
//! one instead of the test profile's binary.

use crate::common;

use std::time::{Duration, Instant};

use common::{FakeCp, SECRET};
use uuid::Uuid;
use zapini_proto::v1;

/// utime + stime of a process, in clock ticks (Linux `/proc/<pid>/stat`).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name may hold spaces; fields restart after the closing parenthesis.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // state is field 3 overall, so utime (14) and stime (15) are at 11 and 12 here.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 on every Linux we run on).
fn ticks_per_sec() -> u64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_whatsapp_node_reports_clearly_and_stays_calm() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let cp = FakeCp::start().await;
    let instance = Uuid::new_v4();
    let dir = tempfile::tempdir().unwrap();
    let bin = std::env::var("ZAPINI_TEST_NODE_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_instance-node").to_owned());
    let mut child = tokio::process::Command::new(bin)
        .env("ZAPINI_INSTANCE_ID", instance.to_string())
        .env("ZAPINI_NODE_CREDENTIAL", SECRET)
        .env("ZAPINI_CONTROL_PLANE_GRPC", cp.url())
        .env("ZAPINI_CONTROL_PLANE_URL", "http://127.0.0.1:9")
        .env("ZAPINI_DATA_DIR", dir.path())
        .env("ZAPINI_ENGINE", "whatsapp")
        .env("ZAPINI_WA_UNREACHABLE_SECS", "10")
        .env("RUST_LOG", "warn")
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let started = Instant::now();

    // Bounded: the unreachable deadline (10 s) plus the client's 20 s connect timeout at most.
    let limit = Duration::from_secs(45);
    let first = loop {
        let found = {
            let st = cp.state.lock().unwrap();
            st.events.values().find_map(|e| match &e.kind {
                Some(v1::event::Kind::Qr(_)) => Some("qr".to_owned()),
                Some(v1::event::Kind::Connection(c))
                    if c.status == "disconnected" && c.reason == "unreachable" =>
                {
                    Some("unreachable".to_owned())
                }
                _ => None,
            })
        };
        if let Some(f) = found {
            break f;
        }
        assert!(
            started.elapsed() < limit,
            "no QR and no unreachable status within {limit:?}"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the node exited: {status}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let reported_after = started.elapsed();
    eprintln!("first report: {first} after {reported_after:?}");

    // The session directory exists and holds the session store.
    assert!(dir.path().join("whatsapp").join("whatsapp.db").exists());

    // Calm while offline: CPU time over 30 s.
    let window = Duration::from_secs(30);
    let before = cpu_ticks(pid);
    tokio::time::sleep(window).await;
    let used = cpu_ticks(pid) - before;
    let hz = ticks_per_sec();
    let cpu_ms = used * 1000 / hz;
    let rss = rss_kib(pid);
    eprintln!(
        "offline: {cpu_ms} ms CPU in {}s ({:.2}% of one core), RSS {:.1} MiB",
        window.as_secs(),
        cpu_ms as f64 / window.as_millis() as f64 * 100.0,
        rss as f64 / 1024.0
    );
    assert!(
        cpu_ms < 1_500,
        "the offline node used {cpu_ms} ms CPU in 30 s: it spins"
    );
    assert!(
        child.try_wait().unwrap().is_none(),
        "the node must keep running"
    );

    // Still reported as such (no flapping between statuses while offline).
    if first == "unreachable" {
        let st = cp.state.lock().unwrap();
        let connected = st.events.values().any(
            |e| matches!(&e.kind, Some(v1::event::Kind::Connection(c)) if c.status == "connected"),
        );
        assert!(!connected);
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
}
