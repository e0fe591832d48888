//! One call of an AI Function (by the agent or a test): the arguments, the request as sent
//! with secrets redacted, and the outcome. `running` while the call is in flight.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "ai_function_executions")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub function_id: i64,
    pub conversation_id: Option<i64>,
    pub session_id: Option<i64>,
    pub arguments: Json,
    /// `None` when no call was made (the arguments were refused).
    pub request_method: Option<String>,
    /// The URL as called, secret query values redacted.
    #[sea_orm(column_type = "Text", nullable)]
    pub request_url: Option<String>,
    /// JSON object of the headers sent, credentials redacted.
    pub request_headers: Option<Json>,
    /// `running`, `success` or `error`.
    pub status: String,
    pub http_status: Option<i32>,
    /// The start of the response body (4 KiB), secrets redacted.
    #[sea_orm(column_type = "Text", nullable)]
    pub response_excerpt: Option<String>,
    pub response_truncated: bool,
    pub duration_ms: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    pub is_test: bool,
    pub created_at: ChronoDateTimeUtc,
    pub finished_at: Option<ChronoDateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
