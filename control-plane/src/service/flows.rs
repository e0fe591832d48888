//! Flow definitions as use-cases: the checks a definition needs beyond its own shape (its
//! `ai_agent` steps name AI agent integrations of the flow's instance), and the test run of a
//! flow (`POST /automation/flows/{id}/test`): scripted messages through the interpreter,
//! nothing sent over WhatsApp, HTTP steps called for real through the guarded outbound client.

use chrono::Utc;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;

use crate::automation::flow::{
    self, Flow, FlowAction, FlowContext, FlowOutcome, FlowState, FlowStatus, Resume,
};
use crate::db::TenantScoped;
use crate::db::entities::{automation_flow, automation_integration};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// Scripted messages a test run takes at most.
pub const MAX_TEST_MESSAGES: usize = 50;

/// What a test run is given (parsed at the edge).
#[derive(Debug, Clone, Default)]
pub struct FlowTestInput {
    pub messages: Vec<String>,
    pub variables: Map<String, Value>,
    pub contact_name: Option<String>,
    pub contact_phone: Option<String>,
    /// An unsaved definition to test instead of the stored one.
    pub definition: Option<Flow>,
}

/// One line of a test run's transcript.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = FlowTranscriptEntry)]
pub struct TranscriptEntry {
    /// `user` or `bot`.
    #[schema(example = "bot")]
    pub from: &'static str,
    /// `text`, `media`, `menu`, `action` (a tag, a contact field, a hand-off) or `note` (a
    /// skipped wait, a failed HTTP call, an answer that did not fit).
    #[schema(example = "menu")]
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub text: String,
    /// The step that produced it (bot lines).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// `media` lines: what would be sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub media: Option<Value>,
}

/// Where a test run stopped.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = FlowStoppedAt)]
pub struct StoppedAt {
    /// The last step run (null when the run never reached one).
    pub step: Option<String>,
    /// `waiting_for_user`, `sleeping`, `ended`, `handoff` or `ai_agent`.
    #[schema(example = "waiting_for_user")]
    pub status: &'static str,
}

/// The result of a test run.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = FlowTestResult)]
pub struct FlowTestResult {
    pub transcript: Vec<TranscriptEntry>,
    /// The variables at the end.
    #[schema(value_type = Object)]
    pub variables: Map<String, Value>,
    pub stopped_at: StoppedAt,
    /// The side effects the run would have had, in order (`add_tag`, `remove_tag`,
    /// `set_contact_field`, `handoff`, `ai_agent`); messages are in the transcript.
    #[schema(value_type = Vec<Object>)]
    pub actions: Vec<Value>,
    /// The steps run, in order.
    pub trace: Vec<String>,
    /// Scripted messages left unread because the flow had ended.
    pub unused_messages: usize,
}

impl Services {
    /// A stored definition (or a session's snapshot of one) ready to run: parsed, its sealed
    /// credentials opened. Keep snapshots as stored (sealed); open them only to run.
    pub fn load_flow(&self, stored: &Value) -> AppResult<Flow> {
        let mut flow = flow::parse(stored)?;
        flow.open_secrets(&self.secrets);
        Ok(flow)
    }

    /// A definition as stored: its credentials sealed.
    pub(crate) fn definition_to_store(&self, mut flow: Flow) -> Value {
        flow.seal_secrets(&self.secrets);
        flow.to_json()
    }

    /// The definition to store for a change, or `None` when `flow` is the stored one
    /// (compared with credentials open: sealing is randomized). A stored definition that no
    /// longer parses counts as different.
    pub(crate) fn changed_definition(&self, stored: Option<&Value>, flow: Flow) -> Option<Value> {
        let old = stored
            .and_then(|d| self.load_flow(d).ok())
            .map(|f| f.to_json());
        let mut new = flow.clone();
        new.open_secrets(&self.secrets);
        (old.as_ref() != Some(&new.to_json())).then(|| self.definition_to_store(flow))
    }

    /// The checks of a definition that need the database: each `ai_agent` step names an
    /// `ai_agent` integration of the flow's instance.
    pub(crate) async fn check_flow(&self, flow: &Flow, instance_id: i64) -> AppResult<()> {
        for (field, step, integration) in flow.agent_integrations() {
            let found = automation_integration::Entity::find()
                .filter(automation_integration::Column::Uuid.eq(integration))
                .filter(automation_integration::Column::InstanceId.eq(instance_id))
                .filter(automation_integration::Column::IntegrationType.eq("ai_agent"))
                .one(&self.db)
                .await?;
            if found.is_none() {
                return Err(AppError::validation(
                    &field,
                    format!(
                        "Step '{step}': {field} names no ai_agent integration of this flow's instance."
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Runs a flow (or an unsaved definition) through scripted messages without sending
    /// anything. The first message opens the session (it is not an answer); `wait` steps
    /// are skipped at once (the clock of the run jumps ahead), noted in the transcript.
    pub async fn test_flow(
        &self,
        caller: &Caller,
        reference: &str,
        input: FlowTestInput,
    ) -> AppResult<FlowTestResult> {
        let not_found = || AppError::not_found(ErrorCode::NotFound, "Flow");
        let uuid = Uuid::parse_str(reference.trim()).map_err(|_| not_found())?;
        let bound = caller.bound_instance().map(|b| b.0);
        let stored = automation_flow::Entity::scoped(caller.tenant())
            .filter(automation_flow::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
            .filter(|m| bound.is_none_or(|b| b == m.instance_id))
            .ok_or_else(not_found)?;
        let flow = match input.definition {
            Some(mut f) => {
                f.open_secrets(&self.secrets);
                f
            }
            None => match &stored.definition {
                Some(d) => self.load_flow(d)?,
                None => {
                    return Err(AppError::validation(
                        "definition",
                        "The flow has no definition yet: save one, or send a definition to test.",
                    ));
                }
            },
        };
        self.check_flow(&flow, stored.instance_id).await?;
        let mut ctx = FlowContext {
            contact_name: input.contact_name,
            contact_phone: input.contact_phone.unwrap_or_default(),
            now: Utc::now(),
        };
        let mut run = TestRun {
            flow: &flow,
            state: FlowState {
                vars: input.variables,
                ..FlowState::default()
            },
            transcript: Vec::new(),
            actions: Vec::new(),
            trace: Vec::new(),
        };
        let mut messages = input.messages.into_iter();
        let first = messages.next();
        if let Some(m) = &first {
            run.user(m);
        }
        let resume = first.map(|text| Resume::Message {
            text,
            kind: "text".into(),
        });
        let mut status = run.step(resume, &mut ctx, self).await;
        let mut unused = 0;
        for m in messages {
            if status.is_final() {
                unused += 1;
                continue;
            }
            run.user(&m);
            let resume = Resume::Message {
                text: m,
                kind: "text".into(),
            };
            status = run.step(Some(resume), &mut ctx, self).await;
        }
        let step = match &status {
            FlowStatus::WaitingForUser { step, .. } | FlowStatus::Sleeping { step, .. } => {
                Some(step.clone())
            }
            _ => run.trace.last().cloned(),
        };
        Ok(FlowTestResult {
            transcript: run.transcript,
            variables: run.state.vars,
            stopped_at: StoppedAt {
                step,
                status: status.name(),
            },
            actions: run.actions,
            trace: run.trace,
            unused_messages: unused,
        })
    }
}

struct TestRun<'a> {
    flow: &'a Flow,
    state: FlowState,
    transcript: Vec<TranscriptEntry>,
    actions: Vec<Value>,
    trace: Vec<String>,
}

impl TestRun<'_> {
    fn user(&mut self, text: &str) {
        self.transcript.push(TranscriptEntry {
            from: "user",
            kind: "text",
            text: text.to_owned(),
            step: None,
            media: None,
        });
    }

    fn bot(&mut self, kind: &'static str, text: String, step: &str) {
        self.transcript.push(TranscriptEntry {
            from: "bot",
            kind,
            text,
            step: Some(step.to_owned()),
            media: None,
        });
    }

    /// One advance, then (for a wait step) the timer at once, until the flow waits for the
    /// user or ends.
    async fn step(
        &mut self,
        mut resume: Option<Resume>,
        ctx: &mut FlowContext,
        services: &Services,
    ) -> FlowStatus {
        loop {
            let outcome = flow::advance(
                self.flow,
                &mut self.state,
                resume.take(),
                ctx,
                &services.outbound,
            )
            .await;
            self.record(&outcome);
            match outcome.status {
                FlowStatus::Sleeping { step, until } => {
                    let seconds = (until - ctx.now).num_seconds().max(0);
                    self.bot(
                        "note",
                        format!("wait of {seconds} s skipped (test run)"),
                        &step,
                    );
                    ctx.now = until;
                    resume = Some(Resume::Timer);
                }
                status => return status,
            }
        }
    }

    fn record(&mut self, o: &FlowOutcome) {
        self.trace.extend(o.trace.iter().cloned());
        // Notes first: they explain what led to the actions (a retry, a failed call).
        for n in &o.notes {
            self.bot("note", n.message.clone(), &n.step);
        }
        for (i, (action, step)) in o.actions.iter().zip(&o.action_steps).enumerate() {
            match action {
                FlowAction::Text(t) => {
                    let kind = if o.menu_actions.contains(&i) {
                        "menu"
                    } else {
                        "text"
                    };
                    self.bot(kind, t.clone(), step);
                }
                FlowAction::Media {
                    media_type,
                    media_id,
                    url,
                    caption,
                    filename,
                } => {
                    self.transcript.push(TranscriptEntry {
                        from: "bot",
                        kind: "media",
                        text: caption.clone().unwrap_or_default(),
                        step: Some(step.clone()),
                        media: Some(json!({
                            "media_type": media_type,
                            "media_id": media_id,
                            "url": url,
                            "caption": caption,
                            "filename": filename,
                        })),
                    });
                }
                FlowAction::AddTag(tag) => self.side_effect(
                    step,
                    format!("add tag {tag}"),
                    json!({"type": "add_tag", "tag": tag}),
                ),
                FlowAction::RemoveTag(tag) => self.side_effect(
                    step,
                    format!("remove tag {tag}"),
                    json!({"type": "remove_tag", "tag": tag}),
                ),
                FlowAction::SetContactField { field, value } => self.side_effect(
                    step,
                    format!("set contact {field} to {value}"),
                    json!({"type": "set_contact_field", "field": field, "value": value}),
                ),
            }
        }
        let last = o.trace.last().cloned().unwrap_or_default();
        match &o.status {
            FlowStatus::Ended { message } => {
                if let Some(m) = message {
                    self.bot("text", m.clone(), &last);
                }
            }
            FlowStatus::HandOff { message } => {
                if let Some(m) = message {
                    self.bot("text", m.clone(), &last);
                }
                self.side_effect(
                    &last,
                    "hand off to a person (automation paused)".into(),
                    json!({"type": "handoff"}),
                );
            }
            FlowStatus::ToAgent {
                integration,
                message,
            } => {
                if let Some(m) = message {
                    self.bot("text", m.clone(), &last);
                }
                self.side_effect(
                    &last,
                    format!("hand over to the AI agent {integration}"),
                    json!({"type": "ai_agent", "integration_id": integration}),
                );
            }
            FlowStatus::WaitingForUser { .. } | FlowStatus::Sleeping { .. } => {}
        }
    }

    fn side_effect(&mut self, step: &str, text: String, mut action: Value) {
        action["step"] = json!(step);
        self.actions.push(action);
        self.bot("action", text, step);
    }
}
