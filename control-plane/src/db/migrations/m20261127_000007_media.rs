//! The media library: uploaded files and the received media fetched from nodes, with where
//! their bytes are stored and when they expire.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Media {
    Table,
    Id,
    PublicId,
    TenantId,
    InstanceId,
    MessageId,
    Kind,
    MimeType,
    Size,
    Filename,
    StorageKey,
    CreatedAt,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Media::Table)
                    .col(
                        ColumnDef::new(Media::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Media::PublicId)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Media::TenantId).big_integer().not_null())
                    .col(ColumnDef::new(Media::InstanceId).big_integer().null())
                    .col(ColumnDef::new(Media::MessageId).big_integer().null())
                    .col(ColumnDef::new(Media::Kind).string_len(16).not_null())
                    .col(ColumnDef::new(Media::MimeType).string_len(128).not_null())
                    .col(ColumnDef::new(Media::Size).big_integer().not_null())
                    .col(ColumnDef::new(Media::Filename).string_len(255).not_null())
                    .col(ColumnDef::new(Media::StorageKey).string_len(255).not_null())
                    .col(
                        ColumnDef::new(Media::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Media::ExpiresAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_media_expires_at")
                    .table(Media::Table)
                    .col(Media::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_media_message")
                    .table(Media::Table)
                    .col(Media::MessageId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Media::Table).to_owned())
            .await
    }
}
