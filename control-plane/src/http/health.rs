//! `GET /health`: liveness and database reachability, without authentication.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use chrono::Utc;
use serde_json::json;
use zapini_shared::time::format_millis;

use super::AppState;

#[utoipa::path(
    get,
    path = "/health",
    tag = "Health",
    operation_id = "health_health",
    security(()),
    responses((status = 200, description = "OK"))
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
        axum::Json(json!({
            "status": status,
            "uptime": uptime,
            "timestamp": format_millis(Utc::now()),
            "database": if db_ok { "ok" } else { "unreachable" },
        })),
    )
}
