//! `/auth/*`: login, me, logout, refresh.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::time::format_secs;

use super::AppState;
use super::extract::{Auth, ClientIp, Json};
use crate::error::{AppError, AppResult};
use crate::service::auth::LoginInput;

#[derive(Deserialize)]
pub struct LoginBody {
    email: Option<String>,
    password: Option<String>,
    device_name: Option<String>,
}

#[utoipa::path(
    post,
    path = "/auth/login",
    tag = "Auth",
    operation_id = "auth_login",
    security(()),
    responses((status = 200, description = "OK"))
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
        json!({
            "user": user,
            "token": token.plaintext,
            "token_type": "Bearer",
            "expires_at": token.expires_at.map(format_secs),
        }),
    )))
}

#[utoipa::path(
    get,
    path = "/auth/me",
    tag = "Auth",
    operation_id = "auth_me",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn me(State(state): State<AppState>, Auth(caller): Auth) -> AppResult<impl IntoResponse> {
    let (user, tenant) = state.services.me(&caller).await?;
    Ok(axum::Json(ApiResponse::data(json!({
        "user": user,
        "tenant": tenant,
    }))))
}

#[utoipa::path(
    post,
    path = "/auth/logout",
    tag = "Auth",
    operation_id = "auth_logout",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
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

#[utoipa::path(
    post,
    path = "/auth/refresh",
    tag = "Auth",
    operation_id = "auth_refresh",
    security(()),
    responses((status = 200, description = "OK"))
)]
pub async fn refresh(
    State(state): State<AppState>,
    Auth(caller): Auth,
) -> AppResult<impl IntoResponse> {
    let (user, token) = state.services.refresh(&caller).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Token refreshed",
        json!({
            "user": user,
            "token": token.plaintext,
            "token_type": "Bearer",
            "expires_at": token.expires_at.map(format_secs),
        }),
    )))
}
