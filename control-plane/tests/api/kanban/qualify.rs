//! AI qualification against a fake OpenAI-compatible model (axum on 127.0.0.1:0), and the AI
//! agent's built-in `create_lead` and `move_lead` tools.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use control_plane::automation::functions::ExecContext;
use control_plane::db::entities::{automation_integration, conversation};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::{Kanban, set_features, uuid_of};
use crate::helpers::ADMIN_EMAIL;

/// A fake chat-completions endpoint answering `content`; records each request.
struct FakeModel {
    base: String,
    seen: Arc<Mutex<Vec<(HeaderMap, Value)>>>,
    content: Arc<Mutex<String>>,
}

impl FakeModel {
    async fn start(content: &str) -> FakeModel {
        let seen: Arc<Mutex<Vec<(HeaderMap, Value)>>> = Arc::default();
        let content = Arc::new(Mutex::new(content.to_owned()));
        let (s, c) = (seen.clone(), content.clone());
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let (seen, content) = (s.clone(), c.clone());
            async move {
                let v: Value = serde_json::from_slice(&body).unwrap_or_default();
                seen.lock().unwrap().push((headers, v));
                let text = content.lock().unwrap().clone();
                axum::Json(json!({
                    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fake",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                    "usage": {"prompt_tokens": 30, "completion_tokens": 12, "total_tokens": 42}
                }))
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FakeModel {
            base: format!("http://{addr}/v1"),
            seen,
            content,
        }
    }

    fn requests(&self) -> Vec<(HeaderMap, Value)> {
        self.seen.lock().unwrap().clone()
    }
}

/// An active `ai_agent` integration on the instance, talking to `model`; answers its UUID.
async fn agent(k: &Kanban, model: &FakeModel) -> String {
    let body = k
        .ok(
            Method::POST,
            "/api/v1/automation/integrations",
            Some(json!({
                "instance_id": k.t.uuid,
                "name": "Sales agent",
                "integration_type": "ai_agent",
                "config": {"base_url": model.base, "model": "fake-1", "api_key": "sk-test-key-1"},
            })),
            201,
        )
        .await;
    body["data"]["id"].as_str().unwrap().to_owned()
}

const ANSWER: &str = "{\"score\": 82, \"summary\": \"Wants the annual plan for 20 seats.\", \"next_step\": \"Send the annual proposal today.\"}";

#[tokio::test]
async fn ai_qualify_scores_the_lead_from_its_conversation() {
    let k = Kanban::with_config(|c| c.allow_private_urls = true).await;
    let model = FakeModel::start(ANSWER).await;
    k.t.inbound(
        "5511955554444",
        "Q-1",
        "Quero o plano anual para 20 pessoas",
    )
    .await;
    k.t.outbound("5511955554444", "Q-2", "Claro! Envio a proposta.")
        .await;
    let b = uuid_of(&k.board("Sales").await);
    let lead = uuid_of(
        &k.lead(
            &b,
            "Ana - anual",
            json!({"phone_number": "5511955554444", "value": 2400}),
        )
        .await,
    );

    let (status, body) = k
        .call(
            Method::POST,
            &format!("/api/v1/kanban/leads/{lead}/ai-qualify"),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "AI_AGENT_NOT_ENABLED");

    agent(&k, &model).await;
    let qualified = k
        .ok(
            Method::POST,
            &format!("/api/v1/kanban/leads/{lead}/ai-qualify"),
            None,
            200,
        )
        .await["data"]
        .clone();
    assert_eq!(qualified["ai_score"], 82);
    assert_eq!(
        qualified["ai_analysis"]["summary"],
        "Wants the annual plan for 20 seats."
    );
    assert_eq!(
        qualified["ai_analysis"]["next_step"],
        "Send the annual proposal today."
    );
    assert!(qualified["ai_analysis"]["qualified_at"].is_string());

    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    let (headers, req) = &requests[0];
    assert_eq!(headers["authorization"], "Bearer sk-test-key-1");
    assert_eq!(req["model"], "fake-1");
    assert_eq!(req["response_format"]["type"], "json_object");
    let prompt = req["messages"][1]["content"].as_str().unwrap();
    assert!(
        prompt.contains("Customer: Quero o plano anual para 20 pessoas"),
        "{prompt}"
    );
    assert!(
        prompt.contains("Business: Claro! Envio a proposta."),
        "{prompt}"
    );
    assert!(prompt.contains("Ana - anual"), "{prompt}");
    assert!(prompt.contains("R$ 2.400,00"), "{prompt}");

    let activities = k
        .get(&format!("/api/v1/kanban/leads/{lead}/activities"))
        .await["data"]
        .clone();
    assert_eq!(activities[0]["type"], "qualified");
    assert_eq!(activities[0]["new_value"], "82");
    assert_eq!(
        activities[0]["actor"],
        json!({"type": "ai_agent", "name": "Sales agent"})
    );
    assert!(
        activities[0]["content"]
            .as_str()
            .unwrap()
            .contains("Send the annual proposal today.")
    );

    // An answer that is not the JSON asked for changes nothing.
    *model.content.lock().unwrap() = "I think it is a good lead.".into();
    let (status, body) = k
        .call(
            Method::POST,
            &format!("/api/v1/kanban/leads/{lead}/ai-qualify"),
            None,
        )
        .await;
    assert_eq!(status, 503, "{body}");
    let shown = k.get(&format!("/api/v1/kanban/leads/{lead}")).await["data"].clone();
    assert_eq!(shown["ai_score"], 82);
    k.t.app.stop().await;
}

#[tokio::test]
async fn the_agent_creates_and_moves_leads_with_its_tools() {
    let k = Kanban::with_config(|c| c.allow_private_urls = true).await;
    let model = FakeModel::start(ANSWER).await;
    k.t.inbound("5511944443333", "T-1", "Quanto custa o plano Pro?")
        .await;
    let conv_uuid = k.t.conversation_of("5511944443333").await;
    let b = uuid_of(&k.board("Sales").await);
    let integration_uuid = agent(&k, &model).await;
    let services = &k.t.app.services;
    let integration = automation_integration::Entity::find()
        .filter(
            automation_integration::Column::Uuid
                .eq(uuid::Uuid::parse_str(&integration_uuid).unwrap()),
        )
        .one(&services.db)
        .await
        .unwrap()
        .unwrap();
    let conv = conversation::Entity::find()
        .filter(conversation::Column::Uuid.eq(uuid::Uuid::parse_str(&conv_uuid).unwrap()))
        .one(&services.db)
        .await
        .unwrap()
        .unwrap();

    let tools: Vec<String> = services
        .agent_tools(integration.id)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(tools, ["create_lead", "move_lead"]);
    let ctx = ExecContext {
        conversation_id: Some(conv.id),
        session_id: None,
        is_test: false,
    };
    let out = services
        .run_agent_function(
            integration.id,
            "create_lead",
            json!({"title": "Pro plan", "value": 99.9, "priority": "high", "notes": "Asked for the price"}),
            ctx,
        )
        .await
        .unwrap();
    assert!(out.ok, "{out:?}");
    let lead = out.result["lead"].clone();
    assert_eq!(lead["source"], "ai_agent");
    assert_eq!(lead["value"], "99.90");
    assert_eq!(lead["phone_number"], "5511944443333");
    assert_eq!(lead["conversation"]["id"], conv_uuid.as_str());
    assert_eq!(
        lead["board_uuid"],
        b.as_str(),
        "the instance's default board"
    );

    let out = services
        .run_agent_function(
            integration.id,
            "move_lead",
            json!({"column": "qualified"}),
            ctx,
        )
        .await
        .unwrap();
    assert!(out.ok, "{out:?}");
    assert_eq!(out.result["lead"]["column"]["name"], "Qualified");
    let out = services
        .run_agent_function(
            integration.id,
            "move_lead",
            json!({"column": "Nowhere"}),
            ctx,
        )
        .await
        .unwrap();
    assert!(!out.ok);
    assert!(
        out.result["error"].as_str().unwrap().contains("New Lead"),
        "{out:?}"
    );
    let activities = k
        .get(&format!(
            "/api/v1/kanban/leads/{}/activities",
            uuid_of(&lead)
        ))
        .await["data"]
        .clone();
    let kinds: Vec<&str> = activities
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["moved", "note", "created"]);
    assert_eq!(activities[0]["actor"]["type"], "ai_agent");

    // Without Kanban, the tools are gone.
    set_features(&k.t.app, ADMIN_EMAIL, Some(false), None, None).await;
    assert!(
        services
            .agent_tools(integration.id)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        services
            .run_agent_function(integration.id, "create_lead", json!({"title": "x"}), ctx)
            .await
            .is_err()
    );
    k.t.app.stop().await;
}
