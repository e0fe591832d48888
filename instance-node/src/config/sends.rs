//! When a send is answered (`ZAPINI_SEND_ACK`, and the deprecated `ZAPINI_DURABLE_SENDS`) and
//! when the sandbox produces the receipts of our sends (`ZAPINI_SANDBOX_RECEIPTS`).

use super::parse::parse_bool;
use super::{ConfigError, invalid};

/// When the sandbox produces receipts for our sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptMode {
    /// The sandbox's default schedule: delivered after 1 s, read after 3 s, played after 5 s.
    Auto,
    /// Only the immediate `sent`; later receipts come from `POST /sandbox/receipt`.
    Manual,
}

/// When a send (`POST /send-message` and the other sends, HTTP or gRPC) is answered, relative
/// to its `message.sent` event reaching the event buffer.
///
/// The event buffer writes an event (`write(2)`) as soon as the engine reports it and fsyncs
/// in the background in groups; the control plane only ever hears of fsynced events. The modes
/// trade how long a send waits against what a crash right after the answer can lose:
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendAck {
    /// `written` (default): answered once the event is written to the buffer file. A crash
    /// or kill of the node process loses nothing; an OS crash or power loss within the sync
    /// window (the buffer's 5 ms sync interval plus one fsync, so normally under 10 ms) can
    /// lose the `message.sent` event of a message that was answered as sent.
    Written,
    /// `synced`: answered once the event is fsynced (the send asks for the fsync round at
    /// once instead of waiting out the sync interval). Nothing answered is ever lost, but
    /// every send waits for the disk; with an fsync p99 of several milliseconds, so is the
    /// send's.
    Synced,
    /// `none`: answered as soon as the engine accepted the message; the event is written a
    /// moment later. A process crash in that gap loses the event.
    None,
}

impl SendAck {
    /// The setting's value, as `ZAPINI_SEND_ACK` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SendAck::Written => "written",
            SendAck::Synced => "synced",
            SendAck::None => "none",
        }
    }
}

/// `ZAPINI_SEND_ACK`, or the deprecated `ZAPINI_DURABLE_SENDS` when it is unset (with a warning
/// either way the deprecated variable is given).
pub(super) fn send_ack(
    get: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<SendAck, ConfigError> {
    let mode = match (get("ZAPINI_SEND_ACK"), get("ZAPINI_DURABLE_SENDS")) {
        (Some(v), durable) => {
            if durable.is_some() {
                warnings.push(
                    "ZAPINI_DURABLE_SENDS is deprecated and ignored because ZAPINI_SEND_ACK is set"
                        .to_owned(),
                );
            }
            match v.trim().to_ascii_lowercase().as_str() {
                "written" => SendAck::Written,
                "synced" => SendAck::Synced,
                "none" => SendAck::None,
                _ => {
                    return Err(invalid(
                        "ZAPINI_SEND_ACK",
                        format!("unknown mode {v:?}; expected written, synced or none"),
                    ));
                }
            }
        }
        (None, Some(v)) => {
            let mode = if parse_bool("ZAPINI_DURABLE_SENDS", &v)? {
                SendAck::Synced
            } else {
                SendAck::None
            };
            warnings.push(format!(
                "ZAPINI_DURABLE_SENDS is deprecated; use ZAPINI_SEND_ACK={} (the default is written)",
                mode.as_str()
            ));
            mode
        }
        (None, None) => SendAck::Written,
    };
    Ok(mode)
}
