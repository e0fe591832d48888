//! Black-box API tests: the real server on port 0, a fresh database each.

mod auth;
mod automation;
mod contacts;
mod conversations;
mod files;
mod health;
mod helpers;
mod hostile_endpoints;
mod inbox_setup;
mod ingest;
mod instance_scope;
mod instances;
mod isolation;
mod login_hardening;
mod openapi;
mod openapi_core;
mod openapi_inbox;
mod quotas;
mod ratelimit;
mod robustness;
mod tags;
mod tenancy;
mod tls;
mod tokens;
mod transcription;
