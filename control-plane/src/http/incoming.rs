//! `POST /webhooks/instance/{uuid}/{incoming|status|qr|connection|reaction}`: reports from an
//! external engine, authenticated by signature (see `service::incoming`), not by a token.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use zapini_shared::envelope::{ApiResponse, MessageOnly};
use zapini_shared::error::{ErrorCode, ErrorEnvelope};

use super::AppState;
use crate::error::{AppError, AppResult};
use crate::service::incoming::Report;

/// Engine report
///
/// An engine outside Zapini's nodes reports what its WhatsApp session saw, in the reference's
/// (Baileys-shaped) payloads: `incoming` receives incoming messages, `status` status updates
/// for sent messages (`status` 1 pending … 5 played), `qr` QR code updates, `connection`
/// connection status updates (`connected`, `qr_ready`, `disconnected`, `offline`), `reaction`
/// emoji reactions. Reports go through the same pipeline as the nodes' own events (stored,
/// counted, delivered to webhooks).
///
/// Beyond the reference, reports are signed: `X-Webhook-Timestamp` (Unix seconds, at most five
/// minutes off) and `X-Webhook-Signature`, the hex HMAC-SHA256 of `{timestamp}.{body}` with the
/// node secret or the instance's engine key.
#[utoipa::path(
    post,
    path = "/webhooks/instance/{uuid}/{kind}",
    tag = "Internal",
    operation_id = "incoming_report",
    params(
        ("uuid" = String, Path, description = "The instance's UUID"),
        ("kind" = String, Path, description = "The report: `incoming`, `status`, `qr`, `connection` or `reaction`",
            pattern = "^(incoming|status|qr|connection|reaction)$"),
        ("X-Webhook-Timestamp" = String, Header, description = "Unix seconds when the report was signed"),
    ),
    security(("node_signature" = [])),
    request_body(
        content = Object,
        content_type = "application/json",
        description = "The report, a JSON object shaped as the reference shows for its kind (`incoming`: `key`, `message`, `messageTimestamp`, `pushName`…; `status`: `key`, `status`; `qr`: `qr`, `qr_image`; `connection`: `status`, `phone_number`; `reaction`: `key`, `reaction`, `senderJid`).",
        examples(
            ("incoming" = (summary = "A text message (`/incoming`)", value = json!({
                "remoteJid": "5511999999999@s.whatsapp.net",
                "message": {"conversation": "Hello!"},
                "messageTimestamp": 1705312200,
                "pushName": "Customer Name",
                "key": {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": false, "id": "ABC123"}
            }))),
            ("status" = (summary = "A receipt (`/status`)", value = json!({
                "key": {"remoteJid": "5511999999999@s.whatsapp.net", "id": "3EB0ABC123456789", "fromMe": true},
                "status": 3,
                "messageTimestamp": 1705312200
            }))),
            ("qr" = (summary = "A new QR code (`/qr`)", value = json!({
                "qr": "2@ABC123...",
                "qr_image": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg...",
                "generated_at": "2025-01-15T10:30:00Z"
            }))),
            ("connection" = (summary = "A connection change (`/connection`)", value = json!({
                "status": "connected",
                "phone_number": "5511999999999",
                "timestamp": "2025-01-15T10:30:00Z"
            }))),
            ("reaction" = (summary = "A reaction (`/reaction`)", value = json!({
                "key": {"remoteJid": "5511999999999@s.whatsapp.net", "id": "3EB0ABC123456789", "fromMe": false},
                "reaction": {"text": "👍", "key": {"id": "3EB0DEF987654321"}},
                "senderJid": "5511888888888@s.whatsapp.net"
            }))),
        )
    ),
    responses(
        (status = 200, description = "Received and stored.", body = MessageOnly,
            example = json!({"success": true, "message": "Event received"})),
        (status = 400, description = "The body is not JSON (`INVALID_JSON`), not a JSON object, or could not be read (`BAD_REQUEST`).", body = ErrorEnvelope),
        (status = 401, description = "Missing, stale or wrong signature (`UNAUTHENTICATED`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance (`INSTANCE_NOT_FOUND`), or no such report kind (`NOT_FOUND`).", body = ErrorEnvelope),
        (status = 413, description = "The body is larger than this server accepts (`PAYLOAD_TOO_LARGE`).", body = ErrorEnvelope),
        (status = 422, description = "A field the report needs is missing or invalid (`VALIDATION_ERROR`), e.g. `key.id`, `status`.", body = ErrorEnvelope),
    )
)]
pub async fn report(
    State(state): State<AppState>,
    Path((uuid, kind)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> AppResult<impl IntoResponse> {
    let report = Report::parse(&kind).ok_or_else(|| {
        AppError::new(
            ErrorCode::NotFound,
            format!(
                "No incoming endpoint `{kind}`; use incoming, status, qr, connection or reaction."
            ),
        )
    })?;
    let body = body.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            AppError::new(
                ErrorCode::PayloadTooLarge,
                "The request body is larger than this server accepts.",
            )
        } else {
            AppError::new(
                ErrorCode::BadRequest,
                format!("Could not read the body: {rej}"),
            )
        }
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
