//! AI qualification of a lead: the tenant's active AI agent integration (the lead's instance's
//! first; with a user token any of the tenant's) reads the lead and the last messages of its
//! conversation and answers a JSON score (0–100), summary and next step, which are stored on
//! the lead with a `qualified` timeline entry and a `lead.updated` event.

use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest, ResponseFormat,
};
use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde_json::Value;
use zapini_shared::error::ErrorCode;

use super::Scope;
use super::events::{FieldChange, LeadEvent, queue};
use super::store::{Entry, record};
use super::views::LeadDetail;
use crate::automation::config::{AgentConfig, secret_of};
use crate::db::TenantScoped;
use crate::db::entities::{automation_integration, kanban_lead, message};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;
use crate::service::functions::AI_AGENT;

/// Most messages of the conversation the model reads.
const MAX_HISTORY: u64 = 50;
/// Most characters of one message in the transcript.
const MESSAGE_CHARS: usize = 1_000;

const PROMPT: &str = "You qualify sales leads for a business that talks to its customers on \
WhatsApp. From the lead's data and the conversation, judge how likely the lead is to buy. \
Answer with one JSON object and nothing else: {\"score\": an integer from 0 (no chance) to \
100 (ready to buy), \"summary\": one or two sentences on the lead's interest and situation, \
\"next_step\": the single most useful next action for the salesperson}.";

/// What the model concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Analysis {
    pub score: i32,
    pub summary: String,
    pub next_step: String,
}

/// Reads the model's answer: the JSON object in it (code fences and text around it are
/// tolerated), `score` as a number or numeric string, clamped to 0–100.
pub fn parse_analysis(text: &str) -> Option<Analysis> {
    let start = text.find('{')?;
    let end = text.rfind('}')?;
    let v: Value = serde_json::from_str(text.get(start..=end)?).ok()?;
    let score = match v.get("score")? {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !score.is_finite() {
        return None;
    }
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| v.get(*n).and_then(Value::as_str))
            .map(|s| s.trim().chars().take(2_000).collect::<String>())
            .unwrap_or_default()
    };
    Some(Analysis {
        score: score.round().clamp(0.0, 100.0) as i32,
        summary: field(&["summary"]),
        next_step: field(&["next_step", "nextStep", "suggested_next_step"]),
    })
}

fn not_enabled() -> AppError {
    AppError::new(
        ErrorCode::AiAgentNotEnabled,
        "AI qualification needs an active AI Agent integration: create one (integration_type ai_agent) or activate it.",
    )
}

impl Services {
    /// The integration that qualifies a lead of `instance_id`.
    async fn qualifying_agent(
        &self,
        scope: Scope,
        instance_id: i64,
    ) -> AppResult<automation_integration::Model> {
        let active = || {
            automation_integration::Entity::scoped(scope.tenant)
                .filter(automation_integration::Column::IntegrationType.eq(AI_AGENT))
                .filter(automation_integration::Column::IsActive.eq(true))
                .order_by_asc(automation_integration::Column::Priority)
                .order_by_asc(automation_integration::Column::Id)
        };
        if let Some(i) = active()
            .filter(automation_integration::Column::InstanceId.eq(instance_id))
            .one(&self.db)
            .await?
        {
            return Ok(i);
        }
        if scope.instance.is_some() {
            return Err(not_enabled());
        }
        active().one(&self.db).await?.ok_or_else(not_enabled)
    }

    /// `POST /kanban/leads/{uuid}/ai-qualify`.
    pub async fn qualify_lead(&self, caller: &Caller, reference: &str) -> AppResult<LeadDetail> {
        let scope = Scope::of(caller);
        let money = self.kanban_gate(scope).await?;
        let lead = self.find_lead(&self.db, scope, reference).await?;
        let integration = self.qualifying_agent(scope, lead.instance_id).await?;
        let stored = integration.config.clone().ok_or_else(not_enabled)?;
        let config: AgentConfig =
            serde_json::from_value(stored.clone()).map_err(|_| not_enabled())?;
        let api_key = secret_of(&stored, "api_key", &self.secrets);

        let mut facts = format!(
            "Lead: {}\nPriority: {}\nStatus: {}",
            lead.title, lead.priority, lead.status
        );
        if let Some(v) = lead.value_cents {
            facts.push_str(&format!(
                "\nValue: {}",
                super::money::format_money(v, &money.currency, &money.locale)
            ));
        }
        if let Some(p) = &lead.phone_number {
            facts.push_str(&format!("\nPhone: {p}"));
        }
        let notes = crate::db::entities::kanban_lead_activity::Entity::find()
            .filter(crate::db::entities::kanban_lead_activity::Column::LeadId.eq(lead.id))
            .filter(crate::db::entities::kanban_lead_activity::Column::Kind.eq("note"))
            .order_by_desc(crate::db::entities::kanban_lead_activity::Column::Id)
            .limit(10)
            .all(&self.db)
            .await?;
        for n in notes.iter().rev() {
            if let Some(c) = &n.content {
                facts.push_str(&format!(
                    "\nNote: {}",
                    c.chars().take(MESSAGE_CHARS).collect::<String>()
                ));
            }
        }
        let mut transcript = String::new();
        if let Some(conv) = self.lead_conversation(&self.db, &lead).await? {
            let mut history = message::Entity::find()
                .filter(message::Column::ConversationId.eq(conv.id))
                .filter(message::Column::IsDeleted.eq(false))
                .order_by_desc(message::Column::Id)
                .limit(MAX_HISTORY.min(u64::from(config.history_messages).max(1)))
                .all(&self.db)
                .await?;
            history.reverse();
            for m in history {
                let text = match m.body.as_deref().map(str::trim) {
                    Some(t) if !t.is_empty() => t.chars().take(MESSAGE_CHARS).collect(),
                    _ => format!("[{}]", m.message_type),
                };
                let who = if m.from_me { "Business" } else { "Customer" };
                transcript.push_str(&format!("{who}: {text}\n"));
            }
        }
        if transcript.is_empty() {
            transcript.push_str("(no conversation yet)\n");
        }
        let user = format!("{facts}\n\nConversation, oldest first:\n{transcript}");
        let messages: Vec<ChatCompletionRequestMessage> = vec![
            ChatCompletionRequestSystemMessage::from(PROMPT).into(),
            ChatCompletionRequestUserMessage::from(user).into(),
        ];
        #[allow(deprecated)]
        let request = CreateChatCompletionRequest {
            model: config.model.clone(),
            messages,
            temperature: Some(0.2),
            max_tokens: Some(config.max_tokens.max(300)),
            response_format: Some(ResponseFormat::JsonObject),
            ..Default::default()
        };
        let answer = self
            .chat_completion(&config, api_key.as_deref(), &request)
            .await
            .map_err(|e| {
                AppError::new(
                    ErrorCode::ServiceUnavailable,
                    format!("The AI model could not qualify the lead: {e}"),
                )
            })?;
        let text = answer
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .unwrap_or_default();
        let analysis = parse_analysis(&text).ok_or_else(|| {
            AppError::new(
                ErrorCode::ServiceUnavailable,
                "The AI model's answer was not the JSON score, summary and next step asked for.",
            )
        })?;

        let actor = super::model::Actor::ai_agent(Some(integration.name.clone()));
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let lead = self.find_lead(&txn, scope, reference).await?;
        let now = Utc::now();
        let old_score = lead.ai_score;
        let mut a: kanban_lead::ActiveModel = lead.into();
        a.ai_score = Set(Some(analysis.score));
        a.ai_summary = Set(Some(analysis.summary.clone()));
        a.ai_next_step = Set(Some(analysis.next_step.clone()));
        a.ai_qualified_at = Set(Some(now));
        a.updated_at = Set(now);
        let saved = a.update(&txn).await?;
        record(
            &txn,
            &saved,
            &actor,
            Entry::new("qualified")
                .values(
                    old_score.map(|s| s.to_string()),
                    Some(analysis.score.to_string()),
                )
                .content(Some(format!(
                    "{} Next step: {}",
                    analysis.summary, analysis.next_step
                ))),
            now,
        )
        .await?;
        let view = self.lead_view(&txn, &saved, &money).await?;
        let mut e = LeadEvent::new("updated", view, now);
        e.changes.push(FieldChange {
            field: "ai_score".into(),
            old_value: old_score.map(|s| s.to_string()),
            new_value: Some(analysis.score.to_string()),
        });
        let queued = queue(&txn, saved.instance_id, vec![e], now).await?;
        txn.commit().await?;
        drop(permit);
        if queued {
            self.webhook_signal.notify();
        }
        self.live_news(saved.tenant_id, saved.instance_id, crate::live::Topic::Crm)
            .await;
        self.lead_detail(&saved, &money).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_leniently() {
        let a = parse_analysis(
            "```json\n{\"score\": 82.4, \"summary\": \"Wants the annual plan.\", \"next_step\": \"Send the proposal.\"}\n```",
        )
        .unwrap();
        assert_eq!(
            a,
            Analysis {
                score: 82,
                summary: "Wants the annual plan.".into(),
                next_step: "Send the proposal.".into()
            }
        );
        assert_eq!(parse_analysis("{\"score\": \"140\"}").unwrap().score, 100);
        assert_eq!(
            parse_analysis("{\"score\": -3, \"nextStep\": \"x\"}")
                .unwrap()
                .next_step,
            "x"
        );
        assert!(parse_analysis("no json here").is_none());
        assert!(parse_analysis("{\"summary\": \"no score\"}").is_none());
        assert!(parse_analysis("{\"score\": true}").is_none());
    }
}
