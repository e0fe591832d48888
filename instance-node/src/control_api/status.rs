//! The node's errors as gRPC statuses: the same envelope the node's HTTP API answers
//! (`http::error`'s mappings), carried whole in the status details
//! ([`zapini_shared::node_error::NodeError`]) so the control plane answers with the same code,
//! message, details and `Retry-After`; the gRPC code is a coarse summary for other readers.

use tonic::{Code, Status};
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::node_error::NodeError;

use crate::engine::EngineError;
use crate::http::error::{ApiError, engine_error, send_error};
use crate::service::SendError;

/// The gRPC code that summarizes an API error code.
fn grpc_code(code: ErrorCode) -> Code {
    match code {
        ErrorCode::InstanceNotFound
        | ErrorCode::NotFound
        | ErrorCode::NumberNotFound
        | ErrorCode::CallNotFound => Code::NotFound,
        ErrorCode::Conflict
        | ErrorCode::DuplicateEntry
        | ErrorCode::DuplicateName
        | ErrorCode::DuplicateSlug => Code::AlreadyExists,
        ErrorCode::Unauthenticated | ErrorCode::InvalidCredentials | ErrorCode::TokenExpired => {
            Code::Unauthenticated
        }
        ErrorCode::Forbidden
        | ErrorCode::InstanceForbidden
        | ErrorCode::NoVoiceAccess
        | ErrorCode::AiAgentNotEnabled
        | ErrorCode::KanbanNotEnabled => Code::PermissionDenied,
        ErrorCode::DailyLimitExceeded
        | ErrorCode::RateLimitExceeded
        | ErrorCode::TooManyLoginAttempts
        | ErrorCode::MinutesExceeded
        | ErrorCode::QuotaExceeded => Code::ResourceExhausted,
        ErrorCode::AutomationActive => Code::Aborted,
        ErrorCode::InstanceNotConnected
        | ErrorCode::ActiveExecutions
        | ErrorCode::CallNotActive
        | ErrorCode::CallbackExpired
        | ErrorCode::IvrNotEnabled
        | ErrorCode::NoCredentials => Code::FailedPrecondition,
        ErrorCode::NodeUnavailable | ErrorCode::ServiceUnavailable => Code::Unavailable,
        ErrorCode::GatewayTimeout => Code::DeadlineExceeded,
        ErrorCode::InternalError | ErrorCode::LoopDetected => Code::Internal,
        ErrorCode::MethodNotAllowed => Code::Unimplemented,
        ErrorCode::BadRequest
        | ErrorCode::InvalidJson
        | ErrorCode::PayloadTooLarge
        | ErrorCode::UnsupportedMediaType
        | ErrorCode::ValidationError
        | ErrorCode::InvalidIntegrationType => Code::InvalidArgument,
    }
}

/// An API error as a status carrying the whole envelope.
pub fn api_status(err: ApiError) -> Status {
    let body = err.0;
    let retry_after = err_retry_after(&body);
    let details = NodeError::new(body.clone(), retry_after).encode();
    Status::with_details(grpc_code(body.code), body.message, details.into())
}

fn err_retry_after(body: &ErrorBody) -> Option<u64> {
    body.details
        .get("retry_after")
        .and_then(serde_json::Value::as_u64)
}

/// An engine failure outside a send to a person (groups, reactions, connection calls).
pub fn engine_status(err: EngineError) -> Status {
    api_status(engine_error(err, false))
}

/// A failed send; `NotFound` means the number when the recipient is a person.
pub fn send_status(err: SendError, recipient_is_user: bool) -> Status {
    api_status(send_error(err, recipient_is_user))
}

/// A request field that does not validate.
pub fn invalid(field: &str, message: impl Into<String>) -> Status {
    api_status(ApiError::validation(field, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::MediaError;

    #[test]
    fn the_envelope_rides_in_the_details() {
        let status = send_status(
            SendError::Media(MediaError::Fetch("connection refused".to_owned())),
            true,
        );
        let e = NodeError::decode(status.details()).expect("details");
        let http = send_error(
            SendError::Media(MediaError::Fetch("connection refused".to_owned())),
            true,
        );
        assert_eq!(e.error, http.0);
        assert_eq!(status.message(), http.0.message);
        assert_eq!(e.retry_after, None);

        let status = engine_status(EngineError::RateLimited {
            reason: "too many new chats".to_owned(),
            retry_after: std::time::Duration::from_secs(42),
        });
        assert_eq!(status.code(), Code::ResourceExhausted);
        let e = NodeError::decode(status.details()).expect("details");
        assert_eq!(e.error.code, ErrorCode::RateLimitExceeded);
        assert_eq!(e.retry_after, Some(42));
    }
}
