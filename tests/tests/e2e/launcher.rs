//! The `process` launcher with real `instance-node` child processes: launched on instance
//! creation, relaunched after a crash, stopped on deletion, launched again after a
//! control-plane restart.

use std::time::Duration;

use control_plane::config::LauncherKind;
use reqwest::Method;
use zapini_e2e::process::{node_pids, sigkill};
use zapini_e2e::{Api, ControlPlane, config, eventually, node_bin};

const T: Duration = Duration::from_secs(30);

async fn node_answers(api: &Api, cp: &ControlPlane, user: &str, id: i64) -> bool {
    let (status, body) = api
        .call(
            Method::GET,
            &cp.url(&format!("/api/v1/instances/{id}/status?realtime=true")),
            Some(user),
            None,
            None,
        )
        .await;
    status == 200 && body["data"]["realtime"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_launcher_runs_restarts_and_stops_real_nodes() {
    let Some(bin) = node_bin() else {
        panic!(
            "instance-node is not built next to the tests; run `cargo build -p instance-node` (cargo test --workspace builds it)"
        );
    };
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path()).await.unwrap();
    cfg.launcher = LauncherKind::Process;
    cfg.node_bin = Some(bin);
    let cp = ControlPlane::start(cfg).await.unwrap();
    let api = Api::default();
    let user = api.login(&cp).await;

    let (id, uuid) = api.create_instance(&cp, &user, "launched").await;
    eventually(T, "launched node registers", || async {
        node_answers(&api, &cp, &user, id).await.then_some(())
    })
    .await;
    let pids = node_pids(uuid);
    assert_eq!(pids.len(), 1, "exactly one node process: {pids:?}");
    let first = pids[0];

    // Crash it: the launcher starts a new one, which takes over the lease.
    sigkill(first);
    eventually(T, "node relaunched after a crash", || async {
        let pids = node_pids(uuid);
        (pids.len() == 1 && pids[0] != first && node_answers(&api, &cp, &user, id).await)
            .then_some(())
    })
    .await;
    let second = node_pids(uuid)[0];

    // A control-plane restart stops its children and launches every instance again.
    let cp = cp.restart().await.unwrap();
    eventually(
        T,
        "node launched again after a control-plane restart",
        || async {
            let pids = node_pids(uuid);
            (pids.len() == 1 && pids[0] != second && node_answers(&api, &cp, &user, id).await)
                .then_some(())
        },
    )
    .await;

    // Deleting the instance stops its node.
    let (status, body) = api
        .call(
            Method::DELETE,
            &cp.url(&format!("/api/v1/instances/{id}")),
            Some(&user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(T, "node stopped after deletion", || async {
        node_pids(uuid).is_empty().then_some(())
    })
    .await;
    cp.stop().await;
}

/// A node started with `ZAPINI_EXIT_WITH_PARENT=1` stops when its parent dies, so a killed
/// control plane leaves no orphan nodes holding leases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_exits_when_its_parent_dies() {
    let bin = node_bin().expect("instance-node is built next to the tests");
    let dir = tempfile::tempdir().unwrap();
    let instance = uuid::Uuid::new_v4();
    // The shell starts the node in the background and exits a second later: orphaned.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("\"$NODE\" >/dev/null 2>&1 & echo $!; sleep 1")
        .env("NODE", &bin)
        .env("ZAPINI_INSTANCE_ID", instance.to_string())
        .env("ZAPINI_NODE_SECRET", "orphan-test-secret-0123456789")
        .env("ZAPINI_CONTROL_PLANE_GRPC", "http://127.0.0.1:9")
        .env("ZAPINI_DATA_DIR", dir.path())
        .env("ZAPINI_EXIT_WITH_PARENT", "1")
        .output()
        .unwrap();
    let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.contains(") Z "))
            .unwrap_or(false)
    };
    let gone = eventually(Duration::from_secs(10), "orphaned node exits", || async {
        (!alive()).then_some(())
    });
    let guard = scopeguard(pid);
    gone.await;
    drop(guard);
}

/// Kills `pid` on drop, so a failing test leaves nothing running.
fn scopeguard(pid: u32) -> impl Drop {
    struct Kill(u32);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = std::process::Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .status();
        }
    }
    Kill(pid)
}
