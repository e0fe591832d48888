//! The automation engine: each flow's definition and each integration's configuration, the
//! settings every automation has (trigger, priority, expiry, debounce, reply delivery, ...),
//! one session per conversation, the turns that answer incoming messages (keyed by the
//! message, so a replay adds nothing), and which automation sent a message.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum AutomationFlows {
    Table,
    Definition,
    Settings,
    Priority,
    Version,
}

#[derive(DeriveIden, Clone, Copy)]
enum AutomationIntegrations {
    Table,
    Config,
    Settings,
    Priority,
}

#[derive(DeriveIden, Clone, Copy)]
enum Messages {
    Table,
    AutomationSessionId,
    AutomationRef,
}

#[derive(DeriveIden)]
enum AutomationSessions {
    Table,
    Id,
    Uuid,
    TenantId,
    InstanceId,
    ConversationId,
    AutomationKind,
    AutomationId,
    Status,
    State,
    Snapshot,
    PauseReason,
    CloseReason,
    TurnCount,
    ReplyCount,
    PromptTokens,
    CompletionTokens,
    LastMessageAt,
    ExpiresAt,
    WakeAt,
    CreatedAt,
    UpdatedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum AutomationTurns {
    Table,
    Id,
    TenantId,
    InstanceId,
    ConversationId,
    MessageId,
    Status,
    NotBefore,
    LeaseOwner,
    LeaseUntil,
    Attempts,
    SessionId,
    Plan,
    SentCount,
    Error,
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

async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    col: ColumnDef,
) -> Result<(), DbErr> {
    let mut col = col;
    manager
        .alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds a single column per ALTER TABLE.
        add(
            manager,
            AutomationFlows::Table,
            ColumnDef::new(AutomationFlows::Definition)
                .json()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            AutomationFlows::Table,
            ColumnDef::new(AutomationFlows::Settings)
                .json()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            AutomationFlows::Table,
            ColumnDef::new(AutomationFlows::Priority)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
        )
        .await?;
        add(
            manager,
            AutomationFlows::Table,
            ColumnDef::new(AutomationFlows::Version)
                .integer()
                .not_null()
                .default(1)
                .to_owned(),
        )
        .await?;
        add(
            manager,
            AutomationIntegrations::Table,
            ColumnDef::new(AutomationIntegrations::Config)
                .json()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            AutomationIntegrations::Table,
            ColumnDef::new(AutomationIntegrations::Settings)
                .json()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            AutomationIntegrations::Table,
            ColumnDef::new(AutomationIntegrations::Priority)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
        )
        .await?;
        add(
            manager,
            Messages::Table,
            ColumnDef::new(Messages::AutomationSessionId)
                .big_integer()
                .null()
                .to_owned(),
        )
        .await?;
        add(
            manager,
            Messages::Table,
            ColumnDef::new(Messages::AutomationRef)
                .string_len(128)
                .null()
                .to_owned(),
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AutomationSessions::Table)
                    .col(id_col(AutomationSessions::Id))
                    .col(
                        ColumnDef::new(AutomationSessions::Uuid)
                            .uuid()
                            .not_null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::InstanceId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::ConversationId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::AutomationKind)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::AutomationId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AutomationSessions::State).json().not_null())
                    .col(ColumnDef::new(AutomationSessions::Snapshot).json().null())
                    .col(
                        ColumnDef::new(AutomationSessions::PauseReason)
                            .string_len(255)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::CloseReason)
                            .string_len(64)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::TurnCount)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::ReplyCount)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::PromptTokens)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(AutomationSessions::CompletionTokens)
                            .big_integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ts(AutomationSessions::LastMessageAt))
                    .col(ts_null(AutomationSessions::ExpiresAt))
                    // A flow's wait step or question timeout: a timer turn is due then.
                    .col(ts_null(AutomationSessions::WakeAt))
                    .col(ts(AutomationSessions::CreatedAt))
                    .col(ts(AutomationSessions::UpdatedAt))
                    .col(ts_null(AutomationSessions::ClosedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_automation_sessions_conversation")
                    .table(AutomationSessions::Table)
                    .col(AutomationSessions::ConversationId)
                    .col(AutomationSessions::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_automation_sessions_tenant")
                    .table(AutomationSessions::Table)
                    .col(AutomationSessions::TenantId)
                    .col(AutomationSessions::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_automation_sessions_wake")
                    .table(AutomationSessions::Table)
                    .col(AutomationSessions::WakeAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_automation_sessions_expiry")
                    .table(AutomationSessions::Table)
                    .col(AutomationSessions::Status)
                    .col(AutomationSessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AutomationTurns::Table)
                    .col(id_col(AutomationTurns::Id))
                    .col(
                        ColumnDef::new(AutomationTurns::TenantId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationTurns::InstanceId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AutomationTurns::ConversationId)
                            .big_integer()
                            .not_null(),
                    )
                    // The incoming message it answers: one turn per message, ever (`NULL`
                    // for a timer turn: a flow's wait or question timeout).
                    .col(
                        ColumnDef::new(AutomationTurns::MessageId)
                            .big_integer()
                            .null()
                            .unique_key(),
                    )
                    .col(
                        ColumnDef::new(AutomationTurns::Status)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(ts(AutomationTurns::NotBefore))
                    .col(
                        ColumnDef::new(AutomationTurns::LeaseOwner)
                            .string_len(64)
                            .null(),
                    )
                    .col(ts_null(AutomationTurns::LeaseUntil))
                    .col(
                        ColumnDef::new(AutomationTurns::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(AutomationTurns::SessionId)
                            .big_integer()
                            .null(),
                    )
                    .col(ColumnDef::new(AutomationTurns::Plan).json().null())
                    .col(
                        ColumnDef::new(AutomationTurns::SentCount)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(AutomationTurns::Error)
                            .string_len(512)
                            .null(),
                    )
                    .col(ts(AutomationTurns::CreatedAt))
                    .col(ts(AutomationTurns::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_automation_turns_due")
                    .table(AutomationTurns::Table)
                    .col(AutomationTurns::Status)
                    .col(AutomationTurns::NotBefore)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_automation_turns_conversation")
                    .table(AutomationTurns::Table)
                    .col(AutomationTurns::ConversationId)
                    .col(AutomationTurns::Status)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AutomationTurns::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AutomationSessions::Table).to_owned())
            .await?;
        for (table, col) in [
            (
                AutomationFlows::Table.into_iden(),
                AutomationFlows::Definition.into_iden(),
            ),
            (
                AutomationFlows::Table.into_iden(),
                AutomationFlows::Settings.into_iden(),
            ),
            (
                AutomationFlows::Table.into_iden(),
                AutomationFlows::Priority.into_iden(),
            ),
            (
                AutomationFlows::Table.into_iden(),
                AutomationFlows::Version.into_iden(),
            ),
            (
                AutomationIntegrations::Table.into_iden(),
                AutomationIntegrations::Config.into_iden(),
            ),
            (
                AutomationIntegrations::Table.into_iden(),
                AutomationIntegrations::Settings.into_iden(),
            ),
            (
                AutomationIntegrations::Table.into_iden(),
                AutomationIntegrations::Priority.into_iden(),
            ),
            (
                Messages::Table.into_iden(),
                Messages::AutomationSessionId.into_iden(),
            ),
            (
                Messages::Table.into_iden(),
                Messages::AutomationRef.into_iden(),
            ),
        ] {
            manager
                .alter_table(Table::alter().table(table).drop_column(col).to_owned())
                .await?;
        }
        Ok(())
    }
}
