//! The error side of every HTTP response: the reference envelope
//! `{"success":false,"error":{"code","message","details"}}` with the code's HTTP status, and
//! the mapping of the node's error enums onto reference codes.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use zapini_shared::error::{ErrorBody, ErrorCode, ErrorEnvelope};

use crate::engine::EngineError;
use crate::media::MediaError;
use crate::policy::PolicyDenied;
use crate::service::SendError;

/// An error answered in the envelope.
#[derive(Debug)]
pub struct ApiError(pub ErrorBody);

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> ApiError {
        ApiError(ErrorBody::new(code, message))
    }

    pub fn validation(field: &str, message: impl Into<String>) -> ApiError {
        ApiError(ErrorBody::validation(field, message))
    }
}

impl From<ErrorBody> for ApiError {
    fn from(body: ErrorBody) -> Self {
        ApiError(body)
    }
}

impl IntoResponse for ApiError {
    /// A 429 whose details carry `retry_after` (seconds) gets the `Retry-After` header too.
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = (status == StatusCode::TOO_MANY_REQUESTS)
            .then(|| self.0.details.get("retry_after").and_then(|v| v.as_u64()))
            .flatten();
        let mut response = (status, axum::Json(ErrorEnvelope::new(self.0))).into_response();
        if let Some(v) = retry_after.and_then(|s| HeaderValue::from_str(&s.to_string()).ok()) {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}

/// What a send's engine failure means to a client. `NotFound` is about the recipient for
/// sends to a person (`NUMBER_NOT_FOUND`), about the group or message otherwise.
pub fn engine_error(err: EngineError, recipient_is_user: bool) -> ApiError {
    match err {
        EngineError::NotConnected => ApiError::new(
            ErrorCode::InstanceNotConnected,
            "The instance is not connected to WhatsApp. Scan the QR code (GET /qr) first.",
        ),
        EngineError::NotFound(what) if recipient_is_user => ApiError::new(
            ErrorCode::NumberNotFound,
            format!("The number is not on WhatsApp ({what})."),
        ),
        EngineError::NotFound(what) => {
            ApiError::new(ErrorCode::NotFound, format!("Not found: {what}."))
        }
        EngineError::NotAllowed(why) => {
            ApiError::new(ErrorCode::Forbidden, format!("Not allowed: {why}."))
        }
        EngineError::Invalid(why) => ApiError(
            ErrorBody::new(
                ErrorCode::ValidationError,
                format!("Invalid request: {why}."),
            )
            .with_details(json!({})),
        ),
        EngineError::Unsupported(what) => ApiError::new(
            ErrorCode::BadRequest,
            format!("Not supported by this instance's engine: {what}."),
        ),
        EngineError::Temporary(why) => ApiError::new(
            ErrorCode::ServiceUnavailable,
            format!("WhatsApp is temporarily unavailable ({why}); retry shortly."),
        ),
        EngineError::RateLimited {
            reason,
            retry_after,
        } => {
            let secs = retry_after.as_secs().max(1);
            ApiError(
                ErrorBody::new(
                    ErrorCode::RateLimitExceeded,
                    format!("Sending paused to protect the number: {reason}; retry in {secs}s."),
                )
                .with_details(json!({"retry_after": secs, "reason": reason})),
            )
        }
    }
}

pub fn media_error(err: MediaError) -> ApiError {
    match err {
        MediaError::Fetch(_) => ApiError(
            ErrorBody::new(ErrorCode::BadRequest, err.to_string())
                .with_details(json!({"media_url": [err.to_string()]})),
        ),
        MediaError::InvalidUrl(_) | MediaError::Blocked(_) => {
            ApiError::validation("media_url", err.to_string())
        }
        MediaError::TooLarge { .. } | MediaError::Format(_) => {
            ApiError(ErrorBody::validation("media_url", err.to_string()))
        }
        MediaError::NotInLibrary(_) => ApiError::validation("media_id", err.to_string()),
    }
}

pub fn send_error(err: SendError, recipient_is_user: bool) -> ApiError {
    match err {
        SendError::Policy(PolicyDenied::AutomationActive) => {
            ApiError(ErrorBody::from_code(ErrorCode::AutomationActive))
        }
        SendError::Policy(PolicyDenied::DailyLimit { limit }) => ApiError(
            ErrorBody::new(
                ErrorCode::DailyLimitExceeded,
                format!("Daily message limit of {limit} reached for this instance. It resets at 00:00 UTC."),
            )
            .with_details(json!({"daily_limit": limit})),
        ),
        SendError::Engine(e) => engine_error(e, recipient_is_user),
        SendError::Media(e) => media_error(e),
    }
}
