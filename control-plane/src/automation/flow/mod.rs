//! Conversation flows: the definition (`model`, checked by `validate` and `fields` when a
//! flow is saved) and the interpreter (`run`) that moves one conversation's [`FlowState`]
//! through the steps, turning an incoming message or a due timer into what to send and what
//! to do. Pure logic: it never touches the database or WhatsApp; the one call out, an HTTP
//! step, goes through [`FlowEnv`] (in production the guarded outbound client).

mod checks;
mod fields;
mod http;
mod limits;
pub mod model;
mod run;
mod state;
mod template;
mod validate;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::crypto::SecretBox;
use crate::error::AppError;
pub use limits::{MAX_DEFINITION_BYTES, MAX_STEPS, MAX_TEXT_CHARS};
pub use model::{Definition, Step};
pub use run::{MAX_STEPS_PER_ADVANCE, advance};
pub use state::{
    FlowAction, FlowContext, FlowEnv, FlowNote, FlowOutcome, FlowState, FlowStatus, Resume, Waiting,
};
pub use validate::parse;

/// A definition that failed validation: the field (`definition.steps[3].next`), the step it
/// belongs to, and a message that names the step.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FlowError {
    pub field: String,
    pub step: Option<String>,
    pub message: String,
}

impl FlowError {
    pub(crate) fn new(
        field: impl Into<String>,
        step: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        FlowError {
            field: field.into(),
            step: step.map(str::to_owned),
            message: message.into(),
        }
    }
}

impl From<FlowError> for AppError {
    fn from(e: FlowError) -> AppError {
        AppError::validation(&e.field, e.message)
    }
}

/// A parsed, validated flow. It serializes as its definition (what a session keeps as its
/// snapshot) and deserializes only through [`parse`], so a snapshot is always valid.
#[derive(Debug, Clone, PartialEq)]
pub struct Flow {
    def: Definition,
    index: HashMap<String, usize>,
}

impl Flow {
    fn new(def: Definition, index: HashMap<String, usize>) -> Flow {
        Flow { def, index }
    }

    /// [`parse`] under the name the snapshot code reads best with.
    pub fn from_json(v: &Value) -> Result<Flow, FlowError> {
        parse(v)
    }

    /// The definition as JSON (normalized: the typed fields, in their order).
    pub fn to_json(&self) -> Value {
        serde_json::to_value(&self.def).unwrap_or(Value::Null)
    }

    pub fn definition(&self) -> &Definition {
        &self.def
    }

    pub fn start(&self) -> &str {
        &self.def.start
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.index.get(id).map(|&i| &self.def.steps[i])
    }

    /// The `ai_agent` integrations the flow hands over to: the field naming each
    /// (`definition.steps[4].integration_id`), its step and the integration's UUID, for a 422
    /// when one is not an AI agent of the instance.
    pub fn agent_integrations(&self) -> Vec<(String, String, uuid::Uuid)> {
        self.def
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                Step::AiAgent(a) => Some((
                    format!("definition.steps[{i}].integration_id"),
                    a.id.clone(),
                    a.integration_id,
                )),
                _ => None,
            })
            .collect()
    }

    /// Seals the credentials of HTTP steps (`auth`: a bearer token, a basic password, a
    /// header value) for storage. A value already sealed with this box (a definition sent
    /// back as the API showed it) stays as it is.
    pub fn seal_secrets(&mut self, secrets: &SecretBox) {
        self.for_each_secret(|s| {
            if secrets.open(s).is_err() {
                *s = secrets.seal(s);
            }
        });
    }

    /// Opens sealed credentials, after loading a stored definition and before running it. A
    /// value that does not open (never sealed) stays as it is.
    pub fn open_secrets(&mut self, secrets: &SecretBox) {
        self.for_each_secret(|s| {
            if let Ok(plain) = secrets.open(s) {
                *s = plain;
            }
        });
    }

    fn for_each_secret(&mut self, mut f: impl FnMut(&mut String)) {
        for step in &mut self.def.steps {
            if let Step::HttpRequest(h) = step {
                match &mut h.auth {
                    Some(model::HttpAuth::Bearer { token }) => f(token),
                    Some(model::HttpAuth::Basic { password, .. }) => f(password),
                    Some(model::HttpAuth::Header { value, .. }) => f(value),
                    None => {}
                }
            }
        }
    }

    pub(crate) fn utc_offset_minutes(&self) -> i32 {
        self.def.utc_offset_minutes.unwrap_or(0)
    }
}

impl Serialize for Flow {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.def.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Flow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Flow, D::Error> {
        let v = Value::deserialize(d)?;
        parse(&v).map_err(serde::de::Error::custom)
    }
}
