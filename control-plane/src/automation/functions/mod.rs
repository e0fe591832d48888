//! AI Functions: tools of an `ai_agent` integration that call the tenant's endpoints. This
//! module owns their definition and validation ([`model`], [`body`] read field by field in
//! `fields`, [`auth`]), their views, and one call ([`call`]): argument checks, the request
//! (query string or JSON body, credentials) and its answer with secrets redacted. Their
//! storage, the API's use-cases and the execution log are `service::functions`.
//!
//! It must not reach the network any other way than `Services::outbound`, and never shows or
//! records a credential in clear.

pub mod auth;
pub mod body;
pub(crate) mod call;
pub(crate) mod fields;
pub mod model;
pub mod views;

use serde_json::Value;

/// A function as a tool for the model (OpenAI-compatible `function` tool).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolSpec {
    pub name: String,
    /// The function's description; with parameters to collect, it says that the agent must
    /// ask the contact for them before calling.
    pub description: String,
    /// A JSON Schema object: `properties` (each with `type` and `description`, and `enum`
    /// where given), `required`.
    pub parameters: Value,
    /// Names of the parameters the agent must ask the contact for.
    pub collect_from_user: Vec<String>,
}

/// Where an execution comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExecContext {
    /// The conversation's row id.
    pub conversation_id: Option<i64>,
    /// The automation session's row id.
    pub session_id: Option<i64>,
    pub is_test: bool,
}

/// What came of one execution.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecOutcome {
    pub execution_uuid: uuid::Uuid,
    /// A 2xx answer.
    pub ok: bool,
    pub http_status: Option<u16>,
    /// For the model: the parsed JSON body, or `{"text": excerpt}`, or `{"error": message}`
    /// (with `http_status` and the start of the answer when the endpoint answered an error).
    /// Credentials are redacted from it.
    pub result: Value,
    pub error: Option<String>,
}
