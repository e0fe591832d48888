//! The node <-> control-plane contract, generated from `proto/zapini/node/v1/node.proto`.
//!
//! This crate holds no logic: only the generated messages, clients and servers.
//! Field numbers are part of the contract: add fields, never renumber or reuse them.
#![forbid(unsafe_code)]
#![allow(clippy::all, missing_docs)]

/// Version 1 of the node protocol.
pub mod v1 {
    tonic::include_proto!("zapini.node.v1");
}

/// The protocol version a node announces when it registers.
pub const PROTOCOL_VERSION: u32 = 1;
