//! Instance connection status and message delivery status.
//!
//! Both enums appear in API responses and webhook payloads, and the instance
//! node and control plane must agree on their spelling, so they live here.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

/// Returned when a status string is not one of the allowed values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {value:?}; expected one of: {allowed}")]
pub struct ParseStatusError {
    /// Which status type was being parsed, for the message.
    pub kind: &'static str,
    /// The rejected input.
    pub value: String,
    /// The allowed values, comma-separated.
    pub allowed: &'static str,
}

/// Connection state of a WhatsApp instance, as reported by `GET /instances`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InstanceStatus {
    Connected,
    Disconnected,
    QrReady,
    Pending,
}

impl InstanceStatus {
    pub const ALL: &'static [InstanceStatus] = &[
        InstanceStatus::Connected,
        InstanceStatus::Disconnected,
        InstanceStatus::QrReady,
        InstanceStatus::Pending,
    ];

    const ALLOWED: &'static str = "connected, disconnected, qr_ready, pending";

    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            InstanceStatus::Connected => "connected",
            InstanceStatus::Disconnected => "disconnected",
            InstanceStatus::QrReady => "qr_ready",
            InstanceStatus::Pending => "pending",
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InstanceStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InstanceStatus::ALL
            .iter()
            .copied()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseStatusError {
                kind: "instance status",
                value: s.to_owned(),
                allowed: InstanceStatus::ALLOWED,
            })
    }
}

/// Delivery progress of a message, with the numeric codes from the reference.
///
/// Variants are declared in progression order, so the derived `Ord` compares by
/// progress: `Pending < Sent < Delivered < Read < Played`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum MessageStatus {
    Pending = 1,
    Sent = 2,
    Delivered = 3,
    Read = 4,
    Played = 5,
}

impl MessageStatus {
    pub const ALL: &'static [MessageStatus] = &[
        MessageStatus::Pending,
        MessageStatus::Sent,
        MessageStatus::Delivered,
        MessageStatus::Read,
        MessageStatus::Played,
    ];

    const ALLOWED: &'static str = "pending, sent, delivered, read, played";

    /// The numeric code (1..=5) used in webhook payloads.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// The status for a numeric code, or `None` outside 1..=5.
    pub fn from_code(code: u8) -> Option<MessageStatus> {
        match code {
            1 => Some(MessageStatus::Pending),
            2 => Some(MessageStatus::Sent),
            3 => Some(MessageStatus::Delivered),
            4 => Some(MessageStatus::Read),
            5 => Some(MessageStatus::Played),
            _ => None,
        }
    }

    /// The wire spelling.
    pub fn as_str(&self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Sent => "sent",
            MessageStatus::Delivered => "delivered",
            MessageStatus::Read => "read",
            MessageStatus::Played => "played",
        }
    }

    /// The later of the two statuses.
    ///
    /// Receipts can arrive out of order (a "read" receipt may beat the
    /// "delivered" one), so stored status only ever moves forward.
    #[must_use]
    pub fn advance(self, next: MessageStatus) -> MessageStatus {
        self.max(next)
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for MessageStatus {
    type Err = ParseStatusError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        MessageStatus::ALL
            .iter()
            .copied()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ParseStatusError {
                kind: "message status",
                value: s.to_owned(),
                allowed: MessageStatus::ALLOWED,
            })
    }
}

/// Accepts the lowercase name or the numeric code, because the reference's
/// webhook payloads carry the number (`"status": 3`) while API responses carry
/// the name; the type serializes as the name.
impl<'de> Deserialize<'de> for MessageStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<'a> {
            Code(u64),
            Name(std::borrow::Cow<'a, str>),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Code(code) => u8::try_from(code)
                .ok()
                .and_then(MessageStatus::from_code)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "invalid message status code {code}; expected 1 to 5"
                    ))
                }),
            Raw::Name(name) => name.parse().map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn instance_status_wire_names() {
        for (status, name) in [
            (InstanceStatus::Connected, "connected"),
            (InstanceStatus::Disconnected, "disconnected"),
            (InstanceStatus::QrReady, "qr_ready"),
            (InstanceStatus::Pending, "pending"),
        ] {
            assert_eq!(status.as_str(), name);
            assert_eq!(status.to_string(), name);
            assert_eq!(serde_json::to_value(status).unwrap(), json!(name));
            assert_eq!(
                serde_json::from_value::<InstanceStatus>(json!(name)).unwrap(),
                status
            );
            assert_eq!(name.parse::<InstanceStatus>().unwrap(), status);
        }
    }

    #[test]
    fn instance_status_error_lists_allowed_values() {
        let err = "QR_READY".parse::<InstanceStatus>().unwrap_err();
        let msg = err.to_string();
        for allowed in ["connected", "disconnected", "qr_ready", "pending"] {
            assert!(msg.contains(allowed), "{msg}");
        }
        assert!(msg.contains("QR_READY"));
    }

    #[test]
    fn message_status_codes_and_names() {
        for (status, code, name) in [
            (MessageStatus::Pending, 1, "pending"),
            (MessageStatus::Sent, 2, "sent"),
            (MessageStatus::Delivered, 3, "delivered"),
            (MessageStatus::Read, 4, "read"),
            (MessageStatus::Played, 5, "played"),
        ] {
            assert_eq!(status.code(), code);
            assert_eq!(MessageStatus::from_code(code), Some(status));
            assert_eq!(status.as_str(), name);
            assert_eq!(name.parse::<MessageStatus>().unwrap(), status);
            assert_eq!(serde_json::to_value(status).unwrap(), json!(name));
            assert_eq!(
                serde_json::from_value::<MessageStatus>(json!(name)).unwrap(),
                status
            );
            assert_eq!(
                serde_json::from_value::<MessageStatus>(json!(code)).unwrap(),
                status
            );
        }
        assert_eq!(MessageStatus::from_code(0), None);
        assert_eq!(MessageStatus::from_code(6), None);
        assert!(serde_json::from_value::<MessageStatus>(json!(0)).is_err());
        assert!(serde_json::from_value::<MessageStatus>(json!(300)).is_err());
        assert!(serde_json::from_value::<MessageStatus>(json!("Read")).is_err());
        let msg = "seen".parse::<MessageStatus>().unwrap_err().to_string();
        assert!(
            msg.contains("pending, sent, delivered, read, played"),
            "{msg}"
        );
    }

    #[test]
    fn message_status_orders_by_progression_and_never_regresses() {
        assert!(MessageStatus::ALL.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(
            MessageStatus::Read.advance(MessageStatus::Delivered),
            MessageStatus::Read
        );
        assert_eq!(
            MessageStatus::Sent.advance(MessageStatus::Read),
            MessageStatus::Read
        );
        for a in MessageStatus::ALL {
            for b in MessageStatus::ALL {
                let c = a.advance(*b);
                assert!(c >= *a && c >= *b);
                assert!(c == *a || c == *b);
            }
        }
    }
}
