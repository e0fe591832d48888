//! Automations that answer: the engine that turns incoming messages into answered turns
//! (`intake` in the ingest transaction, `worker` claiming and sending, `engine` deciding),
//! the automations themselves (`flow`, `bot` for the tenant's own webhook bot, `agent` for an
//! OpenAI-compatible model with AI Functions), their `settings` and `config`, and the one
//! `outbound` client every call to a tenant's URL goes through.

mod active;
pub mod agent;
pub mod bot;
pub mod config;
mod delivery;
pub mod engine;
pub mod flow;
mod flow_turn;
pub mod functions;
pub mod intake;
pub(crate) mod lookup;
pub mod outbound;
pub mod plan;
mod session_life;
pub mod sessions;
pub mod settings;
pub mod worker;
