//! What the flow editor shows for each step type: its fields (name, label, kind of input,
//! required), the fields of a menu's options and a condition's rules, and how a stored value
//! reads in its input. No state and no I/O: the cards are built by `editor`.

use serde_json::Value;

const OPS: [&str; 10] = [
    "equals",
    "not_equals",
    "contains",
    "regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_empty",
    "business_hours",
];

/// What a field may hold.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Text,
    Textarea,
    Number,
    Select(&'static [&'static str]),
    Step,
    Agent,
    Json,
    Lines,
    Numbers,
    Scalar,
}

pub(super) struct Spec {
    pub(super) name: &'static str,
    pub(super) label: &'static str,
    pub(super) kind: Kind,
    pub(super) required: bool,
}

pub(super) const fn f(name: &'static str, label: &'static str, kind: Kind, required: bool) -> Spec {
    Spec {
        name,
        label,
        kind,
        required,
    }
}

const MEDIA: &[&str] = &["image", "video", "audio", "document"];
const VALIDATE: &[&str] = &["text", "number", "email", "phone", "cpf", "date", "options"];
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];
const CONTACT_FIELDS: &[&str] = &["name", "email", "company", "notes"];

/// A step type's own fields (after `id`), and its lists.
pub(super) fn specs(
    kind: &str,
) -> (
    Vec<Spec>,
    Option<(&'static str, &'static str, &'static str)>,
) {
    use Kind::*;
    let next = f("next", "Then go to", Step, false);
    match kind {
        "send_text" => (vec![f("text", "Text", Textarea, true), next], None),
        "send_media" => (
            vec![
                f("media_type", "Media type", Select(MEDIA), true),
                f("media_id", "Media library id", Text, false),
                f("url", "Or a URL", Text, false),
                f("caption", "Caption", Textarea, false),
                f("filename", "File name", Text, false),
                next,
            ],
            None,
        ),
        "menu" => (
            vec![
                f("text", "Text", Textarea, true),
                f("save_as", "Save the choice as", Text, false),
                f("retry_message", "Retry message", Textarea, false),
                f("max_retries", "Retries", Number, false),
                f("fallback_next", "After the retries go to", Step, false),
                f("timeout_minutes", "Wait at most (minutes)", Number, false),
                f("timeout_next", "No answer in time: go to", Step, false),
            ],
            Some(("options", "Options", "Option")),
        ),
        "question" => (
            vec![
                f("text", "Question", Textarea, true),
                f("save_as", "Save the answer as", Text, true),
                f("validate", "Answer must be", Select(VALIDATE), false),
                f("options", "Accepted answers (one a line)", Lines, false),
                f("retry_message", "Retry message", Textarea, false),
                f("max_retries", "Retries", Number, false),
                f("fallback_next", "After the retries go to", Step, false),
                f("timeout_minutes", "Wait at most (minutes)", Number, false),
                f("timeout_next", "No answer in time: go to", Step, false),
                f("next", "Answered: go to", Step, false),
            ],
            None,
        ),
        "condition" => (
            vec![f("else_next", "Otherwise go to", Step, true)],
            Some(("rules", "Rules (the first that holds decides)", "Rule")),
        ),
        "http_request" => (
            vec![
                f("method", "Method", Select(METHODS), false),
                f("url", "URL", Text, true),
                f("headers", "Headers (JSON object)", Json, false),
                f("body", "Body (JSON)", Json, false),
                f("auth", "Auth (JSON: bearer, basic or header)", Json, false),
                f("timeout_seconds", "Timeout (seconds)", Number, false),
                f(
                    "save",
                    "Save from the answer (JSON: variable to path)",
                    Json,
                    false,
                ),
                f("status_var", "Save the status as", Text, false),
                f("next", "Then go to", Step, false),
                f("error_next", "On error go to", Step, false),
            ],
            None,
        ),
        "add_tag" | "remove_tag" => (vec![f("tag", "Tag", Text, true), next], None),
        "set_contact_field" => (
            vec![
                f("field", "Contact field", Select(CONTACT_FIELDS), true),
                f("value", "Value", Text, true),
                next,
            ],
            None,
        ),
        "handoff" => (vec![f("message", "Message before", Textarea, false)], None),
        "ai_agent" => (
            vec![
                f("integration_id", "AI agent", Agent, true),
                f("message", "Message before", Textarea, false),
            ],
            None,
        ),
        "wait" => (vec![f("seconds", "Seconds", Number, true), next], None),
        "goto" => (vec![f("target", "Go to", Step, true)], None),
        "end" => (vec![f("message", "Last message", Textarea, false)], None),
        _ => (Vec::new(), None),
    }
}

pub(super) fn item_specs(list: &str) -> Vec<Spec> {
    use Kind::*;
    match list {
        "options" => vec![
            f("label", "Label", Text, true),
            f("value", "Value saved", Text, false),
            f("next", "Go to", Step, true),
        ],
        _ => vec![
            f("var", "Variable", Text, false),
            f("op", "Comparison", Select(&OPS), true),
            f("value", "Value", Scalar, false),
            f("days", "Days (1 = Monday, comma-separated)", Numbers, false),
            f("from", "From (HH:MM)", Text, false),
            f("to", "To (HH:MM)", Text, false),
            f("next", "Go to", Step, true),
        ],
    }
}

/// A value as its input shows it.
pub(super) fn shown(v: Option<&Value>, kind: Kind) -> String {
    match (v, kind) {
        (None | Some(Value::Null), _) => String::new(),
        (Some(Value::String(s)), _) => s.clone(),
        (Some(Value::Array(items)), Kind::Lines) => items
            .iter()
            .map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned))
            .collect::<Vec<_>>()
            .join("\n"),
        (Some(Value::Array(items)), Kind::Numbers) => items
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        (Some(v), Kind::Json) => serde_json::to_string_pretty(v).unwrap_or_default(),
        (Some(v), _) => v.to_string(),
    }
}
