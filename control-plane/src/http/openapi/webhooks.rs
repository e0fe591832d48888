//! The webhook events as OpenAPI 3.1 `webhooks`: one per event name, with the signature
//! headers.

use serde_json::{Value, json};

/// One webhook operation per event name.
pub fn webhooks() -> Value {
    json!({})
}
