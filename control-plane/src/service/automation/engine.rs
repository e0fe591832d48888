//! Deciding a turn's answer: which session holds the conversation (or which automation opens
//! one: priority, trigger, ignored chats, the `none` fallback), expiry, the finish keyword,
//! the loop guard, unsupported kinds and audio transcription, then the automation itself (a
//! flow step, the tenant's bot, the AI agent). Nothing is sent here: the worker records the
//! plan first and sends it after.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::{Value, json};

use crate::automation::active::{ActiveAutomation, active_automations};
use crate::automation::plan::{After, Plan, Reply};
use crate::automation::settings::Settings;
use crate::db::entities::{
    automation_session, automation_turn, contact, conversation, instance, message,
    message_transcription,
};
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// What a turn comes to.
pub(crate) enum Decision {
    /// No answer (the reason is kept on the turn).
    Skip(String),
    /// Not yet (an audio still being transcribed).
    Postpone(Duration),
    /// The plan, and the session's new state and counters (written with the plan), and
    /// what its delivery needs.
    Answer(
        Plan,
        Box<automation_session::ActiveModel>,
        Box<super::delivery::Target>,
    ),
}

/// The input of a turn: its messages, merged.
#[derive(Debug, Clone)]
pub struct TurnInput {
    /// The texts (transcripts for audio), one per line.
    pub text: String,
    /// The kind of the last message (`text`, `image`, …).
    pub kind: String,
    /// Whether any message could not be read as text.
    pub unsupported: bool,
    pub messages: Vec<message::Model>,
}

/// What an automation answered.
#[derive(Debug, Default)]
pub struct Outcome {
    pub replies: Vec<Reply>,
    pub after: After,
    pub state: Option<Value>,
    pub prompt_tokens: i64,
    pub completion_tokens: i64,
    /// The session moves to another automation (a flow handing over to an AI agent).
    pub switch_to: Option<(String, i64)>,
    /// A flow waits for a timer (a wait step, a question's timeout).
    pub wake_at: Option<chrono::DateTime<Utc>>,
    /// The replies are sent as written (a flow's messages), never split on blank lines.
    pub as_written: bool,
    /// The loop guard's count of instant answers in a row (kept on the session).
    pub instant_replies: Option<u64>,
}

fn target(
    inst: &instance::Model,
    conv: &conversation::Model,
    automation_uuid: uuid::Uuid,
) -> super::delivery::Target {
    super::delivery::Target {
        inst: inst.clone(),
        conv: conv.clone(),
        automation_uuid,
    }
}

/// How long an audio may wait for its transcription before it counts as unsupported.
const TRANSCRIPT_WAIT: chrono::Duration = chrono::Duration::seconds(90);

impl Services {
    pub(crate) async fn decide_turn(
        &self,
        leader: &automation_turn::Model,
        merged: &[automation_turn::Model],
    ) -> AppResult<Decision> {
        let Some(conv) = conversation::Entity::find_by_id(leader.conversation_id)
            .one(&self.db)
            .await?
        else {
            return Ok(Decision::Skip("conversation gone".into()));
        };
        if conv.automation_paused {
            return Ok(Decision::Skip("paused".into()));
        }
        let Some(inst) = instance::Entity::find_by_id(leader.instance_id)
            .one(&self.db)
            .await?
        else {
            return Ok(Decision::Skip("instance gone".into()));
        };
        let automations = active_automations(&self.db, inst.id).await?;
        if automations.is_empty() {
            return Ok(Decision::Skip("no active automation".into()));
        }
        if leader.message_id.is_none() && merged.iter().all(|t| t.message_id.is_none()) {
            return self.decide_timer(&inst, &conv, leader).await;
        }
        let ids: Vec<i64> = merged
            .iter()
            .chain(std::iter::once(leader))
            .filter_map(|t| t.message_id)
            .collect();
        let messages = message::Entity::find()
            .filter(message::Column::Id.is_in(ids))
            .order_by_asc(message::Column::Id)
            .all(&self.db)
            .await?;
        let now = Utc::now();
        let mut session = automation_session::Entity::find()
            .filter(automation_session::Column::ConversationId.eq(conv.id))
            .filter(automation_session::Column::Status.ne("closed"))
            .order_by_desc(automation_session::Column::Id)
            .one(&self.db)
            .await?;
        if let Some(s) = &session {
            if s.status == "paused" {
                return Ok(Decision::Skip("session paused".into()));
            }
            let alive = automations
                .iter()
                .any(|a| a.kind == s.automation_kind && a.id == s.automation_id);
            let expired = s.expires_at.is_some_and(|e| e <= now);
            if !alive || expired {
                self.close_session(
                    s.id,
                    if alive {
                        "expired"
                    } else {
                        "automation_inactive"
                    },
                )
                .await?;
                session = None;
            }
        }
        let input = self
            .turn_input(&messages, &automations, session.as_ref())
            .await?;
        let input = match input {
            Ok(i) => i,
            Err(delay) => return Ok(Decision::Postpone(delay)),
        };
        let digits: String = conv
            .chat_jid
            .split('@')
            .next()
            .unwrap_or_default()
            .chars()
            .filter(char::is_ascii_digit)
            .collect();
        let (automation, session, fresh) = match session {
            Some(s) => {
                let a = automations
                    .iter()
                    .find(|a| a.kind == s.automation_kind && a.id == s.automation_id)
                    .cloned()
                    .ok_or_else(|| AppError::internal("session automation vanished"))?;
                if a.settings.is_finish(&input.text) {
                    self.close_session(s.id, "finish_keyword").await?;
                    return Ok(Decision::Skip("finish keyword".into()));
                }
                (a, s, false)
            }
            None => {
                let eligible: Vec<&ActiveAutomation> = automations
                    .iter()
                    .filter(|a| !a.settings.ignores(conv.is_group, &digits))
                    .collect();
                let chosen = eligible
                    .iter()
                    .find(|a| a.settings.triggers_on(&input.text))
                    .or_else(|| eligible.iter().find(|a| a.settings.trigger.kind == "none"));
                let Some(a) = chosen.map(|a| (*a).clone()) else {
                    return Ok(Decision::Skip("no automation matched".into()));
                };
                if a.settings.is_finish(&input.text) {
                    return Ok(Decision::Skip("finish keyword".into()));
                }
                let s = self.open_session(&inst, &conv, &a).await?;
                (a, s, true)
            }
        };
        let settings = &automation.settings;
        // The loop guard: too many replies in a minute, or a bot answering ours instantly.
        let instant_replies = match self.loop_guard(&conv, settings, &input, &session).await? {
            Ok(count) => count,
            Err(reason) => {
                self.pause_session(&session, &conv, &reason, "automation loop guard")
                    .await?;
                return Ok(Decision::Skip(reason));
            }
        };
        let mut outcome = if input.unsupported && input.text.trim().is_empty() {
            Outcome {
                replies: settings
                    .unsupported_message_reply
                    .clone()
                    .map(|text| Reply::Text { text })
                    .into_iter()
                    .collect(),
                ..Outcome::default()
            }
        } else {
            self.run_automation_kind(&inst, &conv, &automation, &session, &input, fresh)
                .await?
        };
        // A flow handing the conversation to an AI agent: the agent answers this turn too.
        if let Some((kind, id)) = outcome.switch_to.take() {
            let Some(next) = automations
                .iter()
                .find(|a| a.kind == kind && a.id == id)
                .cloned()
            else {
                outcome.after = After::Pause {
                    reason: "handoff_target_inactive".into(),
                };
                outcome.instant_replies = Some(instant_replies);
                let target = target(&inst, &conv, automation.uuid);
                return Ok(self.plan(&session, outcome, settings, target));
            };
            self.switch_session(&session, &next).await?;
            let session = automation_session::Entity::find_by_id(session.id)
                .one(&self.db)
                .await?
                .ok_or_else(|| AppError::internal("session vanished"))?;
            let more = self
                .run_automation_kind(&inst, &conv, &next, &session, &input, true)
                .await?;
            outcome.replies.extend(more.replies);
            outcome.as_written = false;
            outcome.after = more.after;
            outcome.state = more.state;
            outcome.prompt_tokens += more.prompt_tokens;
            outcome.completion_tokens += more.completion_tokens;
            outcome.instant_replies = Some(instant_replies);
            let target = target(&inst, &conv, next.uuid);
            return Ok(self.plan(&session, outcome, &next.settings, target));
        }
        outcome.instant_replies = Some(instant_replies);
        let target = target(&inst, &conv, automation.uuid);
        Ok(self.plan(&session, outcome, settings, target))
    }

    /// A timer turn: the flow of the conversation's active session resumes (a wait step's
    /// time or a question's timeout came).
    async fn decide_timer(
        &self,
        inst: &instance::Model,
        conv: &conversation::Model,
        leader: &automation_turn::Model,
    ) -> AppResult<Decision> {
        let Some(s) = (match leader.session_id {
            Some(id) => {
                automation_session::Entity::find_by_id(id)
                    .one(&self.db)
                    .await?
            }
            None => None,
        }) else {
            return Ok(Decision::Skip("timer without a session".into()));
        };
        if s.status != "active" || s.automation_kind != "flow" {
            return Ok(Decision::Skip(
                "timer of a session no longer running".into(),
            ));
        }
        let automations = active_automations(&self.db, inst.id).await?;
        let Some(a) = automations
            .iter()
            .find(|a| a.kind == s.automation_kind && a.id == s.automation_id)
            .cloned()
        else {
            self.close_session(s.id, "automation_inactive").await?;
            return Ok(Decision::Skip("automation inactive".into()));
        };
        let contact = match conv.contact_id {
            Some(id) => contact::Entity::find_by_id(id).one(&self.db).await?,
            None => None,
        };
        let outcome = self
            .run_flow_turn(inst, conv, contact.as_ref(), &s, None)
            .await?;
        Ok(self.plan(&s, outcome, &a.settings, target(inst, conv, a.uuid)))
    }

    /// Builds the plan and the session's new state and counters (written together with the
    /// plan, in one transaction).
    fn plan(
        &self,
        session: &automation_session::Model,
        outcome: Outcome,
        settings: &Settings,
        target: super::delivery::Target,
    ) -> Decision {
        let now = Utc::now();
        let mut items = Vec::new();
        for r in outcome.replies {
            match r {
                Reply::Text { text } if settings.reply.split_paragraphs && !outcome.as_written => {
                    items.extend(
                        split_paragraphs(&text)
                            .into_iter()
                            .map(|text| Reply::Text { text }),
                    );
                }
                Reply::Text { text } if text.trim().is_empty() => {}
                other => items.push(other),
            }
        }
        let expires_at = (settings.expire_minutes > 0)
            .then(|| now + chrono::Duration::minutes(i64::from(settings.expire_minutes)));
        let mut a: automation_session::ActiveModel = session.clone().into();
        let mut state = outcome.state.unwrap_or_else(|| session.state.clone());
        if let (Some(count), Some(obj)) = (outcome.instant_replies, state.as_object_mut()) {
            obj.insert("instant_replies".into(), json!(count));
        }
        a.state = Set(state);
        a.turn_count = Set(session.turn_count + 1);
        a.reply_count = Set(session.reply_count + items.len() as i32);
        a.prompt_tokens = Set(session.prompt_tokens + outcome.prompt_tokens);
        a.completion_tokens = Set(session.completion_tokens + outcome.completion_tokens);
        a.last_message_at = Set(now);
        a.expires_at = Set(expires_at);
        a.wake_at = Set(outcome.wake_at);
        a.updated_at = Set(now);
        Decision::Answer(
            Plan {
                session_id: session.id,
                items,
                after: outcome.after,
                delivery: settings.reply.clone(),
            },
            Box::new(a),
            Box::new(target),
        )
    }

    /// The turn's text: texts and captions, transcripts of audio (waiting for a pending
    /// transcription up to [`TRANSCRIPT_WAIT`]). `Err(delay)`: ask again later.
    async fn turn_input(
        &self,
        messages: &[message::Model],
        automations: &[ActiveAutomation],
        session: Option<&automation_session::Model>,
    ) -> AppResult<Result<TurnInput, Duration>> {
        let transcribe = session
            .and_then(|s| {
                automations
                    .iter()
                    .find(|a| a.kind == s.automation_kind && a.id == s.automation_id)
            })
            .map_or_else(
                || automations.iter().any(|a| a.settings.transcribe_audio),
                |a| a.settings.transcribe_audio,
            );
        let mut lines = Vec::new();
        let mut unsupported = false;
        for m in messages {
            match m.message_type.as_str() {
                "text" => lines.extend(m.body.clone()),
                "image" | "video" | "document" => {
                    let caption = m
                        .media
                        .as_ref()
                        .and_then(|v| v.get("caption"))
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .or_else(|| m.body.clone());
                    match caption {
                        Some(c) if !c.trim().is_empty() => lines.push(c),
                        _ => unsupported = true,
                    }
                }
                "audio" | "voice" if transcribe => {
                    let t = message_transcription::Entity::find_by_id(m.id)
                        .one(&self.db)
                        .await?;
                    match t {
                        Some(t) if t.status == "completed" => lines.extend(t.text),
                        Some(t)
                            if (t.status == "pending" || t.status == "processing")
                                && Utc::now() - m.created_at < TRANSCRIPT_WAIT =>
                        {
                            return Ok(Err(Duration::from_secs(1)));
                        }
                        _ => unsupported = true,
                    }
                }
                _ => unsupported = true,
            }
        }
        Ok(Ok(TurnInput {
            text: lines.join("\n"),
            kind: messages
                .last()
                .map_or_else(|| "text".to_owned(), |m| m.message_type.clone()),
            unsupported,
            messages: messages.to_vec(),
        }))
    }

    /// The loop guard: `Err(reason)` when the conversation must be paused (more automated
    /// replies in the last minute than allowed, or the other side answering ours instantly
    /// too often), else the count of instant answers in a row to keep on the session.
    async fn loop_guard(
        &self,
        conv: &conversation::Model,
        settings: &Settings,
        input: &TurnInput,
        s: &automation_session::Model,
    ) -> AppResult<Result<u64, String>> {
        let now = Utc::now();
        let recent = message::Entity::find()
            .filter(message::Column::ConversationId.eq(conv.id))
            .filter(message::Column::AutomationSessionId.is_not_null())
            .filter(message::Column::SentAt.gte(now - chrono::Duration::seconds(60)))
            .count(&self.db)
            .await?;
        if recent >= u64::from(settings.loop_guard.max_replies_per_minute) {
            return Ok(Err("loop_guard_rate".into()));
        }
        if settings.loop_guard.max_instant_replies == 0 {
            return Ok(Ok(0));
        }
        let Some(first) = input.messages.first() else {
            return Ok(Ok(0));
        };
        let last_ours: Option<chrono::DateTime<Utc>> = message::Entity::find()
            .select_only()
            .column(message::Column::SentAt)
            .filter(message::Column::ConversationId.eq(conv.id))
            .filter(message::Column::AutomationSessionId.is_not_null())
            .filter(message::Column::Id.lt(first.id))
            .order_by_desc(message::Column::Id)
            .into_tuple()
            .one(&self.db)
            .await?;
        let instant = last_ours.is_some_and(|t| {
            (first.sent_at - t).num_milliseconds() < i64::from(settings.loop_guard.instant_reply_ms)
        });
        let count = s
            .state
            .get("instant_replies")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        let count = if instant { count + 1 } else { 0 };
        if count >= u64::from(settings.loop_guard.max_instant_replies) {
            return Ok(Err("loop_guard_bot".into()));
        }
        Ok(Ok(count))
    }

    /// Runs the automation itself for this turn.
    async fn run_automation_kind(
        &self,
        inst: &instance::Model,
        conv: &conversation::Model,
        a: &ActiveAutomation,
        s: &automation_session::Model,
        input: &TurnInput,
        fresh: bool,
    ) -> AppResult<Outcome> {
        let contact = match conv.contact_id {
            Some(id) => contact::Entity::find_by_id(id).one(&self.db).await?,
            None => None,
        };
        let _ = fresh;
        if a.kind == "flow" {
            return self
                .run_flow_turn(inst, conv, contact.as_ref(), s, Some(input))
                .await;
        }
        let integration = crate::db::entities::automation_integration::Entity::find_by_id(a.id)
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::internal("integration vanished"))?;
        match integration.integration_type.as_str() {
            "ai_agent" => {
                self.run_agent_turn(inst, conv, contact.as_ref(), &integration, s, input)
                    .await
            }
            _ => {
                self.run_bot_turn(inst, conv, contact.as_ref(), &integration, s, input)
                    .await
            }
        }
    }
}

/// Splits a reply on blank lines (at most 10 parts; the rest stays in the last).
pub fn split_paragraphs(text: &str) -> Vec<String> {
    let parts: Vec<String> = text
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    if parts.len() <= 10 {
        return parts;
    }
    let mut out: Vec<String> = parts[..9].to_vec();
    out.push(parts[9..].join("\n\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs() {
        assert_eq!(split_paragraphs("a\n\n\n\nb\nc\n\n"), vec!["a", "b\nc"]);
        assert!(split_paragraphs("  ").is_empty());
        let many = (0..15)
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join("\n\n");
        assert_eq!(split_paragraphs(&many).len(), 10);
    }
}
