//! Per-tenant feature flags (`kanban_enabled`, `voice_enabled`, set by the operator) and the
//! tenant's CRM settings: currency and locale of money, time zone of calendar times, the
//! appointment reminder's text (`NULL`: the documented defaults).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Tenants {
    Table,
    KanbanEnabled,
    VoiceEnabled,
    Currency,
    Locale,
    Timezone,
    ReminderTemplate,
}

const COLUMNS: [Tenants; 6] = [
    Tenants::KanbanEnabled,
    Tenants::VoiceEnabled,
    Tenants::Currency,
    Tenants::Locale,
    Tenants::Timezone,
    Tenants::ReminderTemplate,
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column per ALTER TABLE.
        for column in COLUMNS {
            let mut def = ColumnDef::new(column);
            match column {
                Tenants::KanbanEnabled | Tenants::VoiceEnabled => {
                    def.boolean().not_null().default(false)
                }
                Tenants::ReminderTemplate => def.text().null(),
                _ => def.string_len(64).null(),
            };
            manager
                .alter_table(
                    Table::alter()
                        .table(Tenants::Table)
                        .add_column(&mut def)
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
