//! The fields of each step type, one struct (and its OpenAPI schema) a type; the `Step`
//! enum that holds them and what a step leads to are in `model`. Plain data.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Sends a text; `{{variables}}` are replaced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowSendTextStep)]
pub struct SendText {
    pub id: String,
    /// At most 4096 characters.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// `image`, `video`, `audio` or `document`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = FlowMediaType)]
pub enum MediaType {
    Image,
    Video,
    Audio,
    Document,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::Image => "image",
            MediaType::Video => "video",
            MediaType::Audio => "audio",
            MediaType::Document => "document",
        }
    }
}

/// Sends a file of the media library (`media_id`) or of a URL (`url`): exactly one of them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowSendMediaStep)]
pub struct SendMedia {
    pub id: String,
    pub media_type: MediaType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// An `http(s)` URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Templated; at most 4096 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// One option of a menu.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FlowMenuOption)]
pub struct MenuOption {
    /// Shown as `N. label`; an answer equal to it (case-insensitive) picks the option.
    pub label: String,
    /// Saved in `save_as` (default: the label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub next: String,
}

/// Sends `text` and the numbered options, then waits for the answer: the option's number or
/// its label (case-insensitive). Another answer sends `retry_message` and waits again, at most
/// `max_retries` times (default 2), then goes to `fallback_next` (or ends).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowMenuStep)]
pub struct Menu {
    pub id: String,
    pub text: String,
    /// 1 to 20 options.
    pub options: Vec<MenuOption>,
    /// A variable that receives the chosen option's `value` (or label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_message: Option<String>,
    /// 0 to 10; default 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_next: Option<String>,
    /// Minutes to wait for an answer (1 to 10080); then `timeout_next` (or the flow ends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// How a question's answer is checked (and saved).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = FlowAnswerCheck)]
pub enum AnswerCheck {
    /// Any non-blank text (saved trimmed).
    #[default]
    Text,
    /// A number, `,` or `.` as decimal separator (saved as a JSON number).
    Number,
    /// An e-mail address (saved lower-case).
    Email,
    /// 8 to 15 digits, `+`, spaces, dots, dashes and parentheses allowed (saved as digits).
    Phone,
    /// A Brazilian CPF with valid check digits, with or without punctuation (saved as 11 digits).
    Cpf,
    /// `dd/mm/yyyy` or `yyyy-mm-dd` (saved as `yyyy-mm-dd`).
    Date,
    /// One of `options` (or its number), case-insensitive (saved as the option).
    Options,
}

/// Sends `text`, waits for an answer, checks it (`validate`) and saves it in `save_as`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowQuestionStep)]
pub struct Question {
    pub id: String,
    pub text: String,
    pub save_as: String,
    #[serde(default)]
    pub validate: AnswerCheck,
    /// The choices of `validate: options`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// A comparison of a condition rule. String comparisons ignore case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = FlowConditionOp)]
pub enum Op {
    Equals,
    NotEquals,
    Contains,
    Regex,
    Gt,
    Gte,
    Lt,
    Lte,
    IsEmpty,
    BusinessHours,
}

/// One rule: the first rule that holds decides `next`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FlowConditionRule)]
pub struct Rule {
    /// A variable as templates name it (`email`, `vars.email`, `contact.name`, `message.text`);
    /// not used by `business_hours`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub var: Option<String>,
    pub op: Op,
    /// What to compare with (templated): a string or a number; a number for `gt`..`lte`, a
    /// pattern for `regex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub value: Option<Value>,
    /// `business_hours`: ISO weekdays, 1 (Monday) to 7 (Sunday).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<u8>>,
    /// `business_hours`: `HH:MM`, inclusive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `business_hours`: `HH:MM`, exclusive; before `from` means overnight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// `business_hours`: minutes east of UTC (default: the definition's `utc_offset_minutes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utc_offset_minutes: Option<i32>,
    pub next: String,
}

/// Goes to the `next` of the first rule that holds, else to `else_next`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowConditionStep)]
pub struct Condition {
    pub id: String,
    /// 1 to 50 rules.
    pub rules: Vec<Rule>,
    pub else_next: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
#[schema(as = FlowHttpMethod)]
pub enum HttpMethod {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub fn to_reqwest(self) -> reqwest::Method {
        match self {
            HttpMethod::Get => reqwest::Method::GET,
            HttpMethod::Post => reqwest::Method::POST,
            HttpMethod::Put => reqwest::Method::PUT,
            HttpMethod::Patch => reqwest::Method::PATCH,
            HttpMethod::Delete => reqwest::Method::DELETE,
        }
    }
}

/// Credentials of an HTTP step (values templated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = FlowHttpAuth)]
pub enum HttpAuth {
    /// `Authorization: Bearer <token>`.
    Bearer { token: String },
    /// `Authorization: Basic base64(username:password)`.
    Basic { username: String, password: String },
    /// Any header, such as `X-Api-Key`.
    Header { name: String, value: String },
}

/// Calls a URL through the platform's guarded outbound client (no private addresses unless
/// the platform allows them, at most 30 s, 256 KiB of response, never retried).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowHttpRequestStep)]
pub struct HttpRequest {
    pub id: String,
    #[serde(default)]
    pub method: HttpMethod,
    /// An `http(s)` URL; values of `{{variables}}` in it are percent-encoded.
    pub url: String,
    /// Header name to value (values templated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<std::collections::BTreeMap<String, String>>,
    /// A JSON value (string leaves templated; a leaf that is exactly `{{var}}` keeps the
    /// variable's JSON type) sent as `application/json`, or a string sent as is (templated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub body: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// 1 to 30; default 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Variable name to a dot path into the JSON response (`data.items.0.name`; empty: the
    /// whole response).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub save: Option<std::collections::BTreeMap<String, String>>,
    /// A variable that receives the HTTP status (0 when no response came).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_var: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// Where to go when the call fails or answers outside 2xx (else `next`); either way the
    /// reason is in `vars.http_error`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// Adds a tag to (or removes it from) the conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowTagStep)]
pub struct TagStep {
    pub id: String,
    /// A tag name (1 to 50 characters).
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// A contact field a flow may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = FlowContactField)]
pub enum ContactField {
    Name,
    Email,
    Company,
    Notes,
}

impl ContactField {
    pub fn as_str(self) -> &'static str {
        match self {
            ContactField::Name => "name",
            ContactField::Email => "email",
            ContactField::Company => "company",
            ContactField::Notes => "notes",
        }
    }
}

/// Sets a field of the contact (`value` templated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowSetContactFieldStep)]
pub struct SetContactField {
    pub id: String,
    pub field: ContactField,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// Hands the conversation to a person: automation pauses for it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowHandoffStep)]
pub struct Handoff {
    pub id: String,
    /// Sent before the hand-off (templated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// Hands the conversation to an AI agent integration of the same instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowAiAgentStep)]
pub struct AiAgent {
    pub id: String,
    /// The UUID of an `ai_agent` integration.
    pub integration_id: uuid::Uuid,
    /// Sent before the agent takes over (templated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// Pauses the flow for `seconds` (1 to 86400); messages meanwhile are not answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowWaitStep)]
pub struct Wait {
    pub id: String,
    pub seconds: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// Jumps to `target`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowGotoStep)]
pub struct Goto {
    pub id: String,
    pub target: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}

/// Ends the flow, optionally with a last message (templated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = FlowEndStep)]
pub struct End {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<Value>,
}
