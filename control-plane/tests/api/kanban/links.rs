//! Leads linked to the contact and conversation of their number on the board's instance, and
//! the `lead.*` webhook events in the delivery log.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Kanban, uuid_of};

#[tokio::test]
async fn leads_link_to_the_contact_and_conversation_of_their_number() {
    let k = Kanban::with_config(|c| {
        c.allow_private_urls = true;
        c.webhooks.allow_http = true;
    })
    .await;
    let id = k.t.instance_id();
    // Nothing listens there: the deliveries stay in the log, which is what this test reads.
    let (status, body) = k
        .call(
            Method::PUT,
            &format!("/instances/{id}/webhook"),
            Some(json!({"webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "kanban-secret-0001",
                        "events": ["lead.created", "lead.updated", "lead.moved", "lead.won", "lead.lost"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    k.t.inbound("5511988887777", "IN-1", "Oi, quero o plano anual")
        .await;
    let conversation = k.t.conversation_of("5511988887777").await;
    let board = k.board("Sales").await;
    let b = uuid_of(&board);
    let lead = k
        .lead(
            &b,
            "Maria",
            json!({"phone_number": "+55 (11) 98888-7777", "value": 10}),
        )
        .await;
    assert_eq!(lead["phone_number"], "5511988887777");
    assert_eq!(lead["conversation"]["id"], conversation.as_str());
    assert_eq!(
        lead["conversation"]["chat_jid"],
        "5511988887777@s.whatsapp.net"
    );
    assert_eq!(lead["contact"]["phone_number"], "5511988887777");
    assert_eq!(lead["contact"]["name"], "Maria");
    // A lead whose contact writes later is linked from then on.
    let later = k
        .lead(&b, "Later", json!({"phone_number": "5511977776666"}))
        .await;
    assert_eq!(later["conversation"], Value::Null);
    k.t.inbound("5511977776666", "IN-2", "Olá").await;
    let shown = k
        .get(&format!("/api/v1/kanban/leads/{}", uuid_of(&later)))
        .await["data"]
        .clone();
    assert_eq!(
        shown["conversation"]["id"],
        k.t.conversation_of("5511977776666").await.as_str()
    );
    let listed = k.get(&format!("/api/v1/kanban/boards/{b}/leads")).await["data"].clone();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["conversation"].is_object()),
        "{listed}"
    );
    // Another instance's chat with the number is not the lead's.
    let other = k.t.app.create_instance(&k.t.token, "Second").await;
    let other_board = k
        .ok(
            Method::POST,
            "/api/v1/kanban/boards",
            Some(json!({"name": "B2", "instance_id": other["uuid"]})),
            201,
        )
        .await["data"]
        .clone();
    let elsewhere = k
        .lead(
            &uuid_of(&other_board),
            "Maria elsewhere",
            json!({"phone_number": "5511988887777"}),
        )
        .await;
    assert_eq!(elsewhere["conversation"], Value::Null);

    let l = uuid_of(&lead);
    let col = uuid_of(&board["columns"][2]);
    k.ok(
        Method::PUT,
        &format!("/api/v1/kanban/leads/{l}"),
        Some(json!({"value": 12.5})),
        200,
    )
    .await;
    k.ok(
        Method::POST,
        &format!("/api/v1/kanban/leads/{l}/move"),
        Some(json!({"column_uuid": col})),
        200,
    )
    .await;
    k.ok(
        Method::POST,
        &format!("/api/v1/kanban/leads/{l}/lost"),
        None,
        200,
    )
    .await;
    k.ok(
        Method::POST,
        &format!("/api/v1/kanban/leads/{l}/won"),
        None,
        200,
    )
    .await;
    let deliveries = k
        .get(&format!("/instances/{id}/webhook/deliveries?per_page=100"))
        .await["data"]
        .as_array()
        .unwrap()
        .clone();
    let mut events: Vec<&str> = deliveries
        .iter()
        .map(|d| d["event"].as_str().unwrap())
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            "lead.created",
            "lead.created",
            "lead.lost",
            "lead.moved",
            "lead.updated",
            "lead.won"
        ],
        "{deliveries:?}"
    );
    let kr = &k;
    let payload = |event: &str| {
        let d = deliveries.iter().find(|d| d["event"] == event).unwrap();
        let path = format!(
            "/instances/{id}/webhook/deliveries/{}",
            d["id"].as_str().unwrap()
        );
        async move { kr.get(&path).await["data"]["payload"].clone() }
    };
    let updated = payload("lead.updated").await;
    assert_eq!(updated["event"], "lead.updated");
    assert_eq!(
        updated["data"]["changes"],
        json!([{"field": "value", "old_value": "10.00", "new_value": "12.50"}]),
        "{updated}"
    );
    assert_eq!(updated["data"]["action"], "updated");
    assert_eq!(updated["data"]["lead"]["uuid"], l.as_str());
    assert_eq!(updated["data"]["lead"]["value"], "12.50");
    let moved = payload("lead.moved").await;
    assert_eq!(moved["data"]["from_column"]["name"], "New Lead");
    assert_eq!(moved["data"]["to_column"]["name"], "Qualified");
    let lost = payload("lead.lost").await;
    assert_eq!(lost["data"]["lead"]["is_lost"], true);
    k.t.app.stop().await;
}
