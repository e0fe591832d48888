//! Runs through every step type, with a fake HTTP environment.

use super::*;

fn menu_flow(extra: Value) -> Flow {
    let mut menu = json!({"id": "menu", "type": "menu", "text": "Hi {{contact.name}}, pick:", "save_as": "dept",
        "options": [{"label": "Sales", "value": "sales", "next": "s"}, {"label": "Support", "next": "fb"}]});
    for (k, v) in extra.as_object().unwrap() {
        menu[k] = v.clone();
    }
    flow(json!({"start": "menu", "steps": [
        menu,
        {"id": "s", "type": "end", "message": "Sales it is ({{dept}})."},
        {"id": "h", "type": "handoff", "message": "Connecting {{vars.dept}}..."},
        {"id": "fb", "type": "send_text", "text": "Let me get someone.", "next": "h"}
    ]}))
}

#[tokio::test]
async fn a_menu_picks_by_number_or_label() {
    let f = menu_flow(json!({"fallback_next": "fb"}));
    let mut st = FlowState::default();
    let o = start(&f, &mut st).await;
    assert_eq!(texts(&o), vec!["Hi Ana, pick:\n\n1. Sales\n2. Support"]);
    assert_eq!(
        o.status,
        FlowStatus::WaitingForUser {
            step: "menu".into(),
            timeout_at: None
        }
    );
    assert_eq!(o.trace, vec!["menu"]);
    assert_eq!(o.menu_actions, vec![0]);
    let o = say(&f, &mut st, " 1 ").await;
    assert_eq!(
        o.status,
        FlowStatus::Ended {
            message: Some("Sales it is (sales).".into())
        }
    );
    assert!(o.actions.is_empty());
    // Finished: anything further changes nothing.
    let o = say(&f, &mut st, "2").await;
    assert_eq!(o.status.name(), "ended");

    let mut st = FlowState::default();
    start(&f, &mut st).await;
    let o = say(&f, &mut st, "SUPPORT").await;
    assert_eq!(texts(&o), vec!["Let me get someone."]);
    assert_eq!(
        o.status,
        FlowStatus::HandOff {
            message: Some("Connecting Support...".into())
        }
    );
}

#[tokio::test]
async fn a_menu_retries_then_falls_back() {
    let f = menu_flow(
        json!({"fallback_next": "fb", "retry_message": "Pick 1 or 2, {{contact.name}}."}),
    );
    let mut st = FlowState::default();
    start(&f, &mut st).await;
    for _ in 0..2 {
        let o = say(&f, &mut st, "maybe").await;
        assert_eq!(texts(&o), vec!["Pick 1 or 2, Ana."]);
        assert!(o.menu_actions.is_empty());
        assert_eq!(o.status.name(), "waiting_for_user");
    }
    let o = say(&f, &mut st, "3").await;
    assert_eq!(texts(&o), vec!["Let me get someone."]);
    assert_eq!(o.trace, vec!["menu", "fb", "h"]);
    assert_eq!(o.status.name(), "handoff");

    // Without a fallback (and no retries allowed) the flow ends; the default retry text.
    let f = menu_flow(json!({"max_retries": 1}));
    let mut st = FlowState::default();
    start(&f, &mut st).await;
    let o = say(&f, &mut st, "?").await;
    assert_eq!(
        texts(&o),
        vec!["Please reply with the number of an option (1 to 2)."]
    );
    let o = say(&f, &mut st, "?").await;
    assert_eq!(o.status, FlowStatus::Ended { message: None });
    assert!(!o.notes.is_empty());
}

fn question(validate: &str, options: Option<Value>) -> Flow {
    let mut q = json!({"id": "q", "type": "question", "text": "Answer?", "save_as": "ans",
        "validate": validate, "max_retries": 1, "next": "done"});
    if let Some(o) = options {
        q["options"] = o;
    }
    flow(
        json!({"start": "q", "steps": [q, {"id": "done", "type": "end", "message": "Got {{ans}}"}]}),
    )
}

/// The message the flow ends with after `answer`, or None when it asked again.
async fn ask(f: &Flow, answer: &str) -> Option<String> {
    let mut st = FlowState::default();
    start(f, &mut st).await;
    let o = say(f, &mut st, answer).await;
    match o.status {
        FlowStatus::Ended { message } => message,
        FlowStatus::WaitingForUser { .. } => {
            assert_eq!(o.actions.len(), 1, "a retry message");
            None
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn questions_check_and_normalize_answers() {
    let email = question("email", None);
    assert_eq!(
        ask(&email, " Ana@Example.COM ").await.as_deref(),
        Some("Got ana@example.com")
    );
    assert_eq!(ask(&email, "ana@").await, None);
    assert_eq!(ask(&email, "ana example.com").await, None);

    let number = question("number", None);
    assert_eq!(ask(&number, "42").await.as_deref(), Some("Got 42"));
    assert_eq!(ask(&number, "3,5").await.as_deref(), Some("Got 3.5"));
    assert_eq!(ask(&number, "lots").await, None);
    assert_eq!(ask(&number, "inf").await, None);

    let cpf = question("cpf", None);
    assert_eq!(
        ask(&cpf, "529.982.247-25").await.as_deref(),
        Some("Got 52998224725")
    );
    assert_eq!(ask(&cpf, "52998224724").await, None);
    assert_eq!(ask(&cpf, "111.111.111-11").await, None);
    assert_eq!(ask(&cpf, "5299822472").await, None);

    let date = question("date", None);
    assert_eq!(
        ask(&date, "31/12/2024").await.as_deref(),
        Some("Got 2024-12-31")
    );
    assert_eq!(
        ask(&date, "2024-02-29").await.as_deref(),
        Some("Got 2024-02-29")
    );
    assert_eq!(ask(&date, "30/02/2024").await, None);
    assert_eq!(ask(&date, "tomorrow").await, None);

    let phone = question("phone", None);
    assert_eq!(
        ask(&phone, "+55 (11) 99999-0000").await.as_deref(),
        Some("Got 5511999990000")
    );
    assert_eq!(ask(&phone, "123").await, None);

    let opts = question("options", Some(json!(["Red", "Blue"])));
    assert_eq!(ask(&opts, "blue").await.as_deref(), Some("Got Blue"));
    assert_eq!(ask(&opts, "1").await.as_deref(), Some("Got Red"));
    assert_eq!(ask(&opts, "green").await, None);

    let text = question("text", None);
    assert_eq!(ask(&text, "  hello ").await.as_deref(), Some("Got hello"));
    assert_eq!(ask(&text, "   ").await, None);
}

#[tokio::test]
async fn a_question_saves_typed_values_and_default_retries() {
    let f = question("number", None);
    let mut st = FlowState::default();
    start(&f, &mut st).await;
    let o = say(&f, &mut st, "many").await;
    assert_eq!(texts(&o), vec!["Please answer with a number."]);
    say(&f, &mut st, "7").await;
    assert_eq!(st.vars["ans"], json!(7));
}

fn condition(rules: Value) -> Flow {
    flow(json!({"start": "c", "utc_offset_minutes": -180, "steps": [
        {"id": "c", "type": "condition", "rules": rules, "else_next": "no"},
        {"id": "yes", "type": "end", "message": "yes"},
        {"id": "no", "type": "end", "message": "no"}
    ]}))
}

async fn holds(rules: Value, vars: Value, now: DateTime<Utc>) -> bool {
    let f = condition(rules);
    let mut st = FlowState {
        vars: vars.as_object().unwrap().clone(),
        ..FlowState::default()
    };
    let o = advance(&f, &mut st, None, &ctx_at(now), &Fake::failing()).await;
    match o.status {
        FlowStatus::Ended { message } => message.as_deref() == Some("yes"),
        other => panic!("{other:?}"),
    }
}

async fn rule(var: &str, op: &str, value: Value, vars: Value) -> bool {
    holds(
        json!([{"var": var, "op": op, "value": value, "next": "yes"}]),
        vars,
        noon(),
    )
    .await
}

#[tokio::test]
async fn condition_operators() {
    let v = json!({"city": "São Paulo", "n": 10, "empty": ""});
    assert!(rule("city", "equals", json!("são paulo"), v.clone()).await);
    assert!(!rule("city", "equals", json!("Rio"), v.clone()).await);
    assert!(rule("vars.city", "not_equals", json!("Rio"), v.clone()).await);
    assert!(rule("city", "contains", json!("PAULO"), v.clone()).await);
    assert!(rule("city", "regex", json!("^s.o\\s+paulo$"), v.clone()).await);
    assert!(!rule("city", "regex", json!("^rio"), v.clone()).await);
    assert!(rule("n", "gt", json!(9), v.clone()).await);
    assert!(rule("n", "gte", json!("10"), v.clone()).await);
    assert!(!rule("n", "lt", json!(10), v.clone()).await);
    assert!(rule("n", "lte", json!("10,0"), v.clone()).await);
    assert!(
        !rule("city", "gt", json!(1), v.clone()).await,
        "not a number: false"
    );
    assert!(
        rule("n", "equals", json!("10.0"), v.clone()).await,
        "numbers compare as numbers"
    );
    assert!(rule("empty", "is_empty", Value::Null, v.clone()).await);
    assert!(rule("missing", "is_empty", Value::Null, v.clone()).await);
    assert!(!rule("city", "is_empty", Value::Null, v.clone()).await);
    assert!(rule("contact.name", "equals", json!("ana"), v.clone()).await);
    assert!(
        rule("city", "equals", json!("{{vars.city}}"), v.clone()).await,
        "values are templated"
    );
    // The first rule that holds wins.
    let f = flow(json!({"start": "c", "steps": [
        {"id": "c", "type": "condition", "rules": [
            {"var": "x", "op": "equals", "value": "1", "next": "one"},
            {"var": "x", "op": "gte", "value": "1", "next": "two"}], "else_next": "one"},
        {"id": "one", "type": "end", "message": "one"},
        {"id": "two", "type": "end", "message": "two"}
    ]}));
    let mut st = FlowState {
        vars: json!({"x": "5"}).as_object().unwrap().clone(),
        ..Default::default()
    };
    let o = start(&f, &mut st).await;
    assert_eq!(
        o.status,
        FlowStatus::Ended {
            message: Some("two".into())
        }
    );
}

#[tokio::test]
async fn business_hours_in_the_flows_offset() {
    let r = |days: Value, from: &str, to: &str| json!([{"op": "business_hours", "days": days, "from": from, "to": to, "next": "yes"}]);
    let at = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2025, 1, d, h, m, 0).unwrap();
    // Wednesday 12:00 UTC is 09:00 at UTC-3.
    assert!(
        holds(
            r(json!([1, 2, 3, 4, 5]), "09:00", "18:00"),
            json!({}),
            at(15, 12, 0)
        )
        .await
    );
    assert!(
        !holds(
            r(json!([1, 2, 3, 4, 5]), "09:00", "18:00"),
            json!({}),
            at(15, 11, 59)
        )
        .await
    );
    assert!(
        !holds(
            r(json!([1, 2, 3, 4, 5]), "09:00", "18:00"),
            json!({}),
            at(15, 21, 0)
        )
        .await,
        "18:00 is closed"
    );
    // Saturday 18 January.
    assert!(
        !holds(
            r(json!([1, 2, 3, 4, 5]), "09:00", "18:00"),
            json!({}),
            at(18, 14, 0)
        )
        .await
    );
    assert!(holds(r(json!([6]), "09:00", "13:00"), json!({}), at(18, 14, 0)).await);
    // Overnight: Friday 22:00 to 02:00; Saturday 01:00 local belongs to Friday.
    assert!(holds(r(json!([5]), "22:00", "02:00"), json!({}), at(18, 4, 0)).await);
    assert!(!holds(r(json!([5]), "22:00", "02:00"), json!({}), at(18, 6, 0)).await);
    // A rule's own offset wins over the flow's.
    let own = json!([{"op": "business_hours", "days": [3], "from": "12:00", "to": "13:00", "utc_offset_minutes": 0, "next": "yes"}]);
    assert!(holds(own, json!({}), at(15, 12, 30)).await);
}

#[tokio::test]
async fn templates_read_contact_clock_message_and_vars() {
    let f = flow(json!({"start": "t", "utc_offset_minutes": -180, "steps": [
        {"id": "t", "type": "send_text", "next": "set",
         "text": "{{contact.name}}|{{ contact.phone }}|{{now.date}}|{{now.time}}|{{now.datetime}}|{{message.text}}|{{order.id}}|{{vars.order.items.1}}|{{nope}}|{{unclosed"},
        {"id": "set", "type": "set_contact_field", "field": "email", "value": " {{mail}} ", "next": "t2"},
        {"id": "t2", "type": "send_text", "text": "{{contact.email}}"}
    ]}));
    let mut st = FlowState {
        vars: json!({"order": {"id": 7, "items": ["a", "b"]}, "mail": "a@b.co"})
            .as_object()
            .unwrap()
            .clone(),
        ..Default::default()
    };
    let o = advance(&f, &mut st, msg("hello there"), &ctx(), &Fake::failing()).await;
    assert_eq!(
        texts(&o),
        vec![
            "Ana|5511999990000|2025-01-15|09:00|2025-01-15 09:00|hello there|7|b||{{unclosed",
            "a@b.co"
        ]
    );
    assert!(o.actions.contains(&FlowAction::SetContactField {
        field: "email".into(),
        value: "a@b.co".into()
    }));
    assert_eq!(o.action_steps, vec!["t", "set", "t2"]);
    assert_eq!(o.status, FlowStatus::Ended { message: None });
}

fn http_flow(step: Value) -> Flow {
    let mut h = json!({"id": "h", "type": "http_request", "next": "ok"});
    for (k, v) in step.as_object().unwrap() {
        h[k] = v.clone();
    }
    let mut steps = vec![
        h.clone(),
        json!({"id": "ok", "type": "end", "message": "ok {{name}} {{code}} {{http_error}}"}),
    ];
    if h.get("error_next").is_some() {
        steps.push(json!({"id": "bad", "type": "end", "message": "bad {{http_error}} {{code}}"}));
    }
    flow(json!({"start": "h", "steps": steps}))
}

#[tokio::test]
async fn http_steps_send_templated_requests_and_save_paths() {
    let f = http_flow(json!({
        "method": "POST",
        "url": "https://api.test/c?phone={{contact.phone}}&q={{q}}",
        "headers": {"X-Trace": "{{contact.name}}"},
        "auth": {"type": "basic", "username": "u", "password": "{{secret}}"},
        "body": {"name": "{{contact.name}}", "n": "{{n}}", "note": "n={{n}}"},
        "timeout_seconds": 5,
        "save": {"name": "data.users.1.name", "all": ""},
        "status_var": "code",
        "error_next": "bad"
    }));
    let env = Fake::ok(
        200,
        r#"{"data": {"users": [{"name": "x"}, {"name": "Bia"}]}}"#,
    );
    let mut st = FlowState {
        vars: json!({"q": "a b&c", "secret": "p", "n": 3})
            .as_object()
            .unwrap()
            .clone(),
        ..Default::default()
    };
    let o = advance(&f, &mut st, None, &ctx(), &env).await;
    assert_eq!(
        o.status,
        FlowStatus::Ended {
            message: Some("ok Bia 200 ".into())
        }
    );
    assert_eq!(st.vars["all"]["data"]["users"][0]["name"], "x");
    let seen = env.seen.lock().unwrap();
    let req = &seen[0];
    assert_eq!(req.method, reqwest::Method::POST);
    assert_eq!(
        req.url,
        "https://api.test/c?phone=5511999990000&q=a%20b%26c"
    );
    assert_eq!(req.timeout, Some(std::time::Duration::from_secs(5)));
    let header = |n: &str| {
        req.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("x-trace").as_deref(), Some("Ana"));
    assert_eq!(header("authorization").as_deref(), Some("Basic dTpw"));
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    let body: Value = serde_json::from_slice(req.body.as_ref().unwrap()).unwrap();
    assert_eq!(body, json!({"name": "Ana", "n": 3, "note": "n=3"}));
}

#[tokio::test]
async fn http_failures_go_to_error_next_or_on() {
    let f =
        http_flow(json!({"url": "https://api.test/x", "status_var": "code", "error_next": "bad"}));
    let mut st = FlowState::default();
    let o = advance(&f, &mut st, None, &ctx(), &Fake::ok(503, "{}")).await;
    assert_eq!(
        o.status,
        FlowStatus::Ended {
            message: Some("bad the server answered HTTP 503 503".into())
        }
    );
    assert_eq!(o.notes.len(), 1);

    let mut st = FlowState::default();
    let o = advance(&f, &mut st, None, &ctx(), &Fake::failing()).await;
    assert_eq!(
        o.status,
        FlowStatus::Ended {
            message: Some("bad the call timed out 0".into())
        }
    );

    // Without error_next the flow goes on, the reason in http_error.
    let f = http_flow(json!({"url": "https://api.test/x"}));
    let mut st = FlowState::default();
    let o = advance(&f, &mut st, None, &ctx(), &Fake::failing()).await;
    assert_eq!(
        o.status,
        FlowStatus::Ended {
            message: Some("ok   the call timed out".into())
        }
    );
    assert_eq!(st.vars["http_error"], "the call timed out");
}

#[tokio::test]
async fn final_steps_and_their_statuses() {
    let agent = uuid::Uuid::new_v4();
    let f = flow(json!({"start": "a", "steps": [
        {"id": "a", "type": "add_tag", "tag": " vip ", "next": "b"},
        {"id": "b", "type": "remove_tag", "tag": "new", "next": "m"},
        {"id": "m", "type": "send_media", "media_type": "image", "media_id": "media_1", "caption": "for {{contact.name}}", "next": "g"},
        {"id": "g", "type": "goto", "target": "ai"},
        {"id": "ai", "type": "ai_agent", "integration_id": agent, "message": "An assistant takes over."}
    ]}));
    let mut st = FlowState::default();
    let o = start(&f, &mut st).await;
    assert_eq!(
        o.actions,
        vec![
            FlowAction::AddTag("vip".into()),
            FlowAction::RemoveTag("new".into()),
            FlowAction::Media {
                media_type: "image".into(),
                media_id: Some("media_1".into()),
                url: None,
                caption: Some("for Ana".into()),
                filename: None
            },
        ]
    );
    assert_eq!(o.trace, vec!["a", "b", "m", "g", "ai"]);
    assert_eq!(
        o.status,
        FlowStatus::ToAgent {
            integration: agent,
            message: Some("An assistant takes over.".into())
        }
    );
    assert!(st.ended);
    assert_eq!(
        f.agent_integrations(),
        vec![(
            "definition.steps[4].integration_id".to_owned(),
            "ai".to_owned(),
            agent
        )]
    );

    let f = flow(json!({"start": "h", "steps": [{"id": "h", "type": "handoff"}]}));
    let mut st = FlowState::default();
    assert_eq!(
        start(&f, &mut st).await.status,
        FlowStatus::HandOff { message: None }
    );
    // A step without next ends the flow.
    let f = flow(json!({"start": "t", "steps": [{"id": "t", "type": "send_text", "text": "bye"}]}));
    let mut st = FlowState::default();
    assert_eq!(
        start(&f, &mut st).await.status,
        FlowStatus::Ended { message: None }
    );
}

#[tokio::test]
async fn waits_and_timeouts_resume_on_due_timers() {
    let f = flow(json!({"start": "w", "steps": [
        {"id": "w", "type": "wait", "seconds": 60, "next": "q"},
        {"id": "q", "type": "question", "text": "Name?", "save_as": "n", "timeout_minutes": 5, "timeout_next": "late", "next": "done"},
        {"id": "late", "type": "end", "message": "Too late."},
        {"id": "done", "type": "end"}
    ]}));
    let env = Fake::failing();
    let mut st = FlowState::default();
    let o = advance(&f, &mut st, None, &ctx(), &env).await;
    let until = noon() + chrono::Duration::seconds(60);
    assert_eq!(
        o.status,
        FlowStatus::Sleeping {
            step: "w".into(),
            until
        }
    );
    // Snapshot and restore the state between turns.
    let mut st: FlowState = serde_json::from_value(serde_json::to_value(&st).unwrap()).unwrap();
    // A message during the wait is not an answer; an early timer changes nothing.
    let o = advance(&f, &mut st, msg("hello?"), &ctx(), &env).await;
    assert_eq!(
        o.status,
        FlowStatus::Sleeping {
            step: "w".into(),
            until
        }
    );
    let o = advance(
        &f,
        &mut st,
        Some(Resume::Timer),
        &ctx_at(noon() + chrono::Duration::seconds(30)),
        &env,
    )
    .await;
    assert_eq!(
        o.status,
        FlowStatus::Sleeping {
            step: "w".into(),
            until
        }
    );
    assert!(o.actions.is_empty());
    let later = ctx_at(until);
    let o = advance(&f, &mut st, Some(Resume::Timer), &later, &env).await;
    assert_eq!(texts(&o), vec!["Name?"]);
    let timeout_at = until + chrono::Duration::minutes(5);
    assert_eq!(
        o.status,
        FlowStatus::WaitingForUser {
            step: "q".into(),
            timeout_at: Some(timeout_at)
        }
    );
    // `None` on a waiting flow changes nothing either.
    let o = advance(&f, &mut st, None, &later, &env).await;
    assert_eq!(o.status.name(), "waiting_for_user");
    let o = advance(&f, &mut st, Some(Resume::Timer), &ctx_at(timeout_at), &env).await;
    assert_eq!(
        o.status,
        FlowStatus::Ended {
            message: Some("Too late.".into())
        }
    );
}

#[tokio::test]
async fn the_step_cap_ends_long_runs() {
    let steps: Vec<Value> = (0..150)
        .map(|i| json!({"id": format!("s{i}"), "type": "add_tag", "tag": "t", "next": format!("s{}", i + 1)}))
        .chain([json!({"id": "s150", "type": "end"})])
        .collect();
    let f = flow(json!({"start": "s0", "steps": steps}));
    let mut st = FlowState::default();
    let o = start(&f, &mut st).await;
    assert_eq!(o.actions.len(), MAX_STEPS_PER_ADVANCE);
    assert_eq!(o.status, FlowStatus::Ended { message: None });
    assert!(o.notes[0].message.contains("steps without waiting"));
}

#[test]
fn credentials_are_sealed_for_storage_and_opened_to_run() {
    let secrets = crate::crypto::SecretBox::new(&[7; 32]);
    let plain = http_flow(
        json!({"url": "https://api.test/x", "auth": {"type": "basic", "username": "u", "password": "hunter2"}}),
    );
    let mut sealed = plain.clone();
    sealed.seal_secrets(&secrets);
    let stored = sealed.to_json();
    assert!(!stored.to_string().contains("hunter2"), "{stored}");
    assert_eq!(stored["steps"][0]["auth"]["username"], "u");
    // Sealing what is sealed changes nothing; opening gives the original back.
    let mut again = sealed.clone();
    again.seal_secrets(&secrets);
    assert_eq!(again, sealed);
    let mut opened = parse(&stored).unwrap();
    opened.open_secrets(&secrets);
    assert_eq!(opened, plain);
}
