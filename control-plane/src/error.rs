//! The service-layer error: either a client error that already knows its reference code, or
//! an internal failure whose cause is logged once (by the HTTP middleware) and never shown;
//! and JSON input parsed into it (400 malformed, 422 naming the field), for the HTTP
//! extractors and for the services that read JSON themselves (signed engine reports, External
//! Function calls).

use sea_orm::{DbErr, SqlErr};
use serde::de::DeserializeOwned;
use zapini_shared::error::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A 4xx the caller can fix; the body is sent as is.
    #[error("{0}")]
    Client(ErrorBody),
    /// Over a request budget; `retry_after` seconds until the window resets.
    #[error("{body}")]
    RateLimited { body: ErrorBody, retry_after: u64 },
    /// A dependency is down (database pool exhausted, Redis unreachable): 503, retryable.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else: 500 with an opaque body.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        AppError::Client(ErrorBody::new(code, message))
    }

    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        AppError::Client(ErrorBody::validation(field, message))
    }

    pub fn not_found(code: ErrorCode, what: &str) -> Self {
        AppError::Client(ErrorBody::new(code, format!("{what} not found")))
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        AppError::new(ErrorCode::Unauthenticated, message)
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        AppError::new(ErrorCode::Forbidden, message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        AppError::Internal(anyhow::anyhow!(message.into()))
    }
}

impl From<ErrorBody> for AppError {
    fn from(body: ErrorBody) -> Self {
        AppError::Client(body)
    }
}

impl From<DbErr> for AppError {
    fn from(err: DbErr) -> Self {
        if let Some(SqlErr::UniqueConstraintViolation(detail)) = err.sql_err() {
            return AppError::Client(
                ErrorBody::new(
                    ErrorCode::DuplicateEntry,
                    "A record with these values already exists",
                )
                .with_details(serde_json::json!({ "constraint": detail })),
            );
        }
        match err {
            DbErr::ConnectionAcquire(e) => AppError::Unavailable(format!("database pool: {e}")),
            DbErr::Conn(e) => AppError::Unavailable(format!("database connection: {e}")),
            DbErr::RecordNotFound(what) => AppError::Client(ErrorBody::new(
                ErrorCode::NotFound,
                format!("{what} not found"),
            )),
            other => AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

impl From<redis::RedisError> for AppError {
    fn from(err: redis::RedisError) -> Self {
        AppError::Unavailable(format!("redis: {err}"))
    }
}

/// Parses JSON, naming the offending field on a type error.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    // Syntax first, over the whole body (trailing garbage included), so that a truncated or
    // malformed document is always a 400 and never mistaken for a wrong field type.
    if let Err(inner) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
        return Err(AppError::new(
            ErrorCode::InvalidJson,
            format!(
                "Malformed JSON at line {} column {}: {inner}",
                inner.line(),
                inner.column()
            ),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(de).map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                AppError::new(
                    ErrorCode::InvalidJson,
                    format!(
                        "Malformed JSON at line {} column {}: {inner}",
                        inner.line(),
                        inner.column()
                    ),
                )
            }
            serde_json::error::Category::Data | serde_json::error::Category::Io => {
                field_error(&path, &inner.to_string())
            }
        }
    })
}

/// A 422 naming the field: `missing field `x`` becomes "The x field is required.".
pub(crate) fn field_error(path: &str, message: &str) -> AppError {
    let message = message.split(" at line ").next().unwrap_or(message);
    if let Some(rest) = message.strip_prefix("missing field `") {
        let field = rest.trim_end_matches('`');
        let field = if path == "." || path.is_empty() {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        };
        return AppError::Client(ErrorBody::validation(
            &field,
            format!("The {field} field is required."),
        ));
    }
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or_default();
        return AppError::Client(ErrorBody::validation(
            field,
            format!("The {field} field is not accepted here ({message})."),
        ));
    }
    let field = if path == "." || path.is_empty() {
        "body"
    } else {
        path
    };
    AppError::Client(ErrorBody::validation(field, format!("{field}: {message}")))
}
