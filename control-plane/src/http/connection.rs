//! Connection routes of an instance, answered by its node: QR code, live status, disconnect
//! and reconnect.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use zapini_shared::envelope::ApiResponse;

use super::AppState;
use super::extract::{Auth, Query};
use crate::error::{AppError, AppResult};

#[derive(Deserialize)]
pub struct StatusQuery {
    realtime: Option<String>,
}

fn parse_bool(field: &str, v: Option<&str>) -> AppResult<bool> {
    match v.map(str::trim) {
        None | Some("") => Ok(false),
        Some("1" | "true" | "yes") => Ok(true),
        Some("0" | "false" | "no") => Ok(false),
        Some(_) => Err(AppError::validation(
            field,
            format!("The {field} field must be true or false."),
        )),
    }
}

pub async fn qr(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let qr = state.services.instance_qr(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(qr)))
}

pub async fn status(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Query(q): Query<StatusQuery>,
) -> AppResult<impl IntoResponse> {
    let realtime = parse_bool("realtime", q.realtime.as_deref())?;
    let status = state
        .services
        .instance_status(&caller, &id, realtime)
        .await?;
    Ok(axum::Json(ApiResponse::data(status)))
}

pub async fn disconnect(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let status = state
        .services
        .instance_connection(&caller, &id, false)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Instance disconnected",
        status,
    )))
}

pub async fn reconnect(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let status = state
        .services
        .instance_connection(&caller, &id, true)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Reconnection started",
        status,
    )))
}
