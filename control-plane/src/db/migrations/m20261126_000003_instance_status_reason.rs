//! Why an instance's connection last changed (`logged_out`, `unreachable`, `stream_replaced`,
//! `temporary_ban: …`, …), as its node reported it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Instances {
    Table,
    StatusReason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Instances::Table)
                    .add_column(ColumnDef::new(Instances::StatusReason).string().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Instances::Table)
                    .drop_column(Instances::StatusReason)
                    .to_owned(),
            )
            .await
    }
}
