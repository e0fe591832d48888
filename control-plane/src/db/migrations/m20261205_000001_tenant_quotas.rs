//! Per-tenant overrides of the quotas and of the tenant-wide request budget (`NULL`: the
//! configured default; `0`: unlimited).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    MaxInstances,
    MaxInstanceTokens,
    MaxMediaBytes,
    TenantRateLimitRequests,
}

const COLUMNS: [Tenants; 4] = [
    Tenants::MaxInstances,
    Tenants::MaxInstanceTokens,
    Tenants::MaxMediaBytes,
    Tenants::TenantRateLimitRequests,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column per ALTER TABLE.
        for column in COLUMNS {
            let mut def = ColumnDef::new(column);
            match column {
                Tenants::MaxMediaBytes => def.big_integer(),
                _ => def.integer(),
            };
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .add_column(def.null())
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
