//! `GET /health`: liveness and database reachability, and `GET /health/ready`: readiness
//! (database, migrations, gRPC listener); both without authentication. Also `GET /metrics` on
//! the API port, behind the metrics token (rendered by `http::metrics`).

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use secrecy::ExposeSecret;
use serde::Serialize;
use serde_json::json;
use zapini_shared::error::{ErrorBody, ErrorCode};
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

/// `GET /metrics` on the API port: only with `ZAPINI_METRICS_TOKEN` configured (404 like any
/// unknown route otherwise), and only for `Authorization: Bearer <that token>` (401).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "Health",
    operation_id = "metrics_scrape",
    summary = "Prometheus metrics (with ZAPINI_METRICS_TOKEN only)",
    security(("metrics_token" = [])),
    responses(
        (status = 200, description = "The Prometheus text format.", content_type = "text/plain", body = String),
        (status = 401, description = "The metrics token is missing or wrong (`UNAUTHENTICATED`).", body = zapini_shared::error::ErrorEnvelope),
        (status = 404, description = "No `ZAPINI_METRICS_TOKEN` is configured: not served on the API port (`NOT_FOUND`).", body = zapini_shared::error::ErrorEnvelope),
    )
)]
pub async fn api_scrape(State(state): State<AppState>, req: Request) -> Response {
    let Some(token) = &state.services.config.metrics.token else {
        return super::error::envelope(ErrorBody::new(
            ErrorCode::NotFound,
            format!("No route for {} {}.", req.method(), req.uri().path()),
        ));
    };
    let presented = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    if !zapini_shared::metrics::bearer_matches(presented, token.expose_secret()) {
        let mut resp = super::error::envelope(ErrorBody::new(
            ErrorCode::Unauthenticated,
            "The metrics token is missing or wrong (Authorization: Bearer <ZAPINI_METRICS_TOKEN>).",
        ));
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return resp;
    }
    crate::http::metrics::render(&state.services).await
}
