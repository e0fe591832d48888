//! What an External Function is made of: its action, the action's configuration (checked
//! when saved, each field named on failure), its slug, its key.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::template::placeholders;
use crate::automation::functions::model::FieldErrors;

pub const DEFAULT_RATE_LIMIT: i64 = 1000;
/// Most calls per day a function may allow.
pub const MAX_RATE_LIMIT: i64 = 1_000_000;
pub const MAX_SLUG: usize = 64;
pub const MAX_TEMPLATE: usize = 4096;
pub const MAX_BUTTONS: usize = 10;
pub const MAX_BUTTON: usize = 64;
/// The key: this prefix and 48 letters and digits (about 285 bits).
pub const KEY_PREFIX: &str = "xfn_";
pub const KEY_SECRET_LEN: usize = 48;
/// How much of the key is shown after creation.
pub const SHOWN_KEY_CHARS: usize = 8;

/// What a function does when called.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = ExternalFunctionActionType)]
pub enum ActionType {
    /// Send a text message (`message_template`) to `phone`.
    SendMessage,
    /// Send a message with options, as a numbered text menu, to `phone`.
    SendButtons,
    /// Send media (image, video, audio, document) to `phone`.
    SendMedia,
    /// Create a contact for `phone` on the function's instance.
    CreateContact,
    /// Update the contact of `phone` on the function's instance.
    UpdateContact,
    /// Create a Kanban lead.
    CreateLead,
    /// Update a Kanban lead (`lead_uuid`).
    UpdateLead,
    /// Pause automation for the conversation with `phone`.
    PauseAutomation,
    /// Resume automation for the conversation with `phone`.
    ResumeAutomation,
}

impl ActionType {
    pub const ALL: [ActionType; 9] = [
        Self::SendMessage,
        Self::SendButtons,
        Self::SendMedia,
        Self::CreateContact,
        Self::UpdateContact,
        Self::CreateLead,
        Self::UpdateLead,
        Self::PauseAutomation,
        Self::ResumeAutomation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::SendMessage => "send_message",
            Self::SendButtons => "send_buttons",
            Self::SendMedia => "send_media",
            Self::CreateContact => "create_contact",
            Self::UpdateContact => "update_contact",
            Self::CreateLead => "create_lead",
            Self::UpdateLead => "update_lead",
            Self::PauseAutomation => "pause_automation",
            Self::ResumeAutomation => "resume_automation",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The configuration keys the action takes.
    fn keys(self) -> &'static [&'static str] {
        match self {
            Self::SendMessage => &["message_template"],
            Self::SendButtons => &["message_template", "buttons", "footer"],
            Self::SendMedia => &["media_url", "media_id", "media_type", "caption", "filename"],
            Self::CreateContact | Self::UpdateContact => &["name", "email", "company", "notes"],
            Self::CreateLead => &["title", "board_uuid", "column_uuid", "priority", "notes"],
            Self::UpdateLead => &["title", "priority", "notes"],
            Self::PauseAutomation => &["reason"],
            Self::ResumeAutomation => &[],
        }
    }
}

pub const MEDIA_TYPES: [&str; 4] = ["image", "video", "audio", "document"];
pub const PRIORITIES: [&str; 4] = ["low", "medium", "high", "urgent"];

/// An action's configuration. Text fields are templates: `{{name}}` takes the call body's
/// field `name`. Which fields an action takes is [`ActionType`]'s, checked by [`parse_config`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_template: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buttons: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub board_uuid: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column_uuid: Option<Uuid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Config {
    /// The stored configuration (checked when saved).
    pub fn of(v: &Value) -> Config {
        serde_json::from_value(v.clone()).unwrap_or_default()
    }
}

/// A template field: a non-blank string of at most `max` characters whose placeholders parse.
fn template(e: &mut FieldErrors, field: &str, v: Value, max: usize) -> Option<String> {
    match v {
        Value::String(s) if s.trim().is_empty() => {
            e.add(field, format!("The {field} may not be blank."));
            None
        }
        Value::String(s) if s.chars().count() > max => {
            e.add(
                field,
                format!("The {field} may not be greater than {max} characters."),
            );
            None
        }
        Value::String(s) => match placeholders(&s) {
            Ok(_) => Some(s),
            Err(why) => {
                e.add(field, format!("The {field} {why}."));
                None
            }
        },
        _ => {
            e.add(field, format!("The {field} must be a string."));
            None
        }
    }
}

fn uuid_field(e: &mut FieldErrors, field: &str, v: Value) -> Option<Uuid> {
    match v.as_str().map(|s| Uuid::parse_str(s.trim())) {
        Some(Ok(u)) => Some(u),
        _ => {
            e.add(field, format!("The {field} must be a UUID."));
            None
        }
    }
}

fn choice(e: &mut FieldErrors, field: &str, v: Value, all: &[&str]) -> Option<String> {
    match v.as_str().map(|s| s.trim().to_ascii_lowercase()) {
        Some(s) if all.contains(&s.as_str()) => Some(s),
        _ => {
            e.add(
                field,
                format!("The {field} must be one of: {}.", all.join(", ")),
            );
            None
        }
    }
}

/// A `media_url` template: http(s), with no placeholder in the scheme or host (a caller
/// must not choose where the media is fetched from).
fn media_url(e: &mut FieldErrors, field: &str, v: Value) -> Option<String> {
    let url = template(e, field, v, 2048)?;
    let trimmed = url.trim();
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"));
    let Some(rest) = rest else {
        e.add(field, format!("The {field} must be an http(s) URL."));
        return None;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() || authority.contains("{{") {
        e.add(
            field,
            format!("The {field} must name its host without placeholders."),
        );
        return None;
    }
    Some(trimmed.to_owned())
}

/// Parses `config` for `action`: unknown keys, missing required ones and bad values are
/// named as `config.<key>`. `null` or absent is `{}`.
pub fn parse_config(e: &mut FieldErrors, action: ActionType, v: Option<Value>) -> Option<Config> {
    let mut map = match v {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => {
            e.add("config", "The config must be an object.");
            return None;
        }
    };
    let mut fresh = FieldErrors::default();
    let f = |k: &str| format!("config.{k}");
    for key in map.keys() {
        if !action.keys().contains(&key.as_str()) {
            fresh.add(
                &f(key),
                format!(
                    "The {} field is not accepted for {} (it takes: {}).",
                    f(key),
                    action.as_str(),
                    if action.keys().is_empty() {
                        "nothing".to_owned()
                    } else {
                        action.keys().join(", ")
                    }
                ),
            );
        }
    }
    let mut c = Config::default();
    let mut take = |k: &str| map.remove(k).filter(|v| !v.is_null());
    let name = action.as_str();
    let text =
        |fresh: &mut FieldErrors, k: &str, v: Option<Value>, max: usize, required: bool| match v {
            None if required => {
                fresh.add(&f(k), format!("The {} field is required for {name}.", f(k)));
                None
            }
            None => None,
            Some(v) => template(fresh, &f(k), v, max),
        };
    match action {
        ActionType::SendMessage => {
            c.message_template = text(
                &mut fresh,
                "message_template",
                take("message_template"),
                MAX_TEMPLATE,
                true,
            );
        }
        ActionType::SendButtons => {
            c.message_template = text(
                &mut fresh,
                "message_template",
                take("message_template"),
                MAX_TEMPLATE,
                true,
            );
            c.footer = text(&mut fresh, "footer", take("footer"), 255, false);
            c.buttons = match take("buttons") {
                None => {
                    fresh.add(
                        &f("buttons"),
                        "The config.buttons field is required for send_buttons.",
                    );
                    None
                }
                Some(Value::Array(items)) if (1..=MAX_BUTTONS).contains(&items.len()) => {
                    let mut out = Vec::new();
                    for (i, item) in items.into_iter().enumerate() {
                        if let Some(b) =
                            template(&mut fresh, &f(&format!("buttons.{i}")), item, MAX_BUTTON)
                        {
                            out.push(b.trim().to_owned());
                        }
                    }
                    Some(out)
                }
                Some(_) => {
                    fresh.add(
                        &f("buttons"),
                        format!(
                            "The config.buttons must be an array of 1 to {MAX_BUTTONS} labels."
                        ),
                    );
                    None
                }
            };
        }
        ActionType::SendMedia => {
            c.media_url = take("media_url").and_then(|v| media_url(&mut fresh, &f("media_url"), v));
            c.media_id = match take("media_id") {
                None => None,
                Some(Value::String(s)) if s.trim().starts_with("media_") => {
                    Some(s.trim().to_owned())
                }
                Some(_) => {
                    fresh.add(
                        &f("media_id"),
                        "The config.media_id must name a library file (`media_…`).",
                    );
                    None
                }
            };
            c.media_type = take("media_type")
                .and_then(|v| choice(&mut fresh, &f("media_type"), v, &MEDIA_TYPES));
            c.caption = text(&mut fresh, "caption", take("caption"), 1024, false);
            c.filename = text(&mut fresh, "filename", take("filename"), 255, false);
            if fresh.is_empty() {
                match (&c.media_url, &c.media_id) {
                    (None, None) => fresh.add(
                        &f("media_url"),
                        "The config.media_url (or config.media_id) field is required for send_media.",
                    ),
                    (Some(_), Some(_)) => fresh.add(
                        &f("media_id"),
                        "Give either config.media_url or config.media_id, not both.",
                    ),
                    (Some(_), None) if c.media_type.is_none() => fresh.add(
                        &f("media_type"),
                        "The config.media_type field is required with config.media_url.",
                    ),
                    _ => {}
                }
            }
        }
        ActionType::CreateContact | ActionType::UpdateContact => {
            c.name = text(&mut fresh, "name", take("name"), 255, false);
            c.email = text(&mut fresh, "email", take("email"), 255, false);
            c.company = text(&mut fresh, "company", take("company"), 255, false);
            c.notes = text(&mut fresh, "notes", take("notes"), 10_000, false);
        }
        ActionType::CreateLead | ActionType::UpdateLead => {
            c.title = text(
                &mut fresh,
                "title",
                take("title"),
                255,
                action == ActionType::CreateLead,
            );
            c.notes = text(&mut fresh, "notes", take("notes"), 10_000, false);
            c.priority =
                take("priority").and_then(|v| choice(&mut fresh, &f("priority"), v, &PRIORITIES));
            if action == ActionType::CreateLead {
                c.board_uuid =
                    take("board_uuid").and_then(|v| uuid_field(&mut fresh, &f("board_uuid"), v));
                c.column_uuid =
                    take("column_uuid").and_then(|v| uuid_field(&mut fresh, &f("column_uuid"), v));
            }
        }
        ActionType::PauseAutomation => {
            c.reason = text(&mut fresh, "reason", take("reason"), 500, false);
        }
        ActionType::ResumeAutomation => {}
    }
    if fresh.is_empty() {
        Some(c)
    } else {
        e.merge(fresh);
        None
    }
}

/// A slug: lowercase letters, digits and hyphens, starting and ending with a letter or
/// digit, at most [`MAX_SLUG`].
pub fn valid_slug(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SLUG
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn config(action: ActionType, v: Value) -> Result<Config, Vec<String>> {
        let mut e = FieldErrors::default();
        let c = parse_config(&mut e, action, Some(v));
        match e.into_result() {
            Ok(()) => Ok(c.unwrap()),
            Err(body) => {
                let mut keys: Vec<String> =
                    body.details.as_object().unwrap().keys().cloned().collect();
                keys.sort();
                Err(keys)
            }
        }
    }

    #[test]
    fn each_action_checks_its_config() {
        assert!(
            config(
                ActionType::SendMessage,
                json!({"message_template": "Order {{id}}"})
            )
            .is_ok()
        );
        assert_eq!(
            config(ActionType::SendMessage, json!({})).unwrap_err(),
            ["config.message_template"]
        );
        assert_eq!(
            config(
                ActionType::SendMessage,
                json!({"message_template": "x {{id", "buttons": []})
            )
            .unwrap_err(),
            ["config.buttons", "config.message_template"]
        );
        assert_eq!(
            config(
                ActionType::SendButtons,
                json!({"message_template": "Pick", "buttons": ["A", 2]})
            )
            .unwrap_err(),
            ["config.buttons.1"]
        );
        assert_eq!(
            config(
                ActionType::SendButtons,
                json!({"message_template": "Pick", "buttons": []})
            )
            .unwrap_err(),
            ["config.buttons"]
        );
        assert_eq!(
            config(ActionType::SendMedia, json!({})).unwrap_err(),
            ["config.media_url"]
        );
        assert_eq!(
            config(
                ActionType::SendMedia,
                json!({"media_url": "https://x.test/a.png"})
            )
            .unwrap_err(),
            ["config.media_type"]
        );
        assert_eq!(
            config(
                ActionType::SendMedia,
                json!({"media_url": "https://{{host}}/a.png", "media_type": "image"})
            )
            .unwrap_err(),
            ["config.media_url"]
        );
        assert_eq!(
            config(
                ActionType::SendMedia,
                json!({"media_url": "ftp://x.test/a", "media_type": "image"})
            )
            .unwrap_err(),
            ["config.media_url"]
        );
        assert!(
            config(
                ActionType::SendMedia,
                json!({"media_url": "https://x.test/{{id}}.pdf", "media_type": "document"})
            )
            .is_ok()
        );
        assert!(config(ActionType::SendMedia, json!({"media_id": "media_abc"})).is_ok());
        assert!(config(ActionType::CreateContact, json!({})).is_ok());
        assert_eq!(
            config(ActionType::CreateContact, json!({"nick": "x"})).unwrap_err(),
            ["config.nick"]
        );
        assert_eq!(
            config(ActionType::CreateLead, json!({})).unwrap_err(),
            ["config.title"]
        );
        assert_eq!(
            config(
                ActionType::CreateLead,
                json!({"title": "{{name}}", "priority": "asap", "board_uuid": "x"})
            )
            .unwrap_err(),
            ["config.board_uuid", "config.priority"]
        );
        assert!(config(ActionType::UpdateLead, json!({"priority": "HIGH"})).is_ok());
        assert_eq!(
            config(ActionType::ResumeAutomation, json!({"reason": "x"})).unwrap_err(),
            ["config.reason"]
        );
        assert!(
            config(
                ActionType::PauseAutomation,
                json!({"reason": "Agent {{agent}}"})
            )
            .is_ok()
        );
    }

    #[test]
    fn slugs() {
        for ok in ["crm-order-notify", "a", "x1-2"] {
            assert!(valid_slug(ok), "{ok}");
        }
        for bad in ["", "Crm", "crm_order", "-a", "a-", "a b", &"a".repeat(65)] {
            assert!(!valid_slug(bad), "{bad}");
        }
    }
}
