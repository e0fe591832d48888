//! The Calendar: appointments on an instance, their status transitions, their WhatsApp
//! reminders, and leads made from them.
//!
//! - [`model`]: statuses and transitions, times in the tenant's time zone, list ranges;
//! - [`body`]: create and update bodies (every failure names its field) and the time span;
//! - [`service`]: the API's use-cases (scoped to the tenant, and an `sk_` token's instance),
//!   each write with its reminder job and `appointment.*` webhook in one transaction;
//! - [`reminder`]: the reminder job (`crate::jobs`), sent once through the instance's node;
//! - [`to_kanban`]: a Kanban lead from an appointment;
//! - [`views`]: what the API and the webhooks show.

pub mod body;
pub mod model;
pub mod reminder;
pub mod service;
pub mod to_kanban;
pub mod views;

pub use model::Status;
pub use views::{AppointmentEvent, AppointmentView};
