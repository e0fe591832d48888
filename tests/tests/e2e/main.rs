//! The end-to-end suite in one test binary (one module per area): the real control plane,
//! real nodes and real receivers. One binary links the platform once instead of once per file.

mod automation;
mod automation_crash;
mod browser;
mod calendar;
mod crash_recovery;
mod dashboard_chat;
mod edge;
mod external_functions;
mod groups;
mod inbox;
mod kanban;
mod launcher;
mod media;
mod media_s3;
mod metrics;
mod node_credentials;
mod node_hardening;
mod openapi_events;
mod pipeline;
use zapini_e2e::harness as support;
mod tenancy;
mod webhooks;
mod webhooks_crash;
mod webhooks_replicas;
mod whatsapp_engine;
