//! `GET /status` and `GET /qr`: the session's connection and the pairing QR code.

use axum::Json;
use axum::extract::State;
use serde_json::json;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::node_api::{QrResponse, StatusResponse};
use zapini_shared::status::InstanceStatus;

use super::AppState;
use super::error::ApiError;

/// `GET /status` -> `{"success":true,"status","phone","name","platform","engine","reason"}`
/// (null when unknown), plus `pacing` on engines that pace sends.
pub async fn status(State(state): State<AppState>) -> Json<StatusResponse> {
    let s = state.node.engine.state().await;
    Json(StatusResponse {
        success: true,
        status: s.status,
        phone: s.phone_number,
        name: s.push_name,
        platform: s.platform,
        engine: state.node.engine.kind().as_str().to_owned(),
        reason: s.reason,
        pacing: state.node.engine.pacing(),
    })
}

/// `GET /qr` -> `{"success":true,"qr":"data:image/png;base64,...","qr_code_text","status":"qr_ready"}`;
/// 409 `CONFLICT` naming the current status otherwise.
pub async fn qr(State(state): State<AppState>) -> Result<Json<QrResponse>, ApiError> {
    let s = state.node.engine.state().await;
    if s.status == InstanceStatus::QrReady
        && let Some(qr) = state.node.engine.current_qr().await
    {
        return Ok(Json(QrResponse {
            success: true,
            qr: qr.png_data_url,
            qr_code_text: qr.code,
            status: InstanceStatus::QrReady,
        }));
    }
    let message = match s.status {
        InstanceStatus::Connected => {
            "The instance is already connected to WhatsApp; no QR code is needed.".to_owned()
        }
        other => format!(
            "No QR code is available: the instance status is {other}. A QR code is only offered while the status is qr_ready."
        ),
    };
    Err(ApiError(
        ErrorBody::new(ErrorCode::Conflict, message)
            .with_details(json!({"status": s.status.as_str()})),
    ))
}
