//! `/instances/{id}/tokens`: create (plaintext once), list (masked), revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;
use zapini_shared::envelope::ApiResponse;

use super::AppState;
use super::extract::{Auth, Json};
use crate::error::AppResult;
use crate::service::tokens::NewToken;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    name: Option<String>,
    expires_in_days: Option<i64>,
}

#[utoipa::path(
    post,
    path = "/instances/{id}/tokens",
    tag = "Tokens",
    operation_id = "tokens_create",
    params(("id" = String, Path)),
    security(("user_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<CreateBody>,
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

#[utoipa::path(
    get,
    path = "/instances/{id}/tokens",
    tag = "Tokens",
    operation_id = "tokens_list",
    params(("id" = String, Path)),
    security(("user_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let tokens = state.services.list_tokens(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::data(json!({ "tokens": tokens }))))
}

#[utoipa::path(
    delete,
    path = "/instances/{id}/tokens/{token_id}",
    tag = "Tokens",
    operation_id = "tokens_revoke",
    params(("id" = String, Path), ("token_id" = String, Path)),
    security(("user_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn revoke(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path((id, token_id)): Path<(String, String)>,
) -> AppResult<impl IntoResponse> {
    let token = state.services.revoke_token(&caller, &id, &token_id).await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Token revoked",
        json!({ "id": token.id }),
    )))
}
