//! A failed node call as an API error: the node's own envelope when the status carries one
//! (`zapini_shared::node_error`), mapped exactly; otherwise a reading of the gRPC code
//! (transport failures, older nodes) that never shows a node's internal message.

use zapini_shared::error::ErrorCode;
use zapini_shared::node_error::NodeError;

use crate::error::AppError;

/// A failed group call: a missing group is `NOT_FOUND` (not `NUMBER_NOT_FOUND`) and a refused
/// one `FORBIDDEN`, with the engine's reason (for a node that sends no error details).
pub(super) fn map_group_status(status: tonic::Status) -> AppError {
    use tonic::Code;
    if let Some(e) = NodeError::decode(status.details()) {
        return from_node_error(e);
    }
    match status.code() {
        Code::NotFound => AppError::new(
            ErrorCode::NotFound,
            format!("Group not found: {}", status.message()),
        ),
        Code::PermissionDenied => AppError::new(
            ErrorCode::Forbidden,
            format!("WhatsApp refused the group operation: {}", status.message()),
        ),
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::InvalidArgument
        | Code::DeadlineExceeded
        | Code::AlreadyExists
        | Code::ResourceExhausted
        | Code::FailedPrecondition
        | Code::Aborted
        | Code::OutOfRange
        | Code::Unimplemented
        | Code::Internal
        | Code::Unavailable
        | Code::DataLoss
        | Code::Unauthenticated => map_status(status),
    }
}

/// The node's own answer, as its HTTP API would give it: same code, message, details and
/// `Retry-After`. An internal error keeps its message for the log only.
fn from_node_error(e: NodeError) -> AppError {
    let NodeError {
        error, retry_after, ..
    } = e;
    if error.code == ErrorCode::InternalError {
        return AppError::internal(format!("instance node: {}", error.message));
    }
    match retry_after {
        Some(retry_after) => AppError::RateLimited {
            body: error,
            retry_after,
        },
        None => AppError::Client(error),
    }
}

/// What a failed node call means for an API client: the node's own error when the status
/// carries one, else a reading of the gRPC code (transport failures, older nodes).
pub(super) fn map_status(status: tonic::Status) -> AppError {
    use tonic::Code;
    if let Some(e) = NodeError::decode(status.details()) {
        return from_node_error(e);
    }
    let msg = status.message().to_owned();
    match status.code() {
        Code::FailedPrecondition => AppError::new(
            ErrorCode::InstanceNotConnected,
            if msg.is_empty() {
                "The instance is not connected to WhatsApp.".to_owned()
            } else {
                msg
            },
        ),
        Code::NotFound => AppError::new(ErrorCode::NumberNotFound, msg),
        Code::PermissionDenied => AppError::new(ErrorCode::Forbidden, msg),
        Code::InvalidArgument => AppError::new(ErrorCode::ValidationError, msg),
        Code::ResourceExhausted => AppError::new(ErrorCode::DailyLimitExceeded, msg),
        Code::Aborted => AppError::new(ErrorCode::AutomationActive, msg),
        Code::Unimplemented => AppError::new(ErrorCode::BadRequest, msg),
        Code::DeadlineExceeded => AppError::new(
            ErrorCode::GatewayTimeout,
            "The instance node did not answer in time.",
        ),
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::AlreadyExists
        | Code::Internal
        | Code::Unavailable
        | Code::DataLoss
        | Code::OutOfRange
        | Code::Unauthenticated => {
            tracing::warn!(code = ?status.code(), message = %msg, "instance node call failed");
            AppError::new(
                ErrorCode::NodeUnavailable,
                "The instance node is unavailable; it is restarted automatically, try again shortly.",
            )
        }
    }
}

/// A failed media download: gone is `NOT_FOUND`, an engine without downloads too (whatever
/// the node's details say, as the message is about the media, not the engine).
pub(super) fn map_media_status(status: tonic::Status) -> AppError {
    use tonic::Code;
    match status.code() {
        Code::NotFound | Code::Unimplemented => AppError::new(
            ErrorCode::NotFound,
            format!("The media is no longer available: {}", status.message()),
        ),
        Code::Ok
        | Code::Cancelled
        | Code::Unknown
        | Code::InvalidArgument
        | Code::DeadlineExceeded
        | Code::AlreadyExists
        | Code::PermissionDenied
        | Code::ResourceExhausted
        | Code::FailedPrecondition
        | Code::Aborted
        | Code::OutOfRange
        | Code::Internal
        | Code::Unavailable
        | Code::DataLoss
        | Code::Unauthenticated => map_status(status),
    }
}
