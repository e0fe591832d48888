//! The instance node's tests in one binary (one module per area), against a fake control plane.

mod auth;
mod common;
mod engine_contract;
mod events;
mod forward;
mod grpc;
mod hot_path;
mod idempotent;
mod media;
mod metrics;
mod whatsapp_offline;
