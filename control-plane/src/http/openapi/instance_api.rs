//! The Instance API: what a node serves itself at `instance-{id}.<domain>`.

use serde_json::Value;

/// Adds the Instance API's operations, with their own server URL template.
pub fn add(_doc: &mut Value) {}
