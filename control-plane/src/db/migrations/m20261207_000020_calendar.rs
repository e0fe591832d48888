//! The Calendar: appointments (`appointments`, each on one instance, listed by start time)
//! and the durable scheduler's jobs (`scheduled_jobs`: one row per kind and subject with a due
//! time, claimed with a lease; the appointment reminder is its first kind).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Appointments {
    Table,
    Id,
    Uuid,
    TenantId,
    InstanceId,
    Title,
    Description,
    ClientName,
    ClientPhone,
    ClientEmail,
    StartsAt,
    EndsAt,
    Status,
    Color,
    ReminderMinutes,
    Location,
    Notes,
    ReminderSentAt,
    ConfirmedAt,
    CompletedAt,
    CancelledAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ScheduledJobs {
    Table,
    Id,
    Kind,
    Subject,
    TenantId,
    DueAt,
    LeaseOwner,
    LeaseUntil,
    Attempts,
    Done,
    LastError,
    CreatedAt,
    UpdatedAt,
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

fn text_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}

fn string_null<T: IntoIden>(name: T, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Appointments::Table)
                    .col(id_col(Appointments::Id))
                    .col(
                        ColumnDef::new(Appointments::Uuid)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(Appointments::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Appointments::InstanceId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Appointments::Title)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(text_null(Appointments::Description))
                    .col(string_null(Appointments::ClientName, 255))
                    .col(string_null(Appointments::ClientPhone, 32))
                    .col(string_null(Appointments::ClientEmail, 255))
                    .col(ts(Appointments::StartsAt))
                    .col(ts(Appointments::EndsAt))
                    .col(
                        ColumnDef::new(Appointments::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Appointments::Color).string_len(7).not_null())
                    .col(
                        ColumnDef::new(Appointments::ReminderMinutes)
                            .integer()
                            .null(),
                    )
                    .col(text_null(Appointments::Location))
                    .col(text_null(Appointments::Notes))
                    .col(ts_null(Appointments::ReminderSentAt))
                    .col(ts_null(Appointments::ConfirmedAt))
                    .col(ts_null(Appointments::CompletedAt))
                    .col(ts_null(Appointments::CancelledAt))
                    .col(ts(Appointments::CreatedAt))
                    .col(ts(Appointments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // The list: a tenant's (or an instance's) appointments of a range, by start time,
        // optionally of one status.
        let indexes: [(&str, Vec<Appointments>); 4] = [
            (
                "idx_appointments_tenant_start",
                vec![Appointments::TenantId, Appointments::StartsAt],
            ),
            (
                "idx_appointments_tenant_status_start",
                vec![
                    Appointments::TenantId,
                    Appointments::Status,
                    Appointments::StartsAt,
                ],
            ),
            (
                "idx_appointments_instance_start",
                vec![Appointments::InstanceId, Appointments::StartsAt],
            ),
            (
                "idx_appointments_instance_status_start",
                vec![
                    Appointments::InstanceId,
                    Appointments::Status,
                    Appointments::StartsAt,
                ],
            ),
        ];
        for (name, cols) in indexes {
            let mut index = Index::create();
            index.name(name).table(Appointments::Table);
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ScheduledJobs::Table)
                    .col(id_col(ScheduledJobs::Id))
                    .col(
                        ColumnDef::new(ScheduledJobs::Kind)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ScheduledJobs::Subject)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ScheduledJobs::TenantId).big_integer().null())
                    .col(ts(ScheduledJobs::DueAt))
                    .col(string_null(ScheduledJobs::LeaseOwner, 64))
                    .col(ts_null(ScheduledJobs::LeaseUntil))
                    .col(
                        ColumnDef::new(ScheduledJobs::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(ScheduledJobs::Done)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(text_null(ScheduledJobs::LastError))
                    .col(ts(ScheduledJobs::CreatedAt))
                    .col(ts(ScheduledJobs::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_scheduled_jobs_kind_subject")
                    .table(ScheduledJobs::Table)
                    .col(ScheduledJobs::Kind)
                    .col(ScheduledJobs::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The claim: due jobs not done, oldest due first.
        manager
            .create_index(
                Index::create()
                    .name("idx_scheduled_jobs_due")
                    .table(ScheduledJobs::Table)
                    .col(ScheduledJobs::Done)
                    .col(ScheduledJobs::DueAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ScheduledJobs::Table.into_iden(),
            Appointments::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
