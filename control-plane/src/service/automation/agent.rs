//! The `ai_agent` integration: an OpenAI-compatible chat-completions model (request and
//! response types from `async-openai`; the calls go through the SSRF-guarded outbound client,
//! since the base URL is the tenant's). Each turn sends the system prompt, the conversation's
//! last messages and the tools: the integration's enabled AI Functions plus the built-in
//! `handoff_to_human` and `end_conversation`. Tool calls (several in one round run side by
//! side) go back to the model with their results until it answers in text or the round limit
//! is reached. Usage is added to the session.

use async_openai::types::chat::{
    ChatCompletionMessageToolCalls, ChatCompletionRequestAssistantMessage,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestToolMessage, ChatCompletionRequestUserMessage, ChatCompletionTool,
    ChatCompletionTools, CreateChatCompletionRequest, CreateChatCompletionResponse, FunctionObject,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};

use super::engine::{Outcome, TurnInput};
use crate::automation::config::{AgentConfig, secret_of};
use crate::automation::outbound::OutRequest;
use crate::automation::plan::{After, Reply};
use crate::db::entities::{
    automation_integration, automation_session, contact, conversation, instance, message,
};
use crate::error::AppResult;
use crate::service::Services;

const HANDOFF: &str = "handoff_to_human";
const END: &str = "end_conversation";
/// A model answer larger than this is refused.
const ANSWER_LIMIT: usize = 512 * 1024;
/// What a tool result may add to the conversation sent to the model.
const TOOL_RESULT_LIMIT: usize = 8 * 1024;

impl Services {
    pub(crate) async fn run_agent_turn(
        &self,
        _inst: &instance::Model,
        conv: &conversation::Model,
        contact: Option<&contact::Model>,
        integration: &automation_integration::Model,
        s: &automation_session::Model,
        _input: &TurnInput,
    ) -> AppResult<Outcome> {
        let Some(stored) = integration.config.as_ref() else {
            tracing::warn!(integration = %integration.uuid, "AI agent without a config: no answer");
            return Ok(Outcome::default());
        };
        let Ok(config) = serde_json::from_value::<AgentConfig>(stored.clone()) else {
            return Ok(Outcome::default());
        };
        let api_key = secret_of(stored, "api_key", &self.secrets);
        let mut messages: Vec<ChatCompletionRequestMessage> = Vec::new();
        let mut system = config.system_prompt.clone().unwrap_or_else(|| {
            "You are a helpful assistant answering WhatsApp messages for a business. Be brief."
                .to_owned()
        });
        let name = contact
            .and_then(|c| c.name.clone().or(c.push_name.clone()))
            .or(conv.display_name.clone());
        if let Some(n) = name {
            system.push_str(&format!("\nThe contact's name is {n}."));
        }
        messages.push(ChatCompletionRequestSystemMessage::from(system).into());
        // The conversation so far (this turn's messages are stored already), oldest first.
        let mut history = message::Entity::find()
            .filter(message::Column::ConversationId.eq(conv.id))
            .filter(message::Column::IsDeleted.eq(false))
            .order_by_desc(message::Column::Id)
            .limit(u64::from(config.history_messages))
            .all(&self.db)
            .await?;
        history.reverse();
        for m in history {
            let text = match m.body.clone() {
                Some(t) if !t.trim().is_empty() => t,
                _ => format!("[{}]", m.message_type),
            };
            if m.from_me {
                messages.push(ChatCompletionRequestAssistantMessage::from(text).into());
            } else {
                messages.push(ChatCompletionRequestUserMessage::from(text).into());
            }
        }
        let specs = self.agent_tools(integration.id).await?;
        let mut tools: Vec<ChatCompletionTools> = specs
            .iter()
            .map(|t| {
                ChatCompletionTools::Function(ChatCompletionTool {
                    function: FunctionObject {
                        name: t.name.clone(),
                        description: Some(t.description.clone()),
                        parameters: Some(t.parameters.clone()),
                        strict: None,
                    },
                })
            })
            .collect();
        tools.push(builtin(
            HANDOFF,
            "Hand the conversation to a human agent (the contact asks for a person, or you cannot help).",
            json!({"type": "object", "properties": {"reason": {"type": "string"}}, "required": []}),
        ));
        tools.push(builtin(
            END,
            "End the conversation when the contact's request is fully handled and they said goodbye.",
            json!({"type": "object", "properties": {}, "required": []}),
        ));
        let mut outcome = Outcome::default();
        for _round in 0..config.max_tool_rounds {
            #[allow(deprecated)]
            let request = CreateChatCompletionRequest {
                model: config.model.clone(),
                messages: messages.clone(),
                tools: Some(tools.clone()),
                temperature: Some(config.temperature),
                max_tokens: Some(config.max_tokens),
                ..Default::default()
            };
            let answer = match self
                .chat_completion(&config, api_key.as_deref(), &request)
                .await
            {
                Ok(a) => a,
                Err(error) => {
                    tracing::warn!(integration = %integration.uuid, %error, "AI agent call failed");
                    return Ok(fallback(&config, outcome));
                }
            };
            if let Some(u) = &answer.usage {
                outcome.prompt_tokens += i64::from(u.prompt_tokens);
                outcome.completion_tokens += i64::from(u.completion_tokens);
            }
            let Some(choice) = answer.choices.into_iter().next() else {
                return Ok(fallback(&config, outcome));
            };
            let calls: Vec<_> = choice
                .message
                .tool_calls
                .clone()
                .unwrap_or_default()
                .into_iter()
                .filter_map(|c| match c {
                    ChatCompletionMessageToolCalls::Function(f) => Some(f),
                    ChatCompletionMessageToolCalls::Custom(_) => None,
                })
                .collect();
            if calls.is_empty() {
                if let Some(text) = choice.message.content.filter(|t| !t.trim().is_empty()) {
                    outcome.replies.push(Reply::Text { text });
                }
                return Ok(outcome);
            }
            // The model's text alongside tool calls is said too.
            if let Some(text) = choice
                .message
                .content
                .clone()
                .filter(|t| !t.trim().is_empty())
            {
                outcome.replies.push(Reply::Text { text });
            }
            #[allow(deprecated)]
            messages.push(
                ChatCompletionRequestAssistantMessage {
                    content: None,
                    tool_calls: Some(
                        calls
                            .iter()
                            .cloned()
                            .map(ChatCompletionMessageToolCalls::Function)
                            .collect(),
                    ),
                    ..Default::default()
                }
                .into(),
            );
            if let Some(c) = calls.iter().find(|c| c.function.name == HANDOFF) {
                let reason = serde_json::from_str::<Value>(&c.function.arguments)
                    .ok()
                    .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned));
                outcome.after = After::Pause {
                    reason: reason
                        .map_or_else(|| "handoff".to_owned(), |r| format!("handoff: {r}")),
                };
                return Ok(outcome);
            }
            if calls.iter().any(|c| c.function.name == END) {
                outcome.after = After::Close {
                    reason: "ended".into(),
                };
                return Ok(outcome);
            }
            // Several calls in one round run side by side.
            let results = futures::future::join_all(calls.iter().map(|c| {
                let args = serde_json::from_str::<Value>(&c.function.arguments)
                    .unwrap_or_else(|_| json!({}));
                let name = c.function.name.clone();
                async move {
                    match self
                        .run_agent_function(
                            integration.id,
                            &name,
                            args,
                            crate::automation::functions::ExecContext {
                                conversation_id: Some(conv.id),
                                session_id: Some(s.id),
                                is_test: false,
                            },
                        )
                        .await
                    {
                        Ok(o) => o.result.to_string(),
                        Err(e) => json!({"error": e.to_string()}).to_string(),
                    }
                }
            }))
            .await;
            for (call, result) in calls.iter().zip(results) {
                let result: String = result.chars().take(TOOL_RESULT_LIMIT).collect();
                messages.push(
                    ChatCompletionRequestToolMessage {
                        content: result.into(),
                        tool_call_id: call.id.clone(),
                    }
                    .into(),
                );
            }
        }
        // Out of rounds: hand over rather than loop.
        outcome.after = After::Pause {
            reason: "agent_tool_rounds".into(),
        };
        Ok(outcome)
    }

    /// One chat-completions call.
    pub(crate) async fn chat_completion(
        &self,
        config: &AgentConfig,
        api_key: Option<&str>,
        request: &CreateChatCompletionRequest,
    ) -> Result<CreateChatCompletionResponse, String> {
        let url = format!("{}/chat/completions", config.base_url.trim_end_matches('/'));
        let body = serde_json::to_value(request).map_err(|e| e.to_string())?;
        let mut req = OutRequest::new(reqwest::Method::POST, url).json(&body);
        if let Some(k) = api_key {
            req = req.header("authorization", format!("Bearer {k}"));
        }
        req.timeout = Some(std::time::Duration::from_secs(u64::from(
            config.timeout_seconds,
        )));
        req.response_limit = Some(ANSWER_LIMIT);
        let resp = self.outbound.call(req).await.map_err(|e| e.to_string())?;
        if !resp.is_success() {
            return Err(format!(
                "the model answered {}: {}",
                resp.status,
                resp.excerpt(200)
            ));
        }
        serde_json::from_slice(&resp.body).map_err(|e| format!("unreadable answer: {e}"))
    }
}

fn builtin(name: &str, description: &str, parameters: Value) -> ChatCompletionTools {
    ChatCompletionTools::Function(ChatCompletionTool {
        function: FunctionObject {
            name: name.to_owned(),
            description: Some(description.to_owned()),
            parameters: Some(parameters),
            strict: None,
        },
    })
}

fn fallback(config: &AgentConfig, mut outcome: Outcome) -> Outcome {
    match &config.fallback_message {
        Some(text) => outcome.replies.push(Reply::Text { text: text.clone() }),
        None => {
            outcome.after = After::Pause {
                reason: "agent_failed".into(),
            }
        }
    }
    outcome
}
