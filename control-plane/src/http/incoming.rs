//! `POST /webhooks/instance/{uuid}/{incoming|status|qr|connection|reaction}`: reports from an
//! external engine, authenticated by signature (see `service::incoming`), not by a token.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorCode;

use super::AppState;
use crate::error::{AppError, AppResult};
use crate::service::incoming::Report;

#[utoipa::path(
    post,
    path = "/webhooks/instance/{uuid}/{kind}",
    tag = "Internal",
    operation_id = "incoming_report",
    params(("uuid" = String, Path), ("kind" = String, Path)),
    security(("node_signature" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn report(
    State(state): State<AppState>,
    Path((uuid, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> AppResult<impl IntoResponse> {
    let report = Report::parse(&kind).ok_or_else(|| {
        AppError::new(
            ErrorCode::NotFound,
            format!(
                "No incoming endpoint `{kind}`; use incoming, status, qr, connection or reaction."
            ),
        )
    })?;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    state
        .services
        .engine_report(
            &uuid,
            report,
            header("x-webhook-timestamp"),
            header("x-webhook-signature"),
            &body,
        )
        .await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "Event received",
    )))
}
