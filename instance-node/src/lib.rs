//! Instance node: owns exactly one WhatsApp session and serves the Instance API hot path.
//! It never touches SQL: state it must keep (the event buffer, session keys) lives in files
//! under its data directory, and everything else belongs to the control plane.
//!
//! Code map: `config` (settings), `app` (wiring), `http/` (Instance API, sandbox controls,
//! forwarding), `grpc/` (the `InstanceNode` server and the control-plane link; the only
//! place that sees prost types), `auth` (token cache), `policy` (daily limit, automation
//! guard), `service` (send use-cases shared by HTTP and gRPC), `media` (limits, fetcher,
//! SSRF guard), `outbound` (HTTP clients built on first use), `pump` (engine events -> the
//! event buffer), `engine/`, `buffer/`.
#![forbid(unsafe_code)]

pub mod app;
pub mod auth;
pub mod buffer;
pub mod config;
pub mod control_api;
pub mod engine;
pub mod grpc;
pub mod http;
pub mod link;
pub mod media;
pub mod metrics;
pub mod outbound;
pub mod policy;
pub mod pump;
pub mod service;

pub use app::{NodeApp, NodeListeners};
pub use config::NodeConfig;
pub use link::RegistrationRefused;
