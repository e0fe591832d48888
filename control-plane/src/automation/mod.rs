//! Automations that answer: the flow engine (`flow`), AI Functions (`functions`), the one
//! outbound client every call to a tenant's URL goes through (`outbound`), and the engine that
//! turns incoming messages into answered turns (sessions, turns, the worker, bots and the AI
//! agent).

pub mod functions;
pub mod outbound;
