//! The settings every automation (flow or integration) has, with their defaults: when it
//! answers (trigger), how long a session lives, what ends it, which chats it ignores, when a
//! person takes over, how messages are grouped into turns, how replies are delivered, and the
//! loop guard. Stored as JSON on the flow or integration; unknown fields are refused so a typo
//! does not silently fall back to a default.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};

/// When an automation answers a message that no session holds yet.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Trigger {
    /// `all` (every message), `keyword` (a message matching one of `keywords`) or `none` (a
    /// fallback: only when no other automation of the instance matched).
    #[serde(rename = "type")]
    #[schema(value_type = TriggerType)]
    pub kind: String,
    /// For `keyword`: the words or patterns (at most 50, each up to 200 characters).
    pub keywords: Vec<String>,
    /// For `keyword`: `equals`, `contains`, `starts_with`, `ends_with` or `regex`.
    #[schema(value_type = TriggerOperator)]
    pub operator: String,
    /// Case-sensitive matching (default `false`).
    pub case_sensitive: bool,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TriggerType {
    All,
    Keyword,
    None,
}

#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum TriggerOperator {
    Equals,
    Contains,
    StartsWith,
    EndsWith,
    Regex,
}

impl Default for Trigger {
    fn default() -> Self {
        Trigger {
            kind: "all".into(),
            keywords: Vec::new(),
            operator: "equals".into(),
            case_sensitive: false,
        }
    }
}

/// How replies are delivered.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ReplyDelivery {
    /// Show "typing…" in the chat during each reply's delay (default `true`; nothing shows
    /// without a delay).
    pub typing: bool,
    /// Delay before each reply per character of it, in ms (default 0; at most 200).
    pub delay_per_char_ms: u32,
    /// Cap of that delay, in ms (default 3000; at most 30000).
    pub max_delay_ms: u32,
    /// Split a bot's or AI agent's reply on blank lines into several messages (default
    /// `true`). A flow's messages are sent as written.
    pub split_paragraphs: bool,
}

impl Default for ReplyDelivery {
    fn default() -> Self {
        ReplyDelivery {
            typing: true,
            delay_per_char_ms: 0,
            max_delay_ms: 3000,
            split_paragraphs: true,
        }
    }
}

/// The loop guard.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LoopGuard {
    /// At most this many automated replies per conversation per minute (default 10; 1 to
    /// 120). Past it the session is paused with reason `loop_guard_rate`.
    pub max_replies_per_minute: u32,
    /// An answer from the other side arriving within this many ms of our reply counts as
    /// instant (default 1500).
    pub instant_reply_ms: u32,
    /// This many instant answers in a row pause the session with reason `loop_guard_bot`
    /// (default 5; 0 disables the check).
    pub max_instant_replies: u32,
}

impl Default for LoopGuard {
    fn default() -> Self {
        LoopGuard {
            max_replies_per_minute: 10,
            instant_reply_ms: 1500,
            max_instant_replies: 5,
        }
    }
}

/// Every automation's settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields, default)]
#[schema(as = AutomationSettings)]
pub struct Settings {
    pub trigger: Trigger,
    /// Minutes without a message after which a session closes; the next message starts a new
    /// one (default 60; 0: never; at most 43200).
    pub expire_minutes: u32,
    /// A message equal to this (trimmed, case-insensitive) closes the session (default none).
    pub finish_keyword: Option<String>,
    /// Ignore group chats (default `true`).
    pub ignore_groups: bool,
    /// Numbers (digits, with country code) whose chats are ignored.
    pub ignore_numbers: Vec<String>,
    /// A message a person sends (from the phone, or through the API once paused) pauses the
    /// session (default `true`).
    pub stop_on_human: bool,
    /// Messages arriving closer than this are answered as one turn, after the last one
    /// (default 2000 ms; 0 to 60000).
    pub debounce_ms: u32,
    pub reply: ReplyDelivery,
    /// What to answer to a message kind the automation cannot handle (a sticker, a location,
    /// an audio that is not transcribed…). `null` (default): no answer.
    pub unsupported_message_reply: Option<String>,
    /// Transcribe incoming audio with the instance's transcription provider before the
    /// automation sees it (default `true`; without a provider the audio is unsupported).
    pub transcribe_audio: bool,
    pub loop_guard: LoopGuard,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            trigger: Trigger::default(),
            expire_minutes: 60,
            finish_keyword: None,
            ignore_groups: true,
            ignore_numbers: Vec::new(),
            stop_on_human: true,
            debounce_ms: 2000,
            reply: ReplyDelivery::default(),
            unsupported_message_reply: None,
            transcribe_audio: true,
            loop_guard: LoopGuard::default(),
        }
    }
}

impl Settings {
    /// The stored settings (defaults for what is missing or unreadable).
    pub fn from_stored(value: Option<&serde_json::Value>) -> Settings {
        value
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    /// Parses and validates settings from a request body; errors name the field under
    /// `settings.`.
    pub fn parse(value: &serde_json::Value) -> AppResult<Settings> {
        let s: Settings = serde_json::from_value(value.clone()).map_err(|e| {
            AppError::validation("settings", format!("The settings are invalid: {e}."))
        })?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> AppResult<()> {
        let field = |f: &str| format!("settings.{f}");
        match self.trigger.kind.as_str() {
            "all" | "none" => {}
            "keyword" => {
                if self.trigger.keywords.is_empty() {
                    return Err(AppError::validation(
                        &field("trigger.keywords"),
                        "A keyword trigger needs at least one keyword.",
                    ));
                }
            }
            _ => {
                return Err(AppError::validation(
                    &field("trigger.type"),
                    "The trigger type must be one of: all, keyword, none.",
                ));
            }
        }
        if !matches!(
            self.trigger.operator.as_str(),
            "equals" | "contains" | "starts_with" | "ends_with" | "regex"
        ) {
            return Err(AppError::validation(
                &field("trigger.operator"),
                "The operator must be one of: equals, contains, starts_with, ends_with, regex.",
            ));
        }
        if self.trigger.keywords.len() > 50 {
            return Err(AppError::validation(
                &field("trigger.keywords"),
                "At most 50 keywords.",
            ));
        }
        for (i, k) in self.trigger.keywords.iter().enumerate() {
            let f = field(&format!("trigger.keywords.{i}"));
            if k.trim().is_empty() || k.chars().count() > 200 {
                return Err(AppError::validation(
                    &f,
                    "A keyword must have 1 to 200 characters.",
                ));
            }
            if self.trigger.operator == "regex" {
                compile(k, self.trigger.case_sensitive).map_err(|e| {
                    AppError::validation(&f, format!("The pattern is not a valid regex: {e}"))
                })?;
            }
        }
        if self.expire_minutes > 43_200 {
            return Err(AppError::validation(
                &field("expire_minutes"),
                "The expire_minutes must be between 0 and 43200.",
            ));
        }
        if self.debounce_ms > 60_000 {
            return Err(AppError::validation(
                &field("debounce_ms"),
                "The debounce_ms must be between 0 and 60000.",
            ));
        }
        if self
            .finish_keyword
            .as_ref()
            .is_some_and(|k| k.trim().is_empty() || k.chars().count() > 100)
        {
            return Err(AppError::validation(
                &field("finish_keyword"),
                "The finish_keyword must have 1 to 100 characters.",
            ));
        }
        if self.ignore_numbers.len() > 1000 {
            return Err(AppError::validation(
                &field("ignore_numbers"),
                "At most 1000 numbers.",
            ));
        }
        for (i, n) in self.ignore_numbers.iter().enumerate() {
            let digits = n.chars().filter(char::is_ascii_digit).count();
            if !(8..=15).contains(&digits) {
                return Err(AppError::validation(
                    &field(&format!("ignore_numbers.{i}")),
                    "A number must have 8 to 15 digits, with the country code.",
                ));
            }
        }
        if self.reply.delay_per_char_ms > 200 {
            return Err(AppError::validation(
                &field("reply.delay_per_char_ms"),
                "The delay_per_char_ms must be between 0 and 200.",
            ));
        }
        if self.reply.max_delay_ms > 30_000 {
            return Err(AppError::validation(
                &field("reply.max_delay_ms"),
                "The max_delay_ms must be between 0 and 30000.",
            ));
        }
        if self
            .unsupported_message_reply
            .as_ref()
            .is_some_and(|r| r.trim().is_empty() || r.chars().count() > 4096)
        {
            return Err(AppError::validation(
                &field("unsupported_message_reply"),
                "The unsupported_message_reply must have 1 to 4096 characters.",
            ));
        }
        if !(1..=120).contains(&self.loop_guard.max_replies_per_minute) {
            return Err(AppError::validation(
                &field("loop_guard.max_replies_per_minute"),
                "The max_replies_per_minute must be between 1 and 120.",
            ));
        }
        if self.loop_guard.instant_reply_ms > 60_000 || self.loop_guard.max_instant_replies > 100 {
            return Err(AppError::validation(
                &field("loop_guard"),
                "The instant_reply_ms must be at most 60000 and max_instant_replies at most 100.",
            ));
        }
        Ok(())
    }

    /// Whether this automation's trigger takes `text` (a `none` trigger never does: it is
    /// the fallback, chosen by the caller).
    pub fn triggers_on(&self, text: &str) -> bool {
        let t = &self.trigger;
        match t.kind.as_str() {
            "all" => true,
            "keyword" => t.keywords.iter().any(|k| keyword_matches(t, k, text)),
            _ => false,
        }
    }

    /// Whether `text` is this automation's finish keyword.
    pub fn is_finish(&self, text: &str) -> bool {
        self.finish_keyword
            .as_ref()
            .is_some_and(|k| k.trim().to_lowercase() == text.trim().to_lowercase())
    }

    /// Whether the chat (`digits` of a 1:1 chat's number) is one this automation ignores.
    pub fn ignores(&self, is_group: bool, digits: &str) -> bool {
        (is_group && self.ignore_groups)
            || self.ignore_numbers.iter().any(|n| {
                let n: String = n.chars().filter(char::is_ascii_digit).collect();
                n == digits
            })
    }
}

fn compile(pattern: &str, case_sensitive: bool) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(!case_sensitive)
        .size_limit(256 * 1024)
        .dfa_size_limit(256 * 1024)
        .build()
}

fn keyword_matches(t: &Trigger, keyword: &str, text: &str) -> bool {
    if t.operator == "regex" {
        return compile(keyword, t.case_sensitive).is_ok_and(|re| re.is_match(text));
    }
    let (k, x) = if t.case_sensitive {
        (keyword.trim().to_owned(), text.trim().to_owned())
    } else {
        (keyword.trim().to_lowercase(), text.trim().to_lowercase())
    };
    match t.operator.as_str() {
        "equals" => x == k,
        "contains" => x.contains(&k),
        "starts_with" => x.starts_with(&k),
        "ends_with" => x.ends_with(&k),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_unknown_fields() {
        let s = Settings::parse(&json!({})).unwrap();
        assert_eq!(s, Settings::default());
        assert!(s.stop_on_human);
        let err = Settings::parse(&json!({"debounce": 5})).unwrap_err();
        assert!(format!("{err:?}").contains("settings"));
    }

    #[test]
    fn keyword_operators() {
        let mk = |op: &str, k: &str| Settings {
            trigger: Trigger {
                kind: "keyword".into(),
                keywords: vec![k.into()],
                operator: op.into(),
                case_sensitive: false,
            },
            ..Settings::default()
        };
        assert!(mk("equals", "Oi").triggers_on(" oi "));
        assert!(!mk("equals", "oi").triggers_on("oi tudo"));
        assert!(mk("contains", "preço").triggers_on("Qual o PREÇO?"));
        assert!(mk("starts_with", "menu").triggers_on("Menu please"));
        assert!(mk("ends_with", "bye").triggers_on("ok BYE"));
        assert!(mk("regex", r"^pedido\s+\d+$").triggers_on("PEDIDO 123"));
        assert!(!mk("regex", r"^pedido\s+\d+$").triggers_on("pedido x"));
        let mut none = Settings::default();
        none.trigger.kind = "none".into();
        assert!(!none.triggers_on("anything"));
    }

    #[test]
    fn ignored_chats_and_the_finish_keyword() {
        let s = Settings::parse(&json!({
            "ignore_numbers": ["+55 11 91234-5678"], "finish_keyword": "Sair"
        }))
        .unwrap();
        assert!(s.ignores(false, "5511912345678"));
        assert!(!s.ignores(false, "5511912345679"));
        assert!(s.ignores(true, "120363000000000000"), "groups by default");
        let mut groups = s.clone();
        groups.ignore_groups = false;
        assert!(!groups.ignores(true, "120363000000000000"));
        assert!(s.is_finish("  sair "));
        assert!(!s.is_finish("sair agora"));
        assert!(!Settings::default().is_finish("sair"));
    }

    #[test]
    fn validation_names_the_field() {
        for (body, field) in [
            (
                json!({"trigger": {"type": "sometimes"}}),
                "settings.trigger.type",
            ),
            (
                json!({"trigger": {"type": "keyword"}}),
                "settings.trigger.keywords",
            ),
            (
                json!({"trigger": {"type": "keyword", "keywords": ["("], "operator": "regex"}}),
                "settings.trigger.keywords.0",
            ),
            (json!({"debounce_ms": 70000}), "settings.debounce_ms"),
            (
                json!({"ignore_numbers": ["12"]}),
                "settings.ignore_numbers.0",
            ),
        ] {
            let err = Settings::parse(&body).unwrap_err();
            let AppError::Client(b) = err else { panic!() };
            let v = serde_json::to_value(&b).unwrap();
            assert!(v.to_string().contains(field), "{v} should name {field}");
        }
    }
}
