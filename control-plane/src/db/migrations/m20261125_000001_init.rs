//! The spine: tenants, users, user tokens, instances, instance tokens, daily counters.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Uuid,
    Name,
    RateLimitRequests,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Uuid,
    TenantId,
    Name,
    Email,
    PasswordHash,
    Role,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserTokens {
    Table,
    Id,
    UserId,
    TenantId,
    Name,
    TokenHash,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
    Uuid,
    TenantId,
    Name,
    Engine,
    Status,
    PhoneNumber,
    DailyLimit,
    LastActivityAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InstanceTokens {
    Table,
    Id,
    Uuid,
    TenantId,
    InstanceId,
    Name,
    TokenHash,
    TokenPrefix,
    TokenLast4,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum InstanceDailyStats {
    Table,
    InstanceId,
    Day,
    Sent,
    Received,
}

fn id_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn ts<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn ts_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(id_col(Tenants::Id))
                    .col(ColumnDef::new(Tenants::Uuid).uuid().not_null().unique_key())
                    .col(ColumnDef::new(Tenants::Name).string_len(255).not_null())
                    .col(ColumnDef::new(Tenants::RateLimitRequests).integer().null())
                    .col(ts(Tenants::CreatedAt))
                    .col(ts(Tenants::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id_col(Users::Id))
                    .col(ColumnDef::new(Users::Uuid).uuid().not_null().unique_key())
                    .col(ColumnDef::new(Users::TenantId).big_integer().not_null())
                    .col(ColumnDef::new(Users::Name).string_len(255).not_null())
                    .col(
                        ColumnDef::new(Users::Email)
                            .string_len(255)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Users::PasswordHash)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Users::Role).string_len(32).not_null())
                    .col(ts(Users::CreatedAt))
                    .col(ts(Users::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Users::Table, Users::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_users_tenant")
                    .table(Users::Table)
                    .col(Users::TenantId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UserTokens::Table)
                    .col(id_col(UserTokens::Id))
                    .col(ColumnDef::new(UserTokens::UserId).big_integer().not_null())
                    .col(
                        ColumnDef::new(UserTokens::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(UserTokens::Name).string_len(255).not_null())
                    .col(
                        ColumnDef::new(UserTokens::TokenHash)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ts_null(UserTokens::LastUsedAt))
                    .col(ts_null(UserTokens::ExpiresAt))
                    .col(ts_null(UserTokens::RevokedAt))
                    .col(ts(UserTokens::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserTokens::Table, UserTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_tokens_user")
                    .table(UserTokens::Table)
                    .col(UserTokens::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Instances::Table)
                    .col(id_col(Instances::Id))
                    .col(
                        ColumnDef::new(Instances::Uuid)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Instances::TenantId).big_integer().not_null())
                    .col(ColumnDef::new(Instances::Name).string_len(255).not_null())
                    .col(ColumnDef::new(Instances::Engine).string_len(32).not_null())
                    .col(ColumnDef::new(Instances::Status).string_len(32).not_null())
                    .col(ColumnDef::new(Instances::PhoneNumber).string_len(32).null())
                    .col(ColumnDef::new(Instances::DailyLimit).integer().not_null())
                    .col(ts_null(Instances::LastActivityAt))
                    .col(ts(Instances::CreatedAt))
                    .col(ts(Instances::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Instances::Table, Instances::TenantId)
                            .to(Tenants::Table, Tenants::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_instances_tenant_status")
                    .table(Instances::Table)
                    .col(Instances::TenantId)
                    .col(Instances::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InstanceTokens::Table)
                    .col(id_col(InstanceTokens::Id))
                    .col(
                        ColumnDef::new(InstanceTokens::Uuid)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(InstanceTokens::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InstanceTokens::InstanceId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InstanceTokens::Name)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InstanceTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(InstanceTokens::TokenPrefix)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(InstanceTokens::TokenLast4)
                            .string_len(8)
                            .not_null(),
                    )
                    .col(ts_null(InstanceTokens::LastUsedAt))
                    .col(ts_null(InstanceTokens::ExpiresAt))
                    .col(ts_null(InstanceTokens::RevokedAt))
                    .col(ts(InstanceTokens::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(InstanceTokens::Table, InstanceTokens::InstanceId)
                            .to(Instances::Table, Instances::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_instance_tokens_instance")
                    .table(InstanceTokens::Table)
                    .col(InstanceTokens::InstanceId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InstanceDailyStats::Table)
                    .col(
                        ColumnDef::new(InstanceDailyStats::InstanceId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(InstanceDailyStats::Day).date().not_null())
                    .col(
                        ColumnDef::new(InstanceDailyStats::Sent)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(InstanceDailyStats::Received)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(InstanceDailyStats::InstanceId)
                            .col(InstanceDailyStats::Day),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(InstanceDailyStats::Table, InstanceDailyStats::InstanceId)
                            .to(Instances::Table, Instances::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            InstanceDailyStats::Table.into_iden(),
            InstanceTokens::Table.into_iden(),
            Instances::Table.into_iden(),
            UserTokens::Table.into_iden(),
            Users::Table.into_iden(),
            Tenants::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
