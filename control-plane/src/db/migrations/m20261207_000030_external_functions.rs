//! External Functions: endpoints outside systems call with a key of their own to act on
//! WhatsApp through one instance (`external_functions`: one slug per tenant, the key stored as
//! a SHA-256 only, the day's call counter beside the row so it is counted atomically), and
//! the log of every authenticated call (`external_function_logs`). Deleting a function
//! deletes its log.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ExternalFunctions {
    Table,
    Id,
    Uuid,
    TenantId,
    InstanceId,
    Name,
    Slug,
    ActionType,
    Description,
    Config,
    RateLimit,
    AllowedIps,
    IsEnabled,
    ApiKeyHash,
    ApiKeyPrefix,
    CallsDay,
    CallsToday,
    CallsTotal,
    LastCalledAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ExternalFunctionLogs {
    Table,
    Id,
    Uuid,
    TenantId,
    InstanceId,
    FunctionId,
    ClientIp,
    HttpStatus,
    Success,
    ErrorCode,
    DurationMs,
    Request,
    Response,
    CreatedAt,
}

fn id_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn big<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

fn ts<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ExternalFunctions::Table)
                    .col(id_col(ExternalFunctions::Id))
                    .col(
                        ColumnDef::new(ExternalFunctions::Uuid)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(big(ExternalFunctions::TenantId))
                    .col(big(ExternalFunctions::InstanceId))
                    .col(
                        ColumnDef::new(ExternalFunctions::Name)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctions::Slug)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctions::ActionType)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExternalFunctions::Description).text().null())
                    .col(ColumnDef::new(ExternalFunctions::Config).json().not_null())
                    .col(
                        ColumnDef::new(ExternalFunctions::RateLimit)
                            .big_integer()
                            .not_null()
                            .default(1000),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctions::AllowedIps)
                            .json()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctions::IsEnabled)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctions::ApiKeyHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctions::ApiKeyPrefix)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctions::CallsDay)
                            .string_len(10)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctions::CallsToday)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctions::CallsTotal)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctions::LastCalledAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ts(ExternalFunctions::CreatedAt))
                    .col(ts(ExternalFunctions::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_external_functions_tenant_slug")
                    .table(ExternalFunctions::Table)
                    .col(ExternalFunctions::TenantId)
                    .col(ExternalFunctions::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_external_functions_tenant")
                    .table(ExternalFunctions::Table)
                    .col(ExternalFunctions::TenantId)
                    .col(ExternalFunctions::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_external_functions_instance")
                    .table(ExternalFunctions::Table)
                    .col(ExternalFunctions::InstanceId)
                    .col(ExternalFunctions::Id)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ExternalFunctionLogs::Table)
                    .col(id_col(ExternalFunctionLogs::Id))
                    .col(
                        ColumnDef::new(ExternalFunctionLogs::Uuid)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(big(ExternalFunctionLogs::TenantId))
                    .col(big(ExternalFunctionLogs::InstanceId))
                    .col(big(ExternalFunctionLogs::FunctionId))
                    .col(
                        ColumnDef::new(ExternalFunctionLogs::ClientIp)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctionLogs::HttpStatus)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctionLogs::Success)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ExternalFunctionLogs::ErrorCode)
                            .string_len(64)
                            .null(),
                    )
                    .col(big(ExternalFunctionLogs::DurationMs))
                    .col(
                        ColumnDef::new(ExternalFunctionLogs::Request)
                            .json()
                            .not_null(),
                    )
                    .col(ColumnDef::new(ExternalFunctionLogs::Response).json().null())
                    .col(ts(ExternalFunctionLogs::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                ExternalFunctionLogs::Table,
                                ExternalFunctionLogs::FunctionId,
                            )
                            .to(ExternalFunctions::Table, ExternalFunctions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_external_function_logs_function")
                    .table(ExternalFunctionLogs::Table)
                    .col(ExternalFunctionLogs::FunctionId)
                    .col(ExternalFunctionLogs::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ExternalFunctionLogs::Table.into_iden(),
            ExternalFunctions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
