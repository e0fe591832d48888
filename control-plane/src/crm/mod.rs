//! The CRM: Kanban pipelines (boards, columns, leads), the Calendar (appointments and their
//! WhatsApp reminders) and External Functions (outside systems acting on WhatsApp). Each area
//! is a service of its own behind the tenant's feature flags
//! ([`crate::service::tenant_settings`]).

pub mod calendar;
pub mod external;
pub mod kanban;
