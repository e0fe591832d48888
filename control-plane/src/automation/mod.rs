//! Automations themselves, below the use-cases: the flow model and its interpreter
//! ([`flow`]), an automation's [`settings`] and [`config`] (the webhook bot's and the AI
//! agent's), what a turn decides ([`plan`]), which automations answer a chat (`active`), the
//! [`intake`] that queues turns inside the ingest transaction, AI Functions' definitions and
//! calls ([`functions`]), and the one [`outbound`] client every call to a tenant's URL goes
//! through. Running them (the turn worker, the engine, the bot and agent calls, sessions) is
//! `service::automation`; nothing here takes `Services`.

pub(crate) mod active;
pub mod config;
pub mod flow;
pub mod functions;
pub mod intake;
pub(crate) mod lookup;
pub mod outbound;
pub mod plan;
pub mod settings;
