//! `/auth/*`: login, me, logout, refresh.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use zapini_shared::envelope::{ApiResponse, MessageOnly};
use zapini_shared::error::ErrorEnvelope;
use zapini_shared::time::format_secs;

use super::AppState;
use super::extract::{Auth, ClientIp, Json};
use crate::error::{AppError, AppResult};
use crate::service::auth::{IssuedToken, LoginInput, TenantView, UserView};

/// `POST /auth/login`.
#[derive(Deserialize, utoipa::ToSchema)]
pub struct LoginBody {
    /// The user's email (case-insensitive).
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        example = "user@example.com"
    )]
    email: Option<String>,
    /// The user's password.
    #[schema(
        required = true,
        nullable = false,
        min_length = 1,
        example = "your_password"
    )]
    password: Option<String>,
    /// A name for the token, to recognise it later (at most 255 characters are kept; `api`
    /// when absent).
    #[schema(example = "My App")]
    device_name: Option<String>,
}

/// A user token and its user: the answer of login and refresh.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenData {
    pub user: UserView,
    /// `{id}|{secret}`: send it as `Authorization: Bearer {token}`. Shown only here.
    #[schema(example = "1|abc123xyz...")]
    pub token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// When the token stops working; `null` when user tokens do not expire on this server.
    #[schema(format = DateTime, example = "2025-02-14T10:30:00Z")]
    pub expires_at: Option<String>,
}

impl TokenData {
    fn new(user: UserView, token: IssuedToken) -> TokenData {
        TokenData {
            user,
            token: token.plaintext,
            token_type: "Bearer",
            expires_at: token.expires_at.map(format_secs),
        }
    }
}

/// `GET /auth/me`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MeData {
    pub user: UserView,
    pub tenant: TenantView,
}

fn token_example(message: &str) -> serde_json::Value {
    serde_json::json!({
        "success": true,
        "message": message,
        "data": {
            "user": {
                "id": 1,
                "uuid": "9b2f6a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                "name": "User Name",
                "email": "user@example.com",
                "role": "admin"
            },
            "token": "1|abc123xyz...",
            "token_type": "Bearer",
            "expires_at": null
        }
    })
}

/// Log in
///
/// Authenticates a user and returns an access token (a user token, `{id}|{secret}`), which
/// gives access to all instances and resources of the user's tenant. Failed attempts are
/// limited per email and per client address (`TOO_MANY_LOGIN_ATTEMPTS` with `Retry-After`).
#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "Auth",
    operation_id = "auth_login",
    security(()),
    request_body(
        content = LoginBody,
        description = "The user's credentials.",
        example = json!({"email": "user@example.com", "password": "your_password", "device_name": "My App"})
    ),
    responses(
        (status = 200, description = "Logged in: the token and its user.", body = ApiResponse<TokenData>,
            example = json!(token_example("Login successful"))),
        (status = 401, description = "Wrong email or password (`INVALID_CREDENTIALS`).", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid (`VALIDATION_ERROR`): `email`, `password`; `details` names each one.", body = ErrorEnvelope),
        (status = 429, description = "Too many failed logins for this email or address (`TOO_MANY_LOGIN_ATTEMPTS`), or too many requests from this address (`RATE_LIMIT_EXCEEDED`); retry after `Retry-After` seconds.",
            body = ErrorEnvelope,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying."))),
        (status = 503, description = "Too many logins are being checked at once, or a dependency is briefly unavailable (`SERVICE_UNAVAILABLE`); retry.", body = ErrorEnvelope),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    Json(body): Json<LoginBody>,
) -> AppResult<impl IntoResponse> {
    let email = body
        .email
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| AppError::validation("email", "The email field is required."))?;
    let password = body
        .password
        .filter(|p| !p.is_empty())
        .ok_or_else(|| AppError::validation("password", "The password field is required."))?;
    let (user, token) = state
        .services
        .login(LoginInput {
            email,
            password,
            device_name: body.device_name,
            client_ip: ip,
        })
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Login successful",
        TokenData::new(user, token),
    )))
}

/// The current user
///
/// Returns information about the authenticated user and their tenant. Needs a user token:
/// instance tokens (`sk_`) have no user.
#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "Auth",
    operation_id = "auth_me",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "The user and the tenant.", body = ApiResponse<MeData>,
            example = json!({"success": true, "data": {
                "user": {"id": 1, "uuid": "9b2f6a1e-3c4d-4e5f-8a9b-0c1d2e3f4a5b", "name": "User Name", "email": "user@example.com", "role": "admin"},
                "tenant": {"id": 1, "uuid": "1a2b3c4d-5e6f-4a8b-9c0d-1e2f3a4b5c6d", "name": "Acme",
                    "kanban_enabled": false, "voice_enabled": false, "currency": "BRL", "locale": "pt-BR",
                    "timezone": "UTC", "reminder_template": null}
            }})),
        (status = 403, description = "Called with an instance token (`FORBIDDEN`).", body = ErrorEnvelope),
    )
)]
pub async fn me(State(state): State<AppState>, Auth(caller): Auth) -> AppResult<impl IntoResponse> {
    let (user, tenant) = state.services.me(&caller).await?;
    Ok(axum::Json(ApiResponse::data(MeData { user, tenant })))
}

/// Log out
///
/// Revokes the current access token (the user token the request is made with). Instance
/// tokens are revoked through `DELETE /instances/{id}/tokens/{token_id}` instead.
#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "Auth",
    operation_id = "auth_logout",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "The token is revoked.", body = MessageOnly,
            example = json!({"success": true, "message": "Logged out successfully"})),
        (status = 403, description = "Called with an instance token (`FORBIDDEN`).", body = ErrorEnvelope),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> AppResult<impl IntoResponse> {
    state.services.logout(&caller).await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "Logged out successfully",
    )))
}

/// Refresh the token
///
/// Refreshes the access token: issues a new user token (same name) and revokes the one the
/// request is made with, atomically.
#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "Auth",
    operation_id = "auth_refresh",
    security(("user_token" = [])),
    responses(
        (status = 200, description = "The new token; the old one no longer works.", body = ApiResponse<TokenData>,
            example = json!(token_example("Token refreshed"))),
        (status = 403, description = "Called with an instance token (`FORBIDDEN`).", body = ErrorEnvelope),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> AppResult<impl IntoResponse> {
    let (user, token) = state.services.refresh(&caller).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Token refreshed",
        TokenData::new(user, token),
    )))
}
