//! Definitions refused (each kind of mistake, named) and accepted.

use super::*;

#[test]
fn a_valid_definition_round_trips() {
    let v = model::definition_example();
    let f = flow(v.clone());
    assert_eq!(f.start(), "welcome");
    assert_eq!(f.to_json(), v);
    let again: Flow = serde_json::from_value(serde_json::to_value(&f).unwrap()).unwrap();
    assert_eq!(again, f);
    assert!(Flow::from_json(&json!({"start": "x", "steps": []})).is_err());
    // A snapshot that is no longer valid does not deserialize.
    assert!(
        serde_json::from_value::<Flow>(
            json!({"start": "nope", "steps": [{"id": "a", "type": "end"}]})
        )
        .is_err()
    );
}

#[test]
fn dangling_targets_are_named() {
    let e = err(json!({"start": "a", "steps": [
        {"id": "a", "type": "send_text", "text": "hi", "next": "b"},
        {"id": "b", "type": "menu", "text": "pick", "options": [
            {"label": "x", "next": "a"}, {"label": "y", "next": "ghost"}]}
    ]}));
    assert_eq!(e.field, "definition.steps[1].options[1].next");
    assert_eq!(e.step.as_deref(), Some("b"));
    assert!(e.message.contains("'ghost'"), "{e}");

    let e = err(json!({"start": "a", "steps": [{"id": "a", "type": "goto", "target": "zz"}]}));
    assert_eq!(e.field, "definition.steps[0].target");

    let e = err(json!({"start": "nope", "steps": [{"id": "a", "type": "end"}]}));
    assert_eq!(e.field, "definition.start");
    let e = err(json!({"steps": [{"id": "a", "type": "end"}]}));
    assert_eq!(e.field, "definition.start");
}

#[test]
fn unreachable_steps_are_named() {
    let e = err(json!({"start": "a", "steps": [
        {"id": "a", "type": "end"},
        {"id": "lonely", "type": "send_text", "text": "x"}
    ]}));
    assert_eq!(e.field, "definition.steps[1].id");
    assert!(e.message.contains("'lonely'"), "{e}");
}

#[test]
fn cycles_must_wait_for_the_user() {
    let e = err(json!({"start": "a", "steps": [
        {"id": "a", "type": "send_text", "text": "x", "next": "b"},
        {"id": "b", "type": "add_tag", "tag": "t", "next": "c"},
        {"id": "c", "type": "goto", "target": "a"}
    ]}));
    assert_eq!(e.field, "definition.steps[2].target");
    assert_eq!(e.step.as_deref(), Some("c"));
    assert!(e.message.contains("never waits"), "{e}");
    // A self-loop through a condition's else.
    let e = err(json!({"start": "a", "steps": [
        {"id": "a", "type": "condition", "rules": [{"var": "x", "op": "equals", "value": "1", "next": "b"}], "else_next": "a"},
        {"id": "b", "type": "end"}
    ]}));
    assert_eq!(e.field, "definition.steps[0].else_next");
    // Through a menu, a wait or a question, a loop is fine.
    flow(json!({"start": "a", "steps": [
        {"id": "a", "type": "send_text", "text": "x", "next": "m"},
        {"id": "m", "type": "menu", "text": "again?", "options": [{"label": "yes", "next": "a"}, {"label": "no", "next": "w"}]},
        {"id": "w", "type": "wait", "seconds": 5, "next": "a"}
    ]}));
}

#[test]
fn step_fields_are_checked() {
    let one = |step: Value| err(json!({"start": "a", "steps": [step]}));
    let e = one(json!({"id": "a", "type": "teleport"}));
    assert_eq!(e.field, "definition.steps[0].type");
    assert!(e.message.contains("unknown type 'teleport'"), "{e}");
    let e = one(json!({"id": "a", "type": "send_text"}));
    assert_eq!(e.field, "definition.steps[0].text");
    assert!(e.message.contains("required"), "{e}");
    let e = one(json!({"id": "a", "type": "send_text", "txt": "typo"}));
    assert_eq!(e.field, "definition.steps[0].txt");
    let e = one(json!({"id": "a", "type": "send_text", "text": 5}));
    assert_eq!(e.field, "definition.steps[0].text");
    let e = one(json!({"id": "a", "type": "send_text", "text": "x".repeat(4097)}));
    assert_eq!(e.field, "definition.steps[0].text");
    let e = one(json!({"id": "a", "type": "menu", "text": "m", "options": [{"label": "x"}]}));
    assert_eq!(e.field, "definition.steps[0].options[0].next");
    let e = one(json!({"id": "a", "type": "question", "text": "q"}));
    assert_eq!(e.field, "definition.steps[0].save_as");
    let e = one(json!({"id": "a", "type": "question", "text": "q", "save_as": "contact"}));
    assert_eq!(e.field, "definition.steps[0].save_as");
    let e = one(
        json!({"id": "a", "type": "question", "text": "q", "save_as": "x", "validate": "options"}),
    );
    assert_eq!(e.field, "definition.steps[0].options");
    let e = one(
        json!({"id": "a", "type": "question", "text": "q", "save_as": "x", "validate": "zodiac"}),
    );
    assert_eq!(e.field, "definition.steps[0].validate");
    let e = one(
        json!({"id": "a", "type": "question", "text": "q", "save_as": "x", "timeout_next": "a"}),
    );
    assert_eq!(e.field, "definition.steps[0].timeout_minutes");
    let e = one(json!({"id": "a", "type": "wait", "seconds": 86401}));
    assert_eq!(e.field, "definition.steps[0].seconds");
    let e = one(json!({"id": "a", "type": "http_request", "url": "ftp://x"}));
    assert_eq!(e.field, "definition.steps[0].url");
    let e = one(
        json!({"id": "a", "type": "http_request", "url": "https://x.test", "timeout_seconds": 31}),
    );
    assert_eq!(e.field, "definition.steps[0].timeout_seconds");
    let e = one(
        json!({"id": "a", "type": "http_request", "url": "https://x.test", "auth": {"type": "oauth"}}),
    );
    assert_eq!(e.field, "definition.steps[0].auth.type");
    let e = one(json!({"id": "a", "type": "send_media", "media_type": "image"}));
    assert_eq!(e.field, "definition.steps[0].media_id");
    let e = one(json!({"id": "a", "type": "ai_agent", "integration_id": "not-a-uuid"}));
    assert_eq!(e.field, "definition.steps[0].integration_id");
    let e = one(json!({"id": "a", "type": "set_contact_field", "field": "age", "value": "1"}));
    assert_eq!(e.field, "definition.steps[0].field");
    let e = one(
        json!({"id": "a", "type": "condition", "rules": [{"var": "x", "op": "regex", "value": "(", "next": "a"}], "else_next": "a"}),
    );
    assert_eq!(e.field, "definition.steps[0].rules[0].value");
    let e = one(
        json!({"id": "a", "type": "condition", "rules": [{"var": "x", "op": "gt", "value": "many", "next": "a"}], "else_next": "a"}),
    );
    assert_eq!(e.field, "definition.steps[0].rules[0].value");
    let e = one(
        json!({"id": "a", "type": "condition", "rules": [{"op": "business_hours", "days": [1, 8], "from": "09:00", "to": "18:00", "next": "a"}], "else_next": "a"}),
    );
    assert_eq!(e.field, "definition.steps[0].rules[0].days");
    let e = one(
        json!({"id": "a", "type": "condition", "rules": [{"op": "business_hours", "days": [1], "from": "9h", "to": "18:00", "next": "a"}], "else_next": "a"}),
    );
    assert_eq!(e.field, "definition.steps[0].rules[0].from");
    let e = one(json!({"id": "a b", "type": "end"}));
    assert_eq!(e.field, "definition.steps[0].id");
    let e = one(json!({"type": "end"}));
    assert_eq!(e.field, "definition.steps[0].id");
}

#[test]
fn definition_limits() {
    let e = err(
        json!({"start": "a", "steps": [{"id": "a", "type": "end"}, {"id": "a", "type": "end"}]}),
    );
    assert_eq!(e.field, "definition.steps[1].id");
    assert!(e.message.contains("twice"), "{e}");
    let steps: Vec<Value> = (0..201)
        .map(|i| json!({"id": format!("s{i}"), "type": "end"}))
        .collect();
    assert_eq!(
        err(json!({"start": "s0", "steps": steps})).field,
        "definition.steps"
    );
    let big = "x".repeat(4000);
    let steps: Vec<Value> = (0..70)
        .map(|i| json!({"id": format!("s{i}"), "type": "send_text", "text": big, "next": format!("s{}", i + 1)}))
        .collect();
    assert_eq!(
        err(json!({"start": "s0", "steps": steps})).field,
        "definition"
    );
    assert_eq!(err(json!([1])).field, "definition");
    assert_eq!(
        err(json!({"start": "a", "steps": [{"id": "a", "type": "end"}], "colour": 1})).field,
        "definition.colour"
    );
    let e = AppError::from(err(json!({"start": "a", "steps": []})));
    let AppError::Client(body) = e else {
        panic!("a client error")
    };
    assert_eq!(
        body.details["definition.steps"][0],
        json!("The steps field is required: a list of at least one step.")
    );
}
