//! How External Functions and their call log are shown: never the key (only its first
//! characters), logs already redacted when they were stored.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use zapini_shared::time::format_secs;

use super::model::{ActionType, Config};
use crate::db::entities::{external_function, external_function_log};

/// An External Function.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ExternalFunction)]
pub struct FunctionView {
    pub uuid: Uuid,
    /// The instance the function acts through.
    pub instance_uuid: Uuid,
    #[schema(example = "CRM Order Notification")]
    pub name: String,
    #[schema(example = "crm-order-notify")]
    pub slug: String,
    #[schema(value_type = ActionType)]
    pub action_type: &'static str,
    #[schema(required = true, example = "Sends order status updates from CRM")]
    pub description: Option<String>,
    /// The action's configuration.
    #[schema(value_type = Object, example = json!({"message_template": "Order {{order_id}}: {{status}}"}))]
    pub config: Value,
    /// Calls per UTC day.
    #[schema(example = 500)]
    pub rate_limit: i64,
    /// Addresses and CIDR ranges allowed to call (empty: all).
    #[schema(example = json!(["203.0.113.10"]))]
    pub allowed_ips: Vec<String>,
    pub is_enabled: bool,
    /// The key's first characters, to recognise it; the key itself is shown only when
    /// created or regenerated.
    #[schema(example = "xfn_AbCd")]
    pub api_key_prefix: String,
    /// Where outside systems call it (also served without the `/api/v1` prefix).
    #[schema(example = "/api/v1/external-functions/crm-order-notify/execute")]
    pub execute_path: String,
    /// Calls counted today (UTC).
    pub calls_today: i64,
    pub total_calls: i64,
    #[schema(required = true, format = DateTime)]
    pub last_called_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl FunctionView {
    pub fn new(m: &external_function::Model, instance_uuid: Uuid, today: &str) -> FunctionView {
        let action = ActionType::parse(&m.action_type).unwrap_or(ActionType::SendMessage);
        FunctionView {
            uuid: m.uuid,
            instance_uuid,
            name: m.name.clone(),
            slug: m.slug.clone(),
            action_type: action.as_str(),
            description: m.description.clone(),
            config: serde_json::to_value(Config::of(&m.config)).unwrap_or_default(),
            rate_limit: m.rate_limit,
            allowed_ips: serde_json::from_value(m.allowed_ips.clone()).unwrap_or_default(),
            is_enabled: m.is_enabled,
            api_key_prefix: m.api_key_prefix.clone(),
            execute_path: format!("/api/v1/external-functions/{}/execute", m.slug),
            calls_today: if m.calls_day.as_deref() == Some(today) {
                m.calls_today
            } else {
                0
            },
            total_calls: m.calls_total,
            last_called_at: m.last_called_at.map(format_secs),
            created_at: format_secs(m.created_at),
            updated_at: format_secs(m.updated_at),
        }
    }
}

/// A function with its key: the answer of create and regenerate-key, the only times the key
/// is shown.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ExternalFunctionWithKey)]
pub struct FunctionWithKey {
    #[serde(flatten)]
    pub function: FunctionView,
    /// The key (`xfn_` and 48 letters and digits): returned once, stored only as a hash.
    #[schema(example = "xfn_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKL")]
    pub api_key: String,
}

/// The request of a logged call, redacted.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ExternalFunctionLogRequest)]
pub struct LoggedRequest {
    #[schema(example = "POST")]
    pub method: String,
    #[schema(example = "/api/v1/external-functions/crm-order-notify/execute")]
    pub path: String,
    /// The headers, with `Authorization`, `X-Api-Key`, cookies and the key itself
    /// replaced by `[REDACTED]`.
    #[schema(value_type = Object)]
    pub headers: Value,
    /// The JSON body (or the start of a body that is not JSON, as text).
    #[schema(value_type = Object)]
    pub body: Value,
}

/// One call of a function.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ExternalFunctionLog)]
pub struct LogView {
    pub uuid: Uuid,
    pub function_uuid: Uuid,
    /// The client's address, as the rate limiter sees it.
    #[schema(example = "203.0.113.10")]
    pub client_ip: String,
    /// The status the caller was answered.
    #[schema(example = 200)]
    pub http_status: u16,
    pub success: bool,
    /// The error's code for a refused or failed call.
    #[schema(required = true, example = json!(null))]
    pub error_code: Option<String>,
    pub duration_ms: u64,
    pub request: LoggedRequest,
    /// The answer as sent, redacted.
    #[schema(required = true, value_type = Option<Object>)]
    pub response: Option<Value>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl LogView {
    pub fn new(l: &external_function_log::Model, function_uuid: Uuid) -> LogView {
        let r = &l.request;
        LogView {
            uuid: l.uuid,
            function_uuid,
            client_ip: l.client_ip.clone(),
            http_status: u16::try_from(l.http_status).unwrap_or(0),
            success: l.success,
            error_code: l.error_code.clone(),
            duration_ms: u64::try_from(l.duration_ms).unwrap_or(0),
            request: LoggedRequest {
                method: r["method"].as_str().unwrap_or_default().to_owned(),
                path: r["path"].as_str().unwrap_or_default().to_owned(),
                headers: r
                    .get("headers")
                    .cloned()
                    .unwrap_or_else(|| Value::Object(Default::default())),
                body: r.get("body").cloned().unwrap_or(Value::Null),
            },
            response: l.response.clone(),
            created_at: format_secs(l.created_at),
        }
    }
}

/// What a call answers in `data`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = ExternalFunctionCallResult)]
pub struct CallView {
    #[schema(example = "crm-order-notify")]
    pub function: String,
    #[schema(value_type = ActionType)]
    pub action_type: &'static str,
    /// The call's entry in the function's log.
    pub log_id: Uuid,
    /// What the action produced: the sent message (sends), the contact (contacts), the
    /// conversation's automation state (pause, resume), the lead (leads).
    #[schema(value_type = Object)]
    pub result: Value,
}
