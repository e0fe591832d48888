//! `GET /health`: liveness and database reachability, without authentication.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use serde::Serialize;
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
