//! Maps service errors onto the reference's error envelope and HTTP status. A 5xx body is
//! opaque; its cause rides along in a response extension for the logging middleware.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use zapini_shared::error::{ErrorBody, ErrorCode, ErrorEnvelope};

use crate::error::AppError;

/// The hidden cause of a 5xx, logged once by the error-logging middleware (`log_errors`).
#[derive(Clone, Debug)]
pub struct InternalCause(pub String);

pub fn envelope(body: ErrorBody) -> Response {
    let status =
        StatusCode::from_u16(body.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    // The reference shows `AUTOMATION_ACTIVE` with `conversation_id` beside `code` and
    // `message`; it is copied there from `details`.
    if body.code == ErrorCode::AutomationActive
        && let Some(id) = body.details.get("conversation_id").cloned()
        && let Ok(serde_json::Value::Object(mut env)) =
            serde_json::to_value(ErrorEnvelope::from(body.clone()))
    {
        if let Some(serde_json::Value::Object(error)) = env.get_mut("error") {
            error.insert("conversation_id".to_owned(), id);
        }
        return (status, axum::Json(serde_json::Value::Object(env))).into_response();
    }
    (status, axum::Json(ErrorEnvelope::from(body))).into_response()
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        match self {
            AppError::Client(body) => envelope(body),
            AppError::RateLimited { body, retry_after } => {
                let mut resp = envelope(body);
                if let Ok(v) = HeaderValue::from_str(&retry_after.to_string()) {
                    resp.headers_mut().insert(header::RETRY_AFTER, v);
                }
                resp
            }
            AppError::Unavailable(cause) => {
                let mut resp = envelope(ErrorBody::new(
                    ErrorCode::ServiceUnavailable,
                    "The service is temporarily unavailable. Please retry.",
                ));
                resp.extensions_mut().insert(InternalCause(cause));
                resp
            }
            AppError::Internal(cause) => {
                let mut resp = envelope(ErrorBody::new(
                    ErrorCode::InternalError,
                    "Internal server error.",
                ));
                resp.extensions_mut()
                    .insert(InternalCause(format!("{cause:#}")));
                resp
            }
        }
    }
}
