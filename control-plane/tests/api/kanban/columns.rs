//! Columns: inserted at a position, reordered only with the board's complete list, updated,
//! deleted with their leads moved (and refused with leads and nowhere to put them).

use reqwest::Method;
use serde_json::{Value, json};

use super::{Kanban, fields, uuid_of};

fn names(columns: &Value) -> Vec<String> {
    columns
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn columns_insert_reorder_update_and_delete() {
    let k = Kanban::new().await;
    let board = k.board("Sales").await;
    let b = uuid_of(&board);
    let demo = k
        .ok(
            Method::POST,
            &format!("/api/v1/kanban/boards/{b}/columns"),
            Some(json!({"name": "Demo", "color": "#14B8A6", "position": 1})),
            201,
        )
        .await["data"]
        .clone();
    assert_eq!(demo["position"], 1);
    let last = k
        .ok(
            Method::POST,
            &format!("/kanban/boards/{b}/columns"),
            Some(json!({"name": "Closing"})),
            201,
        )
        .await["data"]
        .clone();
    assert_eq!(last["color"], "#6B7280");
    assert_eq!(last["position"], 6);
    let listed = k.get(&format!("/api/v1/kanban/boards/{b}/columns")).await["data"].clone();
    assert_eq!(
        names(&listed),
        [
            "New Lead",
            "Demo",
            "Contacted",
            "Qualified",
            "Proposal",
            "Negotiation",
            "Closing"
        ]
    );
    let (status, body) = k
        .call(
            Method::POST,
            &format!("/api/v1/kanban/boards/{b}/columns"),
            Some(json!({"color": "blue"})),
        )
        .await;
    assert_eq!(status, 422);
    let mut f = fields(&body);
    f.sort();
    assert_eq!(f, ["color", "name"]);

    // Reorder: the complete list, each once.
    let mut order: Vec<String> = listed.as_array().unwrap().iter().map(uuid_of).collect();
    order.reverse();
    let reordered = k
        .ok(
            Method::POST,
            &format!("/api/v1/kanban/boards/{b}/columns/reorder"),
            Some(json!({"order": order})),
            200,
        )
        .await["data"]
        .clone();
    assert_eq!(
        names(&reordered),
        [
            "Closing",
            "Negotiation",
            "Proposal",
            "Qualified",
            "Contacted",
            "Demo",
            "New Lead"
        ]
    );
    let other_board = k.board("Other").await;
    let foreign = uuid_of(&other_board["columns"][0]);
    for bad in [
        json!({"order": order[..6]}),
        json!({"order": [order[0].clone(), order[0].clone(), order[1].clone(), order[2].clone(), order[3].clone(), order[4].clone(), order[5].clone()]}),
        json!({"order": [foreign, order[1].clone(), order[2].clone(), order[3].clone(), order[4].clone(), order[5].clone(), order[6].clone()]}),
        json!({"order": "nope"}),
        json!({}),
    ] {
        let (status, body) = k
            .call(
                Method::POST,
                &format!("/api/v1/kanban/boards/{b}/columns/reorder"),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(status, 422, "{bad}: {body}");
        assert_eq!(fields(&body), ["order"], "{bad}: {body}");
    }

    // Update.
    let updated = k
        .ok(
            Method::PUT,
            &format!("/api/v1/kanban/columns/{}", uuid_of(&demo)),
            Some(
                json!({"name": "Demo Scheduled", "color": "#22C55E", "settings": {"sla_days": 2}}),
            ),
            200,
        )
        .await["data"]
        .clone();
    assert_eq!(updated["name"], "Demo Scheduled");
    assert_eq!(updated["color"], "#22C55E");
    assert_eq!(updated["settings"], json!({"sla_days": 2}));
    let (status, body) = k
        .call(
            Method::PUT,
            &format!("/api/v1/kanban/columns/{}", uuid_of(&demo)),
            Some(json!({"color": "#12345"})),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(fields(&body), ["color"]);

    // Delete: refused with leads and no move_to; with it, the leads follow after the
    // destination's own.
    let new_lead = uuid_of(&reordered[6]);
    let kept = uuid_of(
        &k.lead(&b, "Already in New Lead", json!({"column_uuid": new_lead}))
            .await,
    );
    let a = uuid_of(
        &k.lead(&b, "A", json!({"column_uuid": uuid_of(&demo)}))
            .await,
    );
    let c = uuid_of(
        &k.lead(&b, "C", json!({"column_uuid": uuid_of(&demo)}))
            .await,
    );
    let (status, body) = k
        .call(
            Method::DELETE,
            &format!("/api/v1/kanban/columns/{}", uuid_of(&demo)),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["move_to"]);
    let (status, body) = k
        .call(
            Method::DELETE,
            &format!("/api/v1/kanban/columns/{}", uuid_of(&demo)),
            Some(json!({"move_to": uuid_of(&other_board["columns"][1])})),
        )
        .await;
    assert_eq!(status, 422, "another board's column: {body}");
    k.ok(
        Method::DELETE,
        &format!(
            "/api/v1/kanban/columns/{}?move_to={new_lead}",
            uuid_of(&demo)
        ),
        None,
        200,
    )
    .await;
    let in_new = k
        .get(&format!(
            "/api/v1/kanban/boards/{b}/leads?column_uuid={new_lead}"
        ))
        .await["data"]
        .clone();
    let got: Vec<(String, i64)> = in_new
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (uuid_of(l), l["position"].as_i64().unwrap()))
        .collect();
    assert_eq!(got, [(kept, 0), (a, 1), (c, 2)]);
    let after = k.get(&format!("/api/v1/kanban/boards/{b}/columns")).await["data"].clone();
    assert_eq!(after.as_array().unwrap().len(), 6);
    let positions: Vec<i64> = after
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["position"].as_i64().unwrap())
        .collect();
    assert_eq!(positions, [0, 1, 2, 3, 4, 5]);
    let empty = uuid_of(&after[0]);
    k.ok(
        Method::DELETE,
        &format!("/api/v1/kanban/columns/{empty}"),
        None,
        200,
    )
    .await;

    // A board keeps one column.
    let lonely = k.board("Lonely").await;
    let cols = lonely["columns"].as_array().unwrap().clone();
    for c in &cols[1..] {
        k.ok(
            Method::DELETE,
            &format!("/api/v1/kanban/columns/{}", uuid_of(c)),
            None,
            200,
        )
        .await;
    }
    let (status, body) = k
        .call(
            Method::DELETE,
            &format!("/api/v1/kanban/columns/{}", uuid_of(&cols[0])),
            None,
        )
        .await;
    assert_eq!(status, 422, "{body}");
    k.t.app.stop().await;
}
