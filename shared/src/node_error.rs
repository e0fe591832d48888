//! A node's API error as it crosses the gRPC link: the node puts its envelope's `code`,
//! `message` and `details` (and a `Retry-After` in seconds) as JSON into the gRPC status
//! details, so the control plane answers a Universal API call with exactly what the node's own
//! HTTP API would have said, instead of guessing from the coarse gRPC status code.

use serde::{Deserialize, Serialize};

use crate::error::ErrorBody;

/// The JSON carried in `grpc-status-details-bin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeError {
    /// Marks the payload as ours, so details written by anything else are not misread.
    pub zapini: u8,
    pub error: ErrorBody,
    /// Seconds the client should wait before retrying (sent as `Retry-After`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

/// The version of [`NodeError::zapini`] written today.
const VERSION: u8 = 1;

impl NodeError {
    pub fn new(error: ErrorBody, retry_after: Option<u64>) -> NodeError {
        NodeError {
            zapini: VERSION,
            error,
            retry_after,
        }
    }

    /// The bytes for the gRPC status details.
    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads status details written by [`NodeError::encode`]; `None` for anything else
    /// (empty details, another format, an unknown error code).
    pub fn decode(bytes: &[u8]) -> Option<NodeError> {
        if bytes.is_empty() {
            return None;
        }
        serde_json::from_slice::<NodeError>(bytes)
            .ok()
            .filter(|e| e.zapini == VERSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    #[test]
    fn round_trip() {
        let e = NodeError::new(
            ErrorBody::validation("media_url", "cannot be fetched"),
            Some(7),
        );
        assert_eq!(NodeError::decode(&e.encode()), Some(e));
        let e = NodeError::new(ErrorBody::from_code(ErrorCode::InstanceNotConnected), None);
        assert_eq!(NodeError::decode(&e.encode()), Some(e));
        assert_eq!(NodeError::decode(b""), None);
        assert_eq!(NodeError::decode(b"\x08\x01"), None);
        assert_eq!(
            NodeError::decode(br#"{"zapini":1,"error":{"code":"NOPE","message":"x"}}"#),
            None
        );
    }
}
