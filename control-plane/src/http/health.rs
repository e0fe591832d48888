//! `GET /health`: liveness and database reachability, and `GET /health/ready`: readiness
//! (database, migrations, gRPC listener); both without authentication.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use serde::Serialize;
use serde_json::json;
use zapini_shared::time::format_millis;

use super::AppState;

/// The health answer (not wrapped in the success envelope, as the reference shows it).
#[derive(Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`, or `degraded` when the database does not answer.
    #[schema(example = "ok", pattern = "^(ok|degraded)$")]
    pub status: &'static str,
    /// Seconds since the process started.
    #[schema(minimum = 0, example = 123456)]
    pub uptime: u64,
    #[schema(format = DateTime, example = "2025-12-15T14:30:00.000Z")]
    pub timestamp: String,
    /// `ok` or `unreachable`.
    #[schema(example = "ok", pattern = "^(ok|unreachable)$")]
    pub database: &'static str,
}

/// Health check
///
/// Returns the health status of the API server. No authentication required.
#[utoipa::path(
    get,
    path = "/health",
    tag = "Health",
    operation_id = "health_health",
    security(()),
    responses(
        (status = 200, description = "The server is up and its database answers.", body = Health,
            example = json!({"status": "ok", "uptime": 123456, "timestamp": "2025-12-15T14:30:00.000Z", "database": "ok"})),
        (status = 503, description = "The database does not answer: the same body with `status` `degraded`.", body = Health,
            example = json!({"status": "degraded", "uptime": 123456, "timestamp": "2025-12-15T14:30:00.000Z", "database": "unreachable"})),
    )
)]
pub async fn health(State(state): State<AppState>) -> impl IntoResponse {
    let uptime = state.started_at.elapsed().as_secs();
    let db_ok = state.services.db.ping().await.is_ok();
    let status = if db_ok { "ok" } else { "degraded" };
    let code = if db_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        axum::Json(Health {
            status,
            uptime,
            timestamp: format_millis(Utc::now()),
            database: if db_ok { "ok" } else { "unreachable" },
        }),
    )
}

/// `GET /health/ready`: whether this control plane can do its work, for orchestrators (a
/// readiness probe; `/health` stays the liveness one). Ready when the database answers, no
/// migration is pending, and the gRPC listener nodes call is serving (an app built without
/// one, like a CLI tool, does not need it). Otherwise 503 `SERVICE_UNAVAILABLE` naming what
/// is not ready, with each check in `details`.
#[utoipa::path(
    get,
    path = "/health/ready",
    tag = "Health",
    operation_id = "health_ready",
    security(()),
    responses(
        (status = 200, description = "Ready: the database answers, migrations are applied, the gRPC listener is serving.", body = Object,
            example = json!({"status": "ready", "timestamp": "2025-12-15T14:30:00.000Z", "checks": {"database": "ok", "migrations": "ok", "grpc": "ok"}})),
        (status = 503, description = "Not ready (`SERVICE_UNAVAILABLE`); `details.checks` has each check (`database`: ok/unreachable, `migrations`: ok/pending/unknown, `grpc`: ok/not_listening/disabled).",
            body = zapini_shared::error::ErrorEnvelope),
    )
)]
pub async fn ready(State(state): State<AppState>) -> axum::response::Response {
    use crate::db::migrations::Migrator;
    use sea_orm_migration::MigratorTrait;

    let services = &state.services;
    let database = services.db.ping().await.is_ok();
    let migrations = if database {
        Migrator::get_pending_migrations(&services.db)
            .await
            .map(|pending| pending.len())
            .ok()
    } else {
        None
    };
    let grpc = services.metrics.grpc_listening();
    let mut problems = Vec::new();
    if !database {
        problems.push("the database does not answer".to_owned());
    }
    match migrations {
        Some(0) => {}
        Some(n) => problems.push(format!(
            "{n} database migration{} not applied",
            if n == 1 { " is" } else { "s are" }
        )),
        None if database => problems.push("the migrations cannot be read".to_owned()),
        None => {}
    }
    if grpc == Some(false) {
        problems.push("the gRPC listener for nodes is not serving".to_owned());
    }
    let checks = json!({
        "database": if database { "ok" } else { "unreachable" },
        "migrations": match migrations {
            Some(0) => "ok",
            Some(_) => "pending",
            None => "unknown",
        },
        "grpc": match grpc {
            None => "disabled",
            Some(true) => "ok",
            Some(false) => "not_listening",
        },
    });
    if problems.is_empty() {
        return (
            StatusCode::OK,
            axum::Json(json!({
                "status": "ready",
                "timestamp": format_millis(Utc::now()),
                "checks": checks,
            })),
        )
            .into_response();
    }
    super::error::envelope(
        zapini_shared::error::ErrorBody::new(
            zapini_shared::error::ErrorCode::ServiceUnavailable,
            format!("Not ready: {}.", problems.join("; ")),
        )
        .with_details(json!({ "checks": checks })),
    )
}
