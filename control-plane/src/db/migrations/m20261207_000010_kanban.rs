//! Kanban pipelines: boards of an instance (`kanban_boards`; at most one default per instance,
//! enforced by the unique `default_instance_id`, set only on the default board), their
//! ordered columns (`kanban_columns`), the leads in them (`kanban_leads`: money in integer
//! cents, soft-deleted with `deleted_at`, at most one per appointment) and every change to a
//! lead (`kanban_lead_activities`, notes included). Deleting an instance deletes its boards,
//! and a board its columns, leads and activities; a deleted contact or conversation unlinks
//! its leads.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Instances {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Contacts {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum KanbanBoards {
    Table,
    Id,
    Uuid,
    TenantId,
    InstanceId,
    Name,
    Description,
    IsDefault,
    DefaultInstanceId,
    Settings,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum KanbanColumns {
    Table,
    Id,
    Uuid,
    TenantId,
    BoardId,
    Name,
    Color,
    Position,
    Settings,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum KanbanLeads {
    Table,
    Id,
    Uuid,
    TenantId,
    InstanceId,
    BoardId,
    ColumnId,
    Position,
    Title,
    PhoneNumber,
    Email,
    ValueCents,
    Priority,
    Status,
    Source,
    CustomFields,
    ContactId,
    ConversationId,
    AppointmentId,
    AiScore,
    AiSummary,
    AiNextStep,
    AiQualifiedAt,
    LostReason,
    ClosedAt,
    CloseSeconds,
    DeletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum KanbanLeadActivities {
    Table,
    Id,
    Uuid,
    TenantId,
    LeadId,
    Kind,
    Field,
    OldValue,
    NewValue,
    Content,
    ActorType,
    ActorName,
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

fn big_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).big_integer().null().to_owned()
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

fn uuid_col<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .uuid()
        .not_null()
        .unique_key()
        .to_owned()
}

fn text_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).text().null().to_owned()
}

fn string<T: IntoIden>(name: T, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).not_null().to_owned()
}

fn string_null<T: IntoIden>(name: T, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).null().to_owned()
}

async fn index(
    manager: &SchemaManager<'_>,
    name: &str,
    table: impl IntoTableRef,
    cols: Vec<DynIden>,
    unique: bool,
) -> Result<(), DbErr> {
    let mut i = Index::create();
    i.name(name).table(table);
    for c in cols {
        i.col(c);
    }
    if unique {
        i.unique();
    }
    manager.create_index(i.to_owned()).await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(KanbanBoards::Table)
                    .col(id_col(KanbanBoards::Id))
                    .col(uuid_col(KanbanBoards::Uuid))
                    .col(big(KanbanBoards::TenantId))
                    .col(big(KanbanBoards::InstanceId))
                    .col(string(KanbanBoards::Name, 255))
                    .col(text_null(KanbanBoards::Description))
                    .col(
                        ColumnDef::new(KanbanBoards::IsDefault)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(big_null(KanbanBoards::DefaultInstanceId))
                    .col(ColumnDef::new(KanbanBoards::Settings).json().null())
                    .col(ts(KanbanBoards::CreatedAt))
                    .col(ts(KanbanBoards::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(KanbanBoards::Table, KanbanBoards::InstanceId)
                            .to(Instances::Table, Instances::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_kanban_boards_tenant_instance",
            KanbanBoards::Table,
            vec![
                KanbanBoards::TenantId.into_iden(),
                KanbanBoards::InstanceId.into_iden(),
                KanbanBoards::Id.into_iden(),
            ],
            false,
        )
        .await?;
        // NULL on every board but the default one: one default per instance.
        index(
            manager,
            "uq_kanban_boards_default",
            KanbanBoards::Table,
            vec![KanbanBoards::DefaultInstanceId.into_iden()],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(KanbanColumns::Table)
                    .col(id_col(KanbanColumns::Id))
                    .col(uuid_col(KanbanColumns::Uuid))
                    .col(big(KanbanColumns::TenantId))
                    .col(big(KanbanColumns::BoardId))
                    .col(string(KanbanColumns::Name, 255))
                    .col(string(KanbanColumns::Color, 16))
                    .col(ColumnDef::new(KanbanColumns::Position).integer().not_null())
                    .col(ColumnDef::new(KanbanColumns::Settings).json().null())
                    .col(ts(KanbanColumns::CreatedAt))
                    .col(ts(KanbanColumns::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(KanbanColumns::Table, KanbanColumns::BoardId)
                            .to(KanbanBoards::Table, KanbanBoards::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_kanban_columns_board",
            KanbanColumns::Table,
            vec![
                KanbanColumns::BoardId.into_iden(),
                KanbanColumns::Position.into_iden(),
            ],
            false,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(KanbanLeads::Table)
                    .col(id_col(KanbanLeads::Id))
                    .col(uuid_col(KanbanLeads::Uuid))
                    .col(big(KanbanLeads::TenantId))
                    .col(big(KanbanLeads::InstanceId))
                    .col(big(KanbanLeads::BoardId))
                    .col(big(KanbanLeads::ColumnId))
                    .col(big(KanbanLeads::Position))
                    .col(string(KanbanLeads::Title, 255))
                    .col(string_null(KanbanLeads::PhoneNumber, 32))
                    .col(string_null(KanbanLeads::Email, 255))
                    .col(big_null(KanbanLeads::ValueCents))
                    .col(string(KanbanLeads::Priority, 16))
                    .col(string(KanbanLeads::Status, 16))
                    .col(string(KanbanLeads::Source, 32))
                    .col(ColumnDef::new(KanbanLeads::CustomFields).json().null())
                    .col(big_null(KanbanLeads::ContactId))
                    .col(big_null(KanbanLeads::ConversationId))
                    .col(big_null(KanbanLeads::AppointmentId))
                    .col(ColumnDef::new(KanbanLeads::AiScore).integer().null())
                    .col(text_null(KanbanLeads::AiSummary))
                    .col(text_null(KanbanLeads::AiNextStep))
                    .col(ts_null(KanbanLeads::AiQualifiedAt))
                    .col(text_null(KanbanLeads::LostReason))
                    .col(ts_null(KanbanLeads::ClosedAt))
                    .col(big_null(KanbanLeads::CloseSeconds))
                    .col(ts_null(KanbanLeads::DeletedAt))
                    .col(ts(KanbanLeads::CreatedAt))
                    .col(ts(KanbanLeads::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(KanbanLeads::Table, KanbanLeads::BoardId)
                            .to(KanbanBoards::Table, KanbanBoards::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(KanbanLeads::Table, KanbanLeads::ColumnId)
                            .to(KanbanColumns::Table, KanbanColumns::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(KanbanLeads::Table, KanbanLeads::ContactId)
                            .to(Contacts::Table, Contacts::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(KanbanLeads::Table, KanbanLeads::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // The board's list by status (newest first), and all statuses.
        index(
            manager,
            "idx_kanban_leads_board_status",
            KanbanLeads::Table,
            vec![
                KanbanLeads::BoardId.into_iden(),
                KanbanLeads::DeletedAt.into_iden(),
                KanbanLeads::Status.into_iden(),
                KanbanLeads::Id.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "idx_kanban_leads_board",
            KanbanLeads::Table,
            vec![
                KanbanLeads::BoardId.into_iden(),
                KanbanLeads::DeletedAt.into_iden(),
                KanbanLeads::Id.into_iden(),
            ],
            false,
        )
        .await?;
        // A column's leads in order: of one status (the list's default is `open`), and all.
        index(
            manager,
            "idx_kanban_leads_column_status",
            KanbanLeads::Table,
            vec![
                KanbanLeads::ColumnId.into_iden(),
                KanbanLeads::DeletedAt.into_iden(),
                KanbanLeads::Status.into_iden(),
                KanbanLeads::Position.into_iden(),
                KanbanLeads::Id.into_iden(),
            ],
            false,
        )
        .await?;
        index(
            manager,
            "idx_kanban_leads_column",
            KanbanLeads::Table,
            vec![
                KanbanLeads::ColumnId.into_iden(),
                KanbanLeads::DeletedAt.into_iden(),
                KanbanLeads::Position.into_iden(),
                KanbanLeads::Id.into_iden(),
            ],
            false,
        )
        .await?;
        // One lead per appointment (NULLs are distinct).
        index(
            manager,
            "uq_kanban_leads_appointment",
            KanbanLeads::Table,
            vec![KanbanLeads::AppointmentId.into_iden()],
            true,
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(KanbanLeadActivities::Table)
                    .col(id_col(KanbanLeadActivities::Id))
                    .col(uuid_col(KanbanLeadActivities::Uuid))
                    .col(big(KanbanLeadActivities::TenantId))
                    .col(big(KanbanLeadActivities::LeadId))
                    .col(string(KanbanLeadActivities::Kind, 32))
                    .col(string_null(KanbanLeadActivities::Field, 64))
                    .col(text_null(KanbanLeadActivities::OldValue))
                    .col(text_null(KanbanLeadActivities::NewValue))
                    .col(text_null(KanbanLeadActivities::Content))
                    .col(string(KanbanLeadActivities::ActorType, 32))
                    .col(string_null(KanbanLeadActivities::ActorName, 255))
                    .col(ts(KanbanLeadActivities::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(KanbanLeadActivities::Table, KanbanLeadActivities::LeadId)
                            .to(KanbanLeads::Table, KanbanLeads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        index(
            manager,
            "idx_kanban_lead_activities_lead",
            KanbanLeadActivities::Table,
            vec![
                KanbanLeadActivities::LeadId.into_iden(),
                KanbanLeadActivities::Id.into_iden(),
            ],
            false,
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            KanbanLeadActivities::Table.into_iden(),
            KanbanLeads::Table.into_iden(),
            KanbanColumns::Table.into_iden(),
            KanbanBoards::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
