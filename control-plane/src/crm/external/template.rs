//! `{{placeholders}}` of an External Function's configuration, filled from the top-level
//! fields of the call's JSON body. Unlike a flow's templates, a placeholder without a value is
//! an error naming it (the caller must send it), never an empty string.

use serde_json::{Map, Value};
use zapini_shared::error::ErrorBody;

/// Longest placeholder name.
const MAX_NAME: usize = 64;

/// A placeholder name: a letter or underscore, then letters, digits and underscores.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= MAX_NAME
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The template cut into literal text and placeholder names (spaces inside the braces are
/// allowed: `{{ order_id }}`); `Err` says what is wrong with it.
fn parts(template: &str) -> Result<Vec<Part<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            out.push(Part::Text(&rest[..open]));
        }
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            return Err("has a `{{` without its closing `}}`".into());
        };
        let name = after[..close].trim();
        if !valid_name(name) {
            return Err(format!(
                "has a placeholder `{{{{{}}}}}` that is not a name (letters, digits and underscores, starting with a letter, at most {MAX_NAME})",
                after[..close].chars().take(80).collect::<String>()
            ));
        }
        out.push(Part::Name(name));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest));
    }
    Ok(out)
}

enum Part<'a> {
    Text(&'a str),
    Name(&'a str),
}

/// The placeholder names of a template, in order, each once; `Err` says what is wrong.
pub fn placeholders(template: &str) -> Result<Vec<String>, String> {
    let mut names: Vec<String> = Vec::new();
    for p in parts(template)? {
        if let Part::Name(n) = p
            && !names.iter().any(|x| x == n)
        {
            names.push(n.to_owned());
        }
    }
    Ok(names)
}

/// The text of a field for a placeholder: strings as they are, numbers and booleans as
/// JSON; `Err` for a missing or `null` field, or an array or object.
pub fn field_text(fields: &Map<String, Value>, name: &str) -> Result<String, ErrorBody> {
    match fields.get(name) {
        None | Some(Value::Null) => Err(ErrorBody::validation(
            name,
            format!("The {name} field is required: the function's template uses {{{{{name}}}}}."),
        )),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => Ok(v.to_string()),
        Some(Value::Array(_) | Value::Object(_)) => Err(ErrorBody::validation(
            name,
            format!("The {name} must be a string or a number."),
        )),
    }
}

/// Fills every placeholder; `encode` percent-encodes each value (for URLs). Every missing
/// field is named in one error.
pub fn render(
    template: &str,
    fields: &Map<String, Value>,
    encode: bool,
) -> Result<String, ErrorBody> {
    // Templates were checked when saved; one that no longer parses renders as it is.
    let Ok(parts) = parts(template) else {
        return Ok(template.to_owned());
    };
    let mut out = String::with_capacity(template.len());
    let mut error: Option<ErrorBody> = None;
    for p in parts {
        match p {
            Part::Text(t) => out.push_str(t),
            Part::Name(n) => match field_text(fields, n) {
                Ok(v) if encode => out.push_str(&percent_encode(&v)),
                Ok(v) => out.push_str(&v),
                Err(e) => {
                    error = Some(match error {
                        None => e,
                        Some(prev) if prev.details.get(n).is_some() => prev,
                        Some(prev) => {
                            let message = e.details[n][0].as_str().unwrap_or_default().to_owned();
                            prev.with_field_error(n, message)
                        }
                    });
                }
            },
        }
    }
    match error {
        Some(e) => Err(e),
        None => Ok(out),
    }
}

/// Percent-encodes all but the unreserved characters of RFC 3986, so a value cannot change
/// a URL's host or path structure.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn placeholders_are_found_once_in_order() {
        assert_eq!(
            placeholders("Order {{order_id}}: {{ status }} ({{order_id}})").unwrap(),
            ["order_id", "status"]
        );
        assert!(placeholders("no placeholders").unwrap().is_empty());
        assert!(placeholders("Order {{order_id").is_err());
        assert!(placeholders("{{}}").is_err());
        assert!(placeholders("{{1abc}}").is_err());
        assert!(placeholders("{{a b}}").is_err());
    }

    #[test]
    fn render_fills_values_and_names_every_missing_field() {
        let f = fields(json!({"order_id": 42, "status": "shipped", "paid": true}));
        assert_eq!(
            render("Order {{order_id}}: {{status}} {{paid}}", &f, false).unwrap(),
            "Order 42: shipped true"
        );
        let e = render("{{a}} {{status}} {{b}} {{a}}", &f, false).unwrap_err();
        let mut named: Vec<&String> = e.details.as_object().unwrap().keys().collect();
        named.sort();
        assert_eq!(named, ["a", "b"]);
        let e = render("{{x}}", &fields(json!({"x": null})), false).unwrap_err();
        assert!(e.details["x"].is_array());
        let e = render("{{x}}", &fields(json!({"x": [1]})), false).unwrap_err();
        assert!(e.details["x"].is_array());
    }

    #[test]
    fn url_values_are_percent_encoded() {
        let f = fields(json!({"id": "a/b?c=d#e f"}));
        assert_eq!(
            render("https://example.com/i/{{id}}.pdf", &f, true).unwrap(),
            "https://example.com/i/a%2Fb%3Fc%3Dd%23e%20f.pdf"
        );
    }
}
