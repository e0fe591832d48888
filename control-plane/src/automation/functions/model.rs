//! What an AI Function is made of: its kind, method, authentication type, parameters, and the
//! rules their names and headers follow. The API's bodies are parsed into them by the
//! `body` module.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use zapini_shared::error::ErrorBody;

/// Most parameters a function may declare.
pub const MAX_PARAMETERS: usize = 50;
/// Most static headers (and custom auth headers).
pub const MAX_HEADERS: usize = 20;
pub const DEFAULT_TIMEOUT_SECONDS: i32 = 15;
pub const MAX_TIMEOUT_SECONDS: i32 = 30;
pub const MAX_DESCRIPTION: usize = 2000;
pub const MAX_URL: usize = 2048;

/// Headers the platform sets itself (or the connection needs): never configurable.
const RESERVED_HEADERS: [&str; 6] = [
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "upgrade",
    "te",
];

/// The kind of function, which decides where the arguments go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AiFunctionType)]
pub enum FunctionType {
    /// Reads data: the arguments go to the query string.
    FetchData,
    /// Submits what was collected from the contact: a JSON body.
    CollectSubmit,
    /// Does something: a JSON body.
    Action,
}

impl FunctionType {
    pub const ALL: [FunctionType; 3] = [Self::FetchData, Self::CollectSubmit, Self::Action];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::FetchData => "fetch_data",
            Self::CollectSubmit => "collect_submit",
            Self::Action => "action",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// The method used when none is given.
    pub fn default_method(self) -> HttpMethod {
        match self {
            Self::FetchData => HttpMethod::Get,
            Self::CollectSubmit | Self::Action => HttpMethod::Post,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "UPPERCASE")]
#[schema(as = AiFunctionHttpMethod)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl HttpMethod {
    pub const ALL: [HttpMethod; 5] = [Self::Get, Self::Post, Self::Put, Self::Patch, Self::Delete];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
            Self::Put => "PUT",
            Self::Patch => "PATCH",
            Self::Delete => "DELETE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }

    pub fn reqwest(self) -> reqwest::Method {
        match self {
            Self::Get => reqwest::Method::GET,
            Self::Post => reqwest::Method::POST,
            Self::Put => reqwest::Method::PUT,
            Self::Patch => reqwest::Method::PATCH,
            Self::Delete => reqwest::Method::DELETE,
        }
    }
}

/// How the endpoint authenticates the call (the `auth` module's `AuthConfig` holds the
/// secrets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AiFunctionAuthType)]
pub enum AuthType {
    None,
    Bearer,
    Basic,
    ApiKey,
    Custom,
}

impl AuthType {
    pub const ALL: [AuthType; 5] = [
        Self::None,
        Self::Bearer,
        Self::Basic,
        Self::ApiKey,
        Self::Custom,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bearer => "bearer",
            Self::Basic => "basic",
            Self::ApiKey => "api_key",
            Self::Custom => "custom",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// The JSON type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AiFunctionParameterType)]
pub enum ParamType {
    String,
    Number,
    Integer,
    Boolean,
    Array,
    Object,
}

impl ParamType {
    pub const ALL: [ParamType; 6] = [
        Self::String,
        Self::Number,
        Self::Integer,
        Self::Boolean,
        Self::Array,
        Self::Object,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Number => "number",
            Self::Integer => "integer",
            Self::Boolean => "boolean",
            Self::Array => "array",
            Self::Object => "object",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// Whether `v` is a value of this type (an integer is a number without a fraction).
    pub fn accepts(self, v: &Value) -> bool {
        match self {
            Self::String => v.is_string(),
            Self::Number => v.is_number(),
            Self::Integer => {
                v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0)
            }
            Self::Boolean => v.is_boolean(),
            Self::Array => v.is_array(),
            Self::Object => v.is_object(),
        }
    }
}

/// One parameter the agent fills in (stored and shown in this shape).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = AiFunctionParameter)]
pub struct Parameter {
    /// Letters, digits and underscores, starting with a letter (at most 64); unique in the
    /// function. The key of the argument in the query string or JSON body.
    #[schema(pattern = "^[A-Za-z][A-Za-z0-9_]{0,63}$", example = "order_number")]
    pub name: String,
    #[schema(example = "Order Number")]
    pub display_name: String,
    /// Shown to the AI agent.
    #[schema(example = "The customer order number")]
    pub description: String,
    #[serde(rename = "type")]
    pub param_type: ParamType,
    pub is_required: bool,
    /// The agent must ask the contact for this value instead of inventing it.
    pub collect_from_user: bool,
    /// The only values allowed, of the parameter's type.
    #[serde(rename = "enum", default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub enum_values: Option<Vec<Value>>,
}

/// Accumulates field errors so that one answer names every field to fix.
#[derive(Default)]
pub struct FieldErrors(Option<ErrorBody>);

impl FieldErrors {
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        let message = message.into();
        self.0 = Some(match self.0.take() {
            None => ErrorBody::validation(field, message),
            Some(body) => body.with_field_error(field, message),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }

    /// Adds every field message of another error.
    pub fn merge(&mut self, other: FieldErrors) {
        let Some(body) = other.0 else {
            return;
        };
        if let Value::Object(map) = body.details {
            for (field, messages) in map {
                for m in messages.as_array().into_iter().flatten() {
                    self.add(&field, m.as_str().unwrap_or_default());
                }
            }
        }
    }

    pub fn into_result(self) -> Result<(), ErrorBody> {
        match self.0 {
            None => Ok(()),
            Some(body) => Err(body),
        }
    }
}

/// A function name: a valid tool name for a model.
pub fn valid_function_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

pub fn valid_parameter_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A header name and value the HTTP client will accept, and that is not the platform's.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("{name:?} is not a valid header name."));
    }
    if RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
        return Err(format!("The {name} header is set by the platform."));
    }
    if reqwest::header::HeaderValue::from_str(value).is_err() {
        return Err(format!("The value of {name} is not a valid header value."));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names() {
        for ok in ["a", "check_order_status", "x1_2", &"a".repeat(64)] {
            assert!(valid_function_name(ok), "{ok}");
        }
        for bad in ["", "1a", "_a", "Check", "a-b", "a b", "é", &"a".repeat(65)] {
            assert!(!valid_function_name(bad), "{bad}");
        }
        assert!(valid_parameter_name("orderId"));
        assert!(!valid_parameter_name("order-id"));
    }

    #[test]
    fn integers_and_types() {
        assert!(ParamType::Integer.accepts(&json!(3)));
        assert!(ParamType::Integer.accepts(&json!(3.0)));
        assert!(!ParamType::Integer.accepts(&json!(3.5)));
        assert!(!ParamType::Number.accepts(&json!("3")));
    }

    #[test]
    fn headers() {
        assert!(check_header("X-Shop", "1").is_ok());
        assert!(check_header("Host", "x").is_err());
        assert!(check_header("Bad Name", "x").is_err());
        assert!(check_header("X-Shop", "a\nb").is_err());
    }
}
