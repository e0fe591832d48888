//! External Functions: endpoints outside systems call with a key of their own to act on
//! WhatsApp through one instance. This module owns their definition and checks ([`model`],
//! [`template`], [`addresses`], [`body`]), the API's use-cases ([`service`], [`views`]), the
//! call path ([`call`]: key, addresses, the daily limit, the log) and the actions
//! ([`actions`]), which run only through the existing services (sends through the instance's
//! node, contacts, pause and resume, Kanban leads).
//!
//! No key is stored or logged in clear; nothing here reaches the network itself.

pub mod actions;
pub mod addresses;
pub mod body;
pub mod call;
pub mod model;
pub mod service;
pub mod template;
pub mod views;
