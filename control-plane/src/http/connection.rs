//! Connection routes of an instance, answered by its node: QR code, live status, disconnect
//! and reconnect.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::extract::{Auth, Json, Query};
use crate::error::{AppError, AppResult};
use crate::service::connection::{QrView, StatusView};

/// `GET /instances/{id}/status`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// If true, checks status in real-time on the server (asks the instance's node); else the
    /// last known status. Also `1`/`0`, `yes`/`no`.
    #[param(value_type = Option<bool>)]
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

fn status_example(realtime: bool) -> serde_json::Value {
    serde_json::json!({"success": true, "data": {
        "id": 777,
        "uuid": "550e8400-e29b-41d4-a716-446655440000",
        "status": "connected",
        "connected": true,
        "phone_number": "5511999999999",
        "name": if realtime { serde_json::json!("Support") } else { serde_json::Value::Null },
        "platform": if realtime { serde_json::json!("android") } else { serde_json::Value::Null },
        "reason": "paired",
        "last_activity_at": "2025-01-15T10:30:00Z",
        "realtime": realtime
    }})
}

/// Get the QR code
///
/// Returns the QR code to connect the instance (scan it in WhatsApp under Linked devices).
/// Codes rotate as WhatsApp's do; `qr_expired` says a new one is on its way. Answered by the
/// instance's node.
#[utoipa::path(
    get,
    path = "/instances/{id}/qr",
    tag = "Connection",
    operation_id = "connection_qr",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The QR code, or why there is none (`status`, `message`).", body = ApiResponse<QrView>,
            example = json!({"success": true, "data": {
                "status": "qr_ready",
                "qr_code": "data:image/png;base64,...",
                "qr_code_text": "2@...",
                "qr_generated_at": "2025-01-15T10:30:00Z",
                "qr_expired": false,
                "message": "QR code ready to scan"
            }})),
        (status = 400, description = "The engine cannot do this (`BAD_REQUEST`).", body = ErrorEnvelope),
        (status = 403, description = "An instance token used for another instance (`INSTANCE_FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
        (status = 503, description = "The instance's node is not running or unreachable (`NODE_UNAVAILABLE`), or a dependency is briefly unavailable (`SERVICE_UNAVAILABLE`); retry.", body = ErrorEnvelope),
        (status = 504, description = "The instance's node did not answer in time (`GATEWAY_TIMEOUT`).", body = ErrorEnvelope),
    )
)]
pub async fn qr(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let qr = state.services.instance_qr(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(qr)))
}

/// Get the connection status
///
/// Returns the current status of the instance: the last known one, or with `realtime=true`
/// the node's answer now (which is stored too).
#[utoipa::path(
    get,
    path = "/instances/{id}/status",
    tag = "Connection",
    operation_id = "connection_status",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777"), StatusQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The status.", body = ApiResponse<StatusView>,
            example = json!(status_example(true))),
        (status = 400, description = "The engine cannot do this (`BAD_REQUEST`).", body = ErrorEnvelope),
        (status = 403, description = "An instance token used for another instance (`INSTANCE_FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
        (status = 422, description = "`realtime` is not a boolean (`VALIDATION_ERROR`).", body = ErrorEnvelope),
        (status = 503, description = "Real-time: the instance's node is not running or unreachable (`NODE_UNAVAILABLE`); or a dependency is briefly unavailable (`SERVICE_UNAVAILABLE`); retry.", body = ErrorEnvelope),
        (status = 504, description = "Real-time: the instance's node did not answer within 5 seconds (`GATEWAY_TIMEOUT`).", body = ErrorEnvelope),
    )
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

/// `POST /instances/{id}/pair-code`: `phone_number` may be sent as `phone` or `number`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PairCodeFields)]
pub struct PairCodeBody {
    /// The phone's number with its country code (an optional `+`, 8 to 15 digits; spaces,
    /// dots, dashes and parentheses are ignored).
    #[serde(alias = "phone", alias = "number")]
    #[schema(
        nullable = false,
        pattern = r"^\+?[1-9][0-9]{7,14}$",
        example = "5511999999999"
    )]
    phone_number: Option<String>,
}

/// The body of `POST /instances/{id}/pair-code`, aliases included.
pub struct PairCodeRequest;

impl utoipa::PartialSchema for PairCodeRequest {
    fn schema() -> RefOr<Schema> {
        super::messages::aliased(
            <PairCodeBody as utoipa::PartialSchema>::schema(),
            &[("phone_number", &["phone", "number"])],
            &[&["phone_number", "phone", "number"]],
        )
    }
}

impl utoipa::ToSchema for PairCodeRequest {}

/// The code to type on the phone.
#[derive(Serialize, utoipa::ToSchema)]
pub struct PairCodeData {
    /// Enter it on the phone: WhatsApp > Linked devices > Link with phone number.
    #[schema(example = "ABCD-EFGH")]
    pub pairing_code: String,
    /// The number, as digits.
    #[schema(example = "5511999999999")]
    pub phone_number: String,
}

/// Get a pairing code
///
/// Beyond the reference: links the phone by typing a code instead of scanning the QR. Answers
/// the code to enter on the phone under Linked devices > Link with phone number.
/// `phone_number` may also be sent as `phone` or `number`.
#[utoipa::path(
    post,
    path = "/instances/{id}/pair-code",
    tag = "Connection",
    operation_id = "connection_pair_code",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    request_body(
        content = PairCodeRequest,
        description = "The number of the phone to link. Unknown fields are refused.",
        example = json!({"phone_number": "5511999999999"})
    ),
    responses(
        (status = 200, description = "The code.", body = ApiResponse<PairCodeData>,
            example = json!({"success": true,
                "message": "Enter this code on the phone: WhatsApp > Linked devices > Link with phone number",
                "data": {"pairing_code": "ABCD-EFGH", "phone_number": "5511999999999"}})),
        (status = 400, description = "Malformed JSON (`INVALID_JSON`, `BAD_REQUEST`), or the engine cannot pair by code (`BAD_REQUEST`).", body = ErrorEnvelope),
        (status = 403, description = "An instance token used for another instance (`INSTANCE_FORBIDDEN`), or WhatsApp refused (`FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`), or the number is not on WhatsApp (`NOT_FOUND`).", body = ErrorEnvelope),
        (status = 409, description = "The instance is already connected, or cannot pair now (`INSTANCE_NOT_CONNECTED`, `CONFLICT`).", body = ErrorEnvelope),
        (status = 422, description = "`phone_number` is missing or not a number (`VALIDATION_ERROR`), or an unknown field.", body = ErrorEnvelope),
        (status = 503, description = "The instance's node is not running or unreachable (`NODE_UNAVAILABLE`), WhatsApp is briefly unavailable, or a dependency is (`SERVICE_UNAVAILABLE`); retry.", body = ErrorEnvelope),
        (status = 504, description = "The instance's node did not answer in time (`GATEWAY_TIMEOUT`).", body = ErrorEnvelope),
    )
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
        PairCodeData {
            pairing_code: code,
            phone_number: phone.into_string(),
        },
    )))
}

/// The error answers of a session change the node carries out (disconnect, logout,
/// reconnect): one list for the three operations' descriptions.
struct SessionChangeErrors;

impl utoipa::IntoResponses for SessionChangeErrors {
    fn responses() -> std::collections::BTreeMap<String, RefOr<utoipa::openapi::Response>> {
        const ERRORS: [(&str, &str); 7] = [
            ("400", "The engine cannot do this (`BAD_REQUEST`)."),
            (
                "403",
                "An instance token used for another instance (`INSTANCE_FORBIDDEN`), or WhatsApp refused (`FORBIDDEN`).",
            ),
            (
                "404",
                "No such instance in the tenant (`INSTANCE_NOT_FOUND`), or the engine found nothing to act on (`NOT_FOUND`).",
            ),
            (
                "409",
                "The node refused the change in the session's current state (`INSTANCE_NOT_CONNECTED`, `CONFLICT`).",
            ),
            (
                "422",
                "The engine refused the request (`VALIDATION_ERROR`).",
            ),
            (
                "503",
                "The instance's node is not running or unreachable (`NODE_UNAVAILABLE`), or a dependency is briefly unavailable (`SERVICE_UNAVAILABLE`); retry.",
            ),
            (
                "504",
                "The instance's node did not answer in time (`GATEWAY_TIMEOUT`).",
            ),
        ];
        ERRORS
            .into_iter()
            .map(|(status, description)| {
                let content = utoipa::openapi::ContentBuilder::new()
                    .schema(Some(utoipa::openapi::Ref::from_schema_name(
                        "ErrorEnvelope",
                    )))
                    .build();
                let response = utoipa::openapi::ResponseBuilder::new()
                    .description(description)
                    .content("application/json", content)
                    .build();
                (status.to_owned(), RefOr::T(response))
            })
            .collect()
    }
}

/// Disconnect
///
/// Disconnects the WhatsApp instance (the session is kept: reconnect resumes it without a new
/// scan). Answers the status after the change.
#[utoipa::path(
    post,
    path = "/instances/{id}/disconnect",
    tag = "Connection",
    operation_id = "connection_disconnect",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Disconnected: the status now.", body = ApiResponse<StatusView>),
        SessionChangeErrors,
    )
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

/// Log out
///
/// Beyond the reference: unlinks the device and deletes the session keys; the next reconnect
/// shows a fresh QR.
#[utoipa::path(
    post,
    path = "/instances/{id}/logout",
    tag = "Connection",
    operation_id = "connection_logout",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Logged out: the status now.", body = ApiResponse<StatusView>),
        SessionChangeErrors,
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let status = state.services.instance_logout(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::message_data("Logged out", status)))
}

/// Reconnect
///
/// Initiates the instance reconnection process. Answers the status after the request; a
/// session that needs a new scan goes to `qr_ready`.
#[utoipa::path(
    post,
    path = "/instances/{id}/reconnect",
    tag = "Connection",
    operation_id = "connection_reconnect",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Reconnection started: the status now.", body = ApiResponse<StatusView>),
        SessionChangeErrors,
    )
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
