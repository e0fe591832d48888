//! The flow editor's structural operations: a step added (linked after another, with the
//! fields it needs, blank) or removed, a menu option or condition rule added or removed, the
//! first step chosen. They work on any JSON (an unfinished definition too); saving checks it.

use serde_json::{Map, Value, json};

/// A structural change the editor's buttons ask for.
#[derive(Debug, PartialEq, Eq)]
pub enum Op {
    /// A new step of a type, linked after step `after` (its `next`, or `target`) when given.
    AddStep {
        kind: String,
        after: Option<usize>,
    },
    RemoveStep(usize),
    /// A new menu option or condition rule at `path` (`steps.3.options`).
    AddItem(String),
    RemoveItem(String, usize),
    SetStart(String),
}

/// A new step of `kind` with id `id`: the fields it needs, blank.
pub fn new_step(kind: &str, id: &str) -> Option<Value> {
    let mut s = match kind {
        "send_text" => json!({"text": ""}),
        "send_media" => json!({"media_type": "image", "url": ""}),
        "menu" => json!({"text": "", "options": [{"label": "", "next": ""}]}),
        "question" => json!({"text": "", "save_as": "answer"}),
        "condition" => {
            json!({"rules": [{"var": "", "op": "equals", "value": "", "next": ""}], "else_next": ""})
        }
        "http_request" => json!({"method": "GET", "url": ""}),
        "add_tag" | "remove_tag" => json!({"tag": ""}),
        "set_contact_field" => json!({"field": "name", "value": ""}),
        "handoff" | "end" => json!({}),
        "ai_agent" => json!({"integration_id": ""}),
        "wait" => json!({"seconds": 60}),
        "goto" => json!({"target": ""}),
        _ => return None,
    };
    let obj = s.as_object_mut()?;
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("type".into(), json!(kind));
    out.extend(std::mem::take(obj));
    Some(Value::Object(out))
}

fn lookup<'a>(v: &'a mut Value, path: &str) -> Option<&'a mut Value> {
    path.split('.').try_fold(v, |v, key| match v {
        Value::Object(m) => m.get_mut(key),
        Value::Array(a) => key.parse::<usize>().ok().and_then(|i| a.get_mut(i)),
        _ => None,
    })
}

/// Applies `op` to a definition (any JSON: a non-object becomes an empty definition).
pub fn apply(definition: &mut Value, op: Op) -> Result<(), String> {
    if !definition.is_object() {
        *definition = json!({"start": "", "steps": []});
    }
    let obj = definition
        .as_object_mut()
        .ok_or_else(|| "not an object".to_owned())?;
    if !obj.get("steps").is_some_and(Value::is_array) {
        obj.insert("steps".into(), json!([]));
    }
    match op {
        Op::AddStep { kind, after } => {
            let steps = obj
                .get("steps")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let short = kind.trim_start_matches("send_");
            let id = (1..)
                .map(|n| format!("{short}_{n}"))
                .find(|id| !steps.iter().any(|s| s.get("id") == Some(&json!(id))))
                .unwrap_or_default();
            let mut step =
                new_step(&kind, &id).ok_or_else(|| format!("Unknown step type {kind}."))?;
            if let Some(a) = after {
                let prev = steps
                    .get(a)
                    .ok_or_else(|| format!("There is no step {a}."))?;
                let key = if prev.get("type") == Some(&json!("goto")) {
                    "target"
                } else {
                    "next"
                };
                let linkable = !matches!(
                    prev.get("type").and_then(Value::as_str),
                    Some("menu" | "condition" | "handoff" | "ai_agent" | "end")
                );
                if linkable {
                    // Inserted between the step and where it went.
                    if let Some(old) = prev.get(key).filter(|t| t.as_str() != Some(""))
                        && step.get("next").is_none()
                        && !matches!(kind.as_str(), "handoff" | "ai_agent" | "end" | "goto")
                        && let Some(m) = step.as_object_mut()
                    {
                        m.insert("next".into(), old.clone());
                    }
                    if let Some(m) = obj
                        .get_mut("steps")
                        .and_then(|s| s.get_mut(a))
                        .and_then(Value::as_object_mut)
                    {
                        m.insert(key.into(), json!(id));
                    }
                }
            }
            if steps.is_empty()
                || obj
                    .get("start")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .is_empty()
            {
                obj.insert("start".into(), json!(id));
            }
            if let Some(Value::Array(s)) = obj.get_mut("steps") {
                s.push(step);
            }
        }
        Op::RemoveStep(i) => match obj.get_mut("steps") {
            Some(Value::Array(s)) if i < s.len() => {
                s.remove(i);
            }
            _ => return Err(format!("There is no step {i}.")),
        },
        Op::AddItem(path) => {
            let item = match path.rsplit('.').next() {
                Some("options") => json!({"label": "", "next": ""}),
                Some("rules") => json!({"var": "", "op": "equals", "value": "", "next": ""}),
                _ => return Err(format!("Nothing can be added at {path}.")),
            };
            match lookup(definition, &path) {
                Some(Value::Array(a)) => a.push(item),
                Some(v @ Value::Null) => *v = json!([item]),
                _ => {
                    // The list is missing: create it on its step.
                    let (at, name) = path.rsplit_once('.').unwrap_or_default();
                    match lookup(definition, at).and_then(Value::as_object_mut) {
                        Some(step) => {
                            step.insert(name.to_owned(), json!([item]));
                        }
                        None => return Err(format!("There is no {at}.")),
                    }
                }
            }
        }
        Op::RemoveItem(path, i) => match lookup(definition, &path) {
            Some(Value::Array(a)) if i < a.len() => {
                a.remove(i);
            }
            _ => return Err(format!("There is no item {i} at {path}.")),
        },
        Op::SetStart(id) => {
            obj.insert("start".into(), json!(id));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn steps_are_added_linked_and_removed() {
        let mut d = sample();
        apply(
            &mut d,
            Op::AddStep {
                kind: "send_text".into(),
                after: Some(1),
            },
        )
        .unwrap();
        // Inserted between "hi" and "menu".
        assert_eq!(d["steps"][1]["next"], "text_1");
        assert_eq!(d["steps"][5]["next"], "menu");
        apply(&mut d, Op::AddItem("steps.2.options".into())).unwrap();
        assert_eq!(d["steps"][2]["options"].as_array().unwrap().len(), 3);
        apply(&mut d, Op::RemoveItem("steps.2.options".into(), 0)).unwrap();
        assert_eq!(d["steps"][2]["options"][0]["label"], "A person");
        apply(&mut d, Op::RemoveStep(4)).unwrap();
        assert_eq!(d["steps"].as_array().unwrap().len(), 5);
        let mut empty = Value::Null;
        apply(
            &mut empty,
            Op::AddStep {
                kind: "menu".into(),
                after: None,
            },
        )
        .unwrap();
        assert_eq!(empty["start"], "menu_1");
        assert!(
            apply(
                &mut empty,
                Op::AddStep {
                    kind: "nope".into(),
                    after: None
                }
            )
            .is_err()
        );
    }
}
