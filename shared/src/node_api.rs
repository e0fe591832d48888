//! The answers of the Instance API's hot path, which a node serves itself at
//! `instance-{id}.<domain>` (`/send-message`, `/send-media`, `/send-reaction`, `/status`,
//! `/qr`): the node builds them, and the control plane's OpenAPI document describes
//! them from the same types. They are flat (no `data` wrapper), as the reference shows them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use crate::status::InstanceStatus;

fn instance_status_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(InstanceStatus::ALL.iter().map(InstanceStatus::as_str)))
        .description(Some("The connection status."))
        .build()
}

fn qr_ready_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some([InstanceStatus::QrReady.as_str()]))
        .build()
}

/// A send's answer: `{"success":true,"message","message_id","timestamp"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = InstanceSentResponse)]
pub struct SentResponse {
    pub success: bool,
    /// `Message sent successfully`, `Media sent successfully` or `Reaction sent successfully`.
    #[schema(example = "Message sent successfully")]
    pub message: String,
    /// WhatsApp's id of the sent message (for replies, reactions, receipts).
    #[schema(example = "3EB0B430A8B7F23C1D12")]
    pub message_id: String,
    /// When it was sent (RFC 3339, UTC, milliseconds).
    #[schema(format = DateTime, example = "2025-12-30T17:30:00.000Z")]
    pub timestamp: String,
}

/// The anti-ban pacing an engine applies to sends: its settings (`ZAPINI_PACING_*` on the
/// node) and live counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(as = InstancePacing)]
pub struct PacingReport {
    /// Master switch; off means sends go out at once.
    pub enabled: bool,
    /// Whether "typing…" (or "recording…") is shown before each message.
    pub typing: bool,
    /// Shortest typing indicator.
    pub typing_min_ms: u64,
    /// Longest typing indicator.
    pub typing_max_ms: u64,
    /// Typing time per character of text.
    pub typing_per_char_ms: u64,
    /// Minimum time between two messages to the same recipient.
    pub recipient_gap_ms: u64,
    /// Minimum time between any two messages of the instance.
    pub instance_gap_ms: u64,
    /// Messages per rolling hour that open a new chat; `0` = no cap.
    pub new_chats_per_hour: u32,
    /// A send that would wait longer than this is refused (429) with a retry time.
    pub max_wait_ms: u64,
    /// Messages that opened a new chat in the last hour.
    pub new_chats_last_hour: u32,
    /// Chats this instance has exchanged at least one message with.
    pub known_chats: u64,
}

/// `GET /status`: the WhatsApp session's connection; `null` where unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = InstanceStatusResponse)]
pub struct StatusResponse {
    pub success: bool,
    #[schema(schema_with = instance_status_schema)]
    pub status: InstanceStatus,
    /// The connected number.
    #[schema(required = true, example = "5511999999999")]
    pub phone: Option<String>,
    /// The WhatsApp profile name.
    #[schema(required = true, example = "Meu WhatsApp")]
    pub name: Option<String>,
    /// The phone's platform (`android`, `iphone`, ...).
    #[schema(required = true, example = "android")]
    pub platform: Option<String>,
    /// Beyond the reference: the engine serving the instance (`whatsapp` or `sandbox`).
    #[schema(example = "whatsapp")]
    pub engine: String,
    /// Why the status last changed (`paired`, `logged_out`, `network`, ...).
    #[schema(required = true)]
    pub reason: Option<String>,
    /// The anti-ban pacing; absent on engines that do not pace (the sandbox, unless
    /// configured to).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = PacingReport, required = false)]
    pub pacing: Option<PacingReport>,
}

/// `GET /qr`: the pairing QR code, while the status is `qr_ready`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = InstanceQrResponse)]
pub struct QrResponse {
    pub success: bool,
    /// The QR code as a PNG data URL.
    #[schema(example = "data:image/png;base64,iVBORw0KGgoAAAA...")]
    pub qr: String,
    /// The text the QR code encodes (to render it yourself).
    pub qr_code_text: String,
    #[schema(schema_with = qr_ready_schema)]
    pub status: InstanceStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn status_keeps_the_reference_layout() {
        let s = StatusResponse {
            success: true,
            status: InstanceStatus::Connected,
            phone: Some("5511999999999".into()),
            name: None,
            platform: None,
            engine: "sandbox".into(),
            reason: None,
            pacing: None,
        };
        assert_eq!(
            serde_json::to_value(&s).unwrap(),
            json!({"success": true, "status": "connected", "phone": "5511999999999",
                   "name": null, "platform": null, "engine": "sandbox", "reason": null})
        );
    }
}
