//! Nodes as an attacker on the same host would see them: the real control-plane binary with
//! the process launcher starts nodes whose environment holds none of its secrets, keeps every
//! file private, and on deletion logs the session out and removes the node's directory; and
//! the gRPC link runs over TLS in both directions when configured.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use control_plane::config::{DatabaseTarget, TlsFiles};
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use tonic::metadata::MetadataValue;
use uuid::Uuid;
use zapini_e2e::process::{Binary, free_port, node_processes, wait_healthy};
use zapini_e2e::{
    ADMIN_EMAIL, ADMIN_PASSWORD, Api, ControlPlane, Node, config, eventually, node_bin,
    node_credential, target_bin,
};
use zapini_proto::v1;
use zapini_proto::v1::instance_node_client::InstanceNodeClient;

const T: Duration = Duration::from_secs(60);

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Every directory under `root` (itself included) is 0700 and every file 0600; returns how
/// many files were checked.
fn assert_private_tree(root: &Path) -> usize {
    let meta = std::fs::symlink_metadata(root).unwrap();
    if meta.is_dir() {
        assert_eq!(mode(root), 0o700, "{}", root.display());
        std::fs::read_dir(root)
            .unwrap()
            .map(|e| assert_private_tree(&e.unwrap().path()))
            .sum()
    } else {
        assert_eq!(mode(root), 0o600, "{}", root.display());
        1
    }
}

fn count_files(root: &Path) -> usize {
    match std::fs::read_dir(root) {
        Ok(entries) => entries
            .flatten()
            .map(|e| {
                let path = e.path();
                if path.is_dir() { count_files(&path) } else { 1 }
            })
            .sum(),
        Err(_) => 0,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn launched_nodes_hold_no_secrets_keep_private_files_and_go_with_their_instance() {
    let bin = target_bin("control-plane").expect("the control-plane binary is built");
    let node = node_bin().expect("the instance-node binary is built");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // The run mode (SQLite, or a fresh PostgreSQL database and Redis prefix) from the harness.
    let cfg = config(dir.path()).await.unwrap();
    let database_url = match &cfg.database {
        DatabaseTarget::Postgres(url) => url.expose_secret().to_owned(),
        DatabaseTarget::Sqlite(_) => format!("sqlite:{}", data.join("zapini.db").display()),
    };
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let node_secret = "launcher-env-node-secret-0123456789";
    let secrets: Vec<(&str, String)> = vec![
        ("ZAPINI_NODE_SECRET", node_secret.to_owned()),
        (
            "ZAPINI_SECRET_KEY",
            "c2VhbGluZy1rZXktb2YtdGhlLWNvbnRyb2wtcGxhbmU=".to_owned(),
        ),
        (
            "ZAPINI_S3_ACCESS_KEY_ID",
            "s3-access-id-e2e-7731".to_owned(),
        ),
        (
            "ZAPINI_S3_SECRET_ACCESS_KEY",
            "s3-secret-access-key-e2e-7731".to_owned(),
        ),
        (
            "ZAPINI_TRANSCRIPTION_API_KEY",
            "transcription-api-key-e2e-7731".to_owned(),
        ),
        ("ZAPINI_ADMIN_PASSWORD", ADMIN_PASSWORD.to_owned()),
        ("DATABASE_URL", database_url.clone()),
        ("UNRELATED_VARIABLE", "unrelated-value-e2e-7731".to_owned()),
    ];
    let mut child = std::process::Command::new(bin);
    child
        .env_remove("DATABASE_URL")
        .env_remove("REDIS_URL")
        .env("ZAPINI_DATA_DIR", &data)
        .env("ZAPINI_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("ZAPINI_GRPC_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("ZAPINI_ADMIN_EMAIL", ADMIN_EMAIL)
        .env("ZAPINI_LAUNCHER", "process")
        .env("ZAPINI_NODE_BIN", &node)
        .env("ZAPINI_LEASE_TTL_SECS", "5")
        // Operator settings for every node: passed on.
        .env("ZAPINI_WA_PUSH_NAME", "passed-on-e2e")
        .env("ZAPINI_SANDBOX_RECEIPTS", "manual")
        .env("RUST_LOG", "warn")
        .envs(secrets.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let redis = cfg.redis_url.as_ref().map(|u| u.expose_secret().to_owned());
    if let Some(url) = &redis {
        child
            .env("REDIS_URL", url)
            .env("ZAPINI_REDIS_PREFIX", &cfg.redis_prefix);
    }
    let _cp = Binary(child.spawn().expect("control plane starts"));
    let api = Api::default();
    wait_healthy(&api.client, &base).await;
    let user = api.login_at(&base).await;
    let (id, uuid) = api.create_instance_at(&base, &user, "hardened").await;

    // The launched node registers with its own credential (so the control plane reaches it).
    eventually(T, "launched node registered", || async {
        let (status, body) = api
            .call(
                Method::GET,
                &format!("{base}/api/v1/instances/{id}/status?realtime=true"),
                Some(&user),
                None,
                None,
            )
            .await;
        (status == 200 && body["data"]["realtime"] == true).then_some(())
    })
    .await;

    // Its environment: its own credential and the operator's node settings, no secret of ours.
    let procs = node_processes(uuid);
    assert_eq!(procs.len(), 1, "one node process");
    let (pid, environ) = &procs[0];
    let vars: Vec<String> = environ
        .split(|b| *b == 0)
        .filter(|kv| !kv.is_empty())
        .map(|kv| String::from_utf8_lossy(kv).into_owned())
        .collect();
    let credential = zapini_shared::node_auth::node_credential(node_secret.as_bytes(), uuid);
    assert!(
        vars.contains(&format!("ZAPINI_NODE_CREDENTIAL={credential}")),
        "{vars:?}"
    );
    assert!(vars.contains(&"ZAPINI_WA_PUSH_NAME=passed-on-e2e".to_owned()));
    assert!(vars.contains(&"RUST_LOG=warn".to_owned()));
    for (name, value) in &secrets {
        assert!(
            !vars.iter().any(|kv| kv.starts_with(&format!("{name}="))),
            "{name} reached node {pid}: {vars:?}"
        );
        assert!(
            !vars.iter().any(|kv| kv.contains(value.as_str())),
            "the value of {name} reached node {pid}: {vars:?}"
        );
    }
    if let Some(url) = &redis {
        assert!(!vars.iter().any(|kv| kv.contains(url.as_str())), "{vars:?}");
    }
    for prefix in [
        "ZAPINI_S3_",
        "ZAPINI_TRANSCRIPTION_",
        "ZAPINI_ADMIN_",
        "REDIS_URL=",
    ] {
        assert!(
            !vars.iter().any(|kv| kv.starts_with(prefix)),
            "{prefix}: {vars:?}"
        );
    }

    // A library file, so the media directory has something in it.
    let form = Form::new().part(
        "file",
        Part::bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n".to_vec()).file_name("a.pdf"),
    );
    let uploaded: Value = api
        .client
        .post(format!("{base}/api/v1/media/upload"))
        .bearer_auth(&user)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(uploaded["data"]["id"].is_string(), "{uploaded}");

    // Files: the data directory, the database, nodes and media are the service user's alone.
    assert_eq!(mode(&data), 0o700);
    if let DatabaseTarget::Sqlite(_) = cfg.database {
        for name in ["zapini.db", "zapini.db-wal", "zapini.db-shm"] {
            assert_eq!(mode(&data.join(name)), 0o600, "{name}");
        }
    }
    assert_eq!(mode(&data.join("nodes")), 0o700);
    let node_dir = data.join("nodes").join(uuid.to_string());
    // Its buffer id, and the event buffer's first segment once the QR event is written.
    eventually(T, "the node's buffer id and event segment", || async {
        (count_files(&node_dir) >= 2).then_some(())
    })
    .await;
    assert_private_tree(&node_dir);
    assert!(assert_private_tree(&data.join("media")) >= 1);

    // Deleting the instance stops its node and removes its directory.
    let (status, body) = api
        .call(
            Method::DELETE,
            &format!("{base}/api/v1/instances/{id}"),
            Some(&user),
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    eventually(T, "node process gone after deletion", || async {
        node_processes(uuid).is_empty().then_some(())
    })
    .await;
    eventually(T, "node directory removed after deletion", || async {
        (!node_dir.exists()).then_some(())
    })
    .await;
}

/// The node's `InstanceNode` client, as the control plane calls it.
async fn node_status(node: &Node, uuid: Uuid) -> v1::StatusResponse {
    let mut client = InstanceNodeClient::connect(format!("http://{}", node.grpc_addr))
        .await
        .unwrap();
    let mut req = tonic::Request::new(v1::Empty {});
    let value: MetadataValue<_> = format!("Bearer {}", node_credential(uuid)).parse().unwrap();
    req.metadata_mut().insert("authorization", value);
    client.get_status(req).await.unwrap().into_inner()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_instance_logs_its_session_out_first() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path()).await.unwrap();
    // Renewals every 20 s: the node outlives the deletion long enough to be asked.
    cfg.lease_ttl_secs = 60;
    let cp = ControlPlane::start(cfg).await.unwrap();
    let api = Api::default();
    let user = api.login(&cp).await;
    let (id, uuid) = api.create_instance(&cp, &user, "to-delete").await;
    let sk = api.create_sk_token(&cp, &user, id).await;
    let node = Node::start(cp.node_config(uuid, &dir.path().join("node")))
        .await
        .unwrap();
    eventually(T, "node offering a QR", || async {
        let (status, body) = api
            .call(
                Method::GET,
                &cp.url(&format!("/api/v1/instances/{id}/qr")),
                Some(&user),
                None,
                None,
            )
            .await;
        (status == 200 && body["data"]["status"] == "qr_ready").then_some(())
    })
    .await;
    let (status, body) = api
        .call(
            Method::POST,
            &node.url("/sandbox/scan"),
            Some(&sk),
            None,
            Some(json!({"phone_number": "5511900000042"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(node_status(&node, uuid).await.status, "connected");

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
    // The deletion answered after the node logged out: the pairing is gone.
    let after = node_status(&node, uuid).await;
    assert_eq!(after.status, "disconnected", "{after:?}");
    assert_eq!(after.reason, "logged_out", "{after:?}");
    assert!(after.phone_number.is_empty(), "{after:?}");
    node.stop().await;
    cp.stop().await;
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, written as PEM files.
fn certificate(dir: &Path, name: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    (cert_path, key_path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_grpc_link_runs_over_tls_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let (cp_cert, cp_key) = certificate(dir.path(), "control-plane");
    let (node_cert, node_key) = certificate(dir.path(), "node");
    let mut cfg = config(dir.path()).await.unwrap();
    cfg.grpc_tls = Some(TlsFiles {
        cert: cp_cert.clone(),
        key: cp_key,
    });
    // The control plane trusts the node's certificate, the node the control plane's.
    cfg.grpc_tls_ca = Some(node_cert.clone());
    let cp = ControlPlane::start(cfg).await.unwrap();
    let api = Api::default();
    let user = api.login(&cp).await;
    let (id, uuid) = api.create_instance(&cp, &user, "tls").await;

    // Plain HTTP/2 is not answered on the TLS listener.
    let mut plain = zapini_proto::v1::control_plane_client::ControlPlaneClient::new(
        tonic::transport::Endpoint::from_shared(cp.grpc_url())
            .unwrap()
            .connect_lazy(),
    );
    let mut req = tonic::Request::new(v1::RenewLeaseRequest {
        instance_uuid: uuid.to_string(),
        lease_id: "x".into(),
    });
    req.set_timeout(Duration::from_secs(5));
    let value: MetadataValue<_> = format!("Bearer {}", node_credential(uuid)).parse().unwrap();
    req.metadata_mut().insert("authorization", value);
    let err = plain.renew_lease(req).await.unwrap_err();
    // How the transport reports the TLS listener hanging up on cleartext depends on timing
    // (the connection fails, or the request on it is cancelled); never an answer.
    assert!(
        matches!(
            err.code(),
            tonic::Code::Unavailable
                | tonic::Code::Unknown
                | tonic::Code::Internal
                | tonic::Code::Cancelled
        ),
        "{err:?}"
    );

    let mut node_cfg = cp.node_config(uuid, &dir.path().join("node"));
    node_cfg.control_plane_grpc = format!("https://{}", cp.grpc_addr);
    node_cfg.grpc_tls.ca = Some(cp_cert);
    node_cfg.grpc_tls.server = Some((node_cert, node_key));
    let node = Node::start(node_cfg).await.unwrap();

    // It registers over TLS, and the control plane reaches its TLS server for live status.
    eventually(T, "node registered over TLS and reachable", || async {
        let (status, body) = api
            .call(
                Method::GET,
                &cp.url(&format!("/api/v1/instances/{id}/status?realtime=true")),
                Some(&user),
                None,
                None,
            )
            .await;
        (status == 200 && body["data"]["realtime"] == true).then_some(())
    })
    .await;
    // The node's server speaks TLS only.
    let mut plain_node = InstanceNodeClient::new(
        tonic::transport::Endpoint::from_shared(format!("http://{}", node.grpc_addr))
            .unwrap()
            .connect_lazy(),
    );
    let mut req = tonic::Request::new(v1::Empty {});
    req.set_timeout(Duration::from_secs(5));
    assert!(plain_node.get_status(req).await.is_err());
    node.stop().await;
    cp.stop().await;
}
