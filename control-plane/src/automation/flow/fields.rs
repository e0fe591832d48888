//! Each step's own fields: read into their type ([`Fields::de`] names an unknown or missing
//! field), then checked: lengths, ranges, variable names, patterns that must compile,
//! combinations that must go together. Targets between steps are checked in `validate`.

use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::openapi::{RefOr, Schema};

use super::FlowError;
use super::checks::clock;
use super::limits::{
    MAX_HTTP_TIMEOUT_SECONDS, MAX_OPTIONS, MAX_RETRIES, MAX_RULES, MAX_TEXT_CHARS,
    MAX_TIMEOUT_MINUTES, MAX_WAIT_SECONDS,
};
use super::model::*;

/// Names that templates read as namespaces; no variable may take them.
const RESERVED: [&str; 4] = ["contact", "now", "vars", "message"];

/// Where a step's errors point.
pub(super) struct Fields<'a> {
    pub at: &'a str,
    pub id: &'a str,
}

impl Fields<'_> {
    /// An error on `field` of this step (`field` relative to the step).
    pub fn err(&self, field: &str, message: impl AsRef<str>) -> FlowError {
        FlowError::new(
            format!("{}.{field}", self.at),
            Some(self.id),
            format!("Step '{}': {}", self.id, message.as_ref()),
        )
    }

    /// The step's fields as `T`: a key `T`'s schema does not list is refused first.
    pub(super) fn de<T: DeserializeOwned + utoipa::PartialSchema>(
        &self,
        fields: Value,
    ) -> Result<T, FlowError> {
        if let (Value::Object(given), RefOr::T(Schema::Object(schema))) = (&fields, T::schema())
            && let Some(k) = given.keys().find(|k| !schema.properties.contains_key(*k))
        {
            let known: Vec<&str> = schema.properties.keys().map(String::as_str).collect();
            return Err(self.err(
                k,
                format!("unknown field {k} (expected one of {}).", known.join(", ")),
            ));
        }
        serde_path_to_error::deserialize(fields).map_err(|err| {
            let path = err.path().to_string();
            let inner = err.into_inner().to_string();
            let base = if path == "." {
                String::new()
            } else {
                path.clone()
            };
            let join = |name: &str| {
                if base.is_empty() {
                    name.to_owned()
                } else {
                    format!("{base}.{name}")
                }
            };
            if let Some(rest) = inner.strip_prefix("missing field `") {
                let name = rest.split('`').next().unwrap_or_default();
                self.err(&join(name), format!("the {name} field is required."))
            } else if let Some(rest) = inner.strip_prefix("unknown field `") {
                // The path already ends with the unknown field.
                let name = rest.split('`').next().unwrap_or_default();
                let expected = rest
                    .split_once(", expected ")
                    .map(|(_, e)| format!(" (expected {e})"))
                    .unwrap_or_default();
                let field = if base.is_empty() {
                    join(name)
                } else {
                    base.clone()
                };
                self.err(&field, format!("unknown field {name}{expected}."))
            } else {
                let field = if base.is_empty() { "type" } else { &base };
                self.err(field, format!("{field}: {inner}."))
            }
        })
    }
}

pub(super) fn check(e: &Fields<'_>, step: &Step) -> Result<(), FlowError> {
    match step {
        Step::SendText(s) => text(e, "text", Some(&s.text), true),
        Step::SendMedia(s) => {
            match (&s.media_id, &s.url) {
                (Some(_), Some(_)) => {
                    return Err(e.err("url", "give media_id or url, not both."));
                }
                (None, None) => {
                    return Err(e.err("media_id", "the media_id (or url) field is required."));
                }
                (Some(id), None) if id.trim().is_empty() => {
                    return Err(e.err("media_id", "the media_id field is required."));
                }
                (None, Some(url)) => http_url(e, "url", url)?,
                _ => {}
            }
            text(e, "caption", s.caption.as_deref(), false)?;
            if s.filename.as_ref().is_some_and(|f| f.chars().count() > 255) {
                return Err(e.err(
                    "filename",
                    "the filename may not be longer than 255 characters.",
                ));
            }
            Ok(())
        }
        Step::Menu(s) => {
            text(e, "text", Some(&s.text), true)?;
            if s.options.is_empty() || s.options.len() > MAX_OPTIONS {
                return Err(e.err("options", format!("a menu has 1 to {MAX_OPTIONS} options.")));
            }
            for (i, o) in s.options.iter().enumerate() {
                if o.label.trim().is_empty() || o.label.chars().count() > 200 {
                    return Err(e.err(
                        &format!("options[{i}].label"),
                        "the label must be 1 to 200 characters.",
                    ));
                }
            }
            var_opt(e, "save_as", s.save_as.as_deref())?;
            waiting(
                e,
                s.retry_message.as_deref(),
                s.max_retries,
                s.timeout_minutes,
                s.timeout_next.as_deref(),
            )
        }
        Step::Question(s) => {
            text(e, "text", Some(&s.text), true)?;
            var(e, "save_as", &s.save_as)?;
            match (s.validate, &s.options) {
                (AnswerCheck::Options, None) => {
                    return Err(e.err("options", "validate: options needs the options field."));
                }
                (AnswerCheck::Options, Some(o)) => {
                    if o.is_empty() || o.len() > MAX_OPTIONS {
                        return Err(e.err(
                            "options",
                            format!("validate: options needs 1 to {MAX_OPTIONS} options."),
                        ));
                    }
                    if let Some(i) = o.iter().position(|x| x.trim().is_empty()) {
                        return Err(e.err(&format!("options[{i}]"), "an option may not be blank."));
                    }
                }
                (_, Some(_)) => {
                    return Err(e.err("options", "options is only for validate: options."));
                }
                (_, None) => {}
            }
            waiting(
                e,
                s.retry_message.as_deref(),
                s.max_retries,
                s.timeout_minutes,
                s.timeout_next.as_deref(),
            )
        }
        Step::Condition(s) => {
            if s.rules.is_empty() || s.rules.len() > MAX_RULES {
                return Err(e.err("rules", format!("a condition has 1 to {MAX_RULES} rules.")));
            }
            for (i, r) in s.rules.iter().enumerate() {
                rule(e, i, r)?;
            }
            Ok(())
        }
        Step::HttpRequest(s) => {
            http_url(e, "url", &s.url)?;
            if let Some(t) = s.timeout_seconds
                && !(1..=MAX_HTTP_TIMEOUT_SECONDS).contains(&t)
            {
                return Err(e.err(
                    "timeout_seconds",
                    format!("the timeout_seconds must be 1 to {MAX_HTTP_TIMEOUT_SECONDS}."),
                ));
            }
            for name in s.headers.iter().flat_map(|h| h.keys()) {
                if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
                    return Err(e.err(
                        &format!("headers.{name}"),
                        format!("'{name}' is not a valid header name."),
                    ));
                }
            }
            if let Some(HttpAuth::Header { name, .. }) = &s.auth
                && reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
            {
                return Err(e.err("auth.name", format!("'{name}' is not a valid header name.")));
            }
            if let Some(Value::String(b)) = &s.body
                && b.chars().count() > 64 * 1024
            {
                return Err(e.err("body", "the body may not be longer than 64 KiB."));
            }
            for name in s.save.iter().flat_map(|m| m.keys()) {
                var(e, &format!("save.{name}"), name)?;
            }
            var_opt(e, "status_var", s.status_var.as_deref())
        }
        Step::AddTag(s) | Step::RemoveTag(s) => {
            let n = s.tag.trim().chars().count();
            if n == 0 || n > 50 {
                return Err(e.err("tag", "the tag must be 1 to 50 characters."));
            }
            Ok(())
        }
        Step::SetContactField(s) => text(e, "value", Some(&s.value), false),
        Step::Handoff(s) => text(e, "message", s.message.as_deref(), false),
        Step::AiAgent(s) => text(e, "message", s.message.as_deref(), false),
        Step::End(s) => text(e, "message", s.message.as_deref(), false),
        Step::Wait(s) => {
            if !(1..=MAX_WAIT_SECONDS).contains(&s.seconds) {
                return Err(e.err(
                    "seconds",
                    format!("the seconds must be 1 to {MAX_WAIT_SECONDS}."),
                ));
            }
            Ok(())
        }
        Step::Goto(_) => Ok(()),
    }
}

fn text(e: &Fields<'_>, field: &str, v: Option<&str>, required: bool) -> Result<(), FlowError> {
    match v {
        None if required => Err(e.err(field, format!("the {field} field is required."))),
        Some(t) if required && t.trim().is_empty() => {
            Err(e.err(field, format!("the {field} field is required.")))
        }
        Some(t) if t.chars().count() > MAX_TEXT_CHARS => Err(e.err(
            field,
            format!("the {field} may not be longer than {MAX_TEXT_CHARS} characters."),
        )),
        _ => Ok(()),
    }
}

/// A variable name: a letter or `_`, then letters, digits or `_` (at most 64).
pub(crate) fn is_var_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 64
}

fn var(e: &Fields<'_>, field: &str, name: &str) -> Result<(), FlowError> {
    if !is_var_name(name) {
        return Err(e.err(
            field,
            format!("'{name}' is not a variable name (a letter or _, then letters, digits or _; at most 64)."),
        ));
    }
    if RESERVED.contains(&name) {
        return Err(e.err(
            field,
            format!("'{name}' is reserved; choose another variable name."),
        ));
    }
    Ok(())
}

fn var_opt(e: &Fields<'_>, field: &str, name: Option<&str>) -> Result<(), FlowError> {
    name.map_or(Ok(()), |n| var(e, field, n))
}

fn waiting(
    e: &Fields<'_>,
    retry_message: Option<&str>,
    max_retries: Option<u32>,
    timeout_minutes: Option<u32>,
    timeout_next: Option<&str>,
) -> Result<(), FlowError> {
    text(e, "retry_message", retry_message, false)?;
    if max_retries.is_some_and(|r| r > MAX_RETRIES) {
        return Err(e.err(
            "max_retries",
            format!("the max_retries may not be greater than {MAX_RETRIES}."),
        ));
    }
    if let Some(m) = timeout_minutes
        && !(1..=MAX_TIMEOUT_MINUTES).contains(&m)
    {
        return Err(e.err(
            "timeout_minutes",
            format!("the timeout_minutes must be 1 to {MAX_TIMEOUT_MINUTES}."),
        ));
    }
    if timeout_next.is_some() && timeout_minutes.is_none() {
        return Err(e.err("timeout_minutes", "timeout_next needs timeout_minutes."));
    }
    Ok(())
}

/// An `http(s)` URL; one with `{{variables}}` is checked up to the first of them.
fn http_url(e: &Fields<'_>, field: &str, url: &str) -> Result<(), FlowError> {
    let lower = url.trim().to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(e.err(
            field,
            format!("the {field} must start with http:// or https://."),
        ));
    }
    if url.len() > 2048 {
        return Err(e.err(
            field,
            format!("the {field} may not be longer than 2048 characters."),
        ));
    }
    if !url.contains("{{") && reqwest::Url::parse(url.trim()).is_err() {
        return Err(e.err(field, format!("the {field} is not a valid URL.")));
    }
    Ok(())
}

fn rule(e: &Fields<'_>, i: usize, r: &Rule) -> Result<(), FlowError> {
    let f = |name: &str| format!("rules[{i}].{name}");
    let value_text = match &r.value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Some(v.to_string()),
        Some(_) => {
            return Err(e.err(&f("value"), "the value must be a string or a number."));
        }
    };
    if r.op == Op::BusinessHours {
        let days = r.days.as_deref().unwrap_or_default();
        if days.is_empty() || days.iter().any(|d| !(1..=7).contains(d)) {
            return Err(e.err(
                &f("days"),
                "business_hours needs days: weekdays from 1 (Monday) to 7 (Sunday).",
            ));
        }
        for (name, v) in [("from", &r.from), ("to", &r.to)] {
            if v.as_deref().and_then(clock).is_none() {
                return Err(e.err(&f(name), format!("business_hours needs {name} as HH:MM.")));
            }
        }
        if r.from == r.to {
            return Err(e.err(&f("to"), "to must differ from from."));
        }
        if r.utc_offset_minutes
            .is_some_and(|m| m.unsigned_abs() > 14 * 60)
        {
            return Err(e.err(
                &f("utc_offset_minutes"),
                "the utc_offset_minutes must be from -840 to 840.",
            ));
        }
        return Ok(());
    }
    for (name, present) in [
        ("days", r.days.is_some()),
        ("from", r.from.is_some()),
        ("to", r.to.is_some()),
        ("utc_offset_minutes", r.utc_offset_minutes.is_some()),
    ] {
        if present {
            return Err(e.err(&f(name), format!("{name} is only for business_hours.")));
        }
    }
    match r.var.as_deref().map(str::trim) {
        None | Some("") => return Err(e.err(&f("var"), "the var field is required.")),
        Some(v) if v.len() > 128 => return Err(e.err(&f("var"), "the var is too long.")),
        _ => {}
    }
    if r.op == Op::IsEmpty {
        return Ok(());
    }
    let Some(value) = value_text else {
        return Err(e.err(&f("value"), "the value field is required."));
    };
    if value.chars().count() > MAX_TEXT_CHARS {
        return Err(e.err(&f("value"), "the value is too long."));
    }
    match r.op {
        Op::Gt | Op::Gte | Op::Lt | Op::Lte
            if !value.contains("{{") && super::checks::number(&value).is_none() =>
        {
            Err(e.err(
                &f("value"),
                format!(
                    "{} compares numbers: the value must be a number.",
                    op_name(r.op)
                ),
            ))
        }
        Op::Regex => super::checks::regex(&value)
            .map(|_| ())
            .map_err(|msg| e.err(&f("value"), format!("the pattern does not compile: {msg}"))),
        _ => Ok(()),
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Equals => "equals",
        Op::NotEquals => "not_equals",
        Op::Contains => "contains",
        Op::Regex => "regex",
        Op::Gt => "gt",
        Op::Gte => "gte",
        Op::Lt => "lt",
        Op::Lte => "lte",
        Op::IsEmpty => "is_empty",
        Op::BusinessHours => "business_hours",
    }
}
