//! Tenant isolation and `sk_` scoping for every inbox route: a table of routes walked with
//! another tenant's token (everything answers 404, and nothing changes) and with an `sk_`
//! token of another instance of the same tenant.

use reqwest::Method;
use serde_json::{Value, json};

use crate::inbox_setup::Inbox;

struct Ids {
    conv: String,
    msg: String,
    msg_uuid: String,
    contact: String,
    tag: String,
    flow: String,
    integration: String,
    instance: String,
}

/// (method, path, body) for every route of the inbox that names a resource.
fn routes(ids: &Ids) -> Vec<(Method, String, Value)> {
    let Ids {
        conv,
        msg,
        msg_uuid,
        contact,
        tag,
        flow,
        integration,
        instance,
    } = ids;
    let none = json!({});
    let mut r = Vec::new();
    for p in ["", "/api/v1"] {
        r.extend([
            (
                Method::GET,
                format!("{p}/conversations/{conv}"),
                none.clone(),
            ),
            (
                Method::GET,
                format!("{p}/conversations/{conv}/messages"),
                none.clone(),
            ),
            (
                Method::POST,
                format!("{p}/conversations/{conv}/mark-read"),
                none.clone(),
            ),
            (
                Method::POST,
                format!("{p}/conversations/{conv}/archive"),
                none.clone(),
            ),
            (
                Method::DELETE,
                format!("{p}/conversations/{conv}/archive"),
                none.clone(),
            ),
            (
                Method::PUT,
                format!("{p}/conversations/{conv}/tags"),
                json!({"tag_ids": []}),
            ),
            (
                Method::GET,
                format!("{p}/conversations/{conv}/automation"),
                none.clone(),
            ),
            (
                Method::POST,
                format!("{p}/conversations/{conv}/automation/pause"),
                none.clone(),
            ),
            (
                Method::POST,
                format!("{p}/conversations/{conv}/automation/resume"),
                none.clone(),
            ),
            (
                Method::DELETE,
                format!("{p}/conversations/{conv}"),
                none.clone(),
            ),
            (
                Method::GET,
                format!("{p}/chat/conversations/{conv}"),
                none.clone(),
            ),
            (
                Method::GET,
                format!("{p}/chat/conversations/{conv}/messages"),
                none.clone(),
            ),
            (
                Method::POST,
                format!("{p}/chat/conversations/{conv}/mark-read"),
                none.clone(),
            ),
            (
                Method::POST,
                format!("{p}/chat/conversations/{conv}/archive"),
                none.clone(),
            ),
            (
                Method::DELETE,
                format!("{p}/chat/conversations/{conv}/archive"),
                none.clone(),
            ),
            (
                Method::POST,
                format!("{p}/chat/conversations/{conv}/pause-automation"),
                none.clone(),
            ),
            (
                Method::POST,
                format!("{p}/chat/conversations/{conv}/resume-automation"),
                none.clone(),
            ),
            (
                Method::PATCH,
                format!("{p}/chat/messages/{msg}"),
                json!({"message": "x"}),
            ),
            (
                Method::PATCH,
                format!("{p}/chat/messages/{msg_uuid}"),
                json!({"message": "x"}),
            ),
            (
                Method::DELETE,
                format!("{p}/chat/messages/{msg}"),
                none.clone(),
            ),
            (
                Method::POST,
                format!("{p}/chat/messages/{msg}/reaction"),
                json!({"emoji": "👍"}),
            ),
            (
                Method::DELETE,
                format!("{p}/chat/messages/{msg}/reaction"),
                none.clone(),
            ),
            (
                Method::GET,
                format!("{p}/chat/messages/{msg}/transcription"),
                none.clone(),
            ),
            (
                Method::POST,
                format!("{p}/chat/messages/{msg}/transcription"),
                none.clone(),
            ),
            (Method::GET, format!("{p}/contacts/{contact}"), none.clone()),
            (
                Method::PUT,
                format!("{p}/contacts/{contact}"),
                json!({"name": "x"}),
            ),
            (
                Method::DELETE,
                format!("{p}/contacts/{contact}"),
                none.clone(),
            ),
            (Method::GET, format!("{p}/tags/{tag}"), none.clone()),
            (
                Method::PATCH,
                format!("{p}/tags/{tag}"),
                json!({"name": "x"}),
            ),
            (Method::DELETE, format!("{p}/tags/{tag}"), none.clone()),
            (
                Method::PATCH,
                format!("{p}/automation/flows/{flow}"),
                json!({"is_active": false}),
            ),
            (
                Method::DELETE,
                format!("{p}/automation/flows/{flow}"),
                none.clone(),
            ),
            (
                Method::PATCH,
                format!("{p}/automation/integrations/{integration}"),
                json!({"is_active": false}),
            ),
            (
                Method::DELETE,
                format!("{p}/automation/integrations/{integration}"),
                none.clone(),
            ),
            (
                Method::GET,
                format!("{p}/instances/{instance}/inbox-settings"),
                none.clone(),
            ),
            (
                Method::PUT,
                format!("{p}/instances/{instance}/inbox-settings"),
                json!({"auto_transcribe": true}),
            ),
            (
                Method::POST,
                format!("{p}/chat/send"),
                json!({"instance_id": instance, "recipient": "5511900000001", "message": "x"}),
            ),
            (
                Method::POST,
                format!("{p}/contacts"),
                json!({"instance_id": instance, "phone_number": "5511900000009"}),
            ),
            (
                Method::POST,
                format!("{p}/contacts/import"),
                json!({"instance_id": instance, "contacts": [{"phone_number": "5511900000008"}]}),
            ),
            (
                Method::POST,
                format!("{p}/automation/flows"),
                json!({"instance_id": instance, "name": "x"}),
            ),
        ]);
    }
    r
}

async fn seed(t: &Inbox) -> Ids {
    t.inbound("5511900000001", "WAMSG1", "secret").await;
    let conv = t.conversation_of("5511900000001").await;
    let h = t.get(&format!("/conversations/{conv}/messages")).await;
    let msg_uuid = h["data"]["messages"][0]["uuid"]
        .as_str()
        .unwrap()
        .to_owned();
    let contact = t.get("/contacts").await["data"][0]["id"].to_string();
    let (_, tag) = t
        .call(
            Method::POST,
            "/tags",
            Some(json!({"name": "Mine", "color": "#000000"})),
        )
        .await;
    let (_, flow) = t
        .call(
            Method::POST,
            "/automation/flows",
            Some(json!({"instance_id": t.uuid, "name": "f", "is_active": false})),
        )
        .await;
    let (_, integration) = t
        .call(
            Method::POST,
            "/automation/integrations",
            Some(json!({"instance_id": t.uuid, "name": "i", "is_active": false})),
        )
        .await;
    Ids {
        conv,
        msg: "WAMSG1".into(),
        msg_uuid,
        contact,
        tag: tag["data"]["tag"]["id"].as_str().unwrap().to_owned(),
        flow: flow["data"]["id"].as_str().unwrap().to_owned(),
        integration: integration["data"]["id"].as_str().unwrap().to_owned(),
        instance: t.uuid.clone(),
    }
}

#[tokio::test]
async fn another_tenant_gets_404_everywhere_and_changes_nothing() {
    let t = Inbox::new().await;
    let ids = seed(&t).await;
    let other = t.app.other_tenant_token("iso-other@test.local").await;
    t.app.create_instance(&other, "Theirs").await;
    for (method, path, body) in routes(&ids) {
        let (status, resp) = t.call_as(&other, method.clone(), &path, Some(body)).await;
        assert_eq!(status, 404, "{method} {path}: {resp}");
        assert_eq!(resp["success"], false, "{method} {path}");
        let code = resp["error"]["code"].as_str().unwrap();
        assert!(
            code == "NOT_FOUND" || code == "INSTANCE_NOT_FOUND",
            "{method} {path}: {code}"
        );
    }
    // Lists of the other tenant show none of ours.
    for path in [
        "/conversations",
        "/conversations/archived",
        "/chat/conversations",
        "/contacts",
        "/contacts/export",
        "/automation/flows",
        "/automation/integrations",
    ] {
        let (status, body) = t.call_as(&other, Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            body["data"].as_array().unwrap().is_empty(),
            "{path}: {body}"
        );
    }
    let (_, tags) = t.call_as(&other, Method::GET, "/tags", None).await;
    assert!(tags["data"]["tags"].as_array().unwrap().is_empty());
    // Everything of ours is intact.
    let conv = t.get(&format!("/conversations/{}", ids.conv)).await;
    assert_eq!(conv["data"]["is_archived"], false);
    assert_eq!(
        t.get(&format!("/tags/{}", ids.tag)).await["data"]["tag"]["name"],
        "Mine"
    );
    assert!(t.get(&format!("/contacts/{}", ids.contact)).await["data"]["name"].is_null());
    t.app.stop().await;
}

#[tokio::test]
async fn sk_token_of_another_instance_reaches_nothing_of_this_one() {
    let t = Inbox::new().await;
    let ids = seed(&t).await;
    let sibling = t.app.create_instance(&t.token, "Sibling").await;
    let sk = t.app.create_sk(&t.token, &sibling["id"]).await;
    for (method, path, body) in routes(&ids) {
        // Tags are the tenant's, shared by its instances.
        if path.contains("/tags/") && !path.contains("/conversations/") {
            continue;
        }
        let (status, resp) = t.call_as(&sk, method.clone(), &path, Some(body)).await;
        let code = resp["error"]["code"].as_str().unwrap_or_default();
        assert!(
            (status == 404 && code == "NOT_FOUND")
                || (status == 403 && code == "INSTANCE_FORBIDDEN"),
            "{method} {path}: {status} {resp}"
        );
    }
    let (_, list) = t.call_as(&sk, Method::GET, "/conversations", None).await;
    assert!(list["data"].as_array().unwrap().is_empty());
    let (status, _) = t
        .call_as(
            &sk,
            Method::GET,
            &format!("/conversations?instance_id={}", t.uuid),
            None,
        )
        .await;
    assert_eq!(status, 403);
    // Its own instance's data is reachable with it.
    let own = t.app.create_sk(&t.token, &t.instance["id"]).await;
    let (status, body) = t
        .call_as(
            &own,
            Method::GET,
            &format!("/conversations/{}/messages", ids.conv),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    t.app.stop().await;
}
