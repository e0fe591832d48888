//! The Kanban end to end: a paired sandbox instance whose AI agent (a local fake
//! OpenAI-compatible model) puts a WhatsApp contact on the pipeline with its `create_lead`
//! tool; leads moved, won and lost through the API with the board's statistics checked by
//! hand; the timeline; AI qualification reading the real conversation; and every `lead.*`
//! event received, signed, by a real webhook receiver.

use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use zapini_e2e::eventually;
use zapini_e2e::receiver::Receiver;

use crate::support::{Setup, T, conversation_where, host, paired, setup};

const SECRET: &str = "kanban-webhook-secret-1";

/// Turns Kanban on for the e2e admin's tenant, as the operator's CLI does.
async fn enable_kanban(s: &Setup) {
    let config = s.cp_config();
    let db = control_plane::db::connect(&config).await.unwrap();
    let admin = control_plane::db::entities::user::Entity::find()
        .filter(control_plane::db::entities::user::Column::Email.eq(zapini_e2e::ADMIN_EMAIL))
        .one(&db)
        .await
        .unwrap()
        .unwrap();
    let services = control_plane::service::Services::for_cli(db, config);
    services
        .set_tenant_features(
            control_plane::domain::TenantId(admin.tenant_id),
            control_plane::service::tenant_settings::FeatureChange {
                kanban_enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

/// The fake model: qualification requests (`response_format`) get a score; an agent turn
/// calls `create_lead` once, then answers in text.
fn model_answer(body: &[u8]) -> Vec<u8> {
    let req: Value = serde_json::from_slice(body).unwrap_or_default();
    let messages = req["messages"].as_array().cloned().unwrap_or_default();
    let message = if req.get("response_format").is_some() {
        json!({"role": "assistant", "content": "{\"score\": 91, \"summary\": \"Wants the annual plan now.\", \"next_step\": \"Send the contract.\"}"})
    } else if messages.iter().any(|m| m["role"] == "tool") {
        json!({"role": "assistant", "content": "Anotei seu interesse no plano anual!"})
    } else {
        json!({"role": "assistant", "content": null, "tool_calls": [{
            "id": "call_1", "type": "function",
            "function": {"name": "create_lead", "arguments": "{\"title\":\"Ana - plano anual\",\"value\":1200,\"priority\":\"high\"}"}
        }]})
    };
    serde_json::to_vec(&json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fake",
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15}
    }))
    .unwrap()
}

#[tokio::test]
async fn a_pipeline_from_whatsapp_to_won_and_lost_with_exact_stats() {
    let s = setup().await;
    let p = paired(&s, "Kanban", "5511955550000").await;
    enable_kanban(&s).await;
    let hooks = Receiver::start().await;
    let (status, body) = s
        .send(
            Method::PUT,
            &format!("/api/v1/instances/{}/webhook", p.uuid),
            &s.user,
            Some(json!({"webhook_url": hooks.url, "webhook_secret": SECRET,
                        "events": ["lead.created", "lead.updated", "lead.moved", "lead.won", "lead.lost"]})),
        )
        .await;
    assert!(status == 200 || status == 201, "{status} {body}");
    let (status, board) = s
        .post("/api/v1/kanban/boards", &p.sk, json!({"name": "Sales"}))
        .await;
    assert_eq!(status, 201, "{board}");
    let board = board["data"].clone();
    let b = board["uuid"].as_str().unwrap().to_owned();
    assert_eq!(board["is_default"], true);
    let column = |i: usize| board["columns"][i]["uuid"].as_str().unwrap().to_owned();

    // The AI agent puts the contact on the pipeline.
    let model = Receiver::start().await;
    model.set_responder(model_answer);
    let base = model.url.trim_end_matches("/webhook").to_owned();
    let (status, created) = s
        .post(
            "/api/v1/automation/integrations",
            &s.user,
            json!({
                "instance_id": p.uuid, "name": "Sales agent", "integration_type": "ai_agent",
                "settings": {"debounce_ms": 0},
                "config": {"base_url": base, "model": "fake-1", "api_key": "sk-test-key-1"},
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/sandbox/inbound"),
            Some(&p.sk),
            Some(&host(p.id)),
            Some(json!({"from": "5511933334444", "message": "Quero o plano anual", "push_name": "Ana"})),
        )
        .await;
    assert_eq!(status, 200, "inbound: {body}");
    let (conv, _) = conversation_where(
        &s,
        p.uuid,
        |c| {
            c["chat_jid"]
                .as_str()
                .is_some_and(|j| j.starts_with("5511933334444"))
        },
        2,
    )
    .await;
    let ana = eventually(T, "the agent's lead", || async {
        let (_, list) = s
            .get(&format!("/api/v1/kanban/boards/{b}/leads"), &p.sk)
            .await;
        list["data"].as_array()?.first().cloned()
    })
    .await;
    assert_eq!(ana["source"], "ai_agent");
    assert_eq!(ana["title"], "Ana - plano anual");
    assert_eq!(ana["value"], "1200.00");
    assert_eq!(ana["value_formatted"], "R$ 1.200,00");
    assert_eq!(ana["phone_number"], "5511933334444");
    assert_eq!(ana["conversation"]["id"], conv["id"]);
    assert_eq!(ana["contact"]["name"], "Ana");
    let a = ana["uuid"].as_str().unwrap().to_owned();

    // Three more through the API.
    let mut others = Vec::new();
    for (title, value) in [("Bruno", 500), ("Caio", 300), ("Dora", 100)] {
        let (status, lead) = s
            .post(
                "/api/v1/kanban/leads",
                &p.sk,
                json!({"board_uuid": b, "title": title, "value": value}),
            )
            .await;
        assert_eq!(status, 201, "{lead}");
        others.push(lead["data"]["uuid"].as_str().unwrap().to_owned());
    }
    let (status, moved) = s
        .post(
            &format!("/api/v1/kanban/leads/{a}/move"),
            &p.sk,
            json!({"column_uuid": column(2)}),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["data"]["column"]["name"], "Qualified");
    for lead in [&a, &others[0]] {
        let (status, body) = s
            .post(
                &format!("/api/v1/kanban/leads/{lead}/won"),
                &p.sk,
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = s
        .post(
            &format!("/api/v1/kanban/leads/{}/lost", others[1]),
            &p.sk,
            json!({"reason": "Too expensive"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // By hand: 4 leads, Dora open; won Ana 1200 + Bruno 500 = 1700; all 2100; 2 won of 3
    // closed = 66.666… % → 66.7; each closed within seconds of its creation → 0.0 days.
    let (_, shown) = s.get(&format!("/api/v1/kanban/boards/{b}"), &p.sk).await;
    assert_eq!(
        shown["data"]["stats"],
        json!({"total_leads": 4, "open_leads": 1, "won_leads": 2, "lost_leads": 1,
               "total_value": 2100.0, "won_value": 1700.0, "conversion_rate": 66.7, "avg_time_to_close": 0.0})
    );

    // The qualification reads the real conversation.
    let (status, q) = s
        .post(
            &format!("/api/v1/kanban/leads/{a}/ai-qualify"),
            &p.sk,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{q}");
    assert_eq!(q["data"]["ai_score"], 91);
    assert_eq!(q["data"]["ai_analysis"]["next_step"], "Send the contract.");
    let qualify_call = model
        .received()
        .into_iter()
        .map(|r| r.json())
        .find(|r| r.get("response_format").is_some())
        .expect("the qualification call");
    let prompt = qualify_call["messages"][1]["content"].as_str().unwrap();
    assert!(prompt.contains("Customer: Quero o plano anual"), "{prompt}");
    assert!(
        prompt.contains("Business: Anotei seu interesse no plano anual!"),
        "{prompt}"
    );

    let (_, timeline) = s
        .get(&format!("/api/v1/kanban/leads/{a}/activities"), &p.sk)
        .await;
    let kinds: Vec<&str> = timeline["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["qualified", "won", "moved", "created"],
        "{timeline}"
    );
    assert_eq!(
        timeline["data"][3]["actor"],
        json!({"type": "ai_agent", "name": "Sales agent"})
    );
    assert_eq!(timeline["data"][2]["new_value"], "Qualified");

    // Every change reached the receiver, signed, under its own name.
    let got = hooks
        .wait_until(T, "the lead events", |r| {
            r.iter().filter(|r| r.ok()).count() >= 9
        })
        .await;
    let mut events: Vec<String> = got
        .iter()
        .filter(|r| r.ok())
        .map(|r| r.header("x-webhook-event").to_owned())
        .collect();
    events.sort();
    assert_eq!(
        events,
        [
            "lead.created",
            "lead.created",
            "lead.created",
            "lead.created",
            "lead.lost",
            "lead.moved",
            "lead.updated",
            "lead.won",
            "lead.won"
        ]
    );
    for r in got.iter().filter(|r| r.ok()) {
        let body = r.json();
        assert_eq!(body["event"], r.header("x-webhook-event"));
        assert_eq!(body["instance_uuid"], p.uuid.to_string());
        let expected = zapini_shared::signing::sign_hex(SECRET.as_bytes(), &r.body);
        assert_eq!(r.header("x-webhook-signature"), expected);
    }
    let lost = got
        .iter()
        .find(|r| r.header("x-webhook-event") == "lead.lost")
        .unwrap()
        .json();
    assert_eq!(lost["data"]["lead"]["lost_reason"], "Too expensive");
    assert_eq!(lost["data"]["lead"]["is_lost"], true);
    let moved = got
        .iter()
        .find(|r| r.header("x-webhook-event") == "lead.moved")
        .unwrap()
        .json();
    assert_eq!(moved["data"]["from_column"]["name"], "New Lead");
    assert_eq!(moved["data"]["to_column"]["name"], "Qualified");
    let created = got
        .iter()
        .map(|r| r.json())
        .find(|b| b["event"] == "lead.created" && b["data"]["lead"]["uuid"] == a.as_str())
        .unwrap();
    assert_eq!(created["data"]["lead"]["source"], "ai_agent");
    let updated = got
        .iter()
        .find(|r| r.header("x-webhook-event") == "lead.updated")
        .unwrap()
        .json();
    assert_eq!(
        updated["data"]["changes"],
        json!([{"field": "ai_score", "old_value": null, "new_value": "91"}])
    );
}
