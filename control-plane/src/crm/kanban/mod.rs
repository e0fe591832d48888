//! The Kanban: boards of an instance, their ordered columns, the leads in them and each
//! lead's timeline; the board's statistics; AI qualification of a lead through the tenant's
//! AI agent; the AI agent's `create_lead` and `move_lead` tools; `lead.*` webhook events.
//!
//! Everything is behind the tenant's `kanban_enabled` flag (`KANBAN_NOT_ENABLED`). Rows are
//! scoped by tenant, and for an `sk_` token by its instance: anything else is 404. Money is
//! integer cents ([`money`]); every change to a lead writes its timeline entry and queues its
//! webhook event in the same transaction.
//!
//! The use-cases other parts call: [`Services::create_lead`], [`Services::update_lead`],
//! [`Services::lead_for_appointment`].

pub mod agent;
pub mod boards;
pub mod body;
pub mod columns;
pub mod events;
mod lead_writes;
pub mod leads;
pub mod model;
pub mod money;
pub mod moves;
pub mod qualify;
mod store;
pub mod views;

pub use model::{Actor, LeadPatch, NewLead, Priority};
pub use views::{LeadDetail, LeadView};

use crate::domain::{Caller, InstanceId, TenantId};

/// What a caller may reach: its tenant, and for an `sk_` token one instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    pub tenant: TenantId,
    pub instance: Option<InstanceId>,
}

impl Scope {
    pub fn of(caller: &Caller) -> Scope {
        Scope {
            tenant: caller.tenant(),
            instance: caller.bound_instance(),
        }
    }

    /// The whole tenant (the calendar, external functions).
    pub fn tenant(tenant: TenantId) -> Scope {
        Scope {
            tenant,
            instance: None,
        }
    }
}

/// A page of rows and how many match.
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}
