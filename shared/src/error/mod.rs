//! API error codes, their HTTP statuses, and the `{"success": false, "error": {...}}` envelope.
//!
//! Every error the platform returns to a client goes through [`ErrorEnvelope`], so
//! the code strings and statuses here are part of the public contract described
//! in the API reference. The mappings are written as exhaustive `match`es on
//! purpose: adding a variant without deciding its string and status must fail to
//! compile rather than silently fall into a default arm.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// A machine-readable error code, serialized as its `SCREAMING_SNAKE_CASE` string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorCode {
    // Generic codes used across the whole platform.
    /// 400: the request is malformed in a way that is not a field validation failure.
    BadRequest,
    /// 400: the request body is not valid JSON.
    InvalidJson,
    /// 401: no token, or a token that does not exist.
    Unauthenticated,
    /// 401: wrong email/password at login.
    InvalidCredentials,
    /// 401: the token existed but has expired.
    TokenExpired,
    /// 403: authenticated, but not allowed to touch this resource.
    Forbidden,
    /// 403: an `sk_` instance token was used against a different instance.
    InstanceForbidden,
    /// 404: the resource does not exist (or is invisible to this tenant).
    NotFound,
    /// 404: the referenced instance does not exist (or is invisible to this tenant).
    InstanceNotFound,
    /// 405: the route exists but not with this method.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state of the resource.
    Conflict,
    /// 409: a unique value already exists.
    DuplicateEntry,
    /// 413: the request body exceeds the configured limit.
    PayloadTooLarge,
    /// 415: the request body has an unsupported content type.
    UnsupportedMediaType,
    /// 422: one or more fields failed validation; `details` maps field -> messages.
    ValidationError,
    /// 429: the tenant's daily message quota is used up.
    DailyLimitExceeded,
    /// 429: too many requests in the current rate-limit window.
    RateLimitExceeded,
    /// 429: too many failed logins; the client must back off.
    TooManyLoginAttempts,
    /// 403: a tenant quota (instances, instance tokens, media storage) is used up. Not in
    /// the reference; `details` names the quota, its limit and the current use.
    QuotaExceeded,
    /// 409: the instance exists but its WhatsApp session is not connected.
    InstanceNotConnected,
    /// 503: the node hosting the instance cannot be reached.
    NodeUnavailable,
    /// 503: a dependency of the platform is temporarily unavailable.
    ServiceUnavailable,
    /// 504: an upstream call (usually to an instance node) timed out.
    GatewayTimeout,
    /// 508: a proxy found its own hop marker on a request: it went round between proxies.
    LoopDetected,
    /// 500: an unexpected server-side failure.
    InternalError,

    // Codes named by the API reference for specific feature areas.
    /// 409: sending is blocked because automation manages the conversation.
    AutomationActive,
    /// 403: the tenant does not have the voice feature enabled.
    NoVoiceAccess,
    /// 400: Twilio credentials are not configured.
    NoCredentials,
    /// 404: the voice phone number was not found or is not visible.
    NumberNotFound,
    /// 404: the call was not found or is not visible.
    CallNotFound,
    /// 429: the monthly voice minutes limit is exhausted.
    MinutesExceeded,
    /// 400: the call is not in progress.
    CallNotActive,
    /// 400: the callback has expired or was already executed.
    CallbackExpired,
    /// 400: IVR is not enabled on this number.
    IvrNotEnabled,
    /// 403: there is no active AI Agent integration.
    AiAgentNotEnabled,
    /// 422: a function with this name already exists.
    DuplicateName,
    /// 409: cannot delete while executions are in progress.
    ActiveExecutions,
    /// 422: the integration is not of the AI Agent type.
    InvalidIntegrationType,
    /// 422: the slug already exists for this account.
    DuplicateSlug,
    /// 403: the tenant does not have Kanban enabled.
    KanbanNotEnabled,
}

/// Returned by [`ErrorCode::from_str`] for a string that is not a known code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown error code {0:?}")]
pub struct UnknownErrorCode(pub String);

impl ErrorCode {
    /// Every variant, in declaration order; tests and documentation generators iterate this.
    pub const ALL: &'static [ErrorCode] = &[
        ErrorCode::BadRequest,
        ErrorCode::InvalidJson,
        ErrorCode::Unauthenticated,
        ErrorCode::InvalidCredentials,
        ErrorCode::TokenExpired,
        ErrorCode::Forbidden,
        ErrorCode::InstanceForbidden,
        ErrorCode::NotFound,
        ErrorCode::InstanceNotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::Conflict,
        ErrorCode::DuplicateEntry,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::ValidationError,
        ErrorCode::DailyLimitExceeded,
        ErrorCode::RateLimitExceeded,
        ErrorCode::TooManyLoginAttempts,
        ErrorCode::InstanceNotConnected,
        ErrorCode::NodeUnavailable,
        ErrorCode::ServiceUnavailable,
        ErrorCode::GatewayTimeout,
        ErrorCode::LoopDetected,
        ErrorCode::InternalError,
        ErrorCode::AutomationActive,
        ErrorCode::NoVoiceAccess,
        ErrorCode::NoCredentials,
        ErrorCode::NumberNotFound,
        ErrorCode::CallNotFound,
        ErrorCode::MinutesExceeded,
        ErrorCode::CallNotActive,
        ErrorCode::CallbackExpired,
        ErrorCode::IvrNotEnabled,
        ErrorCode::AiAgentNotEnabled,
        ErrorCode::DuplicateName,
        ErrorCode::ActiveExecutions,
        ErrorCode::InvalidIntegrationType,
        ErrorCode::DuplicateSlug,
        ErrorCode::QuotaExceeded,
        ErrorCode::KanbanNotEnabled,
    ];

    /// Same as [`ErrorCode::ALL`], for callers that prefer a function.
    pub fn all() -> &'static [ErrorCode] {
        Self::ALL
    }

    /// The wire string, exactly as clients match on it.
    pub fn as_str(&self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::InvalidJson => "INVALID_JSON",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::InvalidCredentials => "INVALID_CREDENTIALS",
            ErrorCode::TokenExpired => "TOKEN_EXPIRED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::InstanceForbidden => "INSTANCE_FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::InstanceNotFound => "INSTANCE_NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::DuplicateEntry => "DUPLICATE_ENTRY",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::ValidationError => "VALIDATION_ERROR",
            ErrorCode::DailyLimitExceeded => "DAILY_LIMIT_EXCEEDED",
            ErrorCode::RateLimitExceeded => "RATE_LIMIT_EXCEEDED",
            ErrorCode::TooManyLoginAttempts => "TOO_MANY_LOGIN_ATTEMPTS",
            ErrorCode::QuotaExceeded => "QUOTA_EXCEEDED",
            ErrorCode::InstanceNotConnected => "INSTANCE_NOT_CONNECTED",
            ErrorCode::NodeUnavailable => "NODE_UNAVAILABLE",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ErrorCode::GatewayTimeout => "GATEWAY_TIMEOUT",
            ErrorCode::LoopDetected => "LOOP_DETECTED",
            ErrorCode::InternalError => "INTERNAL_ERROR",
            ErrorCode::AutomationActive => "AUTOMATION_ACTIVE",
            ErrorCode::NoVoiceAccess => "NO_VOICE_ACCESS",
            ErrorCode::NoCredentials => "NO_CREDENTIALS",
            ErrorCode::NumberNotFound => "NUMBER_NOT_FOUND",
            ErrorCode::CallNotFound => "CALL_NOT_FOUND",
            ErrorCode::MinutesExceeded => "MINUTES_EXCEEDED",
            ErrorCode::CallNotActive => "CALL_NOT_ACTIVE",
            ErrorCode::CallbackExpired => "CALLBACK_EXPIRED",
            ErrorCode::IvrNotEnabled => "IVR_NOT_ENABLED",
            ErrorCode::AiAgentNotEnabled => "AI_AGENT_NOT_ENABLED",
            ErrorCode::DuplicateName => "DUPLICATE_NAME",
            ErrorCode::ActiveExecutions => "ACTIVE_EXECUTIONS",
            ErrorCode::InvalidIntegrationType => "INVALID_INTEGRATION_TYPE",
            ErrorCode::DuplicateSlug => "DUPLICATE_SLUG",
            ErrorCode::KanbanNotEnabled => "KANBAN_NOT_ENABLED",
        }
    }

    /// The HTTP status the code is returned with.
    ///
    /// Codes the reference lists with a status use that status. The reference
    /// gives no status for `AUTOMATION_ACTIVE`; it is 409 because the request is
    /// valid but conflicts with the conversation's current state, and pausing the
    /// automation resolves it.
    pub fn http_status(&self) -> u16 {
        match self {
            ErrorCode::BadRequest => 400,
            ErrorCode::InvalidJson => 400,
            ErrorCode::Unauthenticated => 401,
            ErrorCode::InvalidCredentials => 401,
            ErrorCode::TokenExpired => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::InstanceForbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::InstanceNotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::Conflict => 409,
            ErrorCode::DuplicateEntry => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::ValidationError => 422,
            ErrorCode::DailyLimitExceeded => 429,
            ErrorCode::RateLimitExceeded => 429,
            ErrorCode::TooManyLoginAttempts => 429,
            ErrorCode::QuotaExceeded => 403,
            ErrorCode::InstanceNotConnected => 409,
            ErrorCode::NodeUnavailable => 503,
            ErrorCode::ServiceUnavailable => 503,
            ErrorCode::GatewayTimeout => 504,
            ErrorCode::LoopDetected => 508,
            ErrorCode::InternalError => 500,
            ErrorCode::AutomationActive => 409,
            ErrorCode::NoVoiceAccess => 403,
            ErrorCode::NoCredentials => 400,
            ErrorCode::NumberNotFound => 404,
            ErrorCode::CallNotFound => 404,
            ErrorCode::MinutesExceeded => 429,
            ErrorCode::CallNotActive => 400,
            ErrorCode::CallbackExpired => 400,
            ErrorCode::IvrNotEnabled => 400,
            ErrorCode::AiAgentNotEnabled => 403,
            ErrorCode::DuplicateName => 422,
            ErrorCode::ActiveExecutions => 409,
            ErrorCode::InvalidIntegrationType => 422,
            ErrorCode::DuplicateSlug => 422,
            ErrorCode::KanbanNotEnabled => 403,
        }
    }

    /// A human-readable message to use when the caller has nothing more specific to say.
    ///
    /// The texts for reference-defined codes follow the reference's descriptions
    /// so that clients see the wording the documentation promises.
    pub fn default_message(&self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "Bad request.",
            ErrorCode::InvalidJson => "The request body is not valid JSON.",
            ErrorCode::Unauthenticated => "Unauthenticated.",
            ErrorCode::InvalidCredentials => "Invalid credentials.",
            ErrorCode::TokenExpired => "The token has expired.",
            ErrorCode::Forbidden => "You do not have permission to access this resource.",
            ErrorCode::InstanceForbidden => "This token is not valid for this instance.",
            ErrorCode::NotFound => "Resource not found.",
            ErrorCode::InstanceNotFound => "Instance not found.",
            ErrorCode::MethodNotAllowed => "Method not allowed.",
            ErrorCode::Conflict => "The request conflicts with the current state of the resource.",
            ErrorCode::DuplicateEntry => "The resource already exists.",
            ErrorCode::PayloadTooLarge => "The request body is too large.",
            ErrorCode::UnsupportedMediaType => "Unsupported media type.",
            ErrorCode::ValidationError => "The given data was invalid.",
            ErrorCode::DailyLimitExceeded => "Daily message limit exceeded.",
            ErrorCode::RateLimitExceeded => "Too many requests. Please slow down.",
            ErrorCode::TooManyLoginAttempts => "Too many login attempts. Please try again later.",
            ErrorCode::QuotaExceeded => "A quota of this account is used up.",
            ErrorCode::InstanceNotConnected => "The instance is not connected to WhatsApp.",
            ErrorCode::NodeUnavailable => "The instance node is unavailable.",
            ErrorCode::ServiceUnavailable => "Service temporarily unavailable.",
            ErrorCode::GatewayTimeout => "The upstream service timed out.",
            ErrorCode::LoopDetected => {
                "The request went round between the control plane and an instance node; it was stopped."
            }
            ErrorCode::InternalError => "Internal server error.",
            ErrorCode::AutomationActive => {
                "Cannot send messages. This conversation has active automation. Pause the automation first to send messages manually."
            }
            ErrorCode::NoVoiceAccess => "Twilio Voice feature not enabled on tenant.",
            ErrorCode::NoCredentials => "Twilio credentials not configured.",
            ErrorCode::NumberNotFound => "Phone number not found or unauthorized.",
            ErrorCode::CallNotFound => "Call not found or unauthorized.",
            ErrorCode::MinutesExceeded => "Monthly minutes limit exceeded.",
            ErrorCode::CallNotActive => "Call is not in progress.",
            ErrorCode::CallbackExpired => "Callback expired or already executed.",
            ErrorCode::IvrNotEnabled => "IVR is not enabled on this number.",
            ErrorCode::AiAgentNotEnabled => "No active AI Agent integration.",
            ErrorCode::DuplicateName => "Function name already exists.",
            ErrorCode::ActiveExecutions => "Cannot delete while executions are in progress.",
            ErrorCode::InvalidIntegrationType => "Integration is not of AI Agent type.",
            ErrorCode::DuplicateSlug => "Slug already exists for this account.",
            ErrorCode::KanbanNotEnabled => {
                "Kanban is not enabled on this account. Contact your administrator to enable Kanban."
            }
        }
    }

    /// True for 5xx codes, i.e. failures that are the platform's fault rather than the client's.
    pub fn is_server_error(&self) -> bool {
        self.http_status() >= 500
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ErrorCode {
    type Err = UnknownErrorCode;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // A linear scan over ~40 entries is cheap, and deriving the parser from
        // `as_str` means the two directions can never disagree.
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|code| code.as_str() == s)
            .ok_or_else(|| UnknownErrorCode(s.to_owned()))
    }
}

/// The codes as the OpenAPI document lists them: a string enum of every wire code.
impl utoipa::PartialSchema for ErrorCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(ErrorCode::ALL.iter().map(|c| c.as_str())))
            .description(Some("A machine-readable error code."))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCode {}

impl Serialize for ErrorCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ErrorCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}

/// The `error` object of an error response.
///
/// `details` is always serialized (as `{}` when there is nothing to add) because
/// the reference shows it unconditionally and clients may index into it without
/// checking for presence. For validation errors it maps each field name to an
/// array of messages, the same shape Laravel produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error, utoipa::ToSchema)]
#[error("{code}: {message}")]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
    /// Extra context; for `VALIDATION_ERROR`, each failing field's messages.
    #[serde(default = "empty_object")]
    #[schema(value_type = Object)]
    pub details: Value,
}

impl ErrorBody {
    /// An error with empty `details`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody {
            code,
            message: message.into(),
            details: empty_object(),
        }
    }

    /// An error carrying the code's [`ErrorCode::default_message`].
    pub fn from_code(code: ErrorCode) -> Self {
        Self::new(code, code.default_message())
    }

    /// Replaces `details`.
    #[must_use]
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    /// A `VALIDATION_ERROR` for a single field, with `details = {field: [message]}`.
    ///
    /// The top-level message must name the field so that a client that only
    /// shows `error.message` still tells the user what to fix; if the given
    /// message already mentions the field it is used as is, otherwise it is
    /// prefixed with `"{field}: "`.
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let top = if message.contains(field) {
            message.clone()
        } else {
            format!("{field}: {message}")
        };
        let mut details = Map::new();
        details.insert(field.to_owned(), Value::Array(vec![Value::String(message)]));
        ErrorBody {
            code: ErrorCode::ValidationError,
            message: top,
            details: Value::Object(details),
        }
    }

    /// Appends another field message to a validation error's `details`.
    ///
    /// This lets a handler accumulate every failing field before responding,
    /// instead of making the client fix them one round-trip at a time. If
    /// `details` is not an object it is replaced by one.
    #[must_use]
    pub fn with_field_error(mut self, field: &str, message: impl Into<String>) -> Self {
        if !self.details.is_object() {
            self.details = empty_object();
        }
        if let Value::Object(map) = &mut self.details {
            let entry = map
                .entry(field.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !entry.is_array() {
                *entry = Value::Array(Vec::new());
            }
            if let Value::Array(messages) = entry {
                messages.push(Value::String(message.into()));
            }
        }
        self
    }

    /// The HTTP status of this error's code.
    pub fn http_status(&self) -> u16 {
        self.code.http_status()
    }
}

impl From<ErrorCode> for ErrorBody {
    fn from(code: ErrorCode) -> Self {
        ErrorBody::from_code(code)
    }
}

/// A complete error response: `{"success": false, "error": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ErrorEnvelope {
    /// Always `false`; kept as a field so the JSON shape matches success responses.
    pub success: bool,
    pub error: ErrorBody,
}

impl ErrorEnvelope {
    /// Wraps an error body; equivalent to `ErrorEnvelope::from(body)`.
    pub fn new(error: ErrorBody) -> Self {
        ErrorEnvelope {
            success: false,
            error,
        }
    }

    /// The HTTP status of the wrapped error.
    pub fn http_status(&self) -> u16 {
        self.error.http_status()
    }
}

impl From<ErrorBody> for ErrorEnvelope {
    fn from(error: ErrorBody) -> Self {
        ErrorEnvelope::new(error)
    }
}

impl From<ErrorCode> for ErrorEnvelope {
    fn from(code: ErrorCode) -> Self {
        ErrorEnvelope::new(ErrorBody::from_code(code))
    }
}

#[cfg(test)]
mod tests;
