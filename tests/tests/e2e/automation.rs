//! Automations that answer, end to end: a paired sandbox instance, a real control plane with
//! its turn worker, and local fakes of the tenant's bot and of an OpenAI-compatible model.

use std::sync::{Arc, Mutex};

use reqwest::Method;
use serde_json::{Value, json};
use zapini_e2e::eventually;
use zapini_e2e::receiver::Receiver;

use crate::support::{Paired, Setup, T, conversation_where, host, paired, setup};

async fn inbound(s: &Setup, p: &Paired, from: &str, text: &str) {
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/sandbox/inbound"),
            Some(&p.sk),
            Some(&host(p.id)),
            Some(json!({"from": from, "message": text, "push_name": "Ana"})),
        )
        .await;
    assert_eq!(status, 200, "inbound: {body}");
}

/// The instance's messages with `from`, oldest first, once `pred` holds.
async fn messages_until(
    s: &Setup,
    p: &Paired,
    from: &str,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    eventually(T, what, || async {
        let (_, body) = s
            .get(
                &format!("/api/v1/conversations?instance_id={}", p.uuid),
                &s.user,
            )
            .await;
        let conv = body["data"]
            .as_array()?
            .iter()
            .find(|c| c["chat_jid"].as_str().is_some_and(|j| j.starts_with(from)))?
            .clone();
        let (_, body) = s
            .get(
                &format!(
                    "/api/v1/conversations/{}/messages?per_page=100",
                    conv["id"].as_str()?
                ),
                &s.user,
            )
            .await;
        let mut msgs = body["data"]["messages"].as_array()?.clone();
        msgs.sort_by_key(|m| m["id"].as_i64().unwrap_or_default());
        pred(&msgs).then_some(msgs)
    })
    .await
}

fn texts(msgs: &[Value], from_me: bool) -> Vec<String> {
    msgs.iter()
        .filter(|m| m["is_from_me"] == from_me)
        .filter_map(|m| m["message_body"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_webhook_bot_answers_a_burst_once_and_stops_when_a_person_takes_over() {
    let s = setup().await;
    let p = paired(&s, "Bot", "5511955550000").await;
    // The tenant's bot: echoes the turn's text, signed calls.
    let bot = Receiver::start().await;
    let calls: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = calls.clone();
    bot.set_responder(move |body| {
        let v: Value = serde_json::from_slice(body).unwrap_or_default();
        seen.lock().unwrap().push(v.clone());
        serde_json::to_vec(&json!({
            "replies": [{"type": "text", "text": format!("Echo: {}", v["text"].as_str().unwrap_or_default())}],
            "variables": {"turns": v["session"]["turn"]}
        }))
        .unwrap()
    });
    let (status, created) = s
        .post(
            "/api/v1/automation/integrations",
            &s.user,
            json!({
                "instance_id": p.uuid,
                "name": "Echo bot",
                "integration_type": "webhook",
                "settings": {"debounce_ms": 700},
                "config": {"url": bot.url, "secret": "bot-secret-123"},
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["data"]["settings"]["debounce_ms"], 700);
    assert_ne!(
        created["data"]["config"]["secret"], "bot-secret-123",
        "secrets are masked"
    );
    let integration = created["data"]["id"].as_str().unwrap().to_owned();

    // Three quick messages: one turn, one call, one answer.
    for t in ["oi", "tudo bem?", "quero saber o preço"] {
        inbound(&s, &p, "5511944441234", t).await;
    }
    let msgs = messages_until(&s, &p, "5511944441234", "the bot's answer", |m| {
        !texts(m, true).is_empty()
    })
    .await;
    assert_eq!(
        texts(&msgs, true),
        vec!["Echo: oi\ntudo bem?\nquero saber o preço".to_owned()]
    );
    let ours = msgs.iter().find(|m| m["is_from_me"] == true).unwrap();
    assert_eq!(
        ours["sent_by_automation"]["automation_id"],
        integration.as_str()
    );
    assert_eq!(ours["sent_by_automation"]["automation_type"], "integration");
    assert!(
        msgs.iter()
            .filter(|m| m["is_from_me"] == false)
            .all(|m| m.get("sent_by_automation").is_none())
    );
    {
        let calls = calls.lock().unwrap();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0]["contact"]["phone"], "5511944441234");
    }
    let call = bot.received().remove(0);
    assert_eq!(
        call.header("x-webhook-signature"),
        zapini_shared::signing::sign_hex(b"bot-secret-123", &call.body)
    );

    // The session is listed, active, with its counters; the answer is marked as the bot's.
    let (status, sessions) = s
        .get(
            &format!("/automation/sessions?automation_id={integration}&status=active"),
            &s.user,
        )
        .await;
    assert_eq!(status, 200, "{sessions}");
    assert_eq!(sessions["data"].as_array().unwrap().len(), 1, "{sessions}");
    let session = sessions["data"][0].clone();
    assert_eq!(session["turns"], 1);
    assert_eq!(session["replies"], 1);
    assert_eq!(session["state"]["variables"]["turns"], 1);

    // Another message: a second turn, answered once.
    inbound(&s, &p, "5511944441234", "obrigado").await;
    messages_until(&s, &p, "5511944441234", "the second answer", |m| {
        texts(m, true).len() == 2
    })
    .await;
    assert_eq!(calls.lock().unwrap().len(), 2);

    // A manual send is refused while the session is active; pausing lets it through and
    // the bot stays quiet after that.
    let (status, body) = s
        .post(
            "/api/v1/chat/send",
            &s.user,
            json!({"instance_id": p.uuid, "recipient": "5511944441234", "message": "Sou a Carla"}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "AUTOMATION_ACTIVE");
    let sid = session["id"].as_str().unwrap();
    // Another tenant sees none of it.
    let other = s.other_tenant("other-automation@example.com").await;
    let (status, body) = s
        .get(&format!("/api/v1/automation/sessions/{sid}"), &other)
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = s
        .post(
            &format!("/api/v1/automation/sessions/{sid}/status"),
            &other,
            json!({"status": "closed"}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = s.get("/api/v1/automation/sessions", &other).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"].as_array().unwrap().len(), 0, "{body}");
    let (status, body) = s
        .post(
            &format!("/api/v1/automation/sessions/{sid}/status"),
            &s.user,
            json!({"status": "sleeping"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    let (status, paused) = s
        .post(
            &format!("/api/v1/automation/sessions/{sid}/status"),
            &s.user,
            json!({"status": "paused", "reason": "Carla takes over"}),
        )
        .await;
    assert_eq!(status, 200, "{paused}");
    assert_eq!(paused["data"]["status"], "paused");
    let (status, body) = s
        .post(
            "/api/v1/chat/send",
            &s.user,
            json!({"instance_id": p.uuid, "recipient": "5511944441234", "message": "Sou a Carla"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    inbound(&s, &p, "5511944441234", "oi Carla").await;
    inbound(&s, &p, "5511944441234", "MARKER").await;
    messages_until(&s, &p, "5511944441234", "the marker stored", |m| {
        texts(m, false).iter().any(|t| t == "MARKER")
    })
    .await;
    // The turns after the pause are skipped. A marker on another chat, sent after them, is
    // due after them: once it is answered, the paused chat's turns were settled.
    inbound(&s, &p, "5511944449999", "OTHER MARKER").await;
    messages_until(&s, &p, "5511944449999", "the marker's answer", |m| {
        texts(m, true).len() == 1
    })
    .await;
    let msgs = messages_until(&s, &p, "5511944441234", "the paused chat", |_| true).await;
    assert_eq!(
        calls.lock().unwrap().last().unwrap()["text"],
        "OTHER MARKER",
        "the marker was the last call"
    );
    assert_eq!(
        calls.lock().unwrap().len(),
        3,
        "the bot is not asked while paused (two answers, then the marker)"
    );
    assert_eq!(
        texts(&msgs, true).len(),
        3,
        "two answers and Carla's message"
    );
}

#[tokio::test]
async fn an_ai_agent_answers_with_a_fake_model_and_hands_off() {
    let s = setup().await;
    let p = paired(&s, "Agent", "5511955551111").await;
    let model = Receiver::start().await;
    let requests: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = requests.clone();
    model.set_responder(move |body| {
        let v: Value = serde_json::from_slice(body).unwrap_or_default();
        let mut seen = seen.lock().unwrap();
        seen.push(v.clone());
        let last = v["messages"].as_array().and_then(|m| m.last()).cloned().unwrap_or_default();
        let message = if last["content"].as_str().is_some_and(|c| c.contains("humano")) {
            json!({"role": "assistant", "content": "Vou chamar alguém.", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "handoff_to_human", "arguments": "{\"reason\":\"asked\"}"}}
            ]})
        } else {
            json!({"role": "assistant", "content": format!("Olá! Você disse: {}", last["content"].as_str().unwrap_or_default())})
        };
        serde_json::to_vec(&json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "fake",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
        }))
        .unwrap()
    });
    let base = model.url.trim_end_matches("/webhook").to_owned();
    let (status, created) = s
        .post(
            "/api/v1/automation/integrations",
            &s.user,
            json!({
                "instance_id": p.uuid,
                "name": "Agent",
                "integration_type": "ai_agent",
                "settings": {"debounce_ms": 0},
                "config": {"base_url": base, "model": "fake-1", "api_key": "sk-test-key-1", "system_prompt": "Seja breve."},
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    inbound(&s, &p, "5511933331234", "bom dia").await;
    messages_until(&s, &p, "5511933331234", "the agent's answer", |m| {
        texts(m, true) == vec!["Olá! Você disse: bom dia".to_owned()]
    })
    .await;
    let call = model.received().remove(0);
    assert_eq!(call.header("authorization"), "Bearer sk-test-key-1");
    let req = call.json();
    assert_eq!(req["model"], "fake-1");
    assert_eq!(req["messages"][0]["role"], "system");
    let tools: Vec<String> = req["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap().to_owned())
        .collect();
    assert!(tools.contains(&"handoff_to_human".to_owned()), "{tools:?}");

    inbound(&s, &p, "5511933331234", "quero falar com um humano").await;
    let msgs = messages_until(&s, &p, "5511933331234", "the hand-off", |m| {
        texts(m, true).len() == 2
    })
    .await;
    assert_eq!(texts(&msgs, true)[1], "Vou chamar alguém.");
    let (_, sessions) = s.get("/api/v1/automation/sessions", &s.user).await;
    let session = eventually(T, "the session paused by the hand-off", || async {
        let (_, sessions) = s.get("/api/v1/automation/sessions", &s.user).await;
        let sess = sessions["data"][0].clone();
        (sess["status"] == "paused").then_some(sess)
    })
    .await;
    let _ = sessions;
    assert!(
        session["pause_reason"]
            .as_str()
            .unwrap()
            .starts_with("handoff")
    );
    assert_eq!(session["usage"]["prompt_tokens"], 22);
    assert_eq!(session["usage"]["completion_tokens"], 14);
    let (conv, _) = conversation_where(
        &s,
        p.uuid,
        |c| {
            c["chat_jid"]
                .as_str()
                .is_some_and(|j| j.starts_with("5511933331234"))
        },
        1,
    )
    .await;
    let (_, state) = s
        .get(
            &format!(
                "/api/v1/conversations/{}/automation",
                conv["id"].as_str().unwrap()
            ),
            &s.user,
        )
        .await;
    assert_eq!(state["data"]["automation_paused"], true, "{state}");
}

/// A fake bot echoing each turn; returns the receiver and the bodies it was called with.
async fn echo_bot() -> (Receiver, Arc<Mutex<Vec<Value>>>) {
    let bot = Receiver::start().await;
    let calls: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = calls.clone();
    bot.set_responder(move |body| {
        let v: Value = serde_json::from_slice(body).unwrap_or_default();
        seen.lock().unwrap().push(v.clone());
        serde_json::to_vec(&json!({
            "reply": format!("Echo: {}", v["text"].as_str().unwrap_or_default())
        }))
        .unwrap()
    });
    (bot, calls)
}

async fn create_bot(s: &Setup, p: &Paired, bot: &Receiver, settings: Value) -> String {
    let (status, created) = s
        .post(
            "/api/v1/automation/integrations",
            &s.user,
            json!({
                "instance_id": p.uuid,
                "name": "Echo bot",
                "integration_type": "webhook",
                "settings": settings,
                "config": {"url": bot.url},
            }),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["data"]["id"].as_str().unwrap().to_owned()
}

async fn sessions(s: &Setup, query: &str) -> Vec<Value> {
    let (status, body) = s
        .get(&format!("/api/v1/automation/sessions?{query}"), &s.user)
        .await;
    assert_eq!(status, 200, "{body}");
    body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_person_on_the_phone_takes_over_the_finish_keyword_and_expiry_end_sessions() {
    let s = setup().await;
    let p = paired(&s, "Human", "5511955552222").await;
    let (bot, calls) = echo_bot().await;
    create_bot(
        &s,
        &p,
        &bot,
        json!({"debounce_ms": 0, "finish_keyword": "sair"}),
    )
    .await;
    let from = "5511922221234";
    inbound(&s, &p, from, "oi").await;
    messages_until(&s, &p, from, "the first answer", |m| {
        texts(m, true).len() == 1
    })
    .await;

    // The finish keyword closes the session without an answer; the next message opens a new
    // one.
    inbound(&s, &p, from, "SAIR").await;
    eventually(T, "the session closed by the finish keyword", || async {
        let all = sessions(&s, "status=closed").await;
        (all.len() == 1 && all[0]["close_reason"] == "finish_keyword").then_some(())
    })
    .await;
    inbound(&s, &p, from, "voltei").await;
    messages_until(&s, &p, from, "the new session's answer", |m| {
        texts(m, true).len() == 2
    })
    .await;
    assert_eq!(sessions(&s, "status=active").await.len(), 1);

    // An expired session closes; the next message starts a new one.
    {
        use sea_orm::{ConnectionTrait, Statement};
        let db = control_plane::db::connect(&s.cp_config()).await.unwrap();
        db.execute_raw(Statement::from_string(
            db.get_database_backend(),
            "UPDATE automation_sessions SET expires_at = '2020-01-01 00:00:00+00:00' WHERE status = 'active'",
        ))
        .await
        .unwrap();
    }
    inbound(&s, &p, from, "ainda aí?").await;
    messages_until(&s, &p, from, "the answer after expiry", |m| {
        texts(m, true).len() == 3
    })
    .await;
    let closed = sessions(&s, "status=closed").await;
    assert!(
        closed.iter().any(|c| c["close_reason"] == "expired"),
        "{closed:?}"
    );

    // A person answers from the phone: the session pauses, and the bot stays quiet.
    let jid = format!("{from}@s.whatsapp.net");
    let (status, body) = s
        .api
        .engine_report(
            &s.cp,
            p.uuid,
            "incoming",
            &json!({
                "remoteJid": jid,
                "message": {"conversation": "Aqui é a Carla, pode deixar"},
                "key": {"remoteJid": jid, "fromMe": true, "id": "PHONE0001"}
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let paused = eventually(T, "the session paused by the person", || async {
        let all = sessions(&s, "status=paused").await;
        all.first().cloned()
    })
    .await;
    assert_eq!(paused["pause_reason"], "human_reply");
    let before = calls.lock().unwrap().len();
    inbound(&s, &p, from, "ok Carla").await;
    // A marker on another chat: answered after the paused chat's turn was settled.
    inbound(&s, &p, "5511922225678", "MARKER").await;
    messages_until(&s, &p, "5511922225678", "the marker's answer", |m| {
        texts(m, true).len() == 1
    })
    .await;
    let calls = calls.lock().unwrap();
    assert_eq!(calls.len(), before + 1, "only the marker was answered");
    assert_eq!(calls.last().unwrap()["text"], "MARKER");
}

#[tokio::test]
async fn the_loop_guard_pauses_a_bot_that_answers_ours_instantly() {
    let s = setup().await;
    let p = paired(&s, "Loop", "5511955553333").await;
    let (bot, calls) = echo_bot().await;
    create_bot(
        &s,
        &p,
        &bot,
        json!({"debounce_ms": 0, "loop_guard": {"max_instant_replies": 3, "instant_reply_ms": 5000}}),
    )
    .await;
    let from = "5511911111234";
    // The other side is a bot: it answers each of our replies as soon as it has it.
    for i in 0..6 {
        inbound(&s, &p, from, &format!("auto {i}")).await;
        let want = i + 1;
        let done = eventually(T, "our answer stored, or the pause", || async {
            if !sessions(&s, "status=paused").await.is_empty() {
                return Some(true);
            }
            let stored = messages_until(&s, &p, from, "the conversation", |_| true).await;
            (texts(&stored, true).len() >= want).then_some(false)
        })
        .await;
        if done {
            break;
        }
    }
    let paused = sessions(&s, "status=paused").await;
    assert_eq!(paused.len(), 1, "paused by the loop guard");
    assert_eq!(paused[0]["pause_reason"], "loop_guard_bot");
    // The first message was not instant; the next three were: the fourth reply never went.
    assert_eq!(calls.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_burst_is_answered_once_even_when_the_control_plane_restarts_inside_the_debounce() {
    let s = setup().await;
    let p = paired(&s, "Restart", "5511955554444").await;
    let (bot, calls) = echo_bot().await;
    create_bot(&s, &p, &bot, json!({"debounce_ms": 4000})).await;
    let from = "5511933334321";
    for t in ["um", "dois", "três"] {
        inbound(&s, &p, from, t).await;
    }
    messages_until(&s, &p, from, "the burst stored", |m| {
        texts(m, false).len() == 3
    })
    .await;
    let crate::support::Setup { dir, cp, api, user } = s;
    let cp = cp.restart().await.expect("restart on the same ports");
    let s = Setup { dir, cp, api, user };
    let msgs = messages_until(&s, &p, from, "the one answer", |m| {
        texts(m, true).len() == 1
    })
    .await;
    assert_eq!(texts(&msgs, true), vec!["Echo: um\ndois\ntrês".to_owned()]);
    // A marker on another chat after it: still one call for the burst.
    inbound(&s, &p, "5511933338765", "MARKER").await;
    messages_until(&s, &p, "5511933338765", "the marker's answer", |m| {
        texts(m, true).len() == 1
    })
    .await;
    assert_eq!(calls.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn a_flow_runs_menu_question_http_condition_wait_and_hand_off() {
    let s = setup().await;
    let p = paired(&s, "Flow", "5511955556666").await;
    let crm = Receiver::start().await;
    crm.set_responder(|_| {
        serde_json::to_vec(&json!({"customer": {"plans": [{"name": "GOLD"}]}})).unwrap()
    });
    let definition = json!({"start": "welcome", "steps": [
        {"id": "welcome", "type": "send_text", "text": "Olá {{contact.name}}!", "next": "menu"},
        {"id": "menu", "type": "menu", "text": "Como podemos ajudar?", "save_as": "topic",
         "retry_message": "Responda 1 ou 2.",
         "options": [{"label": "Planos", "value": "plans", "next": "email"}, {"label": "Atendente", "next": "human"}]},
        {"id": "email", "type": "question", "text": "Seu e-mail?", "save_as": "email", "validate": "email",
         "retry_message": "E-mail inválido.", "next": "lookup"},
        {"id": "lookup", "type": "http_request", "method": "POST", "url": crm.url,
         "body": {"email": "{{email}}", "phone": "{{contact.phone}}"},
         "auth": {"type": "bearer", "token": "crm-secret-token"},
         "save": {"plan": "customer.plans.0.name"}, "next": "check"},
        {"id": "check", "type": "condition",
         "rules": [{"var": "plan", "op": "equals", "value": "gold", "next": "vip"}], "else_next": "human"},
        {"id": "vip", "type": "add_tag", "tag": "vip", "next": "pause"},
        {"id": "pause", "type": "wait", "seconds": 1, "next": "bye"},
        {"id": "bye", "type": "end", "message": "Obrigado! Seu plano é {{plan}}."},
        {"id": "human", "type": "handoff", "message": "Um atendente vai responder."}
    ]});
    let (status, created) = s
        .post(
            "/api/v1/automation/flows",
            &s.user,
            json!({"instance_id": p.uuid, "name": "Atendimento", "definition": definition,
                   "settings": {"debounce_ms": 0}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let flow_id = created["data"]["id"].as_str().unwrap().to_owned();

    let a = "5511966661234";
    inbound(&s, &p, a, "oi").await;
    messages_until(&s, &p, a, "the welcome and the menu", |m| {
        texts(m, true).len() == 2
    })
    .await;
    // A session already running keeps the definition it began with.
    let (status, body) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/automation/flows/{flow_id}"),
            &s.user,
            Some(json!({"definition": {"start": "x", "steps": [{"id": "x", "type": "end", "message": "new flow"}]}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["version"], 2);
    inbound(&s, &p, a, "1").await;
    messages_until(&s, &p, a, "the e-mail question", |m| {
        texts(m, true).len() == 3
    })
    .await;
    inbound(&s, &p, a, "não sei").await;
    messages_until(&s, &p, a, "the retry", |m| texts(m, true).len() == 4).await;
    inbound(&s, &p, a, "ana@example.com").await;
    let msgs = messages_until(&s, &p, a, "the end after the wait", |m| {
        texts(m, true).len() == 5
    })
    .await;
    let out = texts(&msgs, true);
    assert_eq!(out[0], "Olá Ana!");
    assert!(
        out[1].starts_with("Como podemos ajudar?") && out[1].contains("1. Planos"),
        "{out:?}"
    );
    assert_eq!(out[2], "Seu e-mail?");
    assert_eq!(out[3], "E-mail inválido.");
    assert_eq!(out[4], "Obrigado! Seu plano é GOLD.");
    let call = crm.received().remove(0);
    assert_eq!(call.header("authorization"), "Bearer crm-secret-token");
    assert_eq!(call.json()["email"], "ana@example.com");
    let closed = sessions(&s, "status=closed").await;
    assert_eq!(closed.len(), 1, "{closed:?}");
    assert_eq!(closed[0]["close_reason"], "ended");
    assert_eq!(closed[0]["state"]["flow"]["vars"]["plan"], "GOLD");
    let (_, tags) = s.get("/api/v1/tags", &s.user).await;
    assert!(
        tags["data"]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "vip"),
        "{tags}"
    );

    // Another contact starts on the new definition; "new flow" ends it at once.
    let b = "5511966665678";
    inbound(&s, &p, b, "olá").await;
    messages_until(&s, &p, b, "the new definition", |m| {
        texts(m, true) == vec!["new flow".to_owned()]
    })
    .await;

    // A hand-off pauses the conversation for a person.
    let (status, body) = s
        .send(
            Method::PATCH,
            &format!("/api/v1/automation/flows/{flow_id}"),
            &s.user,
            Some(json!({"definition": definition})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let c = "5511966669012";
    inbound(&s, &p, c, "oi").await;
    messages_until(&s, &p, c, "the menu", |m| texts(m, true).len() == 2).await;
    inbound(&s, &p, c, "atendente").await;
    messages_until(&s, &p, c, "the hand-off message", |m| {
        texts(m, true)
            .last()
            .is_some_and(|t| t == "Um atendente vai responder.")
    })
    .await;
    let paused = eventually(T, "the hand-off pause", || async {
        sessions(&s, "status=paused").await.first().cloned()
    })
    .await;
    assert_eq!(paused["pause_reason"], "handoff");
    let (status, body) = s
        .post(
            "/api/v1/chat/send",
            &s.user,
            json!({"instance_id": p.uuid, "recipient": c, "message": "Oi, aqui é a Carla"}),
        )
        .await;
    assert_eq!(status, 200, "the person can answer: {body}");
}

#[tokio::test]
async fn an_ai_agent_asks_for_a_parameter_then_calls_its_function_in_parallel() {
    let s = setup().await;
    let p = paired(&s, "Agent fn", "5511955557777").await;
    let orders = Receiver::start().await;
    orders.set_responder(|_| serde_json::to_vec(&json!({"status": "shipped"})).unwrap());
    let model = Receiver::start().await;
    model.set_responder(move |body| {
        let v: Value = serde_json::from_slice(body).unwrap_or_default();
        let msgs = v["messages"].as_array().cloned().unwrap_or_default();
        let last = msgs.last().cloned().unwrap_or_default();
        let message = if last["role"] == "tool" {
            let results: Vec<String> = msgs
                .iter()
                .filter(|m| m["role"] == "tool")
                .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
                .collect();
            json!({"role": "assistant", "content": format!("Status: {}", results.join(" | "))})
        } else if last["content"].as_str().is_some_and(|c| c.contains("ORD-")) {
            json!({"role": "assistant", "content": null, "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "check_order_status", "arguments": "{\"order_number\":\"ORD-1\"}"}},
                {"id": "c2", "type": "function", "function": {"name": "check_order_status", "arguments": "{\"order_number\":\"ORD-2\"}"}}
            ]})
        } else {
            json!({"role": "assistant", "content": "Qual o número do pedido?"})
        };
        serde_json::to_vec(&json!({
            "id": "x", "object": "chat.completion", "created": 1, "model": "fake",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8}
        }))
        .unwrap()
    });
    let base = model.url.trim_end_matches("/webhook").to_owned();
    let (status, created) = s
        .post(
            "/api/v1/automation/integrations",
            &s.user,
            json!({"instance_id": p.uuid, "name": "Agent", "integration_type": "ai_agent",
                   "settings": {"debounce_ms": 0},
                   "config": {"base_url": base, "model": "fake-1"}}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let integration = created["data"]["id"].as_str().unwrap().to_owned();
    let (status, function) = s
        .post(
            "/api/v1/ai-functions",
            &s.user,
            json!({
                "integration_uuid": integration,
                "name": "check_order_status",
                "display_name": "Check Order Status",
                "description": "Checks the status of a customer order by order number",
                "type": "fetch_data",
                "endpoint_url": orders.url,
                "http_method": "GET",
                "auth_type": "bearer",
                "auth_config": {"token": "shop-key"},
                "parameters": [{"name": "order_number", "display_name": "Order Number",
                    "description": "The order number", "type": "string",
                    "is_required": true, "collect_from_user": true}]
            }),
        )
        .await;
    assert_eq!(status, 201, "{function}");
    let fid = function["data"]["uuid"]
        .as_str()
        .or(function["data"]["id"].as_str())
        .unwrap()
        .to_owned();

    let from = "5511977771234";
    inbound(&s, &p, from, "qual o status do meu pedido?").await;
    messages_until(&s, &p, from, "the agent asking", |m| {
        texts(m, true) == vec!["Qual o número do pedido?".to_owned()]
    })
    .await;
    inbound(&s, &p, from, "ORD-1 e ORD-2").await;
    let msgs = messages_until(&s, &p, from, "the answer with the results", |m| {
        texts(m, true).len() == 2
    })
    .await;
    let answer = texts(&msgs, true)[1].clone();
    assert!(answer.starts_with("Status: "), "{answer}");
    assert_eq!(answer.matches("shipped").count(), 2, "{answer}");
    // Both calls reached the function with the contact's values and the bearer key.
    let calls = orders.received();
    assert_eq!(calls.len(), 2);
    for c in &calls {
        assert_eq!(c.header("authorization"), "Bearer shop-key");
    }
    // The tool the model saw asks for the parameter from the contact.
    let first = model.received().remove(0).json();
    let tool = first["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["function"]["name"] == "check_order_status")
        .cloned()
        .expect("the function is a tool");
    assert_eq!(
        tool["function"]["parameters"]["required"][0],
        "order_number"
    );
    // Both executions are logged against the conversation.
    let (status, execs) = s
        .get(&format!("/api/v1/ai-functions/{fid}/executions"), &s.user)
        .await;
    assert_eq!(status, 200, "{execs}");
    assert_eq!(execs["data"].as_array().unwrap().len(), 2, "{execs}");
}

#[tokio::test]
async fn triggers_choose_the_automation_by_priority_with_a_fallback() {
    let s = setup().await;
    let p = paired(&s, "Triggers", "5511955558888").await;
    let (sales, sales_calls) = echo_bot().await;
    let (fallback, fallback_calls) = echo_bot().await;
    let (ignored, ignored_calls) = echo_bot().await;
    create_bot(
        &s,
        &p,
        &sales,
        json!({"debounce_ms": 0, "trigger": {"type": "keyword", "keywords": ["preço", "price"], "operator": "contains"}}),
    )
    .await;
    create_bot(
        &s,
        &p,
        &fallback,
        json!({"debounce_ms": 0, "trigger": {"type": "none"}}),
    )
    .await;
    // Would take everything, but ignores this contact.
    let (status, body) = s
        .post(
            "/api/v1/automation/integrations",
            &s.user,
            json!({"instance_id": p.uuid, "name": "All but one", "integration_type": "webhook",
                   "priority": -5,
                   "settings": {"debounce_ms": 0, "ignore_numbers": ["5511944448888"]},
                   "config": {"url": ignored.url}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    inbound(&s, &p, "5511944441111", "Qual o PREÇO?").await;
    messages_until(&s, &p, "5511944441111", "the keyword bot", |m| {
        texts(m, true).len() == 1
    })
    .await;
    // "all" (priority -5) beats the `none` fallback for anyone it does not ignore.
    inbound(&s, &p, "5511944442222", "bom dia").await;
    messages_until(&s, &p, "5511944442222", "the catch-all bot", |m| {
        texts(m, true).len() == 1
    })
    .await;
    // The ignored number falls to the fallback.
    inbound(&s, &p, "5511944448888", "bom dia").await;
    messages_until(&s, &p, "5511944448888", "the fallback bot", |m| {
        texts(m, true).len() == 1
    })
    .await;
    assert_eq!(sales_calls.lock().unwrap().len(), 1);
    assert_eq!(ignored_calls.lock().unwrap().len(), 1);
    assert_eq!(fallback_calls.lock().unwrap().len(), 1);
    assert_eq!(
        fallback_calls.lock().unwrap()[0]["contact"]["phone"],
        "5511944448888"
    );
}

#[tokio::test]
async fn a_reply_shows_typing_for_its_delay_before_it_goes() {
    let s = setup().await;
    let p = paired(&s, "Typing", "5511955556666").await;
    let (bot, _calls) = echo_bot().await;
    create_bot(
        &s,
        &p,
        &bot,
        json!({"debounce_ms": 0, "reply": {"typing": true, "delay_per_char_ms": 50, "max_delay_ms": 600}}),
    )
    .await;
    let from = "5511966661234";
    inbound(&s, &p, from, "hello").await;
    let msgs = messages_until(&s, &p, from, "the answer", |m| texts(m, true).len() == 1).await;
    let reply = msgs.iter().find(|m| m["is_from_me"] == true).unwrap();
    assert_eq!(reply["message_body"], "Echo: hello");
    let (status, body) = s
        .api
        .call(
            Method::GET,
            &s.cp.url(&format!("/sandbox/presence?chat={from}")),
            Some(&p.sk),
            Some(&host(p.id)),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let shown = body["data"]["presence"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "one indicator for one reply: {body}");
    assert_eq!(shown[0]["state"], "composing");
    assert!(shown[0]["chat"].as_str().unwrap().starts_with(from));
    // "Echo: hello" is 11 characters at 50 ms each: typing shows about 550 ms before it goes.
    let at = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap())
            .unwrap()
            .timestamp_millis()
    };
    let ahead = at(&reply["timestamp"]) - at(&shown[0]["at"]);
    assert!(
        (500..5_000).contains(&ahead),
        "typing shown {ahead} ms before the reply"
    );
}

#[tokio::test]
async fn a_bot_answers_with_library_media_and_unreadable_messages_get_the_fixed_reply() {
    let s = setup().await;
    let p = paired(&s, "Media bot", "5511955557777").await;
    // A PNG in the tenant's media library.
    let mut png =
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06".to_vec();
    png.resize(300, 7);
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png).file_name("logo.png"),
    );
    let resp = s
        .api
        .client
        .post(s.cp.url("/api/v1/media/upload"))
        .bearer_auth(&s.user)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let uploaded: Value = resp.json().await.unwrap();
    let media_id = uploaded["data"]["id"].as_str().unwrap().to_owned();
    let bot = Receiver::start().await;
    let calls: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = calls.clone();
    bot.set_responder(move |body| {
        seen.lock()
            .unwrap()
            .push(serde_json::from_slice(body).unwrap_or_default());
        serde_json::to_vec(&json!({"replies": [
            {"type": "text", "text": "Nosso logo:"},
            {"type": "media", "media_type": "image", "media_id": media_id, "caption": "o logo"},
        ]}))
        .unwrap()
    });
    create_bot(
        &s,
        &p,
        &bot,
        json!({"debounce_ms": 0, "unsupported_message_reply": "Só entendo texto"}),
    )
    .await;
    let from = "5511977771234";
    inbound(&s, &p, from, "logo?").await;
    let msgs = messages_until(&s, &p, from, "the two replies", |m| {
        m.iter().filter(|m| m["is_from_me"] == true).count() == 2
    })
    .await;
    let ours: Vec<&Value> = msgs.iter().filter(|m| m["is_from_me"] == true).collect();
    assert_eq!(ours[0]["message_body"], "Nosso logo:");
    assert_eq!(ours[1]["message_type"], "image", "{}", ours[1]);
    assert_eq!(ours[1]["media"]["caption"], "o logo", "{}", ours[1]);
    assert!(ours[1]["sent_by_automation"].is_object(), "{}", ours[1]);
    // A location cannot be read as text: the fixed reply, and the bot is not asked.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &s.cp.url("/sandbox/inbound"),
            Some(&p.sk),
            Some(&host(p.id)),
            Some(json!({"from": from, "location": {"latitude": -23.5, "longitude": -46.6}})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let msgs = messages_until(&s, &p, from, "the fixed reply", |m| {
        m.iter().filter(|m| m["is_from_me"] == true).count() == 3
    })
    .await;
    let last = msgs.iter().rfind(|m| m["is_from_me"] == true).unwrap();
    assert_eq!(last["message_body"], "Só entendo texto");
    assert_eq!(calls.lock().unwrap().len(), 1, "the bot saw only the text");
}
