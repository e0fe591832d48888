//! An `sk_` token acts for its instance only: it reads the tenant's tags but cannot create,
//! change or delete them, and the counts it sees are its instance's.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::assert_error;
use crate::inbox_setup::Inbox;

fn vip_count(list: &Value) -> &Value {
    &list["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "VIP")
        .unwrap_or_else(|| panic!("VIP in {list}"))["conversations_count"]
}

#[tokio::test]
async fn instance_tokens_read_tenant_tags_and_count_their_own_instance() {
    let t = Inbox::new().await;
    let other = t.app.create_instance(&t.token, "Other").await;
    let other_uuid = other["uuid"].as_str().unwrap().to_owned();
    let sk = t.app.create_sk(&t.token, &t.instance["id"]).await;

    t.inbound("5511900000001", "MSG-A", "hello from a").await;
    let jid = "5511900000002@s.whatsapp.net";
    t.report_to(
        &other_uuid,
        "incoming",
        json!({
            "remoteJid": jid,
            "message": {"conversation": "hello from b"},
            "messageTimestamp": chrono::Utc::now().timestamp(),
            "pushName": "Bea",
            "key": {"remoteJid": jid, "fromMe": false, "id": "MSG-B"}
        }),
    )
    .await;
    let conv_a = t.conversation_of("5511900000001").await;
    let conv_b = t.conversation_of("5511900000002").await;

    let (status, body) = t
        .call(
            Method::POST,
            "/tags",
            Some(json!({"name": "VIP", "color": "#f59e0b"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let vip = body["data"]["tag"]["id"].as_str().unwrap().to_owned();
    for conv in [&conv_a, &conv_b] {
        let (status, body) = t
            .call(
                Method::PUT,
                &format!("/conversations/{conv}/tags"),
                Some(json!({"tag_ids": [vip]})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    // The user token counts the whole tenant; the sk_ token its instance only.
    assert_eq!(*vip_count(&t.get("/tags").await), 2);
    let (status, list) = t.call_as(&sk, Method::GET, "/tags", None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(*vip_count(&list), 1);
    let (status, one) = t
        .call_as(&sk, Method::GET, &format!("/tags/{vip}"), None)
        .await;
    assert_eq!(status, 200, "{one}");
    assert_eq!(one["data"]["tag"]["conversations_count"], 1);

    // Tenant-wide tags are read-only to it.
    for (method, path, body) in [
        (
            Method::POST,
            "/tags".to_owned(),
            Some(json!({"name": "Mine", "color": "#000000"})),
        ),
        (
            Method::PATCH,
            format!("/tags/{vip}"),
            Some(json!({"name": "Renamed"})),
        ),
        (
            Method::PUT,
            format!("/tags/{vip}"),
            Some(json!({"color": "#ffffff"})),
        ),
        (Method::DELETE, format!("/tags/{vip}"), None),
    ] {
        let mut req = t.app.req(method.clone(), &path, Some(&sk));
        if let Some(b) = body {
            req = req.json(&b);
        }
        assert_error(req.send().await.unwrap(), 403, "FORBIDDEN").await;
    }
    let got = t.get(&format!("/tags/{vip}")).await;
    assert_eq!(got["data"]["tag"]["name"], "VIP");
    assert_eq!(got["data"]["tag"]["color"], "#f59e0b");
    assert_eq!(
        t.get("/tags").await["data"]["tags"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // It still tags its own instance's conversations, and not the other's.
    let (status, body) = t
        .call_as(
            &sk,
            Method::PUT,
            &format!("/conversations/{conv_a}/tags"),
            Some(json!({"tag_ids": []})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = t
        .call_as(
            &sk,
            Method::PUT,
            &format!("/conversations/{conv_b}/tags"),
            Some(json!({"tag_ids": []})),
        )
        .await;
    assert_eq!(status, 404);
    let (_, list) = t.call_as(&sk, Method::GET, "/tags", None).await;
    assert_eq!(*vip_count(&list), 0);
    assert_eq!(*vip_count(&t.get("/tags").await), 1);
    t.app.stop().await;
}
