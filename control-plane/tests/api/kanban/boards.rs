//! Boards: the default pipeline, one default board per instance, `sk_` tokens on their own
//! instance, validation naming the field, and statistics checked against hand-made numbers.

use chrono::{Duration, Utc};
use control_plane::db::entities::kanban_lead;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::{Kanban, fields, uuid_of};

#[tokio::test]
async fn boards_start_with_the_pipeline_and_one_default_per_instance() {
    let k = Kanban::new().await;
    let first = k.board("Sales Pipeline").await;
    assert_eq!(first["name"], "Sales Pipeline");
    assert_eq!(first["is_default"], true, "the first board is the default");
    assert_eq!(first["instance_id"], k.t.uuid.as_str());
    let columns = first["columns"].as_array().unwrap();
    let names: Vec<&str> = columns
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "New Lead",
            "Contacted",
            "Qualified",
            "Proposal",
            "Negotiation"
        ]
    );
    assert_eq!(columns[0]["color"], "#3B82F6");
    let positions: Vec<i64> = columns
        .iter()
        .map(|c| c["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [0, 1, 2, 3, 4]);
    assert_eq!(first["stats"]["total_leads"], 0);
    assert_eq!(first["stats"]["conversion_rate"], 0.0);

    let second = k.board("Renewals").await;
    assert_eq!(second["is_default"], false);
    let third = k
        .ok(
            Method::POST,
            "/kanban/boards",
            Some(
                json!({"name": "Enterprise", "is_default": true, "instance_id": k.t.instance_id(),
                        "description": "Big deals", "settings": {"wip": 3}}),
            ),
            201,
        )
        .await["data"]
        .clone();
    assert_eq!(third["is_default"], true);
    assert_eq!(third["description"], "Big deals");
    assert_eq!(third["settings"], json!({"wip": 3}));
    let list = k.get("/api/v1/kanban/boards").await["data"].clone();
    let defaults: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["is_default"] == true)
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(defaults, ["Enterprise"], "{list}");

    // The default board cannot simply stop being one; another can take over.
    let (status, body) = k
        .call(
            Method::PUT,
            &format!("/api/v1/kanban/boards/{}", uuid_of(&third)),
            Some(json!({"is_default": false})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["is_default"]);
    let updated = k
        .ok(
            Method::PUT,
            &format!("/api/v1/kanban/boards/{}", uuid_of(&first)),
            Some(json!({"is_default": true, "name": "Main", "description": null})),
            200,
        )
        .await["data"]
        .clone();
    assert_eq!(updated["is_default"], true);
    assert_eq!(updated["name"], "Main");
    let shown = k.get(&format!("/kanban/boards/{}", uuid_of(&third))).await;
    assert_eq!(shown["data"]["is_default"], false);

    // Deleting the default board makes the oldest remaining one the default.
    k.ok(
        Method::DELETE,
        &format!("/api/v1/kanban/boards/{}", uuid_of(&first)),
        None,
        200,
    )
    .await;
    let (status, _) = k
        .call(
            Method::GET,
            &format!("/api/v1/kanban/boards/{}", uuid_of(&first)),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let shown = k.get(&format!("/kanban/boards/{}", uuid_of(&second))).await;
    assert_eq!(shown["data"]["is_default"], true);
    k.t.app.stop().await;
}

#[tokio::test]
async fn fields_are_validated_and_sk_tokens_use_their_instance() {
    let k = Kanban::new().await;
    let (status, body) = k
        .call(
            Method::POST,
            "/api/v1/kanban/boards",
            Some(json!({"name": "  ", "is_default": "yes", "settings": [1]})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let mut f = fields(&body);
    f.sort();
    assert_eq!(f, ["is_default", "name", "settings"]);
    let (status, body) = k
        .call(
            Method::POST,
            "/api/v1/kanban/boards",
            Some(json!({"name": "No instance"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["instance_id"]);
    let (status, body) = k
        .call(
            Method::POST,
            "/api/v1/kanban/boards",
            Some(json!({"name": "x", "color": "#fff"})),
        )
        .await;
    assert_eq!(status, 422, "unknown fields are refused: {body}");

    // An sk_ token creates on, and sees, its own instance only.
    let sk = k.t.app.create_sk(&k.t.token, &k.t.instance["id"]).await;
    let (status, mine) =
        k.t.call_as(
            &sk,
            Method::POST,
            "/api/v1/kanban/boards",
            Some(json!({"name": "Bot board"})),
        )
        .await;
    assert_eq!(status, 201, "{mine}");
    assert_eq!(mine["data"]["instance_id"], k.t.uuid.as_str());
    let other = k.t.app.create_instance(&k.t.token, "Second").await;
    let (status, theirs) = k
        .call(
            Method::POST,
            "/api/v1/kanban/boards",
            Some(json!({"name": "Second board", "instance_id": other["uuid"]})),
        )
        .await;
    assert_eq!(status, 201, "{theirs}");
    assert_eq!(
        theirs["data"]["is_default"], true,
        "the first board of its instance"
    );
    let (_, list) =
        k.t.call_as(&sk, Method::GET, "/api/v1/kanban/boards", None)
            .await;
    let names: Vec<&str> = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Bot board"]);
    let (status, _) =
        k.t.call_as(
            &sk,
            Method::GET,
            &format!(
                "/api/v1/kanban/boards/{}",
                theirs["data"]["uuid"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) =
        k.t.call_as(
            &sk,
            Method::POST,
            "/api/v1/kanban/boards",
            Some(json!({"name": "Elsewhere", "instance_id": other["uuid"]})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    // A user token filters by instance.
    let only = k
        .get(&format!(
            "/api/v1/kanban/boards?instance_id={}",
            other["uuid"].as_str().unwrap()
        ))
        .await;
    assert_eq!(only["data"].as_array().unwrap().len(), 1);
    assert_eq!(only["data"][0]["name"], "Second board");
    // An instance takes its boards with it.
    let their_board = theirs["data"]["uuid"].as_str().unwrap().to_owned();
    k.ok(
        Method::DELETE,
        &format!("/api/v1/instances/{}", other["uuid"].as_str().unwrap()),
        None,
        200,
    )
    .await;
    let (status, _) = k
        .call(
            Method::GET,
            &format!("/api/v1/kanban/boards/{their_board}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
    k.t.app.stop().await;
}

/// Backdates a lead's creation, so its time to close is known.
async fn created_days_ago(k: &Kanban, lead: &str, days: f64) {
    let at = Utc::now() - Duration::seconds((days * 86_400.0) as i64);
    kanban_lead::Entity::update_many()
        .col_expr(kanban_lead::Column::CreatedAt, Expr::value(at))
        .filter(kanban_lead::Column::Uuid.eq(uuid::Uuid::parse_str(lead).unwrap()))
        .exec(&k.t.app.services.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn stats_match_the_numbers() {
    let k = Kanban::new().await;
    let board = k.board("Sales").await;
    let b = uuid_of(&board);
    // Nine open leads worth 1,000.00 together (one without a value), two won worth 5,000.00,
    // one lost worth 0.01, one deleted (which counts nowhere).
    for i in 0..8 {
        k.lead(&b, &format!("Open {i}"), json!({"value": 125}))
            .await;
    }
    k.lead(&b, "Open without value", json!({})).await;
    let won_a = uuid_of(&k.lead(&b, "Won A", json!({"value": "4999.99"})).await);
    let won_b = uuid_of(&k.lead(&b, "Won B", json!({"value": 0.01})).await);
    let lost = uuid_of(&k.lead(&b, "Lost", json!({"value": 0.01})).await);
    let gone = uuid_of(&k.lead(&b, "Deleted", json!({"value": 1000000})).await);
    k.ok(
        Method::DELETE,
        &format!("/api/v1/kanban/leads/{gone}"),
        None,
        200,
    )
    .await;
    // Closed after 10, 15 and 18.5 days: 43.5 / 3 = 14.5 days on average.
    created_days_ago(&k, &won_a, 10.0).await;
    created_days_ago(&k, &won_b, 15.0).await;
    created_days_ago(&k, &lost, 18.5).await;
    for (lead, what) in [(&won_a, "won"), (&won_b, "won"), (&lost, "lost")] {
        k.ok(
            Method::POST,
            &format!("/api/v1/kanban/leads/{lead}/{what}"),
            None,
            200,
        )
        .await;
    }
    let stats = k.get(&format!("/api/v1/kanban/boards/{b}")).await["data"]["stats"].clone();
    assert_eq!(
        stats,
        json!({
            "total_leads": 12, "open_leads": 9, "won_leads": 2, "lost_leads": 1,
            "total_value": 6000.01, "won_value": 5000.0,
            "conversion_rate": 66.7, "avg_time_to_close": 14.5
        })
    );
    let columns = k.get(&format!("/api/v1/kanban/boards/{b}/columns")).await["data"].clone();
    assert_eq!(
        columns[0]["leads_count"], 9,
        "open leads of New Lead: {columns}"
    );
    k.t.app.stop().await;
}
