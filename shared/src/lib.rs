//! Wire types shared by both Zapini binaries (the control plane and the instance node).
//!
//! This crate owns the vocabulary that crosses process and network boundaries:
//! the JSON response envelope and pagination metadata, the catalogue of API error
//! codes with their HTTP statuses, identifiers (instance references, UUIDs),
//! phone numbers and WhatsApp JIDs, webhook/token signing helpers, timestamp
//! formatting, the instance and message status enums, the SSRF guard for
//! outbound URLs (`netguard`, the one place that knows reqwest), and the Prometheus
//! plumbing both binaries share (`metrics`: the recorder, a tower layer counting HTTP
//! requests by route template, the process's own figures).
//!
//! It deliberately must not know about SQL, HTTP servers, or the WhatsApp engine.
//! Keeping it free of those concerns means both binaries (and the end-to-end test
//! crate) can depend on it without pulling in each other's heavy dependencies,
//! and it means every type here can be tested as plain data.

#![forbid(unsafe_code)]

pub mod backoff;
pub mod email;
pub mod envelope;
pub mod error;
pub mod ids;
pub mod jid;
pub mod metrics;
pub mod netguard;
pub mod node_api;
pub mod node_auth;
pub mod node_error;
pub mod node_routes;
pub mod phone;
pub mod private_fs;
pub mod signing;
pub mod status;
pub mod time;

pub use envelope::{ApiResponse, Meta, PageRequest, Pagination};
pub use error::{ErrorBody, ErrorCode, ErrorEnvelope};
pub use ids::InstanceRef;
pub use jid::{Jid, JidError, JidServer};
pub use phone::{PhoneError, PhoneNumber};
pub use status::{InstanceStatus, MessageStatus};
