//! The typed shape of a flow definition: what `parse` produces from the stored JSON and what
//! the OpenAPI document describes. Plain data; the rules between steps (ids, targets, cycles)
//! are checked in `validate`, and nothing here runs a step.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

mod steps;

pub use steps::*;

/// A flow's graph of steps: the run begins at `start` and follows each step's `next`.
/// A step without `next` (where `next` is optional) ends the flow after it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[schema(as = FlowDefinition, example = definition_example)]
pub struct Definition {
    /// The id of the first step.
    #[schema(example = "welcome")]
    pub start: String,
    /// 1 to 200 steps with unique ids.
    #[schema(max_items = 200, min_items = 1)]
    pub steps: Vec<Step>,
    /// Minutes east of UTC for `{{now.*}}` and `business_hours` rules that give none
    /// (default 0; -840 to 840; `-180` is Brasília).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_minutes: Option<i32>,
    /// Free-form data for editors (positions, notes); ignored by the engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

pub(crate) fn definition_example() -> Value {
    serde_json::json!({
        "start": "welcome",
        "steps": [
            {"id": "welcome", "type": "send_text", "text": "Hi {{contact.name}}!", "next": "menu"},
            {"id": "menu", "type": "menu", "text": "How can we help?", "options": [
                {"label": "Sales", "next": "email"},
                {"label": "Support", "next": "human"}
            ]},
            {"id": "email", "type": "question", "text": "Your e-mail?", "save_as": "email",
             "validate": "email", "next": "bye"},
            {"id": "bye", "type": "end", "message": "Thanks, we will write to {{email}}."},
            {"id": "human", "type": "handoff", "message": "An agent will answer shortly."}
        ]
    })
}

/// One step: `id`, `type` and the type's fields. Every step may carry `meta` (free-form,
/// for editors). A field a step type does not have is refused when the definition is saved
/// (`validate` checks the keys against each type's schema; the step structs cannot deny
/// unknown fields themselves, or their schemas would refuse the `type` tag).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
#[schema(as = FlowStep)]
pub enum Step {
    SendText(SendText),
    SendMedia(SendMedia),
    Menu(Menu),
    Question(Question),
    Condition(Condition),
    HttpRequest(HttpRequest),
    AddTag(TagStep),
    RemoveTag(TagStep),
    SetContactField(SetContactField),
    Handoff(Handoff),
    AiAgent(AiAgent),
    Wait(Wait),
    Goto(Goto),
    End(End),
}

/// The step types, as `type` spells them.
pub const STEP_TYPES: [&str; 14] = [
    "send_text",
    "send_media",
    "menu",
    "question",
    "condition",
    "http_request",
    "add_tag",
    "remove_tag",
    "set_contact_field",
    "handoff",
    "ai_agent",
    "wait",
    "goto",
    "end",
];

impl Step {
    pub fn id(&self) -> &str {
        match self {
            Step::SendText(s) => &s.id,
            Step::SendMedia(s) => &s.id,
            Step::Menu(s) => &s.id,
            Step::Question(s) => &s.id,
            Step::Condition(s) => &s.id,
            Step::HttpRequest(s) => &s.id,
            Step::AddTag(s) | Step::RemoveTag(s) => &s.id,
            Step::SetContactField(s) => &s.id,
            Step::Handoff(s) => &s.id,
            Step::AiAgent(s) => &s.id,
            Step::Wait(s) => &s.id,
            Step::Goto(s) => &s.id,
            Step::End(s) => &s.id,
        }
    }

    /// The `type` of the step.
    pub fn type_name(&self) -> &'static str {
        match self {
            Step::SendText(_) => "send_text",
            Step::SendMedia(_) => "send_media",
            Step::Menu(_) => "menu",
            Step::Question(_) => "question",
            Step::Condition(_) => "condition",
            Step::HttpRequest(_) => "http_request",
            Step::AddTag(_) => "add_tag",
            Step::RemoveTag(_) => "remove_tag",
            Step::SetContactField(_) => "set_contact_field",
            Step::Handoff(_) => "handoff",
            Step::AiAgent(_) => "ai_agent",
            Step::Wait(_) => "wait",
            Step::Goto(_) => "goto",
            Step::End(_) => "end",
        }
    }

    /// Whether the run stops at this step until the user answers or time passes: a cycle
    /// through such a step cannot spin.
    pub fn waits(&self) -> bool {
        matches!(self, Step::Menu(_) | Step::Question(_) | Step::Wait(_))
    }

    /// The steps this one may lead to, with the field (relative to the step) naming each.
    pub fn edges(&self) -> Vec<(String, &str)> {
        fn opt<'a>(out: &mut Vec<(String, &'a str)>, field: &str, t: &'a Option<String>) {
            if let Some(t) = t {
                out.push((field.to_owned(), t.as_str()));
            }
        }
        let mut out = Vec::new();
        match self {
            Step::SendText(s) => opt(&mut out, "next", &s.next),
            Step::SendMedia(s) => opt(&mut out, "next", &s.next),
            Step::Menu(s) => {
                for (i, o) in s.options.iter().enumerate() {
                    out.push((format!("options[{i}].next"), o.next.as_str()));
                }
                opt(&mut out, "fallback_next", &s.fallback_next);
                opt(&mut out, "timeout_next", &s.timeout_next);
            }
            Step::Question(s) => {
                opt(&mut out, "next", &s.next);
                opt(&mut out, "fallback_next", &s.fallback_next);
                opt(&mut out, "timeout_next", &s.timeout_next);
            }
            Step::Condition(s) => {
                for (i, r) in s.rules.iter().enumerate() {
                    out.push((format!("rules[{i}].next"), r.next.as_str()));
                }
                out.push(("else_next".to_owned(), s.else_next.as_str()));
            }
            Step::HttpRequest(s) => {
                opt(&mut out, "next", &s.next);
                opt(&mut out, "error_next", &s.error_next);
            }
            Step::AddTag(s) | Step::RemoveTag(s) => opt(&mut out, "next", &s.next),
            Step::SetContactField(s) => opt(&mut out, "next", &s.next),
            Step::Wait(s) => opt(&mut out, "next", &s.next),
            Step::Goto(s) => out.push(("target".to_owned(), s.target.as_str())),
            Step::Handoff(_) | Step::AiAgent(_) | Step::End(_) => {}
        }
        out
    }
}
