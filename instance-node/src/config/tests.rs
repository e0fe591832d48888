use super::*;
use std::collections::HashMap;
use std::time::Duration;

fn load(vars: &[(&str, &str)]) -> Result<NodeConfig, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    NodeConfig::from_lookup(|k| map.get(k).cloned())
}

const ID: &str = "550e8400-e29b-41d4-a716-446655440000";
const CRED: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn the_credential_and_the_deprecated_node_secret() {
    let c = load(&[("ZAPINI_INSTANCE_ID", ID), ("ZAPINI_NODE_CREDENTIAL", CRED)]).unwrap();
    assert_eq!(c.credential, CRED);
    assert!(c.warnings.is_empty());
    let e = load(&[
        ("ZAPINI_INSTANCE_ID", ID),
        ("ZAPINI_NODE_CREDENTIAL", "short"),
    ])
    .unwrap_err();
    assert_eq!(e.setting, "ZAPINI_NODE_CREDENTIAL");
    // The node secret alone: the node derives its own credential and presents only that.
    let c = load(&[
        ("ZAPINI_INSTANCE_ID", ID),
        ("ZAPINI_NODE_SECRET", "master-secret-0123456789"),
    ])
    .unwrap();
    assert_eq!(
        c.credential,
        zapini_shared::node_auth::node_credential(
            b"master-secret-0123456789",
            Uuid::parse_str(ID).unwrap()
        )
    );
    assert!(c.warnings[0].contains("deprecated"), "{:?}", c.warnings);
    // Both: the credential wins, and the secret is reported as left over.
    let c = load(&[
        ("ZAPINI_INSTANCE_ID", ID),
        ("ZAPINI_NODE_CREDENTIAL", CRED),
        ("ZAPINI_NODE_SECRET", "master-secret-0123456789"),
    ])
    .unwrap();
    assert_eq!(c.credential, CRED);
    assert_eq!(c.warnings.len(), 1);
}

#[test]
fn grpc_tls_settings() {
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("x.pem");
    std::fs::write(&pem, "-").unwrap();
    let pem_str = pem.to_str().unwrap();
    let base = [("ZAPINI_INSTANCE_ID", ID), ("ZAPINI_NODE_CREDENTIAL", CRED)];
    let c = load(&base).unwrap();
    assert_eq!(c.grpc_tls, GrpcTls::default());
    assert_eq!(c.grpc_public_url, None);
    let mut vars = base.to_vec();
    vars.extend([
        ("ZAPINI_NODE_GRPC_TLS_CERT", pem_str),
        ("ZAPINI_NODE_GRPC_TLS_KEY", pem_str),
        ("ZAPINI_GRPC_TLS_CA", pem_str),
        (
            "ZAPINI_NODE_GRPC_PUBLIC_URL",
            "https://node-1.internal:7001/",
        ),
    ]);
    let c = load(&vars).unwrap();
    assert_eq!(c.grpc_tls.server, Some((pem.clone(), pem.clone())));
    assert_eq!(c.grpc_tls.ca, Some(pem.clone()));
    assert_eq!(
        c.grpc_public_url.as_deref(),
        Some("https://node-1.internal:7001")
    );
    for (vars, setting) in [
        (
            vec![("ZAPINI_NODE_GRPC_TLS_CERT", pem_str)],
            "ZAPINI_NODE_GRPC_TLS_KEY",
        ),
        (
            vec![("ZAPINI_NODE_GRPC_TLS_KEY", pem_str)],
            "ZAPINI_NODE_GRPC_TLS_CERT",
        ),
        (
            vec![("ZAPINI_GRPC_TLS_CA", "/nonexistent.pem")],
            "ZAPINI_GRPC_TLS_CA",
        ),
        (
            vec![("ZAPINI_NODE_GRPC_PUBLIC_URL", "node-1:7001")],
            "ZAPINI_NODE_GRPC_PUBLIC_URL",
        ),
    ] {
        let mut all = base.to_vec();
        all.extend(vars);
        assert_eq!(load(&all).unwrap_err().setting, setting);
    }
}

#[test]
fn defaults() {
    let c = load(&[("ZAPINI_INSTANCE_ID", ID), ("ZAPINI_NODE_CREDENTIAL", CRED)]).unwrap();
    assert_eq!(c.control_plane_grpc, "http://127.0.0.1:9090");
    assert_eq!(c.control_plane_url.as_str(), "http://127.0.0.1:8080/");
    assert_eq!(c.http_addr.port(), 0);
    assert_eq!(c.data_dir, PathBuf::from(format!("./data/nodes/{ID}")));
    assert_eq!(c.engine, EngineKind::Sandbox);
    assert!(!c.allow_private_urls);
    assert_eq!(c.sandbox_receipts, ReceiptMode::Auto);
    assert_eq!(c.worker_threads, 2);
    assert_eq!(c.send_ack, SendAck::Written);
    assert!(c.warnings.is_empty());
}

#[test]
fn errors_name_the_variable() {
    let e = load(&[("ZAPINI_NODE_CREDENTIAL", CRED)]).unwrap_err();
    assert_eq!(e.setting, "ZAPINI_INSTANCE_ID");
    let e = load(&[
        ("ZAPINI_INSTANCE_ID", "nope"),
        ("ZAPINI_NODE_CREDENTIAL", CRED),
    ])
    .unwrap_err();
    assert_eq!(e.setting, "ZAPINI_INSTANCE_ID");
    let e = load(&[("ZAPINI_INSTANCE_ID", ID)]).unwrap_err();
    assert_eq!(e.setting, "ZAPINI_NODE_CREDENTIAL");
    let base = [("ZAPINI_INSTANCE_ID", ID), ("ZAPINI_NODE_CREDENTIAL", CRED)];
    for (var, value) in [
        ("ZAPINI_ENGINE", "foo"),
        ("ZAPINI_WA_WS_URL", "https://web.whatsapp.com"),
        ("ZAPINI_WA_UNREACHABLE_SECS", "0"),
        ("ZAPINI_WA_WATCHDOG_SECS", "5"),
        ("ZAPINI_WA_MEDIA_MAX_MB", "0"),
        ("ZAPINI_WA_MEDIA_MAX_MB", "lots"),
        ("ZAPINI_PACING", "sometimes"),
        ("ZAPINI_PACING_NEW_CHATS_PER_HOUR", "-1"),
        ("ZAPINI_PACING_TYPING_MAX_MS", "10"),
        ("ZAPINI_HTTP_ADDR", "localhost"),
        ("ZAPINI_NODE_GRPC_ADDR", "1.2.3.4"),
        ("ZAPINI_ALLOW_PRIVATE_URLS", "maybe"),
        ("ZAPINI_SANDBOX_RECEIPTS", "sometimes"),
        ("ZAPINI_WORKER_THREADS", "0"),
        ("ZAPINI_DURABLE_SENDS", "sometimes"),
        ("ZAPINI_SEND_ACK", "fsync"),
        ("ZAPINI_SEND_ACK", "true"),
        ("ZAPINI_CONTROL_PLANE_URL", "ftp://x"),
        ("ZAPINI_CONTROL_PLANE_GRPC", "not a url"),
        ("ZAPINI_PUBLIC_URL", "nope"),
    ] {
        let mut vars = base.to_vec();
        vars.push((var, value));
        let e = load(&vars).unwrap_err();
        assert_eq!(e.setting, var, "{var}={value}");
        assert!(e.to_string().contains(var));
    }
}

#[test]
fn whatsapp_engine_and_its_settings() {
    let c = load(&[
        ("ZAPINI_INSTANCE_ID", ID),
        ("ZAPINI_NODE_CREDENTIAL", CRED),
        ("ZAPINI_ENGINE", "whatsapp"),
    ])
    .unwrap();
    assert_eq!(c.engine, EngineKind::Whatsapp);
    assert_eq!(c.whatsapp, WhatsappSettings::default());
    assert!(c.whatsapp.pacing.enabled);
    let c = load(&[
        ("ZAPINI_INSTANCE_ID", ID),
        ("ZAPINI_NODE_CREDENTIAL", CRED),
        ("ZAPINI_ENGINE", "whatsapp"),
        ("ZAPINI_WA_WS_URL", "ws://127.0.0.1:9/ws/chat"),
        ("ZAPINI_WA_UNREACHABLE_SECS", "5"),
        ("ZAPINI_WA_MEDIA_MAX_MB", "16"),
        ("ZAPINI_PACING_RECIPIENT_GAP_MS", "1500"),
        ("ZAPINI_PACING_NEW_CHATS_PER_HOUR", "0"),
        ("ZAPINI_PACING_TYPING", "false"),
    ])
    .unwrap();
    assert_eq!(
        c.whatsapp.ws_url.as_deref(),
        Some("ws://127.0.0.1:9/ws/chat")
    );
    assert_eq!(c.whatsapp.unreachable_after, Duration::from_secs(5));
    assert_eq!(c.whatsapp.media_max_bytes, 16 * 1024 * 1024);
    assert_eq!(c.whatsapp.pacing.recipient_gap, Duration::from_millis(1500));
    assert_eq!(c.whatsapp.pacing.new_chats_per_hour, 0);
    assert!(!c.whatsapp.pacing.typing);
}

#[test]
fn send_ack_modes_and_the_deprecated_alias() {
    let base = [("ZAPINI_INSTANCE_ID", ID), ("ZAPINI_NODE_CREDENTIAL", CRED)];
    let with = |extra: &[(&str, &str)]| {
        let mut vars = base.to_vec();
        vars.extend_from_slice(extra);
        load(&vars).unwrap()
    };
    for (value, mode) in [
        ("written", SendAck::Written),
        ("synced", SendAck::Synced),
        (" None ", SendAck::None),
    ] {
        let c = with(&[("ZAPINI_SEND_ACK", value)]);
        assert_eq!(c.send_ack, mode, "{value}");
        assert!(c.warnings.is_empty());
    }
    // The old boolean still works, with a warning naming the replacement.
    let c = with(&[("ZAPINI_DURABLE_SENDS", "true")]);
    assert_eq!(c.send_ack, SendAck::Synced);
    assert!(
        c.warnings[0].contains("ZAPINI_SEND_ACK=synced"),
        "{:?}",
        c.warnings
    );
    let c = with(&[("ZAPINI_DURABLE_SENDS", "false")]);
    assert_eq!(c.send_ack, SendAck::None);
    assert!(
        c.warnings[0].contains("ZAPINI_SEND_ACK=none"),
        "{:?}",
        c.warnings
    );
    // The new setting wins over the old one.
    let c = with(&[
        ("ZAPINI_SEND_ACK", "written"),
        ("ZAPINI_DURABLE_SENDS", "true"),
    ]);
    assert_eq!(c.send_ack, SendAck::Written);
    assert_eq!(c.warnings.len(), 1);
}

#[test]
fn explicit_values() {
    let c = load(&[
        ("ZAPINI_INSTANCE_ID", ID),
        ("ZAPINI_NODE_CREDENTIAL", CRED),
        ("ZAPINI_ALLOW_PRIVATE_URLS", "true"),
        ("ZAPINI_SANDBOX_RECEIPTS", "manual"),
        ("ZAPINI_WORKER_THREADS", "4"),
        ("ZAPINI_PUBLIC_URL", "https://instance-1.example.com/"),
        ("ZAPINI_HTTP_ADDR", "0.0.0.0:8081"),
    ])
    .unwrap();
    assert!(c.allow_private_urls);
    assert_eq!(c.sandbox_receipts, ReceiptMode::Manual);
    assert_eq!(c.worker_threads, 4);
    assert_eq!(
        c.public_url.as_deref(),
        Some("https://instance-1.example.com")
    );
    assert_eq!(c.http_addr.port(), 8081);
}
