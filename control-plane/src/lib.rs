//! Zapini control plane: the Universal API, authentication, tenancy, persistence, and (with
//! the node issue) orchestration of instance nodes. It owns all state and holds no WhatsApp
//! session; it is stateless apart from SQL and Redis, so replicas can run side by side.
#![forbid(unsafe_code)]

pub mod app;
pub mod automation;
pub mod config;
pub mod crm;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod grpc;
pub mod http;
pub mod jobs;
pub mod launcher;
pub mod lease;
pub mod limiter;
pub mod live;
pub mod media;
pub mod metrics;
pub mod node_api;
pub mod service;
pub mod telemetry;
pub mod web;
pub mod webhooks;

pub use app::{App, Listeners};
pub use config::Config;
