//! Connection routes of an instance, answered by its node: QR code, live status, disconnect
//! and reconnect.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::Deserialize;
use zapini_shared::envelope::ApiResponse;

use super::AppState;
use super::extract::{Auth, Json, Query};
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

#[utoipa::path(
    get,
    path = "/instances/{id}/qr",
    tag = "Connection",
    operation_id = "connection_qr",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn qr(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let qr = state.services.instance_qr(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(qr)))
}

#[utoipa::path(
    get,
    path = "/instances/{id}/status",
    tag = "Connection",
    operation_id = "connection_status",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairCodeBody {
    #[serde(alias = "phone", alias = "number")]
    phone_number: Option<String>,
}

/// `POST /instances/{id}/pair-code` (beyond the reference): links the phone by typing a code
/// instead of scanning the QR. Answers the code to enter on the phone under Linked devices ->
/// Link with phone number.
#[utoipa::path(
    post,
    path = "/instances/{id}/pair-code",
    tag = "Connection",
    operation_id = "connection_pair_code",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn pair_code(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<PairCodeBody>,
) -> AppResult<impl IntoResponse> {
    let raw = body.phone_number.unwrap_or_default();
    if raw.trim().is_empty() {
        return Err(AppError::validation(
            "phone_number",
            "The phone number field is required.",
        ));
    }
    let phone = zapini_shared::phone::PhoneNumber::parse(&raw)
        .map_err(|e| AppError::validation("phone_number", e.to_string()))?;
    let code = state
        .services
        .instance_pair_code(&caller, &id, &phone)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Enter this code on the phone: WhatsApp > Linked devices > Link with phone number",
        serde_json::json!({ "pairing_code": code, "phone_number": phone.as_str() }),
    )))
}

#[utoipa::path(
    post,
    path = "/instances/{id}/disconnect",
    tag = "Connection",
    operation_id = "connection_disconnect",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
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

/// `POST /instances/{id}/logout` (beyond the reference): unlinks the device and deletes the
/// session keys; the next reconnect shows a fresh QR.
#[utoipa::path(
    post,
    path = "/instances/{id}/logout",
    tag = "Connection",
    operation_id = "connection_logout",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn logout(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let status = state.services.instance_logout(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data("Logged out", status)))
}

#[utoipa::path(
    post,
    path = "/instances/{id}/reconnect",
    tag = "Connection",
    operation_id = "connection_reconnect",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
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
