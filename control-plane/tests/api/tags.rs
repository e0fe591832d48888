//! Tags: CRUD, validation, unique names per tenant, conversation tags (replace, clear), the
//! tag filters of the conversation list, and deletion removing a tag everywhere.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::assert_error;
use crate::inbox_setup::Inbox;

async fn tag(t: &Inbox, name: &str, color: &str) -> String {
    let (status, body) = t
        .call(
            Method::POST,
            "/tags",
            Some(json!({"name": name, "color": color})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["message"], "Tag created successfully");
    assert_eq!(body["data"]["tag"]["conversations_count"], 0);
    body["data"]["tag"]["id"].as_str().unwrap().to_owned()
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tag_crud_and_validation() {
    let t = Inbox::new().await;
    let vip = tag(&t, "VIP", "#F59E0B").await;
    let got = t.get(&format!("/tags/{vip}")).await;
    assert_eq!(got["data"]["tag"]["color"], "#f59e0b");

    for (body, field) in [
        (json!({"color": "#ffffff"}), "name"),
        (json!({"name": "x".repeat(51), "color": "#ffffff"}), "name"),
        (json!({"name": "Ok"}), "color"),
        (json!({"name": "Ok", "color": "red"}), "color"),
        (json!({"name": "Ok", "color": "#12345"}), "color"),
    ] {
        let resp = t.app.post("/api/v1/tags", &t.token, body).await;
        let err = assert_error(resp, 422, "VALIDATION_ERROR").await;
        assert!(err["error"]["details"][field].is_array(), "{err}");
    }
    let resp = t
        .app
        .post(
            "/tags",
            &t.token,
            json!({"name": "VIP", "color": "#000000"}),
        )
        .await;
    assert_error(resp, 409, "DUPLICATE_ENTRY").await;

    // Another tenant may use the same name.
    let other = t.app.other_tenant_token("tags-other@test.local").await;
    let (status, _) = t
        .call_as(
            &other,
            Method::POST,
            "/tags",
            Some(json!({"name": "VIP", "color": "#000000"})),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = t
        .call_as(&other, Method::GET, &format!("/tags/{vip}"), None)
        .await;
    assert_eq!(status, 404);

    let support = tag(&t, "Support", "#3b82f6").await;
    let (status, body) = t
        .call(
            Method::PATCH,
            &format!("/tags/{support}"),
            Some(json!({"name": "Very Important", "color": "#dc2626"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["tag"]["name"], "Very Important");
    let (status, _) = t
        .call(
            Method::PATCH,
            &format!("/tags/{support}"),
            Some(json!({"name": "VIP"})),
        )
        .await;
    assert_eq!(status, 409);

    let list = t.get("/tags").await;
    let names: Vec<&str> = list["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Very Important", "VIP"]);
    t.app.stop().await;
}

#[tokio::test]
async fn conversation_tags_filters_and_deletion() {
    let t = Inbox::new().await;
    t.inbound("5511900000001", "A1", "one").await;
    t.inbound("5511900000002", "B1", "two").await;
    t.inbound("5511900000003", "C1", "three").await;
    let a = t.conversation_of("5511900000001").await;
    let b = t.conversation_of("5511900000002").await;
    let c = t.conversation_of("5511900000003").await;
    let vip = tag(&t, "VIP", "#f59e0b").await;
    let support = tag(&t, "Support", "#3b82f6").await;

    let (status, body) = t
        .call(
            Method::PUT,
            &format!("/conversations/{a}/tags"),
            Some(json!({"tag_ids": [vip, support]})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Conversation tags updated");
    assert_eq!(body["data"]["tags"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"]["tags"][0]["name"], "Support");
    assert_eq!(body["data"]["tags"][0]["color"], "#3b82f6");
    t.call(
        Method::PUT,
        &format!("/conversations/{b}/tags"),
        Some(json!({"tag_ids": [support]})),
    )
    .await;
    // Replacing, not adding.
    let (_, body) = t
        .call(
            Method::PUT,
            &format!("/conversations/{b}/tags"),
            Some(json!({"tag_ids": [vip]})),
        )
        .await;
    assert_eq!(body["data"]["tags"][0]["name"], "VIP");

    let resp = t
        .app
        .req(
            Method::PUT,
            &format!("/conversations/{c}/tags"),
            Some(&t.token),
        )
        .json(&json!({"tag_ids": [uuid::Uuid::new_v4()]}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 422, "VALIDATION_ERROR").await;
    let resp = t
        .app
        .req(
            Method::PUT,
            &format!("/conversations/{c}/tags"),
            Some(&t.token),
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(resp, 422, "VALIDATION_ERROR").await;

    let counted = t.get(&format!("/tags/{vip}")).await;
    assert_eq!(counted["data"]["tag"]["conversations_count"], 2);

    let mut by_vip = ids(&t.get(&format!("/conversations?tag_id={vip}")).await);
    by_vip.sort();
    let mut want = vec![a.clone(), b.clone()];
    want.sort();
    assert_eq!(by_vip, want);
    assert_eq!(
        ids(&t.get(&format!("/conversations?tag_ids={support}")).await),
        [a.as_str()]
    );
    let mut both = ids(&t
        .get(&format!(
            "/conversations?tag_ids[]={support}&tag_ids[]={vip}"
        ))
        .await);
    both.sort();
    assert_eq!(both, want);
    assert_eq!(
        ids(&t
            .get(&format!(
                "/conversations?tag_ids={support},{vip}&search=0001"
            ))
            .await),
        [a.as_str()]
    );
    assert_eq!(
        ids(&t.get("/conversations?untagged=true").await),
        [c.as_str()]
    );
    let resp = t.app.get("/conversations?tag_id=nope", &t.token).await;
    assert_error(resp, 422, "VALIDATION_ERROR").await;

    let with_tags = t.get("/conversations?include_tags=true").await;
    let row_a = with_tags["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == a.as_str())
        .unwrap();
    assert_eq!(row_a["tags"].as_array().unwrap().len(), 2);
    let plain = t.get("/conversations").await;
    assert!(plain["data"][0].get("tags").is_none());

    // Clearing with an empty array, and deleting a tag removes it everywhere.
    let (_, body) = t
        .call(
            Method::PUT,
            &format!("/conversations/{b}/tags"),
            Some(json!({"tag_ids": []})),
        )
        .await;
    assert_eq!(body["data"]["tags"], json!([]));
    let (status, body) = t.call(Method::DELETE, &format!("/tags/{vip}"), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["message"], "Tag deleted successfully");
    let shown = t.get(&format!("/conversations/{a}")).await;
    let tags: Vec<&str> = shown["data"]["tags"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(tags, ["Support"]);
    let mut untagged = ids(&t.get("/conversations?untagged=1").await);
    untagged.sort();
    let mut want = vec![b, c];
    want.sort();
    assert_eq!(untagged, want);
    t.app.stop().await;
}
