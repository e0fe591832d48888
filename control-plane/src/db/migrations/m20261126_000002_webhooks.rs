//! Outgoing webhooks: one endpoint per instance (URL, encrypted secret, events), the outbox of
//! deliveries written in the same transaction as the state change that caused them, and the
//! log of every delivery attempt.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum WebhookEndpoints {
    Table,
    Id,
    TenantId,
    InstanceId,
    Url,
    SecretEnc,
    PreviousSecretEnc,
    PreviousSecretUntil,
    Events,
    IsActive,
    FailingSince,
    DisabledAt,
    DisabledReason,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDeliveries {
    Table,
    Id,
    Uuid,
    TenantId,
    InstanceId,
    InstanceUuid,
    EndpointId,
    Event,
    OrderingKey,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LeasedUntil,
    LeaseOwner,
    LastStatusCode,
    LastError,
    LastLatencyMs,
    CreatedAt,
    DeliveredAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookAttempts {
    Table,
    Id,
    DeliveryId,
    InstanceId,
    Attempt,
    StatusCode,
    LatencyMs,
    Error,
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

fn big<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoints::Table)
                    .col(id_col(WebhookEndpoints::Id))
                    .col(big(WebhookEndpoints::TenantId))
                    .col(big(WebhookEndpoints::InstanceId).unique_key().to_owned())
                    .col(ColumnDef::new(WebhookEndpoints::Url).text().not_null())
                    .col(
                        ColumnDef::new(WebhookEndpoints::SecretEnc)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookEndpoints::PreviousSecretEnc)
                            .text()
                            .null(),
                    )
                    .col(ts_null(WebhookEndpoints::PreviousSecretUntil))
                    .col(ColumnDef::new(WebhookEndpoints::Events).text().null())
                    .col(
                        ColumnDef::new(WebhookEndpoints::IsActive)
                            .boolean()
                            .not_null()
                            .default(true),
                    )
                    .col(ts_null(WebhookEndpoints::FailingSince))
                    .col(ts_null(WebhookEndpoints::DisabledAt))
                    .col(
                        ColumnDef::new(WebhookEndpoints::DisabledReason)
                            .text()
                            .null(),
                    )
                    .col(ts(WebhookEndpoints::CreatedAt))
                    .col(ts(WebhookEndpoints::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookEndpoints::Table, WebhookEndpoints::InstanceId)
                            .to(Instances::Table, Instances::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDeliveries::Table)
                    .col(id_col(WebhookDeliveries::Id))
                    .col(
                        ColumnDef::new(WebhookDeliveries::Uuid)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(big(WebhookDeliveries::TenantId))
                    .col(big(WebhookDeliveries::InstanceId))
                    .col(
                        ColumnDef::new(WebhookDeliveries::InstanceUuid)
                            .uuid()
                            .not_null(),
                    )
                    .col(big(WebhookDeliveries::EndpointId))
                    .col(
                        ColumnDef::new(WebhookDeliveries::Event)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::OrderingKey)
                            .string_len(160)
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::Payload).text().not_null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ts(WebhookDeliveries::NextAttemptAt))
                    .col(ts_null(WebhookDeliveries::LeasedUntil))
                    .col(
                        ColumnDef::new(WebhookDeliveries::LeaseOwner)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WebhookDeliveries::LastStatusCode)
                            .integer()
                            .null(),
                    )
                    .col(ColumnDef::new(WebhookDeliveries::LastError).text().null())
                    .col(
                        ColumnDef::new(WebhookDeliveries::LastLatencyMs)
                            .integer()
                            .null(),
                    )
                    .col(ts(WebhookDeliveries::CreatedAt))
                    .col(ts_null(WebhookDeliveries::DeliveredAt))
                    .col(ts(WebhookDeliveries::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::InstanceId)
                            .to(Instances::Table, Instances::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDeliveries::Table, WebhookDeliveries::EndpointId)
                            .to(WebhookEndpoints::Table, WebhookEndpoints::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The dispatcher's scan: pending deliveries in order.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_pending")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        // An endpoint's pending deliveries, and the head of each ordered stream (endpoint,
        // conversation): status before the key, so a scan of pending rows never walks the
        // delivered ones.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_stream")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::EndpointId)
                    .col(WebhookDeliveries::Status)
                    .col(WebhookDeliveries::OrderingKey)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        // The delivery log of an instance, newest first.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_instance")
                    .table(WebhookDeliveries::Table)
                    .col(WebhookDeliveries::InstanceId)
                    .col(WebhookDeliveries::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookAttempts::Table)
                    .col(id_col(WebhookAttempts::Id))
                    .col(big(WebhookAttempts::DeliveryId))
                    .col(big(WebhookAttempts::InstanceId))
                    .col(
                        ColumnDef::new(WebhookAttempts::Attempt)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookAttempts::StatusCode).integer().null())
                    .col(
                        ColumnDef::new(WebhookAttempts::LatencyMs)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookAttempts::Error).text().null())
                    .col(ts(WebhookAttempts::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookAttempts::Table, WebhookAttempts::DeliveryId)
                            .to(WebhookDeliveries::Table, WebhookDeliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_attempts_delivery")
                    .table(WebhookAttempts::Table)
                    .col(WebhookAttempts::DeliveryId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            WebhookAttempts::Table.into_iden(),
            WebhookDeliveries::Table.into_iden(),
            WebhookEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
