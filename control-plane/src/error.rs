//! The service-layer error: either a client error that already knows its reference code, or
//! an internal failure whose cause is logged once (by the HTTP middleware) and never shown.

use sea_orm::{DbErr, SqlErr};
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
