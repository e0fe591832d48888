//! A flow's test run: `POST /automation/flows/{id}/test` plays scripted messages through the
//! stored definition (or an unsaved one) and answers the transcript, without sending anything
//! over WhatsApp.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::automations::definition;
use super::extract::{Auth, Json};
use crate::automation::flow::MAX_TEXT_CHARS;
use crate::error::{AppError, AppResult};
use crate::service::flows::{FlowTestInput, FlowTestResult, MAX_TEST_MESSAGES};

/// `POST /automation/flows/{id}/test`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FlowTestBody)]
pub struct TestBody {
    /// The user's messages, in order (at most 50, each at most 4096 characters). The first
    /// opens the session (it is not an answer); the others answer menus and questions.
    #[serde(default)]
    #[schema(max_items = 50)]
    messages: Vec<String>,
    /// Variables set before the run (`{{name}}` in templates).
    #[schema(value_type = Option<Object>)]
    variables: Option<Map<String, Value>>,
    /// The contact the run talks to (`{{contact.name}}`, `{{contact.phone}}`).
    contact: Option<TestContact>,
    /// An unsaved definition to test instead of the stored one (validated the same way).
    #[schema(value_type = Option<crate::automation::flow::Definition>)]
    definition: Option<Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FlowTestContact)]
pub struct TestContact {
    #[schema(example = "Ana")]
    name: Option<String>,
    #[schema(example = "5511999990000")]
    phone: Option<String>,
}

fn result_example() -> Value {
    json!({"success": true, "data": {
        "transcript": [
            {"from": "user", "type": "text", "text": "hi"},
            {"from": "bot", "type": "text", "text": "Hi Ana!", "step": "welcome"},
            {"from": "bot", "type": "menu", "text": "How can we help?\n\n1. Sales\n2. Support", "step": "menu"},
            {"from": "user", "type": "text", "text": "2"},
            {"from": "bot", "type": "text", "text": "An agent will answer shortly.", "step": "human"},
            {"from": "bot", "type": "action", "text": "hand off to a person (automation paused)", "step": "human"}
        ],
        "variables": {},
        "stopped_at": {"step": "human", "status": "handoff"},
        "actions": [{"type": "handoff", "step": "human"}],
        "trace": ["welcome", "menu", "menu", "human"],
        "unused_messages": 0
    }})
}

/// Test a flow
///
/// Plays scripted messages through a flow (its stored definition, or `definition` from the
/// body) and answers the transcript, the variables, where it stopped and the side effects it
/// would have had. Nothing is sent over WhatsApp and no tag or contact changes; `wait` steps
/// are skipped at once (noted in the transcript). HTTP steps ARE called, for real, through
/// the platform's guarded outbound client (no private addresses unless the platform allows
/// them).
#[utoipa::path(
    post,
    path = "/automation/flows/{id}/test",
    tag = "Automation",
    operation_id = "automations_test_flow",
    params(("id" = String, Path, description = "The flow's UUID")),
    request_body(content = Option<TestBody>, example = json!({
        "messages": ["hi", "2"],
        "contact": {"name": "Ana", "phone": "5511999990000"}
    })),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The run.", body = ApiResponse<FlowTestResult>,
            example = result_example),
        (status = 404, description = "No such flow for this token (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "More than 50 messages or one longer than 4096 characters, the definition is invalid (as when saving), the flow has no definition and none is given, or a field is unknown (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn test_flow(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<TestBody>,
) -> AppResult<impl IntoResponse> {
    if b.messages.len() > MAX_TEST_MESSAGES {
        return Err(AppError::validation(
            "messages",
            format!("The messages may not have more than {MAX_TEST_MESSAGES} items."),
        ));
    }
    if let Some(i) = b
        .messages
        .iter()
        .position(|m| m.chars().count() > MAX_TEXT_CHARS)
    {
        return Err(AppError::validation(
            &format!("messages[{i}]"),
            format!("A message may not be longer than {MAX_TEXT_CHARS} characters."),
        ));
    }
    let contact = b.contact.unwrap_or(TestContact {
        name: None,
        phone: None,
    });
    let input = FlowTestInput {
        messages: b.messages,
        variables: b.variables.unwrap_or_default(),
        contact_name: contact.name.filter(|n| !n.trim().is_empty()),
        contact_phone: contact.phone,
        definition: definition(b.definition)?,
    };
    let result = s.services.test_flow(&c, &id, input).await?;
    Ok(axum::Json(ApiResponse::data(result)))
}
