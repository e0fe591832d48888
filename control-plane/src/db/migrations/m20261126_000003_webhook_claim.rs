//! Indexes for claiming webhook deliveries on PostgreSQL in one statement (see
//! `webhooks::dispatcher::claim_postgres`):
//!
//! - `idx_webhook_deliveries_due`: pending rows in id order, so a claim walks the oldest
//!   pending deliveries and stops after a batch instead of sorting every pending row. Partial
//!   on `status = 'pending'`, so delivered rows (kept for days) are never in the walk.
//! - `idx_webhook_deliveries_retry` and `idx_webhook_deliveries_leased`: the few rows that
//!   hold a stream back (waiting for a retry, or leased by a dispatcher), found without
//!   scanning the backlog.
//!
//! They replace `idx_webhook_deliveries_pending` and `idx_webhook_deliveries_stream` there,
//! which served a per-row `NOT EXISTS` that PostgreSQL evaluated for the whole backlog on every
//! claim. SQLite keeps its indexes and query: it walks the pending index in order already, and
//! its planner does not use partial indexes with bound parameters.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_due ON webhook_deliveries (id) \
     WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_retry ON webhook_deliveries (next_attempt_at) \
     WHERE status = 'pending'",
    "CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_leased ON webhook_deliveries (lease_owner) \
     WHERE status = 'pending' AND lease_owner IS NOT NULL",
    "DROP INDEX IF EXISTS idx_webhook_deliveries_pending",
    "DROP INDEX IF EXISTS idx_webhook_deliveries_stream",
];

const DOWN: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_pending ON webhook_deliveries (status, id)",
    "CREATE INDEX IF NOT EXISTS idx_webhook_deliveries_stream ON webhook_deliveries \
     (endpoint_id, status, ordering_key, id)",
    "DROP INDEX IF EXISTS idx_webhook_deliveries_due",
    "DROP INDEX IF EXISTS idx_webhook_deliveries_retry",
    "DROP INDEX IF EXISTS idx_webhook_deliveries_leased",
];

async fn run(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let db = manager.get_connection();
    for sql in statements {
        db.execute_unprepared(sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        run(manager, DOWN).await
    }
}
