//! From stored JSON to a [`Flow`]: each step's fields (typed by `model`), then the rules
//! between steps — unique ids, `start` and every target naming a step, every step reachable
//! from `start`, and no cycle that could run without waiting for the user. Every failure
//! names the offending field as `definition.steps[3].next`. Pure: no database, no network.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::fields::Fields;
use super::limits::{MAX_DEFINITION_BYTES, MAX_ID_CHARS, MAX_OFFSET_MINUTES, MAX_STEPS};
use super::model::*;
use super::{Flow, FlowError};

const TOP_FIELDS: [&str; 4] = ["start", "steps", "utc_offset_minutes", "meta"];

/// Parses and validates a definition.
pub fn parse(definition: &Value) -> Result<Flow, FlowError> {
    let Some(obj) = definition.as_object() else {
        return Err(FlowError::new(
            "definition",
            None,
            "The definition must be a JSON object with start and steps.",
        ));
    };
    let size = serde_json::to_vec(definition).map_or(usize::MAX, |b| b.len());
    if size > MAX_DEFINITION_BYTES {
        return Err(FlowError::new(
            "definition",
            None,
            format!(
                "The definition may not be larger than {} KiB.",
                MAX_DEFINITION_BYTES / 1024
            ),
        ));
    }
    if let Some(k) = obj.keys().find(|k| !TOP_FIELDS.contains(&k.as_str())) {
        return Err(FlowError::new(
            format!("definition.{k}"),
            None,
            format!(
                "Unknown field {k}: a definition has start, steps, utc_offset_minutes and meta."
            ),
        ));
    }
    let start = match obj.get("start") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(FlowError::new(
                "definition.start",
                None,
                "The start field is required: the id of the first step.",
            ));
        }
    };
    let utc_offset_minutes = match obj.get("utc_offset_minutes") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .and_then(|m| i32::try_from(m).ok())
                .filter(|m| m.unsigned_abs() <= MAX_OFFSET_MINUTES.unsigned_abs())
                .ok_or_else(|| {
                    FlowError::new(
                        "definition.utc_offset_minutes",
                        None,
                        "The utc_offset_minutes must be a whole number from -840 to 840.",
                    )
                })?,
        ),
    };
    let raw_steps = match obj.get("steps") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        _ => {
            return Err(FlowError::new(
                "definition.steps",
                None,
                "The steps field is required: a list of at least one step.",
            ));
        }
    };
    if raw_steps.len() > MAX_STEPS {
        return Err(FlowError::new(
            "definition.steps",
            None,
            format!("A flow may have at most {MAX_STEPS} steps."),
        ));
    }
    let mut steps = Vec::with_capacity(raw_steps.len());
    let mut index: HashMap<String, usize> = HashMap::new();
    for (i, raw) in raw_steps.iter().enumerate() {
        let step = parse_step(i, raw)?;
        if let Some(first) = index.get(step.id()) {
            return Err(FlowError::new(
                format!("definition.steps[{i}].id"),
                Some(step.id()),
                format!(
                    "Step id '{}' is used twice (steps[{first}] and steps[{i}]).",
                    step.id()
                ),
            ));
        }
        index.insert(step.id().to_owned(), i);
        steps.push(step);
    }
    check_graph(&start, &steps, &index)?;
    Ok(Flow::new(
        Definition {
            start,
            steps,
            utc_offset_minutes,
            meta: obj.get("meta").filter(|m| !m.is_null()).cloned(),
        },
        index,
    ))
}

fn parse_step(i: usize, raw: &Value) -> Result<Step, FlowError> {
    let at = format!("definition.steps[{i}]");
    let Some(obj) = raw.as_object() else {
        return Err(FlowError::new(at, None, "A step must be a JSON object."));
    };
    let id = match obj.get("id") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(FlowError::new(
                format!("{at}.id"),
                None,
                format!("The id field of steps[{i}] is required."),
            ));
        }
    };
    if id.is_empty()
        || id.chars().count() > MAX_ID_CHARS
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(FlowError::new(
            format!("{at}.id"),
            Some(&id),
            format!("Step id '{id}' must be 1 to {MAX_ID_CHARS} letters, digits, '_' or '-'."),
        ));
    }
    let kind = match obj.get("type") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(FlowError::new(
                format!("{at}.type"),
                Some(&id),
                format!("Step '{id}': the type field is required."),
            ));
        }
    };
    let mut fields: Map<String, Value> = obj.clone();
    fields.remove("type");
    let fields = Value::Object(fields);
    let e = Fields { at: &at, id: &id };
    let step = match kind.as_str() {
        "send_text" => Step::SendText(e.de(fields)?),
        "send_media" => Step::SendMedia(e.de(fields)?),
        "menu" => Step::Menu(e.de(fields)?),
        "question" => Step::Question(e.de(fields)?),
        "condition" => Step::Condition(e.de(fields)?),
        "http_request" => Step::HttpRequest(e.de(fields)?),
        "add_tag" => Step::AddTag(e.de(fields)?),
        "remove_tag" => Step::RemoveTag(e.de(fields)?),
        "set_contact_field" => Step::SetContactField(e.de(fields)?),
        "handoff" => Step::Handoff(e.de(fields)?),
        "ai_agent" => Step::AiAgent(e.de(fields)?),
        "wait" => Step::Wait(e.de(fields)?),
        "goto" => Step::Goto(e.de(fields)?),
        "end" => Step::End(e.de(fields)?),
        other => {
            return Err(FlowError::new(
                format!("{at}.type"),
                Some(&id),
                format!(
                    "Step '{id}': unknown type '{other}'; one of {}.",
                    STEP_TYPES.join(", ")
                ),
            ));
        }
    };
    super::fields::check(&e, &step)?;
    Ok(step)
}

/// `start` and every target name a step; every step is reachable from `start`; every cycle
/// passes through a step that waits (menu, question, wait).
fn check_graph(
    start: &str,
    steps: &[Step],
    index: &HashMap<String, usize>,
) -> Result<(), FlowError> {
    let Some(&first) = index.get(start) else {
        return Err(FlowError::new(
            "definition.start",
            None,
            format!("The start '{start}' is not the id of a step."),
        ));
    };
    let mut targets: Vec<Vec<(usize, String)>> = Vec::with_capacity(steps.len());
    for (i, step) in steps.iter().enumerate() {
        let mut out = Vec::new();
        for (field, target) in step.edges() {
            let Some(&j) = index.get(target) else {
                return Err(FlowError::new(
                    format!("definition.steps[{i}].{field}"),
                    Some(step.id()),
                    format!(
                        "Step '{}': {field} points to '{target}', which is not a step.",
                        step.id()
                    ),
                ));
            };
            out.push((j, field));
        }
        targets.push(out);
    }

    let mut seen = HashSet::from([first]);
    let mut queue = vec![first];
    while let Some(i) = queue.pop() {
        for (j, _) in &targets[i] {
            if seen.insert(*j) {
                queue.push(*j);
            }
        }
    }
    if let Some(i) = (0..steps.len()).find(|i| !seen.contains(i)) {
        let id = steps[i].id();
        return Err(FlowError::new(
            format!("definition.steps[{i}].id"),
            Some(id),
            format!("Step '{id}' cannot be reached from the start step '{start}'."),
        ));
    }

    // A cycle among steps that do not wait would run without end: depth-first search over
    // the non-waiting steps only (a waiting step breaks every cycle through it).
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Open,
        Done,
    }
    let mut marks = vec![Mark::New; steps.len()];
    for root in 0..steps.len() {
        if marks[root] != Mark::New || steps[root].waits() {
            continue;
        }
        // (step, index of its next edge to look at)
        let mut stack = vec![(root, 0usize)];
        marks[root] = Mark::Open;
        while let Some(top) = stack.last_mut() {
            let (i, edge) = *top;
            top.1 += 1;
            let Some((j, field)) = targets[i].get(edge) else {
                marks[i] = Mark::Done;
                stack.pop();
                continue;
            };
            let j = *j;
            if steps[j].waits() {
                continue;
            }
            match marks[j] {
                Mark::Open => {
                    let id = steps[i].id();
                    return Err(FlowError::new(
                        format!("definition.steps[{i}].{field}"),
                        Some(id),
                        format!(
                            "Step '{id}': {field} to '{}' closes a loop that never waits for the user; put a menu, question or wait step in it.",
                            steps[j].id()
                        ),
                    ));
                }
                Mark::New => {
                    marks[j] = Mark::Open;
                    stack.push((j, 0));
                }
                Mark::Done => {}
            }
        }
    }
    Ok(())
}
