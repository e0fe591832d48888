//! The `InstanceNode` gRPC service, called as the control plane would.

use crate::common;

use common::{FakeCp, SECRET, TestNode};
use tonic::metadata::MetadataValue;
use zapini_proto::v1;
use zapini_proto::v1::instance_node_client::InstanceNodeClient;

async fn client(node: &TestNode) -> InstanceNodeClient<tonic::transport::Channel> {
    InstanceNodeClient::connect(format!("http://{}", node.grpc))
        .await
        .unwrap()
}

fn authed<T>(msg: T) -> tonic::Request<T> {
    let mut req = tonic::Request::new(msg);
    let value: MetadataValue<_> = format!("Bearer {SECRET}").parse().unwrap();
    req.metadata_mut().insert("authorization", value);
    req
}

#[tokio::test]
async fn requires_the_node_secret() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    let mut c = client(&node).await;
    let err = c.get_status(v1::Empty {}).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    node.shutdown().await;
}

#[tokio::test]
async fn status_qr_send_and_errors() {
    let cp = FakeCp::start().await;
    let node = TestNode::start(&cp).await;
    node.wait_ready(&cp).await;
    let mut c = client(&node).await;

    let qr = c.get_qr(authed(v1::Empty {})).await.unwrap().into_inner();
    assert_eq!(qr.status, "qr_ready");
    assert!(qr.code.starts_with("2@"));

    let err = c
        .send_text(authed(v1::SendTextRequest {
            to: "5511999999999".into(),
            text: "hi".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition);

    let (status, _) = node
        .post(
            "/sandbox/scan",
            serde_json::json!({"phone_number": "5511900000001"}),
        )
        .await;
    assert_eq!(status, 200);
    let st = c
        .get_status(authed(v1::Empty {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.status, "connected");
    assert_eq!(st.phone_number, "5511900000001");

    let sent = c
        .send_text(authed(v1::SendTextRequest {
            to: "5511999999999@s.whatsapp.net".into(),
            text: "hi".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!sent.message_id.is_empty());

    let sent = c
        .send_media(authed(v1::SendMediaRequest {
            to: "5511999999999".into(),
            media_type: "document".into(),
            data: b"%PDF-1.4".to_vec(),
            filename: "a.pdf".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!sent.message_id.is_empty());

    let err = c
        .send_text(authed(v1::SendTextRequest {
            to: "not a number".into(),
            text: "hi".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    let err = c
        .get_group(authed(v1::GroupRef {
            group_jid: "123456789-123@g.us".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::NotFound);

    let checks = c
        .check_numbers(authed(v1::CheckNumbersRequest {
            phone_numbers: vec!["5511999999999".into(), "5511912340000".into()],
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(checks.results[0].exists);
    assert!(!checks.results[1].exists);

    let group = c
        .create_group(authed(v1::CreateGroupRequest {
            subject: "Team".into(),
            participants: vec!["5511999999999".into()],
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(group.jid.ends_with("@g.us"));
    let link = c
        .get_invite_link(authed(v1::GroupRef {
            group_jid: group.jid.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(link.url.ends_with(&link.code));

    let st = c
        .disconnect(authed(v1::Empty {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.status, "disconnected");
    let st = c
        .reconnect(authed(v1::Empty {}))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(st.status, "connected");
    node.shutdown().await;
}

#[tokio::test]
async fn grpc_sends_count_toward_the_daily_limit() {
    let cp = FakeCp::start().await;
    cp.set_policy(v1::Policy {
        daily_limit: 1,
        messages_sent_today: 0,
        automation_active: true,
        paused_chats: vec![],
        day: chrono::Utc::now()
            .date_naive()
            .format("%Y-%m-%d")
            .to_string(),
    });
    let node = TestNode::paired(&cp).await;
    let mut c = client(&node).await;
    let req = || {
        authed(v1::SendTextRequest {
            to: "5511999999999".into(),
            text: "hi".into(),
            bypass_automation: true,
            ..Default::default()
        })
    };
    c.send_text(req()).await.unwrap();
    let err = c.send_text(req()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    node.shutdown().await;
}
