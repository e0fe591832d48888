//! The interpreter: [`advance`] runs a flow from where a conversation's [`FlowState`] stopped
//! until it must wait (a menu or question for the answer, a wait step for its time) or ends,
//! and says what to send and do ([`FlowOutcome`]). It sends nothing itself: the caller (the
//! automation engine, or the test route) carries the actions out.

use serde_json::Value;

use super::Flow;
use super::checks;
use super::model::*;
use super::state::{
    FlowAction, FlowContext, FlowEnv, FlowNote, FlowOutcome, FlowState, FlowStatus, Resume, Waiting,
};
use super::template::{Scope, to_text};

/// Steps one [`advance`] runs at most; past it the flow ends (a safety net: validation
/// already refuses loops that never wait).
pub const MAX_STEPS_PER_ADVANCE: usize = 100;
/// A timer that arrives this early still counts as due (clocks of replicas differ a little).
const TIMER_SLACK: chrono::Duration = chrono::Duration::seconds(1);
const DEFAULT_MAX_RETRIES: u32 = 2;

/// Runs the flow on from `state` until it waits or ends.
///
/// - A fresh state (never started) starts at `start`, whatever `resume` is: the message that
///   opened the session (pass it as `Some(Resume::Message)`, or `None`) is not an answer,
///   but templates see it as `{{message.text}}`.
/// - Waiting for an answer: a message is checked against the menu or question (saved and on,
///   or a retry message and waiting again, or `fallback_next` once retries are spent); a due
///   `Timer` follows `timeout_next` (or ends).
/// - Sleeping: a due `Timer` goes on to the wait step's `next`; a message changes nothing.
/// - A timer that is not due yet, `None` on a started flow, and anything on an ended flow
///   change nothing and answer the current status.
///
/// At most [`MAX_STEPS_PER_ADVANCE`] steps run; past them the flow ends (logged).
pub async fn advance(
    flow: &Flow,
    state: &mut FlowState,
    resume: Option<Resume>,
    ctx: &FlowContext,
    env: &dyn FlowEnv,
) -> FlowOutcome {
    let mut run = Run {
        flow,
        ctx,
        env,
        actions: Vec::new(),
        action_steps: Vec::new(),
        menu_actions: Vec::new(),
        trace: Vec::new(),
        notes: Vec::new(),
    };
    if state.ended {
        return run.finish(FlowStatus::Ended { message: None });
    }
    if !state.started {
        state.started = true;
        if let Some(Resume::Message { text, .. }) = resume {
            state.last_message = Some(text);
        }
        let start = flow.start().to_owned();
        return run.go(state, Some(start)).await;
    }
    let Some(step) = state.step.clone().and_then(|id| flow.step(&id)) else {
        // A state that does not match the flow (it should not happen: sessions keep the
        // flow they began with).
        run.note(
            state.step.as_deref().unwrap_or(""),
            "the flow has no such step; ended",
        );
        return run.end(state, None);
    };
    let id = step.id().to_owned();
    let due = state.deadline.is_some_and(|d| ctx.now + TIMER_SLACK >= d);
    let next = match (state.waiting, resume) {
        (Some(Waiting::Answer), Some(Resume::Message { text, .. })) => {
            run.trace.push(id.clone());
            state.last_message = Some(text.clone());
            match run.answer(state, step, &text) {
                Some(next) => next,
                None => return run.finish(current(state)),
            }
        }
        (Some(Waiting::Answer), Some(Resume::Timer)) if due => {
            run.trace.push(id.clone());
            run.note(&id, "no answer in time");
            match step {
                Step::Menu(m) => m.timeout_next.clone(),
                Step::Question(q) => q.timeout_next.clone(),
                _ => None,
            }
        }
        (Some(Waiting::Timer), Some(Resume::Timer)) if due => {
            run.trace.push(id.clone());
            match step {
                Step::Wait(w) => w.next.clone(),
                _ => None,
            }
        }
        (Some(Waiting::Timer), Some(Resume::Message { .. })) => {
            run.note(
                &id,
                "a message arrived during a wait step; it is not an answer",
            );
            return run.finish(current(state));
        }
        _ => return run.finish(current(state)),
    };
    state.retries = 0;
    state.waiting = None;
    state.deadline = None;
    run.go(state, next).await
}

/// The status of a state that waits (or ended).
fn current(state: &FlowState) -> FlowStatus {
    match (&state.step, state.waiting, state.deadline) {
        (Some(step), Some(Waiting::Timer), Some(until)) => FlowStatus::Sleeping {
            step: step.clone(),
            until,
        },
        (Some(step), Some(_), timeout_at) => FlowStatus::WaitingForUser {
            step: step.clone(),
            timeout_at,
        },
        _ => FlowStatus::Ended { message: None },
    }
}

pub(super) struct Run<'a> {
    pub(super) flow: &'a Flow,
    pub(super) ctx: &'a FlowContext,
    pub(super) env: &'a dyn FlowEnv,
    actions: Vec<FlowAction>,
    action_steps: Vec<String>,
    menu_actions: Vec<usize>,
    trace: Vec<String>,
    notes: Vec<FlowNote>,
}

impl Run<'_> {
    fn finish(self, status: FlowStatus) -> FlowOutcome {
        FlowOutcome {
            actions: self.actions,
            action_steps: self.action_steps,
            menu_actions: self.menu_actions,
            status,
            trace: self.trace,
            notes: self.notes,
        }
    }

    pub(super) fn note(&mut self, step: &str, message: impl Into<String>) {
        self.notes.push(FlowNote {
            step: step.to_owned(),
            message: message.into(),
        });
    }

    fn act(&mut self, step: &str, action: FlowAction) {
        self.actions.push(action);
        self.action_steps.push(step.to_owned());
    }

    pub(super) fn scope<'s>(&'s self, state: &'s FlowState) -> Scope<'s> {
        Scope {
            contact_name: self.ctx.contact_name.as_deref(),
            contact_phone: &self.ctx.contact_phone,
            contact_fields: &state.contact_fields,
            now: self.ctx.now,
            utc_offset_minutes: self.flow.utc_offset_minutes(),
            last_message: state.last_message.as_deref(),
            vars: &state.vars,
        }
    }

    /// A template rendered; `None` when absent or blank.
    fn render_opt(&self, state: &FlowState, t: Option<&str>) -> Option<String> {
        t.map(|t| self.scope(state).render(t))
            .filter(|t| !t.trim().is_empty())
    }

    fn end(self, state: &mut FlowState, message: Option<String>) -> FlowOutcome {
        self.stop(state, FlowStatus::Ended { message })
    }

    fn stop(self, state: &mut FlowState, status: FlowStatus) -> FlowOutcome {
        state.ended = true;
        state.waiting = None;
        state.deadline = None;
        self.finish(status)
    }

    /// An answer at a menu or question: `Some(next)` to go on, `None` to keep waiting (a
    /// retry message was queued).
    fn answer(&mut self, state: &mut FlowState, step: &Step, text: &str) -> Option<Option<String>> {
        let id = step.id().to_owned();
        let (picked, max_retries, retry, fallback) = match step {
            Step::Menu(m) => {
                let picked = checks::pick_menu(text, &m.options).map(|i| {
                    let o = &m.options[i];
                    if let Some(var) = &m.save_as {
                        let v = o.value.clone().unwrap_or_else(|| o.label.clone());
                        state.vars.insert(var.clone(), Value::String(v));
                    }
                    Some(o.next.clone())
                });
                let retry = m.retry_message.clone().unwrap_or_else(|| {
                    format!(
                        "Please reply with the number of an option (1 to {}).",
                        m.options.len()
                    )
                });
                (picked, m.max_retries, retry, m.fallback_next.clone())
            }
            Step::Question(q) => {
                let picked = checks::answer(q.validate, q.options.as_deref(), text).map(|v| {
                    state.vars.insert(q.save_as.clone(), v);
                    q.next.clone()
                });
                let retry = q
                    .retry_message
                    .clone()
                    .unwrap_or_else(|| checks::default_retry(q.validate, q.options.as_deref()));
                (picked, q.max_retries, retry, q.fallback_next.clone())
            }
            _ => (Some(None), None, String::new(), None),
        };
        if picked.is_some() {
            return picked;
        }
        if state.retries < max_retries.unwrap_or(DEFAULT_MAX_RETRIES) {
            state.retries += 1;
            let msg = self.scope(state).render(&retry);
            self.act(&id, FlowAction::Text(msg));
            state.deadline = timeout_of(step).map(|m| self.ctx.now + m);
            return None;
        }
        self.note(&id, "no valid answer after the last retry");
        Some(fallback)
    }

    /// Runs steps from `next` until the flow waits or ends.
    async fn go(mut self, state: &mut FlowState, mut next: Option<String>) -> FlowOutcome {
        let mut count = 0;
        loop {
            let Some(id) = next.take() else {
                state.step = None;
                return self.end(state, None);
            };
            count += 1;
            if count > MAX_STEPS_PER_ADVANCE {
                tracing::warn!(step = %id, "flow ran {MAX_STEPS_PER_ADVANCE} steps without waiting; ended");
                self.note(
                    &id,
                    format!("more than {MAX_STEPS_PER_ADVANCE} steps without waiting; ended"),
                );
                state.step = None;
                return self.end(state, None);
            }
            let Some(step) = self.flow.step(&id) else {
                self.note(&id, "no such step; ended");
                state.step = None;
                return self.end(state, None);
            };
            self.trace.push(id.clone());
            next = match step {
                Step::SendText(s) => {
                    let t = self.scope(state).render(&s.text);
                    self.act(&id, FlowAction::Text(t));
                    s.next.clone()
                }
                Step::SendMedia(s) => {
                    let caption = self.render_opt(state, s.caption.as_deref());
                    self.act(
                        &id,
                        FlowAction::Media {
                            media_type: s.media_type.as_str().to_owned(),
                            media_id: s.media_id.clone(),
                            url: s.url.clone(),
                            caption,
                            filename: s.filename.clone(),
                        },
                    );
                    s.next.clone()
                }
                Step::Menu(m) => {
                    let mut t = self.scope(state).render(&m.text);
                    t.push('\n');
                    for (i, o) in m.options.iter().enumerate() {
                        t.push_str(&format!("\n{}. {}", i + 1, o.label));
                    }
                    self.menu_actions.push(self.actions.len());
                    self.act(&id, FlowAction::Text(t));
                    return self.wait_answer(state, step);
                }
                Step::Question(q) => {
                    let t = self.scope(state).render(&q.text);
                    self.act(&id, FlowAction::Text(t));
                    return self.wait_answer(state, step);
                }
                Step::Condition(c) => Some(self.condition(state, c)),
                Step::HttpRequest(h) => self.http(state, h).await,
                Step::AddTag(t) => {
                    self.act(&id, FlowAction::AddTag(t.tag.trim().to_owned()));
                    t.next.clone()
                }
                Step::RemoveTag(t) => {
                    self.act(&id, FlowAction::RemoveTag(t.tag.trim().to_owned()));
                    t.next.clone()
                }
                Step::SetContactField(s) => {
                    let value = self.scope(state).render(&s.value).trim().to_owned();
                    state
                        .contact_fields
                        .insert(s.field.as_str().to_owned(), value.clone());
                    self.act(
                        &id,
                        FlowAction::SetContactField {
                            field: s.field.as_str().to_owned(),
                            value,
                        },
                    );
                    s.next.clone()
                }
                Step::Wait(w) => {
                    let until = self.ctx.now + chrono::Duration::seconds(i64::from(w.seconds));
                    state.step = Some(id.clone());
                    state.waiting = Some(Waiting::Timer);
                    state.deadline = Some(until);
                    state.retries = 0;
                    return self.finish(FlowStatus::Sleeping { step: id, until });
                }
                Step::Goto(g) => Some(g.target.clone()),
                Step::End(e) => {
                    let message = self.render_opt(state, e.message.as_deref());
                    state.step = Some(id);
                    return self.end(state, message);
                }
                Step::Handoff(h) => {
                    let message = self.render_opt(state, h.message.as_deref());
                    state.step = Some(id);
                    return self.stop(state, FlowStatus::HandOff { message });
                }
                Step::AiAgent(a) => {
                    let message = self.render_opt(state, a.message.as_deref());
                    state.step = Some(id);
                    return self.stop(
                        state,
                        FlowStatus::ToAgent {
                            integration: a.integration_id,
                            message,
                        },
                    );
                }
            };
        }
    }

    fn wait_answer(self, state: &mut FlowState, step: &Step) -> FlowOutcome {
        let timeout_at = timeout_of(step).map(|m| self.ctx.now + m);
        state.step = Some(step.id().to_owned());
        state.waiting = Some(Waiting::Answer);
        state.deadline = timeout_at;
        state.retries = 0;
        self.finish(FlowStatus::WaitingForUser {
            step: step.id().to_owned(),
            timeout_at,
        })
    }

    fn condition(&self, state: &FlowState, c: &Condition) -> String {
        let scope = self.scope(state);
        for r in &c.rules {
            let holds = if r.op == Op::BusinessHours {
                checks::business_hours(
                    self.ctx.now,
                    r.utc_offset_minutes
                        .unwrap_or_else(|| self.flow.utc_offset_minutes()),
                    r.days.as_deref().unwrap_or_default(),
                    r.from.as_deref().unwrap_or_default(),
                    r.to.as_deref().unwrap_or_default(),
                )
            } else {
                let left = scope.text_of(r.var.as_deref().unwrap_or_default());
                let right = match &r.value {
                    // A regex pattern is taken as written: `{{` in it is the pattern's own.
                    Some(Value::String(s)) if r.op == Op::Regex => s.clone(),
                    Some(Value::String(s)) => scope.render(s),
                    Some(v) => to_text(v),
                    None => String::new(),
                };
                checks::compare(r.op, &left, &right)
            };
            if holds {
                return r.next.clone();
            }
        }
        c.else_next.clone()
    }
}

fn timeout_of(step: &Step) -> Option<chrono::Duration> {
    let minutes = match step {
        Step::Menu(m) => m.timeout_minutes,
        Step::Question(q) => q.timeout_minutes,
        _ => None,
    }?;
    Some(chrono::Duration::minutes(i64::from(minutes)))
}
