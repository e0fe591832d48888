//! The `webhook` integration: the tenant's own bot. Each turn is one signed POST (the webhook
//! signature scheme: `X-Webhook-Signature` over the body, `X-Webhook-Signature-V2` over the
//! timestamp and body) carrying the instance, conversation, contact, the turn's messages and
//! the session's variables. The answer says what to send:
//! `{"replies": [{"type": "text", "text": "…"}, {"type": "media", "media_type": "image", "url": "…"}],
//!   "action": "handoff" | "end" | null, "variables": {…}}` (`"reply": "text"` is short for one
//! text). A failure (timeout, non-2xx, unreadable answer) sends the fallback message and/or
//! hands off; it is never retried, so it can never become a double answer.

use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use zapini_shared::signing::{sign_hex, sign_timestamped_hex};

use super::engine::{Outcome, TurnInput};
use crate::automation::config::{BotConfig, secret_of};
use crate::automation::outbound::OutRequest;
use crate::automation::plan::{After, Reply};
use crate::db::entities::{
    automation_integration, automation_session, contact, conversation, instance,
};
use crate::error::AppResult;
use crate::service::Services;

/// The bot's answer.
#[derive(Debug, Deserialize)]
struct BotAnswer {
    #[serde(default)]
    replies: Vec<Reply>,
    #[serde(default)]
    reply: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
}

/// Response cap of a bot's answer.
const ANSWER_LIMIT: usize = 64 * 1024;
/// At most this many replies per answer.
const MAX_REPLIES: usize = 10;

impl Services {
    pub(crate) async fn run_bot_turn(
        &self,
        inst: &instance::Model,
        conv: &conversation::Model,
        contact: Option<&contact::Model>,
        integration: &automation_integration::Model,
        s: &automation_session::Model,
        input: &TurnInput,
    ) -> AppResult<Outcome> {
        let Some(stored) = integration.config.as_ref() else {
            tracing::warn!(integration = %integration.uuid, "webhook bot without a config: no answer");
            return Ok(Outcome::default());
        };
        let Ok(config) = serde_json::from_value::<BotConfig>(stored.clone()) else {
            return Ok(Outcome::default());
        };
        let secret = secret_of(stored, "secret", &self.secrets).unwrap_or_default();
        let variables = s
            .state
            .get("variables")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let body = json!({
            "event": "automation.turn",
            "instance_id": inst.uuid,
            "integration_id": integration.uuid,
            "session": {"id": s.uuid, "turn": s.turn_count + 1, "variables": variables},
            "conversation": {"id": conv.uuid, "chat_jid": conv.chat_jid, "is_group": conv.is_group},
            "contact": {
                "name": contact.and_then(|c| c.name.clone().or(c.push_name.clone())).or(conv.display_name.clone()),
                "phone": contact.and_then(|c| c.phone_number.clone()),
            },
            "text": input.text,
            "messages": input.messages.iter().map(|m| json!({
                "id": m.uuid,
                "whatsapp_message_id": m.wa_message_id,
                "type": m.message_type,
                "text": m.body,
                "timestamp": zapini_shared::time::format_secs(m.sent_at),
            })).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let timestamp = Utc::now().timestamp();
        let mut req = OutRequest::new(reqwest::Method::POST, &config.url)
            .header("content-type", "application/json")
            .header("X-Webhook-Event", "automation.turn")
            .header("X-Webhook-Timestamp", timestamp.to_string())
            .header("X-Instance-UUID", inst.uuid.to_string())
            .header("X-Webhook-Signature", sign_hex(secret.as_bytes(), &bytes))
            .header(
                "X-Webhook-Signature-V2",
                format!(
                    "v1={}",
                    sign_timestamped_hex(secret.as_bytes(), timestamp, &bytes)
                ),
            );
        req.body = Some(bytes);
        req.timeout = Some(std::time::Duration::from_secs(u64::from(
            config.timeout_seconds,
        )));
        req.response_limit = Some(ANSWER_LIMIT);
        let answer = match self.outbound.call(req).await {
            Ok(r) if r.is_success() => {
                if r.body.iter().all(u8::is_ascii_whitespace) {
                    Ok(BotAnswer {
                        replies: Vec::new(),
                        reply: None,
                        action: None,
                        variables: None,
                    })
                } else {
                    serde_json::from_slice::<BotAnswer>(&r.body)
                        .map_err(|e| format!("unreadable answer: {e}"))
                }
            }
            Ok(r) => Err(format!("the bot answered {}", r.status)),
            Err(e) => Err(e.to_string()),
        };
        match answer {
            Ok(a) => {
                let mut replies: Vec<Reply> = a
                    .reply
                    .map(|text| Reply::Text { text })
                    .into_iter()
                    .collect();
                replies.extend(a.replies);
                replies.truncate(MAX_REPLIES);
                let after = match a.action.as_deref() {
                    Some("handoff") => After::Pause {
                        reason: "handoff".into(),
                    },
                    Some("end") => After::Close {
                        reason: "ended".into(),
                    },
                    _ => After::Continue,
                };
                let state = a.variables.filter(Value::is_object).map(|v| {
                    let mut st = s.state.clone();
                    if let Some(o) = st.as_object_mut() {
                        o.insert("variables".into(), v);
                    }
                    st
                });
                Ok(Outcome {
                    replies,
                    after,
                    state,
                    ..Outcome::default()
                })
            }
            Err(error) => {
                tracing::warn!(integration = %integration.uuid, %error, "webhook bot failed");
                let replies = config
                    .fallback_message
                    .clone()
                    .map(|text| Reply::Text { text })
                    .into_iter()
                    .collect();
                let after = if config.on_failure == "fallback" {
                    After::Continue
                } else {
                    After::Pause {
                        reason: "bot_failed".into(),
                    }
                };
                Ok(Outcome {
                    replies,
                    after,
                    ..Outcome::default()
                })
            }
        }
    }
}
