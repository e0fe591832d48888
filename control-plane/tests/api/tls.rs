//! With ZAPINI_TLS_CERT / ZAPINI_TLS_KEY the listener speaks HTTPS (rustls).

use control_plane::config::TlsFiles;
use serde_json::Value;

use crate::helpers::{apply_env, spawn_with_config, test_config};

#[tokio::test]
async fn serves_https_with_configured_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let cert_path = dir.path().join("cert.pem");
    let key_path = dir.path().join("key.pem");
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
    let mut config = test_config(dir.path());
    apply_env(&mut config).await;
    config.tls = Some(TlsFiles {
        cert: cert_path,
        key: key_path,
    });
    let app = spawn_with_config(config, dir).await;
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .build()
        .unwrap();
    let url = format!("https://localhost:{}/health", app.addr.port());
    let body: Value = client.get(&url).send().await.unwrap().json().await.unwrap();
    assert_eq!(body["status"], "ok");
    // Plain HTTP on the TLS port does not get an API answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{}/health", app.addr.port()))
        .send()
        .await;
    assert!(plain.is_err() || !plain.unwrap().status().is_success());
    app.stop().await;
}
