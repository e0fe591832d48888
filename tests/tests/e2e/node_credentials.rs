//! Per-node credentials on the real control plane: a node's credential opens its own instance
//! on every `ControlPlane` call and on the media fetch, and nothing else; the node secret
//! itself is not accepted from a node. Called directly with a tonic client, as a rogue node
//! would.

use std::time::Duration;

use futures::StreamExt as _;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tonic::Code;
use tonic::metadata::MetadataValue;
use uuid::Uuid;
use zapini_e2e::{Api, ControlPlane, NODE_SECRET, config, node_credential};
use zapini_proto::v1;
use zapini_proto::v1::control_plane_client::ControlPlaneClient;

type Client = ControlPlaneClient<tonic::transport::Channel>;

fn with_bearer<T>(msg: T, credential: Option<&str>) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    if let Some(c) = credential {
        let value: MetadataValue<_> = format!("Bearer {c}").parse().unwrap();
        req.metadata_mut().insert("authorization", value);
    }
    req.set_timeout(Duration::from_secs(10));
    req
}

fn register_req(instance: Uuid, buffer_id: &str) -> v1::RegisterRequest {
    v1::RegisterRequest {
        instance_uuid: instance.to_string(),
        node_id: Uuid::new_v4().to_string(),
        http_url: "http://127.0.0.1:9".into(),
        grpc_url: "http://127.0.0.1:9".into(),
        engine: "sandbox".into(),
        protocol_version: zapini_proto::PROTOCOL_VERSION,
        buffer_id: buffer_id.into(),
    }
}

async fn register(
    c: &mut Client,
    instance: Uuid,
    credential: Option<&str>,
) -> Result<String, tonic::Status> {
    c.register(with_bearer(register_req(instance, "buf-1"), credential))
        .await
        .map(|r| r.into_inner().lease_id)
}

async fn open_stream(
    c: &mut Client,
    instance: Uuid,
    lease_id: &str,
    credential: Option<&str>,
) -> Result<(), tonic::Status> {
    let hello = v1::NodeMessage {
        kind: Some(v1::node_message::Kind::Hello(v1::StreamHello {
            instance_uuid: instance.to_string(),
            lease_id: lease_id.to_owned(),
            buffer_id: "buf-1".into(),
        })),
    };
    // The hello, then nothing more until the test ends (an open stream, as a node keeps it).
    let messages = futures::stream::iter([hello]).chain(futures::stream::pending());
    c.events(with_bearer(messages, credential))
        .await
        .map(|_| ())
}

async fn authorize(
    c: &mut Client,
    instance: Uuid,
    token: &str,
    credential: Option<&str>,
) -> Result<v1::AuthorizeTokenResponse, tonic::Status> {
    c.authorize_token(with_bearer(
        v1::AuthorizeTokenRequest {
            token_hash: zapini_shared::signing::sha256_hex(token.as_bytes()),
            instance_uuid: instance.to_string(),
            user_token_id: 0,
        },
        credential,
    ))
    .await
    .map(|r| r.into_inner())
}

fn refused(result: Result<impl std::fmt::Debug, tonic::Status>, what: &str) {
    match result {
        Ok(v) => panic!("{what}: accepted ({v:?})"),
        Err(status) => assert!(
            matches!(
                status.code(),
                Code::Unauthenticated | Code::PermissionDenied
            ),
            "{what}: {status:?}"
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_credential_opens_its_own_instance_only() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(config(dir.path()).await.unwrap())
        .await
        .unwrap();
    let api = Api::default();
    let user = api.login(&cp).await;
    let (_, a) = api.create_instance(&cp, &user, "a").await;
    let (b_id, b) = api.create_instance(&cp, &user, "b").await;
    let cred_a = node_credential(a);
    let cred_b = node_credential(b);
    let sk_b = api.create_sk_token(&cp, &user, b_id).await;
    let mut c = ControlPlaneClient::connect(cp.grpc_url()).await.unwrap();

    // Register: A's credential registers A, and neither it, the node secret nor nothing
    // registers B.
    let lease_a = register(&mut c, a, Some(&cred_a)).await.unwrap();
    refused(register(&mut c, b, Some(&cred_a)).await, "register B as A");
    refused(
        register(&mut c, b, Some(NODE_SECRET)).await,
        "register B with the node secret",
    );
    refused(
        register(&mut c, b, None).await,
        "register B without a credential",
    );
    let lease_b = register(&mut c, b, Some(&cred_b)).await.unwrap();

    // Renew: B's lease cannot be renewed (or probed) with A's credential.
    let renew = |instance: Uuid, lease: &str, cred: &str| {
        with_bearer(
            v1::RenewLeaseRequest {
                instance_uuid: instance.to_string(),
                lease_id: lease.to_owned(),
            },
            Some(cred),
        )
    };
    refused(
        c.renew_lease(renew(b, &lease_b, &cred_a)).await,
        "renew B's lease as A",
    );
    refused(
        c.renew_lease(renew(b, &lease_b, NODE_SECRET)).await,
        "renew B's lease with the node secret",
    );
    assert!(
        c.renew_lease(renew(a, &lease_a, &cred_a))
            .await
            .unwrap()
            .into_inner()
            .renewed
    );

    // The event stream: A cannot open B's stream (and so cannot inject B's events).
    refused(
        open_stream(&mut c, b, &lease_b, Some(&cred_a)).await,
        "B's events stream as A",
    );
    refused(
        open_stream(&mut c, b, &lease_b, Some(NODE_SECRET)).await,
        "B's events stream with the node secret",
    );
    open_stream(&mut c, b, &lease_b, Some(&cred_b))
        .await
        .expect("B's own stream opens");

    // Token checks: A cannot test tokens against B.
    refused(
        authorize(&mut c, b, &sk_b, Some(&cred_a)).await,
        "authorize B's token as A",
    );
    refused(
        authorize(&mut c, b, &sk_b, Some(NODE_SECRET)).await,
        "authorize with the node secret",
    );
    assert!(
        authorize(&mut c, b, &sk_b, Some(&cred_b))
            .await
            .unwrap()
            .allowed
    );

    // The media fetch (HTTP): a library file for B's tenant, fetched for B.
    let form = Form::new().part(
        "file",
        Part::bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n".to_vec()).file_name("a.pdf"),
    );
    let uploaded: Value = api
        .client
        .post(cp.url("/api/v1/media/upload"))
        .bearer_auth(&user)
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let media_id = uploaded["data"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("upload: {uploaded}"))
        .to_owned();
    let fetch = |cred: Option<String>| {
        let mut req = api
            .client
            .get(cp.url(&format!("/internal/media/{media_id}")))
            .header("x-zapini-instance", b.to_string());
        if let Some(cred) = cred {
            req = req.bearer_auth(cred);
        }
        async move {
            let resp = req.send().await.unwrap();
            let status = resp.status().as_u16();
            let body = resp.bytes().await.unwrap();
            (status, body)
        }
    };
    for (cred, what) in [
        (Some(cred_a.clone()), "A's credential"),
        (Some(NODE_SECRET.to_owned()), "the node secret"),
        (None, "no credential"),
    ] {
        let (status, body) = fetch(cred).await;
        assert_eq!(status, 401, "media fetch for B with {what}: {body:?}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "UNAUTHENTICATED", "{body}");
    }
    let (status, body) = fetch(Some(cred_b.clone())).await;
    assert_eq!(status, 200);
    assert!(body.starts_with(b"%PDF"));
    cp.stop().await;
}

/// `control-plane node-credential --instance <uuid>` prints what the launcher would give the
/// node: derived from the configured node secret, or the one kept in the data directory.
#[test]
fn the_cli_prints_an_instance_s_node_credential() {
    let bin = zapini_e2e::target_bin("control-plane").expect("the control-plane binary is built");
    let instance = Uuid::new_v4();
    let out = std::process::Command::new(&bin)
        .args(["node-credential", "--instance", &instance.to_string()])
        .env_clear()
        .env("ZAPINI_NODE_SECRET", NODE_SECRET)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        node_credential(instance)
    );

    let dir = tempfile::tempdir().unwrap();
    let kept = "kept-in-the-data-dir-0123456789";
    std::fs::write(dir.path().join("node_secret"), kept).unwrap();
    let out = std::process::Command::new(&bin)
        .args(["node-credential", "--instance", &instance.to_string()])
        .env_clear()
        .env("ZAPINI_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        zapini_shared::node_auth::node_credential(kept.as_bytes(), instance)
    );

    // No secret anywhere: an error, not a fresh secret nobody's nodes know.
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(&bin)
        .args(["node-credential", "--instance", &instance.to_string()])
        .env_clear()
        .env("ZAPINI_DATA_DIR", empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!empty.path().join("node_secret").exists());
}
