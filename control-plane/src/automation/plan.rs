//! A turn's plan: the replies decided for it and what happens to the session after them,
//! recorded on the turn before anything is sent.

use serde::{Deserialize, Serialize};

use super::settings::ReplyDelivery;

/// One outgoing reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Reply {
    Text {
        text: String,
    },
    Media {
        media_type: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        url: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        media_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        caption: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        filename: Option<String>,
    },
}

/// What happens to the session once the plan is sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum After {
    #[default]
    Continue,
    Close {
        reason: String,
    },
    Pause {
        reason: String,
    },
}

/// A turn's decided answer, recorded before anything is sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub session_id: i64,
    pub items: Vec<Reply>,
    #[serde(default)]
    pub after: After,
    #[serde(default)]
    pub delivery: ReplyDelivery,
}
