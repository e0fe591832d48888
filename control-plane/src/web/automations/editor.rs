//! The flow editor's model: a definition (JSON, possibly unfinished) shown as a tree of step
//! cards (each step's fields, where each branch goes, its validation errors). Pure: no
//! services, no validation of its own (saving goes through the API's); field edits are made
//! by the page's script in the JSON itself, structural ones by [`super::editor_ops`].

use serde::Serialize;
use serde_json::{Map, Value};

pub use crate::automation::flow::model::STEP_TYPES;

use super::editor_specs::{Kind, Spec, f, item_specs, shown, specs};

/// The editor as the template shows it.
#[derive(Debug, Serialize)]
pub struct Editor {
    pub start: String,
    pub cards: Vec<Card>,
    pub step_ids: Vec<String>,
    /// Errors not on one step (`start`, the definition as a whole).
    pub errors: Vec<(String, String)>,
    pub step_types: &'static [&'static str],
    /// The definition, pretty-printed (the JSON alongside the cards).
    pub json: String,
}

/// One step.
#[derive(Debug, Serialize)]
pub struct Card {
    /// Its place in `steps` (paths use it: `steps.3.next`).
    pub index: usize,
    pub id: String,
    pub kind: String,
    /// How far from the first step (the tree's indentation).
    pub depth: usize,
    pub is_start: bool,
    pub unreachable: bool,
    /// The first time the tree reaches it (later branches link back to it).
    pub summary: String,
    pub fields: Vec<Field>,
    pub lists: Vec<List>,
    pub branches: Vec<Branch>,
    pub errors: Vec<String>,
}

/// An input bound to a place in the definition (`data-path`).
#[derive(Debug, Clone, Serialize)]
pub struct Field {
    pub path: String,
    pub label: &'static str,
    /// `text`, `textarea`, `number`, `select`, `step` (a step id), `json`, `lines`
    /// (one string a line), `numbers` (comma-separated), `scalar` (a number or a text).
    pub kind: &'static str,
    pub value: String,
    /// `select`: (value, label).
    pub choices: Vec<(String, String)>,
    pub required: bool,
    pub error: Option<String>,
}

/// A list of items (a menu's options, a condition's rules).
#[derive(Debug, Serialize)]
pub struct List {
    pub path: String,
    pub label: &'static str,
    pub item_label: &'static str,
    pub items: Vec<Vec<Field>>,
}

/// Where one branch of a step goes.
#[derive(Debug, Serialize)]
pub struct Branch {
    pub label: String,
    pub target: Option<String>,
    /// The target names no step.
    pub missing: bool,
}

struct Ctx<'a> {
    step_ids: &'a [String],
    agents: &'a [(String, String)],
    errors: &'a [(String, String)],
}

impl Ctx<'_> {
    fn field(&self, obj: &Map<String, Value>, at: &str, s: &Spec) -> Field {
        let path = format!("{at}.{}", s.name);
        let (kind, choices) = match s.kind {
            Kind::Text => ("text", Vec::new()),
            Kind::Textarea => ("textarea", Vec::new()),
            Kind::Number => ("number", Vec::new()),
            Kind::Select(all) => (
                "select",
                all.iter()
                    .map(|v| ((*v).to_owned(), v.replace('_', " ")))
                    .collect(),
            ),
            Kind::Step => (
                "step",
                self.step_ids
                    .iter()
                    .map(|i| (i.clone(), i.clone()))
                    .collect(),
            ),
            Kind::Agent => ("select", self.agents.to_vec()),
            Kind::Json => ("json", Vec::new()),
            Kind::Lines => ("lines", Vec::new()),
            Kind::Numbers => ("numbers", Vec::new()),
            Kind::Scalar => ("scalar", Vec::new()),
        };
        let mut choices = choices;
        let value = shown(obj.get(s.name), s.kind);
        if matches!(kind, "select" | "step")
            && !value.is_empty()
            && !choices.iter().any(|(v, _)| *v == value)
        {
            choices.push((value.clone(), format!("{value} (missing)")));
        }
        Field {
            error: self
                .errors
                .iter()
                .find(|(p, _)| *p == path)
                .map(|(_, m)| m.clone()),
            value,
            path,
            label: s.label,
            kind,
            choices,
            required: s.required,
        }
    }
}

/// `definition.steps[3].options[0].next` as the editor's path `steps.3.options.0.next`.
pub fn editor_path(field: &str) -> String {
    field
        .strip_prefix("definition.")
        .unwrap_or(field)
        .replace("][", ".")
        .replace('[', ".")
        .replace(']', "")
}

/// The step index an editor path points into (`steps.3…` → 3).
fn step_of(path: &str) -> Option<usize> {
    path.strip_prefix("steps.")?.split('.').next()?.parse().ok()
}

fn text_of(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(v) => v.to_string(),
    }
}

/// A step's branches: (label, target).
fn branches_of(step: &Map<String, Value>) -> Vec<(String, Option<String>)> {
    let target = |k: &str| {
        step.get(k)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let kind = step.get("type").and_then(Value::as_str).unwrap_or_default();
    let mut out = Vec::new();
    let items = |k: &str| {
        step.get(k)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    match kind {
        "menu" => {
            for (i, o) in items("options").iter().enumerate() {
                out.push((
                    format!("Option {}: {}", i + 1, text_of(o.get("label"))),
                    o.get("next")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                ));
            }
            out.push(("No valid answer".into(), target("fallback_next")));
            out.push(("No answer in time".into(), target("timeout_next")));
        }
        "question" => {
            out.push(("Answered".into(), target("next")));
            out.push(("No valid answer".into(), target("fallback_next")));
            out.push(("No answer in time".into(), target("timeout_next")));
        }
        "condition" => {
            for r in items("rules") {
                let op = text_of(r.get("op"));
                let label = if op == "business_hours" {
                    "If within business hours".to_owned()
                } else {
                    format!(
                        "If {} {} {}",
                        text_of(r.get("var")),
                        op.replace('_', " "),
                        text_of(r.get("value"))
                    )
                    .trim_end()
                    .to_owned()
                };
                out.push((
                    label,
                    r.get("next")
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                ));
            }
            out.push(("Otherwise".into(), target("else_next")));
        }
        "http_request" => {
            out.push(("Then".into(), target("next")));
            out.push(("On error".into(), target("error_next")));
        }
        "goto" => out.push(("Go to".into(), target("target"))),
        "handoff" | "ai_agent" | "end" => {}
        _ => out.push(("Then".into(), target("next"))),
    }
    // Optional branches not set are not shown (a step without `next` ends the flow).
    out.into_iter()
        .filter(|(l, t)| {
            t.is_some()
                || l.starts_with("Option")
                || l.starts_with("If")
                || l == "Otherwise"
                || l == "Go to"
        })
        .collect()
}

/// A one-line summary of what a step does.
fn summary_of(step: &Map<String, Value>) -> String {
    let kind = step.get("type").and_then(Value::as_str).unwrap_or_default();
    let s = match kind {
        "send_text" | "menu" | "question" => text_of(step.get("text")),
        "send_media" => format!(
            "{} {}",
            text_of(step.get("media_type")),
            text_of(step.get("url").or(step.get("media_id")))
        ),
        "http_request" => format!(
            "{} {}",
            text_of(step.get("method")).to_uppercase(),
            text_of(step.get("url"))
        ),
        "add_tag" | "remove_tag" => text_of(step.get("tag")),
        "set_contact_field" => format!(
            "{} = {}",
            text_of(step.get("field")),
            text_of(step.get("value"))
        ),
        "wait" => format!("{} s", text_of(step.get("seconds"))),
        "goto" => format!("→ {}", text_of(step.get("target"))),
        _ => text_of(step.get("message")),
    };
    let s = s.trim();
    if s.chars().count() > 140 {
        format!("{}…", s.chars().take(140).collect::<String>())
    } else {
        s.to_owned()
    }
}

/// The editor for `definition` with the save's `errors` (the API's fields, such as
/// `definition.steps[3].next`); `agents` are the instance's AI agent integrations (UUID,
/// name) an `ai_agent` step may name.
pub fn editor(
    definition: &Value,
    errors: &[(String, String)],
    agents: &[(String, String)],
) -> Editor {
    let empty = Map::new();
    let obj = definition.as_object().unwrap_or(&empty);
    let start = text_of(obj.get("start"));
    let steps: Vec<&Map<String, Value>> = obj
        .get("steps")
        .and_then(Value::as_array)
        .map(|a| a.iter().map(|s| s.as_object().unwrap_or(&empty)).collect())
        .unwrap_or_default();
    let step_ids: Vec<String> = steps.iter().map(|s| text_of(s.get("id"))).collect();
    let errors: Vec<(String, String)> = errors
        .iter()
        .map(|(f, m)| (editor_path(f), m.clone()))
        .collect();
    let ctx = Ctx {
        step_ids: &step_ids,
        agents,
        errors: &errors,
    };

    // The tree: depth-first from the start, each step where it is first reached.
    let index_of = |id: &str| step_ids.iter().position(|s| s == id);
    let mut order: Vec<(usize, usize)> = Vec::new();
    let mut seen = vec![false; steps.len()];
    let mut stack: Vec<(usize, usize)> = index_of(&start).map(|i| (i, 0)).into_iter().collect();
    while let Some((i, depth)) = stack.pop() {
        if seen[i] {
            continue;
        }
        seen[i] = true;
        order.push((i, depth));
        let targets: Vec<usize> = branches_of(steps[i])
            .into_iter()
            .filter_map(|(_, t)| t.and_then(|t| index_of(&t)))
            .collect();
        for t in targets.into_iter().rev() {
            if !seen[t] {
                stack.push((t, depth + 1));
            }
        }
    }
    let reached = order.len();
    for (i, s) in seen.iter().enumerate() {
        if !s {
            order.push((i, 0));
        }
    }

    let cards = order
        .into_iter()
        .enumerate()
        .map(|(n, (i, depth))| {
            let step = steps[i];
            let at = format!("steps.{i}");
            let kind = text_of(step.get("type"));
            let (specs, list) = specs(&kind);
            let mut fields = vec![ctx.field(step, &at, &f("id", "Id", Kind::Text, true))];
            fields.extend(specs.iter().map(|s| ctx.field(step, &at, s)));
            let lists = list
                .map(|(name, label, item_label)| {
                    let path = format!("{at}.{name}");
                    let items = step
                        .get(name)
                        .and_then(Value::as_array)
                        .map(|a| {
                            a.iter()
                                .enumerate()
                                .map(|(j, item)| {
                                    let item = item.as_object().unwrap_or(&empty);
                                    item_specs(name)
                                        .iter()
                                        .map(|s| ctx.field(item, &format!("{path}.{j}"), s))
                                        .collect()
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    vec![List {
                        path,
                        label,
                        item_label,
                        items,
                    }]
                })
                .unwrap_or_default();
            let branches = branches_of(step)
                .into_iter()
                .map(|(label, target)| Branch {
                    missing: target.as_deref().is_some_and(|t| index_of(t).is_none()),
                    label,
                    target,
                })
                .collect();
            let card_errors = errors
                .iter()
                .filter(|(p, _)| step_of(p) == Some(i))
                .map(|(_, m)| m.clone())
                .collect();
            Card {
                index: i,
                id: step_ids[i].clone(),
                is_start: step_ids[i] == start,
                unreachable: n >= reached,
                depth: depth.min(8),
                summary: summary_of(step),
                kind,
                fields,
                lists,
                branches,
                errors: card_errors,
            }
        })
        .collect();
    Editor {
        start,
        cards,
        errors: errors
            .iter()
            .filter(|(p, _)| step_of(p).is_none())
            .cloned()
            .collect(),
        step_ids,
        step_types: &STEP_TYPES,
        json: serde_json::to_string_pretty(definition).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sample() -> Value {
        json!({"start": "hi", "steps": [
            {"id": "human", "type": "handoff", "message": "A person will answer."},
            {"id": "hi", "type": "send_text", "text": "Hi!", "next": "menu"},
            {"id": "menu", "type": "menu", "text": "How can we help?", "options": [
                {"label": "Hours", "next": "bye"}, {"label": "A person", "next": "human"}]},
            {"id": "bye", "type": "end", "message": "Bye"},
            {"id": "lost", "type": "end"}
        ]})
    }

    #[test]
    fn the_tree_follows_the_branches_from_the_start() {
        let e = editor(&sample(), &[], &[]);
        let order: Vec<(&str, usize, bool)> = e
            .cards
            .iter()
            .map(|c| (c.id.as_str(), c.depth, c.unreachable))
            .collect();
        assert_eq!(
            order,
            [
                ("hi", 0, false),
                ("menu", 1, false),
                ("bye", 2, false),
                ("human", 2, false),
                ("lost", 0, true)
            ]
        );
        let menu = &e.cards[1];
        assert_eq!(menu.index, 2);
        assert_eq!(menu.branches[0].label, "Option 1: Hours");
        assert_eq!(menu.branches[0].target.as_deref(), Some("bye"));
        assert_eq!(menu.lists[0].items[1][2].path, "steps.2.options.1.next");
        assert_eq!(menu.lists[0].items[1][2].value, "human");
    }

    #[test]
    fn errors_land_on_their_step_and_field() {
        let errors = vec![
            (
                "definition.steps[2].options[1].next".to_owned(),
                "Step 'menu': no such step".to_owned(),
            ),
            ("definition.start".to_owned(), "bad start".to_owned()),
        ];
        let e = editor(&sample(), &errors, &[]);
        let menu = e.cards.iter().find(|c| c.id == "menu").unwrap();
        assert_eq!(menu.errors, ["Step 'menu': no such step"]);
        assert!(menu.lists[0].items[1][2].error.is_some());
        assert_eq!(e.errors, [("start".to_owned(), "bad start".to_owned())]);
        assert_eq!(
            editor_path("definition.steps[3].rules[0].next"),
            "steps.3.rules.0.next"
        );
    }
}
