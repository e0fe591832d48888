//! How functions and their executions are shown: credentials masked, recorded requests
//! already redacted when they were stored; and a function as the model sees it (a tool).

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use uuid::Uuid;
use zapini_shared::time::format_secs;

use super::ToolSpec;
use super::auth::AuthConfig;
use super::model::{AuthType, FunctionType, HttpMethod, ParamType, Parameter};
use crate::crypto::SecretBox;
use crate::db::entities::{ai_function, ai_function_execution};

/// An AI function.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiFunction)]
pub struct FunctionView {
    pub uuid: Uuid,
    /// The `ai_agent` integration it belongs to.
    pub integration_uuid: Uuid,
    /// The integration's instance (UUID).
    pub instance_id: Uuid,
    #[schema(example = "check_order_status")]
    pub name: String,
    #[schema(example = "Check Order Status")]
    pub display_name: String,
    #[schema(example = "Checks the status of a customer order by order number")]
    pub description: String,
    #[serde(rename = "type")]
    #[schema(value_type = FunctionType)]
    pub function_type: &'static str,
    #[schema(required = true, example = "https://api.myshop.com/orders/status")]
    pub endpoint_url: Option<String>,
    #[schema(value_type = HttpMethod)]
    pub http_method: &'static str,
    #[schema(value_type = AuthType)]
    pub auth_type: &'static str,
    /// The credentials with every secret masked (`********` and the last four characters);
    /// `null` for `auth_type` `none`.
    #[schema(required = true, value_type = Option<Object>, example = json!({"token": "********-key"}))]
    pub auth_config: Option<Value>,
    pub parameters: Vec<Parameter>,
    /// Static extra headers.
    #[schema(required = true)]
    pub headers: Option<BTreeMap<String, String>>,
    /// Offered to the AI agent.
    pub is_enabled: bool,
    #[schema(minimum = 1, maximum = 30)]
    pub timeout_seconds: i32,
    /// Executions so far (tests included).
    pub executions_count: u64,
    #[schema(required = true, format = DateTime)]
    pub last_executed_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl FunctionView {
    pub fn new(
        m: &ai_function::Model,
        secrets: &SecretBox,
        integrations: &HashMap<i64, Uuid>,
        instances: &HashMap<i64, Uuid>,
    ) -> FunctionView {
        let function_type = FunctionType::parse(&m.function_type).unwrap_or(FunctionType::Action);
        let http_method = HttpMethod::parse(&m.http_method).unwrap_or(HttpMethod::Post);
        let auth = AuthConfig::open(secrets, m.auth_config_enc.as_deref());
        FunctionView {
            uuid: m.uuid,
            integration_uuid: integrations
                .get(&m.integration_id)
                .copied()
                .unwrap_or_default(),
            instance_id: instances.get(&m.instance_id).copied().unwrap_or_default(),
            name: m.name.clone(),
            display_name: m.display_name.clone(),
            description: m.description.clone(),
            function_type: function_type.as_str(),
            endpoint_url: m.endpoint_url.clone(),
            http_method: http_method.as_str(),
            auth_type: AuthType::parse(&m.auth_type)
                .unwrap_or(AuthType::None)
                .as_str(),
            auth_config: auth.masked(),
            parameters: parameters_of(m),
            headers: headers_of(m),
            is_enabled: m.is_enabled,
            timeout_seconds: m.timeout_seconds,
            executions_count: u64::try_from(m.executions_count).unwrap_or(0),
            last_executed_at: m.last_executed_at.map(format_secs),
            created_at: format_secs(m.created_at),
            updated_at: format_secs(m.updated_at),
        }
    }
}

pub(super) fn parameters_of(m: &ai_function::Model) -> Vec<Parameter> {
    serde_json::from_value(m.parameters.clone()).unwrap_or_default()
}

pub(super) fn headers_of(m: &ai_function::Model) -> Option<BTreeMap<String, String>> {
    m.headers
        .clone()
        .and_then(|h| serde_json::from_value(h).ok())
}

/// The state of an execution.
#[derive(ToSchema)]
#[schema(as = AiFunctionExecutionStatus, rename_all = "snake_case")]
pub enum ExecutionStatus {
    /// The call is in flight.
    Running,
    /// The endpoint answered 2xx.
    Success,
    /// The arguments were refused (no call), the call failed, or the endpoint answered an
    /// error.
    Error,
}

/// The request an execution made, credentials redacted (`[REDACTED]`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiFunctionRequest)]
pub struct RequestView {
    #[schema(value_type = HttpMethod)]
    pub method: String,
    #[schema(example = "https://api.myshop.com/orders/status?order_number=ORD-12345")]
    pub url: String,
    pub headers: BTreeMap<String, String>,
}

/// One execution of an AI function.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = AiFunctionExecution)]
pub struct ExecutionView {
    pub uuid: Uuid,
    pub function_uuid: Uuid,
    #[schema(example = "check_order_status")]
    pub function_name: String,
    #[schema(value_type = ExecutionStatus)]
    pub status: String,
    /// Made by `POST /ai-functions/{uuid}/test`.
    pub is_test: bool,
    /// The conversation the agent was answering (UUID).
    #[schema(required = true)]
    pub conversation_id: Option<Uuid>,
    /// The automation session (UUID).
    #[schema(required = true)]
    pub session_id: Option<Uuid>,
    /// The arguments as given.
    pub arguments: Value,
    /// `null` when no call was made (the arguments were refused).
    #[schema(required = true)]
    pub request: Option<RequestView>,
    /// The endpoint's HTTP status.
    #[schema(required = true, minimum = 100, maximum = 999)]
    pub http_status: Option<u16>,
    /// The start of the answer (4 KiB): parsed when it is JSON, else as text.
    #[schema(required = true)]
    pub response: Option<Value>,
    /// The answer was longer than what `response` shows.
    pub response_truncated: bool,
    #[schema(required = true)]
    pub duration_ms: Option<u64>,
    #[schema(required = true)]
    pub error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(required = true, format = DateTime)]
    pub finished_at: Option<String>,
}

impl ExecutionView {
    pub fn new(
        e: &ai_function_execution::Model,
        function: (Uuid, &str),
        conversation: Option<Uuid>,
        session: Option<Uuid>,
    ) -> ExecutionView {
        let request = match (&e.request_method, &e.request_url) {
            (Some(method), Some(url)) => Some(RequestView {
                method: method.clone(),
                url: url.clone(),
                headers: e
                    .request_headers
                    .clone()
                    .and_then(|h| serde_json::from_value(h).ok())
                    .unwrap_or_default(),
            }),
            _ => None,
        };
        let response = e.response_excerpt.as_ref().map(|text| {
            serde_json::from_str::<Value>(text).unwrap_or_else(|_| Value::String(text.clone()))
        });
        ExecutionView {
            uuid: e.uuid,
            function_uuid: function.0,
            function_name: function.1.to_owned(),
            status: e.status.clone(),
            is_test: e.is_test,
            conversation_id: conversation,
            session_id: session,
            arguments: e.arguments.clone(),
            request,
            http_status: e.http_status.and_then(|s| u16::try_from(s).ok()),
            response,
            response_truncated: e.response_truncated,
            duration_ms: e.duration_ms.and_then(|d| u64::try_from(d).ok()),
            error: e.error.clone(),
            created_at: format_secs(e.created_at),
            finished_at: e.finished_at.map(format_secs),
        }
    }
}

/// A function as a tool for the model.
pub fn tool_spec(m: &ai_function::Model) -> ToolSpec {
    let params = parameters_of(m);
    let mut properties = Map::new();
    let mut required = Vec::new();
    let mut collect = Vec::new();
    for p in &params {
        let mut description = if p.description.is_empty() {
            p.display_name.clone()
        } else {
            format!("{}: {}", p.display_name, p.description)
        };
        if p.collect_from_user {
            description.push_str(" Ask the contact for this value; never guess it.");
            collect.push(p.name.clone());
        }
        let mut schema = json!({"type": p.param_type.as_str(), "description": description});
        if p.param_type == ParamType::Array {
            schema["items"] = json!({});
        }
        if let Some(values) = &p.enum_values {
            schema["enum"] = Value::Array(values.clone());
        }
        properties.insert(p.name.clone(), schema);
        if p.is_required {
            required.push(Value::String(p.name.clone()));
        }
    }
    let mut description = m.description.clone();
    if !collect.is_empty() {
        let names: Vec<String> = params
            .iter()
            .filter(|p| p.collect_from_user)
            .map(|p| format!("{} ({})", p.display_name, p.name))
            .collect();
        description.push_str(&format!(
            " Before calling this function, ask the contact for: {}.",
            names.join(", ")
        ));
    }
    ToolSpec {
        name: m.name.clone(),
        description,
        parameters: json!({"type": "object", "properties": properties, "required": required}),
        collect_from_user: collect,
    }
}
