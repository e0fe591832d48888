//! `/instances/{id}/tokens`: create (plaintext once), list (masked), revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::extract::{Auth, Json};
use crate::error::AppResult;
use crate::service::tokens::{CreatedToken, NewToken, TokenView};

/// `POST /instances/{id}/tokens`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTokenBody {
    /// A name to recognise the token by; `API token` when absent or blank.
    #[schema(max_length = 255, example = "my-bot")]
    name: Option<String>,
    /// Days until the token expires; it never expires when absent.
    #[serde(default, deserialize_with = "super::instances::integral")]
    #[schema(minimum = 1, maximum = 3650, example = 90)]
    expires_in_days: Option<i64>,
}

/// `{"tokens": […]}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenView>,
}

/// `{"id": "<token uuid>"}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RevokedToken {
    pub id: Uuid,
}

/// Create an instance token
///
/// Creates an instance token (`sk_…`) that reaches only this instance: for bots and external
/// integrations. The plaintext is in this response only; copy it now. Needs a user token.
#[utoipa::path(
    post,
    path = "/instances/{id}/tokens",
    tag = "Tokens",
    operation_id = "tokens_create",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = [])),
    request_body(
        content = CreateTokenBody,
        description = "The token's name and lifetime (both optional; an empty body is accepted). Unknown fields are refused.",
        example = json!({"name": "my-bot", "expires_in_days": 90})
    ),
    responses(
        (status = 201, description = "Created; `token` is the plaintext, shown once.", body = ApiResponse<CreatedToken>,
            example = json!({"success": true, "message": "Token created. Copy it now: it will not be shown again.", "data": {
                "id": "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "name": "my-bot", "token_masked": "sk_AbCd…wxyz",
                "instance_id": 777, "last_used_at": null, "expires_at": "2025-04-15T10:30:00Z",
                "created_at": "2025-01-15T10:30:00Z", "token": "sk_xxxxxxxxxxxxxxxx"
            }})),
        (status = 403, description = "Called with an instance token (`FORBIDDEN`), or the tenant's token quota is used up (`QUOTA_EXCEEDED`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
        (status = 422, description = "A field is invalid (`VALIDATION_ERROR`): `name`, `expires_in_days`, or an unknown field.", body = ErrorEnvelope),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<CreateTokenBody>,
) -> AppResult<impl IntoResponse> {
    let token = state
        .services
        .create_token(
            &caller,
            &id,
            NewToken {
                name: body.name,
                expires_in_days: body.expires_in_days,
            },
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data(
            "Token created. Copy it now: it will not be shown again.",
            token,
        )),
    ))
}

/// List instance tokens
///
/// The instance's active (not revoked) tokens, newest first, masked. Needs a user token.
#[utoipa::path(
    get,
    path = "/instances/{id}/tokens",
    tag = "Tokens",
    operation_id = "tokens_list",
    params(("id" = String, Path, description = "Instance: numeric id or UUID", example = "777")),
    security(("user_token" = [])),
    responses(
        (status = 200, description = "The tokens.", body = ApiResponse<TokenList>),
        (status = 403, description = "Called with an instance token (`FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`).", body = ErrorEnvelope),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let tokens = state.services.list_tokens(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(TokenList { tokens })))
}

/// Revoke an instance token
///
/// The token stops working at once, on the control plane and on the instance's node. Needs a
/// user token.
#[utoipa::path(
    delete,
    path = "/instances/{id}/tokens/{token_id}",
    tag = "Tokens",
    operation_id = "tokens_revoke",
    params(
        ("id" = String, Path, description = "Instance: numeric id or UUID", example = "777"),
        ("token_id" = String, Path, description = "The token's id (a UUID, from the list)"),
    ),
    security(("user_token" = [])),
    responses(
        (status = 200, description = "Revoked.", body = ApiResponse<RevokedToken>,
            example = json!({"success": true, "message": "Token revoked", "data": {"id": "0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a"}})),
        (status = 403, description = "Called with an instance token (`FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance (`INSTANCE_NOT_FOUND`), or no such active token on it (`NOT_FOUND`).", body = ErrorEnvelope),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, token_id)): Path<(String, String)>,
) -> AppResult<impl IntoResponse> {
    let token = state.services.revoke_token(&caller, &id, &token_id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Token revoked",
        RevokedToken { id: token.id },
    )))
}
