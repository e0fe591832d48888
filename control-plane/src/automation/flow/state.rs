//! What the interpreter works on and answers: where a conversation is in its flow
//! ([`FlowState`]), the turn's context and why the flow runs on, the one way out of a flow
//! ([`FlowEnv`]), and what a run produced ([`FlowOutcome`]: actions, status, notes). Data
//! only; `run` moves a state through the steps.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::automation::outbound::{OutError, OutRequest, OutResponse};

/// Where a conversation is in its flow. Kept by the session between turns (JSON).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlowState {
    /// The step the flow stopped at: waiting for an answer or sleeping (None before the
    /// start and after the end).
    pub step: Option<String>,
    pub waiting: Option<Waiting>,
    /// Invalid answers so far at `step`.
    pub retries: u32,
    /// Collected variables (`save_as`, an HTTP step's `save` and `status_var`, `http_error`).
    pub vars: Map<String, Value>,
    /// When the wait step's time is over, or the question's or menu's timeout.
    pub deadline: Option<DateTime<Utc>>,
    pub started: bool,
    pub ended: bool,
    /// Contact fields the flow set, as templates see them (`contact.email`).
    pub contact_fields: BTreeMap<String, String>,
    /// The last message of the user (`{{message.text}}`).
    pub last_message: Option<String>,
}

/// What the flow waits for at `FlowState::step`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Waiting {
    /// An answer to a menu or question (or its timeout).
    Answer,
    /// The end of a wait step.
    Timer,
}

/// Who the conversation is with, and the time of this turn.
#[derive(Debug, Clone)]
pub struct FlowContext {
    pub contact_name: Option<String>,
    pub contact_phone: String,
    pub now: DateTime<Utc>,
}

/// Why the flow runs on.
#[derive(Debug, Clone, PartialEq)]
pub enum Resume {
    /// A message of the user: its text (a caption or a transcription for media; may be
    /// empty) and its kind (`text`, `image`, `audio`, ...).
    Message { text: String, kind: String },
    /// A wait step's time, or a question's or menu's timeout, has come (`FlowState::deadline`).
    Timer,
}

/// The one way out of a flow: its HTTP steps.
#[async_trait::async_trait]
pub trait FlowEnv: Send + Sync {
    async fn http(&self, req: OutRequest) -> Result<OutResponse, OutError>;
}

/// In production HTTP steps go through the guarded outbound client.
#[async_trait::async_trait]
impl FlowEnv for crate::automation::outbound::Outbound {
    async fn http(&self, req: OutRequest) -> Result<OutResponse, OutError> {
        self.call(req).await
    }
}

/// Something to send or do, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum FlowAction {
    Text(String),
    Media {
        media_type: String,
        media_id: Option<String>,
        url: Option<String>,
        caption: Option<String>,
        filename: Option<String>,
    },
    AddTag(String),
    RemoveTag(String),
    SetContactField {
        field: String,
        value: String,
    },
}

/// Where the run stopped. The messages of `Ended`, `HandOff` and `ToAgent` are NOT among the
/// actions: the caller sends them (before pausing, or before the agent takes over).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum FlowStatus {
    /// A menu or question waits for the answer; `timeout_at`: when to resume with
    /// [`Resume::Timer`].
    WaitingForUser {
        step: String,
        timeout_at: Option<DateTime<Utc>>,
    },
    /// A wait step: resume with [`Resume::Timer`] at `until`.
    Sleeping {
        step: String,
        until: DateTime<Utc>,
    },
    Ended {
        message: Option<String>,
    },
    /// A person takes over: pause automation for the conversation.
    HandOff {
        message: Option<String>,
    },
    /// An AI agent integration takes over.
    ToAgent {
        integration: uuid::Uuid,
        message: Option<String>,
    },
}

impl FlowStatus {
    /// `waiting_for_user`, `sleeping`, `ended`, `handoff` or `ai_agent`.
    pub fn name(&self) -> &'static str {
        match self {
            FlowStatus::WaitingForUser { .. } => "waiting_for_user",
            FlowStatus::Sleeping { .. } => "sleeping",
            FlowStatus::Ended { .. } => "ended",
            FlowStatus::HandOff { .. } => "handoff",
            FlowStatus::ToAgent { .. } => "ai_agent",
        }
    }

    /// Whether the flow is over (ended, handed off or to an agent).
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            FlowStatus::Ended { .. } | FlowStatus::HandOff { .. } | FlowStatus::ToAgent { .. }
        )
    }
}

/// Something worth logging or showing in a test transcript (an HTTP step's failure, an
/// answer that did not fit, the step cap).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowNote {
    pub step: String,
    pub message: String,
}

/// What one [`advance`] produced.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowOutcome {
    pub actions: Vec<FlowAction>,
    /// The step of each action (as long as `actions`).
    pub action_steps: Vec<String>,
    /// The indexes (into `actions`) of the texts that present a menu with its numbered
    /// options (a retry message of a menu is not one).
    pub menu_actions: Vec<usize>,
    pub status: FlowStatus,
    /// The steps run, in order (a resumed menu or question first).
    pub trace: Vec<String>,
    pub notes: Vec<FlowNote>,
}
