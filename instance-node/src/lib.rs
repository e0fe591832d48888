//! Instance node: owns exactly one WhatsApp session and serves the Instance API hot path.
//! It never touches SQL: state it must keep (the event buffer, session keys) lives in files
//! under its data directory, and everything else belongs to the control plane.
#![forbid(unsafe_code)]

pub mod buffer;
pub mod engine;
