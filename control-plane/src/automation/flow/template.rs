//! `{{variables}}` in texts, URLs and bodies, and dot paths into JSON (`data.items.0.name`).
//! A name resolves to the contact (`contact.name`, `contact.phone`, and fields the flow set),
//! the clock (`now.date`, `now.time`, `now.datetime`), the last message (`message.text`) or a
//! collected variable (`vars.email`, or bare `email`). Unknown names render as "".

use chrono::{DateTime, FixedOffset, Offset, Utc};
use serde_json::{Map, Value};

/// What templates can read.
pub struct Scope<'a> {
    pub contact_name: Option<&'a str>,
    pub contact_phone: &'a str,
    /// Contact fields the flow set (`set_contact_field`), which win over the context's.
    pub contact_fields: &'a std::collections::BTreeMap<String, String>,
    pub now: DateTime<Utc>,
    pub utc_offset_minutes: i32,
    pub last_message: Option<&'a str>,
    pub vars: &'a Map<String, Value>,
}

impl Scope<'_> {
    /// The value of a name, if it has one.
    pub fn lookup(&self, name: &str) -> Option<Value> {
        let name = name.trim();
        let (head, rest) = name.split_once('.').unwrap_or((name, ""));
        match head {
            "contact" => {
                if let Some(v) = self.contact_fields.get(rest) {
                    return Some(Value::String(v.clone()));
                }
                match rest {
                    "name" => self.contact_name.map(|n| Value::String(n.to_owned())),
                    "phone" => Some(Value::String(self.contact_phone.to_owned())),
                    _ => None,
                }
            }
            "now" => {
                let offset =
                    FixedOffset::east_opt(self.utc_offset_minutes * 60).unwrap_or(Utc.fix());
                let local = self.now.with_timezone(&offset);
                let f = match rest {
                    "date" => "%Y-%m-%d",
                    "time" => "%H:%M",
                    "datetime" => "%Y-%m-%d %H:%M",
                    _ => return None,
                };
                Some(Value::String(local.format(f).to_string()))
            }
            "message" if rest == "text" => self.last_message.map(|m| Value::String(m.to_owned())),
            "vars" if !rest.is_empty() => self.var(rest),
            _ => self.var(name),
        }
    }

    /// A collected variable, or a dot path into one.
    fn var(&self, name: &str) -> Option<Value> {
        let (head, rest) = name.split_once('.').unwrap_or((name, ""));
        self.vars.get(head).and_then(|v| path(v, rest)).cloned()
    }

    /// A name's value as text ("" when unknown).
    pub fn text_of(&self, name: &str) -> String {
        self.lookup(name).map(|v| to_text(&v)).unwrap_or_default()
    }

    /// Replaces every `{{name}}` in `template`.
    pub fn render(&self, template: &str) -> String {
        self.render_with(template, |s| s)
    }

    /// As [`Scope::render`], each value percent-encoded (for URLs).
    pub fn render_url(&self, template: &str) -> String {
        self.render_with(template, |s| percent_encode(&s))
    }

    fn render_with(&self, template: &str, encode: impl Fn(String) -> String) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(open) = rest.find("{{") {
            let Some(close) = rest[open + 2..].find("}}") else {
                break;
            };
            out.push_str(&rest[..open]);
            let name = &rest[open + 2..open + 2 + close];
            out.push_str(&encode(self.text_of(name)));
            rest = &rest[open + 2 + close + 2..];
        }
        out.push_str(rest);
        out
    }

    /// A JSON body: string leaves rendered; a leaf that is exactly `{{name}}` takes the
    /// variable's own JSON value (a number stays a number).
    pub fn render_json(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => {
                let t = s.trim();
                if let Some(name) = t.strip_prefix("{{").and_then(|x| x.strip_suffix("}}"))
                    && !name.contains("{{")
                    && !name.contains("}}")
                {
                    return self.lookup(name).unwrap_or(Value::String(String::new()));
                }
                Value::String(self.render(s))
            }
            Value::Array(a) => Value::Array(a.iter().map(|x| self.render_json(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.render_json(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// A value as text: strings as they are, null as "", others as compact JSON.
pub fn to_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The value at a dot path (`data.items.0.name`); an empty path is the value itself.
pub fn path<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let path = path.trim().trim_start_matches("$.").trim_start_matches('$');
    if path.is_empty() {
        return Some(v);
    }
    path.split('.').try_fold(v, |cur, seg| match cur {
        Value::Object(o) => o.get(seg),
        Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

/// Percent-encodes all but the unreserved characters of RFC 3986.
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
