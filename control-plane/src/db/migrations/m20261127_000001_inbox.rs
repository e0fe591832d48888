//! The inbox: contact details, conversation archive and automation state, tags, reactions,
//! automation flows and integrations, transcriptions, and the indexes that keep listing
//! conversations and paging history fast at scale.
//!
//! Longer than the ~600 lines a module gets elsewhere: it is one release's schema change,
//! applied as a unit, and a migration is never changed once it shipped (only comments).

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
    TenantId,
    Email,
    Company,
    Notes,
    IsBusiness,
    ProfilePictureUrl,
}

#[derive(DeriveIden)]
enum Conversations {
    Table,
    Id,
    TenantId,
    InstanceId,
    IsArchived,
    ArchivedAt,
    LastMessageAt,
    AutomationPaused,
    AutomationPausedAt,
    AutomationPausedBy,
    AutomationPauseReason,
}

#[derive(DeriveIden)]
enum Messages {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Tags {
    Table,
    Id,
    Uuid,
    TenantId,
    Name,
    Color,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ConversationTags {
    Table,
    ConversationId,
    TagId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum MessageReactions {
    Table,
    Id,
    MessageId,
    ReactorJid,
    FromMe,
    Emoji,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AutomationFlows {
    Table,
    Id,
    Uuid,
    TenantId,
    InstanceId,
    Name,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AutomationIntegrations {
    Table,
    Id,
    Uuid,
    TenantId,
    InstanceId,
    Name,
    IntegrationType,
    IsActive,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum MessageTranscriptions {
    Table,
    MessageId,
    TenantId,
    Status,
    Text,
    Language,
    Error,
    Attempts,
    LeasedUntil,
    CompletedAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InstanceInboxSettings {
    Table,
    InstanceId,
    AutoTranscribe,
    TranscriptionLanguage,
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

fn instance_fk<T: IntoIden + 'static>(table: T, col: T) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(table, col)
        .to(Instances::Table, Instances::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

async fn add_column(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + 'static,
    col: ColumnDef,
) -> Result<(), DbErr> {
    // SQLite accepts one column per ALTER TABLE.
    manager
        .alter_table(
            Table::alter()
                .table(table)
                .add_column(col.to_owned())
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Contacts: the reference's editable fields.
        add_column(
            manager,
            Contacts::Table,
            ColumnDef::new(Contacts::Email)
                .string_len(255)
                .null()
                .to_owned(),
        )
        .await?;
        add_column(
            manager,
            Contacts::Table,
            ColumnDef::new(Contacts::Company)
                .string_len(255)
                .null()
                .to_owned(),
        )
        .await?;
        add_column(
            manager,
            Contacts::Table,
            ColumnDef::new(Contacts::Notes).text().null().to_owned(),
        )
        .await?;
        add_column(
            manager,
            Contacts::Table,
            ColumnDef::new(Contacts::IsBusiness)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        )
        .await?;
        add_column(
            manager,
            Contacts::Table,
            ColumnDef::new(Contacts::ProfilePictureUrl)
                .string_len(1024)
                .null()
                .to_owned(),
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_contacts_tenant_id")
                    .table(Contacts::Table)
                    .col(Contacts::TenantId)
                    .col(Contacts::Id)
                    .to_owned(),
            )
            .await?;

        // Conversations: archive time and per-conversation automation state.
        add_column(
            manager,
            Conversations::Table,
            ts_null(Conversations::ArchivedAt),
        )
        .await?;
        add_column(
            manager,
            Conversations::Table,
            ColumnDef::new(Conversations::AutomationPaused)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
        )
        .await?;
        add_column(
            manager,
            Conversations::Table,
            ts_null(Conversations::AutomationPausedAt),
        )
        .await?;
        add_column(
            manager,
            Conversations::Table,
            ColumnDef::new(Conversations::AutomationPausedBy)
                .string_len(255)
                .null()
                .to_owned(),
        )
        .await?;
        add_column(
            manager,
            Conversations::Table,
            ColumnDef::new(Conversations::AutomationPauseReason)
                .string_len(500)
                .null()
                .to_owned(),
        )
        .await?;
        // The inbox lists a tenant's (or an instance's) active or archived conversations,
        // newest first: these indexes serve that order without sorting.
        manager
            .create_index(
                Index::create()
                    .name("idx_conversations_tenant_inbox")
                    .table(Conversations::Table)
                    .col(Conversations::TenantId)
                    .col(Conversations::IsArchived)
                    .col(Conversations::LastMessageAt)
                    .col(Conversations::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversations_instance_inbox")
                    .table(Conversations::Table)
                    .col(Conversations::InstanceId)
                    .col(Conversations::IsArchived)
                    .col(Conversations::LastMessageAt)
                    .col(Conversations::Id)
                    .to_owned(),
            )
            .await?;

        // Tags.
        manager
            .create_table(
                Table::create()
                    .table(Tags::Table)
                    .col(id_col(Tags::Id))
                    .col(ColumnDef::new(Tags::Uuid).uuid().not_null().unique_key())
                    .col(ColumnDef::new(Tags::TenantId).big_integer().not_null())
                    .col(ColumnDef::new(Tags::Name).string_len(50).not_null())
                    .col(ColumnDef::new(Tags::Color).string_len(7).not_null())
                    .col(ts(Tags::CreatedAt))
                    .col(ts(Tags::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_tags_tenant_name")
                    .table(Tags::Table)
                    .col(Tags::TenantId)
                    .col(Tags::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ConversationTags::Table)
                    .col(
                        ColumnDef::new(ConversationTags::ConversationId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ConversationTags::TagId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ts(ConversationTags::CreatedAt))
                    .primary_key(
                        Index::create()
                            .col(ConversationTags::ConversationId)
                            .col(ConversationTags::TagId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConversationTags::Table, ConversationTags::ConversationId)
                            .to(Conversations::Table, Conversations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ConversationTags::Table, ConversationTags::TagId)
                            .to(Tags::Table, Tags::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversation_tags_tag")
                    .table(ConversationTags::Table)
                    .col(ConversationTags::TagId)
                    .col(ConversationTags::ConversationId)
                    .to_owned(),
            )
            .await?;

        // Reactions: one per reactor and message (a new emoji replaces the old one).
        manager
            .create_table(
                Table::create()
                    .table(MessageReactions::Table)
                    .col(id_col(MessageReactions::Id))
                    .col(
                        ColumnDef::new(MessageReactions::MessageId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MessageReactions::ReactorJid)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MessageReactions::FromMe)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MessageReactions::Emoji)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(ts(MessageReactions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MessageReactions::Table, MessageReactions::MessageId)
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_message_reactions_reactor")
                    .table(MessageReactions::Table)
                    .col(MessageReactions::MessageId)
                    .col(MessageReactions::ReactorJid)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // Automation flows and integrations: entities with an active flag (their engines come
        // later).
        manager
            .create_table(
                Table::create()
                    .table(AutomationFlows::Table)
                    .col(id_col(AutomationFlows::Id))
                    .col(
                        ColumnDef::new(AutomationFlows::Uuid)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(AutomationFlows::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationFlows::InstanceId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationFlows::Name)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationFlows::IsActive)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ts(AutomationFlows::CreatedAt))
                    .col(ts(AutomationFlows::UpdatedAt))
                    .foreign_key(&mut instance_fk(
                        AutomationFlows::Table,
                        AutomationFlows::InstanceId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_automation_flows_instance")
                    .table(AutomationFlows::Table)
                    .col(AutomationFlows::InstanceId)
                    .col(AutomationFlows::IsActive)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AutomationIntegrations::Table)
                    .col(id_col(AutomationIntegrations::Id))
                    .col(
                        ColumnDef::new(AutomationIntegrations::Uuid)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(AutomationIntegrations::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationIntegrations::InstanceId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationIntegrations::Name)
                            .string_len(255)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationIntegrations::IntegrationType)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationIntegrations::IsActive)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ts(AutomationIntegrations::CreatedAt))
                    .col(ts(AutomationIntegrations::UpdatedAt))
                    .foreign_key(&mut instance_fk(
                        AutomationIntegrations::Table,
                        AutomationIntegrations::InstanceId,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_automation_integrations_instance")
                    .table(AutomationIntegrations::Table)
                    .col(AutomationIntegrations::InstanceId)
                    .col(AutomationIntegrations::IsActive)
                    .to_owned(),
            )
            .await?;

        // Transcriptions: one row per audio message, doubling as the job queue.
        manager
            .create_table(
                Table::create()
                    .table(MessageTranscriptions::Table)
                    .col(
                        ColumnDef::new(MessageTranscriptions::MessageId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(MessageTranscriptions::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MessageTranscriptions::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(MessageTranscriptions::Text).text().null())
                    .col(
                        ColumnDef::new(MessageTranscriptions::Language)
                            .string_len(16)
                            .null(),
                    )
                    .col(ColumnDef::new(MessageTranscriptions::Error).text().null())
                    .col(
                        ColumnDef::new(MessageTranscriptions::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ts_null(MessageTranscriptions::LeasedUntil))
                    .col(ts_null(MessageTranscriptions::CompletedAt))
                    .col(ts(MessageTranscriptions::CreatedAt))
                    .col(ts(MessageTranscriptions::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                MessageTranscriptions::Table,
                                MessageTranscriptions::MessageId,
                            )
                            .to(Messages::Table, Messages::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_message_transcriptions_status")
                    .table(MessageTranscriptions::Table)
                    .col(MessageTranscriptions::Status)
                    .col(MessageTranscriptions::LeasedUntil)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InstanceInboxSettings::Table)
                    .col(
                        ColumnDef::new(InstanceInboxSettings::InstanceId)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(InstanceInboxSettings::AutoTranscribe)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(
                        ColumnDef::new(InstanceInboxSettings::TranscriptionLanguage)
                            .string_len(16)
                            .null(),
                    )
                    .col(ts(InstanceInboxSettings::UpdatedAt))
                    .foreign_key(&mut instance_fk(
                        InstanceInboxSettings::Table,
                        InstanceInboxSettings::InstanceId,
                    ))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            InstanceInboxSettings::Table.into_iden(),
            MessageTranscriptions::Table.into_iden(),
            AutomationIntegrations::Table.into_iden(),
            AutomationFlows::Table.into_iden(),
            MessageReactions::Table.into_iden(),
            ConversationTags::Table.into_iden(),
            Tags::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for idx in [
            "idx_conversations_instance_inbox",
            "idx_conversations_tenant_inbox",
            "idx_contacts_tenant_id",
        ] {
            manager
                .drop_index(Index::drop().name(idx).to_owned())
                .await?;
        }
        Ok(())
    }
}
