//! Automations that answer, as use-cases: the turn [`worker`] claims turns queued by
//! `automation::intake` in the ingest transaction, the [`engine`] decides (a flow's step in
//! `flow_turn`, the tenant's webhook [`bot`], an OpenAI-compatible [`agent`] with AI
//! Functions), `delivery` sends the replies through the instance's node, and `session_life`
//! and [`sessions`] keep the automation sessions. The automations' model is
//! `crate::automation`.

pub mod agent;
pub mod bot;
mod delivery;
pub mod engine;
mod flow_turn;
mod session_life;
pub mod sessions;
pub mod worker;
