//! Versioned schema migrations: one file per change, never edited after it lands, portable
//! across SQLite and PostgreSQL. They run at start and via `control-plane migrate`.

use sea_orm_migration::prelude::*;

mod m20261125_000001_init;
mod m20261126_000001_messaging;
mod m20261126_000002_webhooks;
mod m20261126_000003_instance_status_reason;
mod m20261126_000003_webhook_claim;
mod m20261127_000001_inbox;
mod m20261127_000007_media;
pub(crate) mod m20261128_000001_conversation_counts;
mod m20261205_000001_tenant_quotas;
mod m20261206_000001_automation_engine;
mod m20261206_000010_ai_functions;
mod m20261207_000001_tenant_features;
mod m20261207_000010_kanban;
mod m20261207_000020_calendar;
mod m20261207_000030_external_functions;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_init::Migration),
            Box::new(m20261126_000001_messaging::Migration),
            Box::new(m20261126_000002_webhooks::Migration),
            Box::new(m20261126_000003_webhook_claim::Migration),
            Box::new(m20261126_000003_instance_status_reason::Migration),
            Box::new(m20261127_000001_inbox::Migration),
            Box::new(m20261127_000007_media::Migration),
            Box::new(m20261128_000001_conversation_counts::Migration),
            Box::new(m20261205_000001_tenant_quotas::Migration),
            Box::new(m20261206_000001_automation_engine::Migration),
            Box::new(m20261206_000010_ai_functions::Migration),
            Box::new(m20261207_000001_tenant_features::Migration),
            Box::new(m20261207_000010_kanban::Migration),
            Box::new(m20261207_000020_calendar::Migration),
            Box::new(m20261207_000030_external_functions::Migration),
        ]
    }
}
