//! Integration configurations: a `webhook` bot's endpoint and secret, an `ai_agent`'s model,
//! provider and prompt. Secrets are sealed at rest (`crypto::SecretBox`) and shown back masked.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

use crate::crypto::{SecretBox, mask};
use crate::error::{AppError, AppResult};

/// `config` of a `webhook` (or `api`) integration: the tenant's own bot.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookBotConfig)]
pub struct BotConfig {
    /// Where each turn is POSTed (https, or http where allowed; the SSRF guard applies).
    pub url: String,
    /// Signs each call like webhook deliveries (`X-Webhook-Signature`, `-V2` with the
    /// timestamp). Generated when absent; write-only (shown masked).
    #[serde(default)]
    pub secret: Option<String>,
    /// Total timeout in seconds (1 to 30, default 30; connecting is capped at 10).
    #[serde(default = "thirty")]
    pub timeout_seconds: u32,
    /// Sent when the bot fails (timeout, error status, unreadable answer).
    #[serde(default)]
    pub fallback_message: Option<String>,
    /// On failure: `handoff` (default: pause for a person, after the fallback message if
    /// any) or `fallback` (only the fallback message; the session goes on).
    #[serde(default = "handoff")]
    pub on_failure: String,
}

fn thirty() -> u32 {
    30
}

fn handoff() -> String {
    "handoff".into()
}

/// `config` of an `ai_agent` integration: an OpenAI-compatible chat-completions provider.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(deny_unknown_fields)]
#[schema(as = AiAgentConfig)]
pub struct AgentConfig {
    /// The provider's base URL, up to the version (`https://api.openai.com/v1`);
    /// `/chat/completions` is appended.
    pub base_url: String,
    pub model: String,
    /// Write-only (shown masked); sealed at rest.
    #[serde(default)]
    pub api_key: Option<String>,
    #[serde(default)]
    pub system_prompt: Option<String>,
    /// 0 to 2 (default 0.7).
    #[serde(default = "temperature")]
    pub temperature: f32,
    /// Maximum tokens of a reply (default 500; 1 to 16384).
    #[serde(default = "max_tokens")]
    pub max_tokens: u32,
    /// How many past messages of the conversation the model sees (default 20; 1 to 100).
    #[serde(default = "history")]
    pub history_messages: u32,
    /// Tool-call rounds per turn (default 5; 1 to 10).
    #[serde(default = "rounds")]
    pub max_tool_rounds: u32,
    /// Timeout of each model call in seconds (default 30; 1 to 60).
    #[serde(default = "thirty")]
    pub timeout_seconds: u32,
    /// Sent when the model fails; without one the conversation is handed to a person.
    #[serde(default)]
    pub fallback_message: Option<String>,
}

fn temperature() -> f32 {
    0.7
}
fn max_tokens() -> u32 {
    500
}
fn history() -> u32 {
    20
}
fn rounds() -> u32 {
    5
}

fn bad(field: &str, message: &str) -> AppError {
    AppError::validation(&format!("config.{field}"), message.to_owned())
}

/// Validates a configuration for `integration_type`, seals its secrets (keeping `previous`'s
/// sealed secret when none is given), and returns what is stored.
pub fn prepare(
    integration_type: &str,
    raw: &Value,
    previous: Option<&Value>,
    secrets: &SecretBox,
    check_url: impl Fn(&str) -> bool,
) -> AppResult<Value> {
    let keep = |key: &str| -> Option<String> {
        previous
            .and_then(|p| p.get(key))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    match integration_type {
        "ai_agent" => {
            let mut c: AgentConfig = serde_json::from_value(raw.clone()).map_err(|e| {
                AppError::validation("config", format!("The config is invalid: {e}."))
            })?;
            if !check_url(&c.base_url) {
                return Err(bad(
                    "base_url",
                    "The base_url must be an http(s) URL that is not private.",
                ));
            }
            if c.model.trim().is_empty() || c.model.len() > 200 {
                return Err(bad("model", "The model must have 1 to 200 characters."));
            }
            if !(0.0..=2.0).contains(&c.temperature) {
                return Err(bad(
                    "temperature",
                    "The temperature must be between 0 and 2.",
                ));
            }
            if !(1..=16384).contains(&c.max_tokens) {
                return Err(bad(
                    "max_tokens",
                    "The max_tokens must be between 1 and 16384.",
                ));
            }
            if !(1..=100).contains(&c.history_messages) {
                return Err(bad(
                    "history_messages",
                    "The history_messages must be between 1 and 100.",
                ));
            }
            if !(1..=10).contains(&c.max_tool_rounds) {
                return Err(bad(
                    "max_tool_rounds",
                    "The max_tool_rounds must be between 1 and 10.",
                ));
            }
            if !(1..=60).contains(&c.timeout_seconds) {
                return Err(bad(
                    "timeout_seconds",
                    "The timeout_seconds must be between 1 and 60.",
                ));
            }
            if c.system_prompt
                .as_ref()
                .is_some_and(|p| p.chars().count() > 20_000)
            {
                return Err(bad(
                    "system_prompt",
                    "The system_prompt may not be greater than 20000 characters.",
                ));
            }
            c.api_key = match c.api_key.filter(|k| !k.is_empty()) {
                Some(k) => Some(secrets.seal(&k)),
                None => keep("api_key"),
            };
            Ok(serde_json::to_value(c).unwrap_or_default())
        }
        _ => {
            let mut c: BotConfig = serde_json::from_value(raw.clone()).map_err(|e| {
                AppError::validation("config", format!("The config is invalid: {e}."))
            })?;
            if !check_url(&c.url) {
                return Err(bad(
                    "url",
                    "The url must be an http(s) URL that is not private.",
                ));
            }
            if !(1..=30).contains(&c.timeout_seconds) {
                return Err(bad(
                    "timeout_seconds",
                    "The timeout_seconds must be between 1 and 30.",
                ));
            }
            if !matches!(c.on_failure.as_str(), "handoff" | "fallback") {
                return Err(bad(
                    "on_failure",
                    "The on_failure must be handoff or fallback.",
                ));
            }
            c.secret = match c.secret.filter(|k| !k.is_empty()) {
                Some(k) => Some(secrets.seal(&k)),
                None => {
                    keep("secret").or_else(|| Some(secrets.seal(&crate::crypto::random_secret(40))))
                }
            };
            Ok(serde_json::to_value(c).unwrap_or_default())
        }
    }
}

/// The stored configuration as the API shows it: secrets masked.
pub fn public_view(stored: &Value, secrets: &SecretBox) -> Value {
    let mut v = stored.clone();
    if let Some(obj) = v.as_object_mut() {
        for key in ["api_key", "secret"] {
            if let Some(Value::String(sealed)) = obj.get(key) {
                let shown = secrets.open(sealed).map(|s| mask(&s)).unwrap_or_default();
                obj.insert(key.into(), json!(shown));
            }
        }
    }
    v
}

/// Opens a sealed secret of a stored configuration.
pub fn secret_of(stored: &Value, key: &str, secrets: &SecretBox) -> Option<String> {
    stored
        .get(key)
        .and_then(Value::as_str)
        .and_then(|s| secrets.open(s).ok())
}
