//! Every Kanban route: 403 `KANBAN_NOT_ENABLED` for a tenant without Kanban, 404 for another
//! tenant's ids (and for another instance's, with an `sk_` token).

use reqwest::Method;
use serde_json::{Value, json};

use super::{Kanban, enable_kanban, uuid_of};

/// The 21 routes with `board`, `column`, `lead` filled in, and a body each accepts.
fn routes(board: &str, column: &str, lead: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, "/api/v1/kanban/boards".into(), None),
        (
            Method::POST,
            "/api/v1/kanban/boards".into(),
            Some(json!({"name": "x"})),
        ),
        (Method::GET, format!("/api/v1/kanban/boards/{board}"), None),
        (
            Method::PUT,
            format!("/api/v1/kanban/boards/{board}"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/kanban/boards/{board}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/kanban/boards/{board}/columns"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/kanban/boards/{board}/columns"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/kanban/boards/{board}/columns/reorder"),
            Some(json!({"order": [column]})),
        ),
        (
            Method::PUT,
            format!("/api/v1/kanban/columns/{column}"),
            Some(json!({"name": "x"})),
        ),
        (
            Method::DELETE,
            format!("/api/v1/kanban/columns/{column}"),
            None,
        ),
        (
            Method::GET,
            format!("/api/v1/kanban/boards/{board}/leads"),
            None,
        ),
        (
            Method::POST,
            "/api/v1/kanban/leads".into(),
            Some(json!({"board_uuid": board, "title": "x"})),
        ),
        (Method::GET, format!("/api/v1/kanban/leads/{lead}"), None),
        (
            Method::PUT,
            format!("/api/v1/kanban/leads/{lead}"),
            Some(json!({"title": "x"})),
        ),
        (Method::DELETE, format!("/api/v1/kanban/leads/{lead}"), None),
        (
            Method::POST,
            format!("/api/v1/kanban/leads/{lead}/move"),
            Some(json!({"column_uuid": column})),
        ),
        (
            Method::POST,
            format!("/api/v1/kanban/leads/{lead}/won"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/kanban/leads/{lead}/lost"),
            Some(json!({"reason": "x"})),
        ),
        (
            Method::POST,
            format!("/api/v1/kanban/leads/{lead}/note"),
            Some(json!({"content": "x"})),
        ),
        (
            Method::GET,
            format!("/api/v1/kanban/leads/{lead}/activities"),
            None,
        ),
        (
            Method::POST,
            format!("/api/v1/kanban/leads/{lead}/ai-qualify"),
            None,
        ),
    ]
}

#[tokio::test]
async fn without_kanban_every_route_is_refused() {
    let k = Kanban::new().await;
    let board = k.board("Sales").await;
    let column = uuid_of(&board["columns"][0]);
    let lead = uuid_of(&k.lead(&uuid_of(&board), "Deal", json!({})).await);
    let other = k.t.app.other_tenant_token("nokanban@test.local").await;
    let all = routes(&uuid_of(&board), &column, &lead);
    assert_eq!(all.len(), 21);
    for (method, path, body) in all {
        let (status, answer) = k.t.call_as(&other, method.clone(), &path, body).await;
        assert_eq!(status, 403, "{method} {path}: {answer}");
        assert_eq!(
            answer["error"]["code"], "KANBAN_NOT_ENABLED",
            "{method} {path}"
        );
        // At the root too.
        let root = path.trim_start_matches("/api/v1");
        let (status, _) = k.t.call_as(&other, method.clone(), root, None).await;
        assert_eq!(status, 403, "{method} {root}");
    }
    // The owner's data is untouched.
    let shown = k.get(&format!("/api/v1/kanban/leads/{lead}")).await;
    assert_eq!(shown["data"]["title"], "Deal");
    k.t.app.stop().await;
}

#[tokio::test]
async fn another_tenants_ids_are_not_found() {
    let k = Kanban::new().await;
    let board = k.board("Sales").await;
    let b = uuid_of(&board);
    let column = uuid_of(&board["columns"][0]);
    let lead = uuid_of(&k.lead(&b, "Deal", json!({"value": 10})).await);
    let other = k.t.app.other_tenant_token("other@test.local").await;
    enable_kanban(&k.t.app, "other@test.local").await;
    let other_instance = k.t.app.create_instance(&other, "Theirs").await;
    let (status, theirs) =
        k.t.call_as(
            &other,
            Method::POST,
            "/api/v1/kanban/boards",
            Some(json!({"name": "Theirs", "instance_id": other_instance["uuid"]})),
        )
        .await;
    assert_eq!(status, 201, "{theirs}");

    for (method, path, body) in routes(&b, &column, &lead) {
        let (status, answer) =
            k.t.call_as(&other, method.clone(), &path, body.clone())
                .await;
        match (method.as_str(), path.as_str()) {
            ("GET", "/api/v1/kanban/boards") => {
                assert_eq!(status, 200);
                let names: Vec<&str> = answer["data"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|b| b["name"].as_str().unwrap())
                    .collect();
                assert_eq!(names, ["Theirs"], "only its own boards");
            }
            ("POST", "/api/v1/kanban/boards") => {
                // Only an instance of this tenant can be named.
                let (status, answer) =
                    k.t.call_as(
                        &other,
                        method.clone(),
                        &path,
                        Some(json!({"name": "x", "instance_id": k.t.uuid})),
                    )
                    .await;
                assert_eq!(status, 404, "{answer}");
                assert_eq!(answer["error"]["code"], "INSTANCE_NOT_FOUND");
            }
            _ => {
                assert_eq!(status, 404, "{method} {path}: {answer}");
                assert_eq!(answer["error"]["code"], "NOT_FOUND", "{method} {path}");
            }
        }
    }
    // Nothing changed for the owner.
    let shown = k.get(&format!("/api/v1/kanban/boards/{b}")).await["data"].clone();
    assert_eq!(shown["name"], "Sales");
    assert_eq!(shown["stats"]["total_leads"], 1);
    assert_eq!(shown["columns"].as_array().unwrap().len(), 5);
    let lead_now = k.get(&format!("/api/v1/kanban/leads/{lead}")).await["data"].clone();
    assert_eq!(
        (lead_now["title"].clone(), lead_now["is_open"].clone()),
        (json!("Deal"), json!(true))
    );
    let activities = k
        .get(&format!("/api/v1/kanban/leads/{lead}/activities"))
        .await;
    assert_eq!(
        activities["meta"]["pagination"]["total"], 1,
        "only `created`"
    );

    // Its own lead cannot be moved into this tenant's column.
    let their_board = uuid_of(&theirs["data"]);
    let (status, their_lead) =
        k.t.call_as(
            &other,
            Method::POST,
            "/api/v1/kanban/leads",
            Some(json!({"board_uuid": their_board, "title": "Mine"})),
        )
        .await;
    assert_eq!(status, 201, "{their_lead}");
    let (status, _) =
        k.t.call_as(
            &other,
            Method::POST,
            &format!("/api/v1/kanban/leads/{}/move", uuid_of(&their_lead["data"])),
            Some(json!({"column_uuid": column})),
        )
        .await;
    assert_eq!(status, 422);
    k.t.app.stop().await;
}

#[tokio::test]
async fn sk_tokens_reach_their_own_instances_boards_only() {
    let k = Kanban::new().await;
    let board = k.board("Sales").await;
    let b = uuid_of(&board);
    let column = uuid_of(&board["columns"][0]);
    let lead = uuid_of(&k.lead(&b, "Deal", json!({})).await);
    let second = k.t.app.create_instance(&k.t.token, "Second").await;
    let sk = k.t.app.create_sk(&k.t.token, &second["id"]).await;
    for (method, path, body) in routes(&b, &column, &lead) {
        let (status, answer) = k.t.call_as(&sk, method.clone(), &path, body).await;
        match (method.as_str(), path.as_str()) {
            ("GET", "/api/v1/kanban/boards") => {
                assert_eq!(status, 200);
                assert_eq!(answer["data"], json!([]));
            }
            // Creates a board on the token's own instance.
            ("POST", "/api/v1/kanban/boards") => assert_eq!(status, 201, "{answer}"),
            _ => assert_eq!(status, 404, "{method} {path}: {answer}"),
        }
    }
    // The token's own instance's default board takes a lead without board_uuid.
    let (status, created) =
        k.t.call_as(
            &sk,
            Method::POST,
            "/api/v1/kanban/leads",
            Some(json!({"title": "Via sk"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["column"]["name"], "New Lead");
    assert_eq!(created["data"]["source"], "api");
    let sk_own = k.t.app.create_sk(&k.t.token, &k.t.instance["id"]).await;
    let (status, _) =
        k.t.call_as(
            &sk_own,
            Method::GET,
            &format!("/api/v1/kanban/leads/{lead}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    k.t.app.stop().await;
}
