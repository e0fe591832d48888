//! Leads: the reference's shape, money in the tenant's currency and locale, validation
//! naming each field, the list's filters and pages, the timeline of every change, moves with
//! positions, won and lost, soft delete.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Kanban, fields, set_features, uuid_of};
use crate::helpers::ADMIN_EMAIL;

#[tokio::test]
async fn a_lead_is_shown_as_the_reference_shows_it() {
    let k = Kanban::new().await;
    let board = k.board("Sales Pipeline").await;
    let b = uuid_of(&board);
    let (status, body) = k
        .call(
            Method::POST,
            "/api/v1/kanban/leads",
            Some(json!({
                "board_uuid": b,
                "title": "John Doe - Pro Plan",
                "phone_number": "5511999999999",
                "email": "john@example.com",
                "value": 299.00,
                "priority": "high",
                "notes": "Interested in annual subscription"
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["success"], true);
    let lead = &body["data"];
    assert_eq!(lead["title"], "John Doe - Pro Plan");
    assert_eq!(lead["phone_number"], "5511999999999");
    assert_eq!(lead["value"], "299.00");
    assert_eq!(lead["value_formatted"], "R$ 299,00");
    assert_eq!(lead["priority"], "high");
    assert_eq!(lead["priority_label"], "High");
    assert_eq!(lead["source"], "api");
    assert_eq!(lead["ai_score"], Value::Null);
    assert_eq!(
        (
            lead["is_open"].clone(),
            lead["is_won"].clone(),
            lead["is_lost"].clone()
        ),
        (json!(true), json!(false), json!(false))
    );
    assert_eq!(lead["column"]["name"], "New Lead");
    assert_eq!(lead["column"]["color"], "#3B82F6");
    assert_eq!(lead["column"]["uuid"], board["columns"][0]["uuid"]);
    assert_eq!(lead["board_uuid"], b.as_str());

    let shown = k
        .get(&format!("/api/v1/kanban/leads/{}", uuid_of(lead)))
        .await["data"]
        .clone();
    assert_eq!(shown["notes"].as_array().unwrap().len(), 1);
    assert_eq!(
        shown["notes"][0]["content"],
        "Interested in annual subscription"
    );
    assert_eq!(shown["notes"][0]["author"]["type"], "user");
    assert!(shown["notes"][0]["created_at"].is_string());
    assert_eq!(shown["custom_fields"], json!({}));
    assert_eq!(shown["ai_analysis"], Value::Null);

    // The tenant's currency and locale.
    set_features(&k.t.app, ADMIN_EMAIL, None, Some("USD"), Some("en-US")).await;
    let shown = k
        .get(&format!("/api/v1/kanban/leads/{}", uuid_of(lead)))
        .await["data"]
        .clone();
    assert_eq!(shown["value_formatted"], "$299.00");
    assert_eq!(shown["currency"], "USD");
    let big = k.lead(&b, "Big", json!({"value": "1234567.5"})).await;
    assert_eq!(big["value"], "1234567.50");
    assert_eq!(big["value_formatted"], "$1,234,567.50");
    set_features(&k.t.app, ADMIN_EMAIL, None, Some("EUR"), Some("de-DE")).await;
    let shown = k
        .get(&format!("/api/v1/kanban/leads/{}", uuid_of(&big)))
        .await["data"]
        .clone();
    assert_eq!(shown["value_formatted"], "1.234.567,50 €");
    k.t.app.stop().await;
}

#[tokio::test]
async fn invalid_fields_are_named_together() {
    let k = Kanban::new().await;
    let b = uuid_of(&k.board("Sales").await);
    let (status, body) = k
        .call(
            Method::POST,
            "/api/v1/kanban/leads",
            Some(json!({
                "board_uuid": b, "title": "", "phone_number": "12ab", "email": "nope",
                "value": 1.234, "priority": "asap", "custom_fields": {"nested": {"a": 1}}
            })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let mut f = fields(&body);
    f.sort();
    assert_eq!(
        f,
        [
            "custom_fields.nested",
            "email",
            "phone_number",
            "priority",
            "title",
            "value"
        ]
    );
    for (value, why) in [
        (json!(-5), "negative"),
        (json!("1e3"), "exponent"),
        (json!(true), "boolean"),
        (json!("100000000000000"), "too large"),
    ] {
        let (status, body) = k
            .call(
                Method::POST,
                "/api/v1/kanban/leads",
                Some(json!({"board_uuid": b, "title": "x", "value": value})),
            )
            .await;
        assert_eq!(status, 422, "{why}: {body}");
        assert_eq!(fields(&body), ["value"], "{why}");
    }
    let (status, body) = k
        .call(
            Method::POST,
            "/api/v1/kanban/leads",
            Some(json!({"board_uuid": b, "title": "x", "column_uuid": uuid::Uuid::new_v4()})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["column_uuid"]);
    let (status, body) = k
        .call(
            Method::POST,
            "/api/v1/kanban/leads",
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(status, 422, "a user token without a board: {body}");
    assert_eq!(fields(&body), ["board_uuid"]);
    let (status, body) = k
        .call(
            Method::PUT,
            &format!("/api/v1/kanban/leads/{}", uuid::Uuid::new_v4()),
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    k.t.app.stop().await;
}

#[tokio::test]
async fn the_list_filters_and_pages() {
    let k = Kanban::new().await;
    let board = k.board("Sales").await;
    let b = uuid_of(&board);
    let second_column = uuid_of(&board["columns"][1]);
    let ana = uuid_of(
        &k.lead(
            &b,
            "Ana - Starter",
            json!({"priority": "low", "phone_number": "+55 11 90000-0001"}),
        )
        .await,
    );
    let bruno = uuid_of(
        &k.lead(
            &b,
            "Bruno - Pro",
            json!({"priority": "urgent", "email": "bruno@shop.example"}),
        )
        .await,
    );
    let caio = uuid_of(
        &k.lead(&b, "Caio - Pro", json!({"column_uuid": second_column}))
            .await,
    );
    let dora = uuid_of(&k.lead(&b, "Dora", json!({})).await);
    k.ok(
        Method::POST,
        &format!("/api/v1/kanban/leads/{dora}/won"),
        None,
        200,
    )
    .await;
    let list = |q: &'static str| {
        let k = &k;
        let b = b.clone();
        async move {
            let body = k.get(&format!("/api/v1/kanban/boards/{b}/leads{q}")).await;
            let ids: Vec<String> = body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(uuid_of)
                .collect();
            (ids, body["meta"]["pagination"].clone())
        }
    };
    assert_eq!(
        list("").await.0,
        [caio.clone(), bruno.clone(), ana.clone()],
        "open, newest first"
    );
    assert_eq!(list("?status=won").await.0, vec![dora.clone()]);
    assert_eq!(list("?status=all").await.0.len(), 4);
    assert_eq!(list("?status=lost").await.0, Vec::<String>::new());
    assert_eq!(list("?priority=urgent").await.0, vec![bruno.clone()]);
    assert_eq!(list("?search=pro").await.0, [caio.clone(), bruno.clone()]);
    assert_eq!(list("?search=900000001").await.0, vec![ana.clone()]);
    assert_eq!(list("?search=SHOP.example").await.0, vec![bruno.clone()]);
    let (page, meta) = list("?per_page=2&page=2").await;
    assert_eq!(page, vec![ana.clone()]);
    assert_eq!(
        meta,
        json!({"total": 3, "per_page": 2, "current_page": 2, "last_page": 2})
    );
    let in_column = k
        .get(&format!(
            "/api/v1/kanban/boards/{b}/leads?column_uuid={second_column}"
        ))
        .await;
    assert_eq!(in_column["data"].as_array().unwrap().len(), 1);
    for bad in [
        "?status=closed",
        "?priority=asap",
        "?column_uuid=x",
        "?per_page=101",
        "?page=0",
    ] {
        let (status, _) = k
            .call(
                Method::GET,
                &format!("/api/v1/kanban/boards/{b}/leads{bad}"),
                None,
            )
            .await;
        assert_eq!(status, 422, "{bad}");
    }
    k.t.app.stop().await;
}

fn kinds(activities: &Value) -> Vec<String> {
    activities["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn every_change_is_on_the_timeline_and_moves_keep_order() {
    let k = Kanban::new().await;
    let board = k.board("Sales").await;
    let b = uuid_of(&board);
    let first = uuid_of(&board["columns"][0]);
    let second = uuid_of(&board["columns"][1]);
    let lead = uuid_of(
        &k.lead(&b, "Deal", json!({"value": 299, "priority": "medium"}))
            .await,
    );
    let x = uuid_of(&k.lead(&b, "X", json!({"column_uuid": second})).await);
    let y = uuid_of(&k.lead(&b, "Y", json!({"column_uuid": second})).await);

    let updated = k
        .ok(
            Method::PUT,
            &format!("/api/v1/kanban/leads/{lead}"),
            Some(json!({"value": "349.90", "priority": "urgent", "title": "Deal", "custom_fields": {"plan": "pro", "seats": 5}})),
            200,
        )
        .await["data"]
        .clone();
    assert_eq!(updated["value"], "349.90");
    assert_eq!(updated["priority_label"], "Urgent");
    let (status, body) = k
        .call(
            Method::PUT,
            &format!("/api/v1/kanban/leads/{lead}"),
            Some(json!({"notes": "x", "column_uuid": second})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    let mut f = fields(&body);
    f.sort();
    assert_eq!(f, ["column_uuid", "notes"]);

    // Into the middle of the second column.
    let moved = k
        .ok(
            Method::POST,
            &format!("/api/v1/kanban/leads/{lead}/move"),
            Some(json!({"column_uuid": second, "position": 1})),
            200,
        )
        .await["data"]
        .clone();
    assert_eq!(moved["column"]["name"], "Contacted");
    assert_eq!(moved["position"], 1);
    let order: Vec<(String, i64)> = k
        .get(&format!(
            "/api/v1/kanban/boards/{b}/leads?column_uuid={second}"
        ))
        .await["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (uuid_of(l), l["position"].as_i64().unwrap()))
        .collect();
    assert_eq!(order, [(x.clone(), 0), (lead.clone(), 1), (y.clone(), 2)]);
    let (status, body) = k
        .call(
            Method::POST,
            &format!("/api/v1/kanban/leads/{lead}/move"),
            Some(json!({"column_uuid": uuid_of(&k.board("Other").await["columns"][0])})),
        )
        .await;
    assert_eq!(status, 422, "another board's column: {body}");
    let (status, body) = k
        .call(
            Method::POST,
            &format!("/api/v1/kanban/leads/{lead}/move"),
            Some(json!({})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["column_uuid"]);
    k.ok(
        Method::POST,
        &format!("/api/v1/kanban/leads/{lead}/move"),
        Some(json!({"column_uuid": first})),
        200,
    )
    .await;

    let note = k
        .ok(
            Method::POST,
            &format!("/api/v1/kanban/leads/{lead}/note"),
            Some(json!({"content": "Wants a demo"})),
            201,
        )
        .await["data"]
        .clone();
    assert_eq!(note["content"], "Wants a demo");
    assert_eq!(note["author"]["type"], "user");
    let (status, body) = k
        .call(
            Method::POST,
            &format!("/api/v1/kanban/leads/{lead}/note"),
            Some(json!({"content": " "})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&body), ["content"]);

    let lost = k
        .ok(
            Method::POST,
            &format!("/api/v1/kanban/leads/{lead}/lost"),
            Some(json!({"reason": "Chose a competitor"})),
            200,
        )
        .await["data"]
        .clone();
    assert_eq!(
        (
            lost["is_lost"].clone(),
            lost["status"].clone(),
            lost["lost_reason"].clone()
        ),
        (json!(true), json!("lost"), json!("Chose a competitor"))
    );
    assert!(lost["closed_at"].is_string());
    let won = k
        .ok(
            Method::POST,
            &format!("/kanban/leads/{lead}/won"),
            None,
            200,
        )
        .await["data"]
        .clone();
    assert_eq!(
        (won["is_won"].clone(), won["lost_reason"].clone()),
        (json!(true), Value::Null)
    );
    // Marking it won again changes nothing.
    k.ok(
        Method::POST,
        &format!("/kanban/leads/{lead}/won"),
        None,
        200,
    )
    .await;

    let activities = k
        .get(&format!("/api/v1/kanban/leads/{lead}/activities"))
        .await;
    assert_eq!(
        kinds(&activities),
        [
            "won", "lost", "note", "moved", "moved", "updated", "updated", "updated", "created"
        ],
        "{activities}"
    );
    let data = activities["data"].as_array().unwrap();
    let change = |field: &str| {
        data.iter()
            .find(|a| a["field"] == field)
            .cloned()
            .unwrap_or_else(|| panic!("no {field} change"))
    };
    assert_eq!(
        (
            change("value")["old_value"].clone(),
            change("value")["new_value"].clone()
        ),
        (json!("299.00"), json!("349.90"))
    );
    assert_eq!(
        (
            change("priority")["old_value"].clone(),
            change("priority")["new_value"].clone()
        ),
        (json!("medium"), json!("urgent"))
    );
    assert!(
        change("custom_fields")["new_value"]
            .as_str()
            .unwrap()
            .contains("\"plan\":\"pro\"")
    );
    assert_eq!(
        (data[3]["old_value"].clone(), data[3]["new_value"].clone()),
        (json!("Contacted"), json!("New Lead"))
    );
    assert_eq!(
        (data[4]["old_value"].clone(), data[4]["new_value"].clone()),
        (json!("New Lead"), json!("Contacted"))
    );
    assert_eq!(data[1]["content"], "Chose a competitor");
    assert_eq!(
        (data[0]["old_value"].clone(), data[0]["new_value"].clone()),
        (json!("lost"), json!("won"))
    );
    assert_eq!(data[0]["actor"]["type"], "user");
    assert_eq!(activities["meta"]["pagination"]["total"], 9);
    let shown = k.get(&format!("/api/v1/kanban/leads/{lead}")).await["data"].clone();
    assert_eq!(shown["custom_fields"], json!({"plan": "pro", "seats": 5}));

    // Soft delete: gone from every route, the list and the stats; the column closes up.
    k.ok(
        Method::DELETE,
        &format!("/api/v1/kanban/leads/{x}"),
        None,
        200,
    )
    .await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/kanban/leads/{x}")),
        (Method::GET, format!("/api/v1/kanban/leads/{x}/activities")),
        (Method::POST, format!("/api/v1/kanban/leads/{x}/won")),
        (Method::DELETE, format!("/api/v1/kanban/leads/{x}")),
    ] {
        let (status, _) = k.call(method.clone(), &path, None).await;
        assert_eq!(status, 404, "{method} {path}");
    }
    let rest = k
        .get(&format!(
            "/api/v1/kanban/boards/{b}/leads?column_uuid={second}"
        ))
        .await["data"]
        .clone();
    assert_eq!(uuid_of(&rest[0]), y);
    assert_eq!(rest[0]["position"], 0);
    let stats = k.get(&format!("/api/v1/kanban/boards/{b}")).await["data"]["stats"].clone();
    assert_eq!(
        (stats["total_leads"].clone(), stats["won_leads"].clone()),
        (json!(2), json!(1))
    );
    k.t.app.stop().await;
}
