//! One authenticated call of an External Function: when, from where, the outcome, and the
//! request and answer with the key and credentials redacted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "external_function_logs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub uuid: Uuid,
    pub tenant_id: i64,
    pub instance_id: i64,
    pub function_id: i64,
    /// The client's address as the rate limiter sees it.
    pub client_ip: String,
    /// The status the caller was answered.
    pub http_status: i32,
    pub success: bool,
    /// The error's reference code, for a refused or failed call.
    pub error_code: Option<String>,
    pub duration_ms: i64,
    /// `{"method", "path", "headers", "body"}`, secrets redacted.
    pub request: Json,
    /// The answer's JSON envelope, secrets redacted.
    pub response: Option<Json>,
    pub created_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
