//! Bearer tokens on the hot path: cached control-plane answers, 401/403/503, revocation.

use crate::common;

use common::{FakeCp, TestNode, error_code};
use serde_json::json;
use uuid::Uuid;
use zapini_proto::v1;
use zapini_shared::signing::sha256_hex;

#[tokio::test]
async fn missing_and_unknown_tokens_are_401() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    let resp = node.http.get(node.url("/status")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(error_code(&body), "UNAUTHENTICATED");

    let (status, body) = node.post_as("/send-message", "sk_nope", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["message"], "Invalid token.");
    let (status, _) = node.post_as("/send-message", "garbage", json!({})).await;
    assert_eq!(status, 401);
    node.shutdown().await;
}

#[tokio::test]
async fn token_of_another_instance_is_403() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    cp.other_instance_token("sk_other", Uuid::new_v4());
    let (status, body) = node.post_as("/send-message", "sk_other", json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_code(&body), "INSTANCE_FORBIDDEN");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("another instance")
    );
    node.shutdown().await;
}

#[tokio::test]
async fn answers_are_cached_single_flight_and_revocations_evict() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    node.wait_ready(&cp).await;
    let token = "sk_burst_token";
    cp.allow_token(token, node.instance);

    let mut tasks = Vec::new();
    for _ in 0..32 {
        let http = node.http.clone();
        let url = node.url("/status");
        tasks.push(tokio::spawn(async move {
            http.get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let calls_after_burst = cp.state.lock().unwrap().authorize_calls;
    // One call for this token (TestNode's own token was never used here).
    assert_eq!(calls_after_burst, 1);

    // Revoked: the push evicts the cached answer; the next check asks again and is denied.
    cp.wait_until("an open stream", |_| cp.stream_count() > 0)
        .await;
    cp.revoke(token);
    let mut denied = false;
    for _ in 0..200 {
        let resp = node
            .http
            .get(node.url("/status"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        if resp.status() == 401 {
            denied = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        denied,
        "a revoked token must stop working well before the 60 s TTL"
    );
    node.shutdown().await;
}

#[tokio::test]
async fn user_tokens_send_the_hash_of_the_secret_and_the_id() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    cp.state.lock().unwrap().tokens.insert(
        sha256_hex(b"usersecret"),
        v1::AuthorizeTokenResponse {
            allowed: true,
            token_id: "7".into(),
            kind: "user".into(),
            ..Default::default()
        },
    );
    let resp = node
        .http
        .get(node.url("/status"))
        .bearer_auth("7|usersecret")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    node.shutdown().await;
}

#[tokio::test]
async fn control_plane_down_and_nothing_cached_is_503() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    node.wait_ready(&cp).await;
    // Cache the test token, then take the control plane away.
    assert_eq!(node.get("/status").await.0, 200);
    cp.stop().await;
    let (status, body) = node
        .post_as("/send-message", "sk_never_seen", json!({}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(error_code(&body), "SERVICE_UNAVAILABLE");
    // The cached token keeps working: the hot path does not need the control plane.
    assert_eq!(node.get("/status").await.0, 200);
    node.shutdown().await;
}
