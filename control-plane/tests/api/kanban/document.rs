//! Real answers of every Kanban route, and their errors, against the served document.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Kanban, uuid_of};
use crate::document::{assert_documented, mismatches};

#[tokio::test]
async fn answers_match_the_document() {
    let k = Kanban::new().await;
    let (_, doc) = k.call(Method::GET, "/openapi.json", None).await;
    let check = |method: &str, template: &str, status: u16, body: &Value| {
        assert_documented(&doc, method, template, status, body)
    };
    let call = |method: Method, path: String, body: Option<Value>| {
        let k = &k;
        async move { k.call(method, &path, body).await }
    };

    let (s, board) = call(
        Method::POST,
        "/kanban/boards".into(),
        Some(json!({"name": "Sales", "instance_id": k.t.uuid})),
    )
    .await;
    check("post", "/kanban/boards", s, &board);
    let b = uuid_of(&board["data"]);
    let col = uuid_of(&board["data"]["columns"][1]);
    // The check has teeth: a wrong type does not match.
    let mut wrong = board.clone();
    wrong["data"]["stats"]["conversion_rate"] = json!("66.7");
    assert!(!mismatches(&doc, "post", "/kanban/boards", 201, &wrong).is_empty());

    let (s, body) = call(Method::GET, "/kanban/boards".into(), None).await;
    check("get", "/kanban/boards", s, &body);
    let (s, body) = call(Method::GET, format!("/kanban/boards/{b}"), None).await;
    check("get", "/kanban/boards/{uuid}", s, &body);
    let (s, body) = call(
        Method::PUT,
        format!("/kanban/boards/{b}"),
        Some(json!({"description": "Main"})),
    )
    .await;
    check("put", "/kanban/boards/{uuid}", s, &body);
    let (s, body) = call(Method::GET, format!("/kanban/boards/{b}/columns"), None).await;
    check("get", "/kanban/boards/{uuid}/columns", s, &body);
    let order: Vec<String> = body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(uuid_of)
        .collect();
    let (s, extra) = call(
        Method::POST,
        format!("/kanban/boards/{b}/columns"),
        Some(json!({"name": "Extra"})),
    )
    .await;
    check("post", "/kanban/boards/{uuid}/columns", s, &extra);
    let mut all = order.clone();
    all.push(uuid_of(&extra["data"]));
    all.reverse();
    let (s, body) = call(
        Method::POST,
        format!("/kanban/boards/{b}/columns/reorder"),
        Some(json!({"order": all})),
    )
    .await;
    check("post", "/kanban/boards/{uuid}/columns/reorder", s, &body);
    let (s, body) = call(
        Method::POST,
        format!("/kanban/boards/{b}/columns/reorder"),
        Some(json!({"order": order})),
    )
    .await;
    check("post", "/kanban/boards/{uuid}/columns/reorder", s, &body);
    assert_eq!(s, 422);
    let (s, body) = call(
        Method::PUT,
        format!("/kanban/columns/{col}"),
        Some(json!({"color": "#000000"})),
    )
    .await;
    check("put", "/kanban/columns/{uuid}", s, &body);

    let (s, lead) = call(
        Method::POST,
        "/kanban/leads".into(),
        Some(
            json!({"board_uuid": b, "title": "Deal", "value": 299, "phone_number": "5511999999999",
                    "priority": "high", "notes": "n", "custom_fields": {"plan": "pro"}}),
        ),
    )
    .await;
    check("post", "/kanban/leads", s, &lead);
    let l = uuid_of(&lead["data"]);
    let (s, body) = call(
        Method::GET,
        format!("/kanban/boards/{b}/leads?status=all"),
        None,
    )
    .await;
    check("get", "/kanban/boards/{uuid}/leads", s, &body);
    let (s, body) = call(Method::GET, format!("/kanban/leads/{l}"), None).await;
    check("get", "/kanban/leads/{uuid}", s, &body);
    let (s, body) = call(
        Method::PUT,
        format!("/kanban/leads/{l}"),
        Some(json!({"value": null})),
    )
    .await;
    check("put", "/kanban/leads/{uuid}", s, &body);
    let (s, body) = call(
        Method::POST,
        format!("/kanban/leads/{l}/move"),
        Some(json!({"column_uuid": col})),
    )
    .await;
    check("post", "/kanban/leads/{uuid}/move", s, &body);
    let (s, body) = call(
        Method::POST,
        format!("/kanban/leads/{l}/note"),
        Some(json!({"content": "c"})),
    )
    .await;
    check("post", "/kanban/leads/{uuid}/note", s, &body);
    let (s, body) = call(
        Method::POST,
        format!("/kanban/leads/{l}/lost"),
        Some(json!({"reason": "r"})),
    )
    .await;
    check("post", "/kanban/leads/{uuid}/lost", s, &body);
    let (s, body) = call(Method::POST, format!("/kanban/leads/{l}/won"), None).await;
    check("post", "/kanban/leads/{uuid}/won", s, &body);
    let (s, body) = call(Method::GET, format!("/kanban/leads/{l}/activities"), None).await;
    check("get", "/kanban/leads/{uuid}/activities", s, &body);
    let (s, body) = call(Method::POST, format!("/kanban/leads/{l}/ai-qualify"), None).await;
    check("post", "/kanban/leads/{uuid}/ai-qualify", s, &body);
    assert_eq!(s, 403);
    let (s, body) = call(
        Method::POST,
        "/kanban/leads".into(),
        Some(json!({"board_uuid": b})),
    )
    .await;
    check("post", "/kanban/leads", s, &body);
    assert_eq!(s, 422);
    let (s, body) = call(Method::DELETE, format!("/kanban/leads/{l}"), None).await;
    check("delete", "/kanban/leads/{uuid}", s, &body);
    let (s, body) = call(Method::GET, format!("/kanban/leads/{l}"), None).await;
    check("get", "/kanban/leads/{uuid}", s, &body);
    assert_eq!(s, 404);
    let (s, body) = call(Method::DELETE, format!("/kanban/columns/{col}"), None).await;
    check("delete", "/kanban/columns/{uuid}", s, &body);
    let (s, body) = call(Method::DELETE, format!("/kanban/boards/{b}"), None).await;
    check("delete", "/kanban/boards/{uuid}", s, &body);
    k.t.app.stop().await;
}
