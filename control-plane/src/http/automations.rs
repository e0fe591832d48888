//! Automation entities (beyond the reference, which names them but documents no routes):
//! `/automation/flows` and `/automation/integrations` (list, create, update `name` /
//! `is_active`, delete), and the per-instance inbox settings
//! (`/instances/{id}/inbox-settings`: auto-transcription).

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use zapini_shared::envelope::ApiResponse;

use super::AppState;
use super::conversations::Params;
use super::extract::{Auth, Json};
use super::messages::instance_ref;
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::inbox::automation::{AutomationKind, INTEGRATION_TYPES};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    instance_id: Option<Value>,
    name: Option<String>,
    #[serde(alias = "type")]
    integration_type: Option<String>,
    is_active: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateBody {
    name: Option<String>,
    is_active: Option<bool>,
}

fn name(v: Option<String>, required: bool) -> AppResult<Option<String>> {
    match v.map(|s| s.trim().to_owned()) {
        None if required => Err(AppError::validation("name", "The name field is required.")),
        None => Ok(None),
        Some(s) if s.is_empty() => Err(AppError::validation("name", "The name field is required.")),
        Some(s) if s.chars().count() > 255 => Err(AppError::validation(
            "name",
            "The name may not be greater than 255 characters.",
        )),
        Some(s) => Ok(Some(s)),
    }
}

async fn list(
    state: &AppState,
    caller: &Caller,
    kind: AutomationKind,
    q: Option<String>,
) -> AppResult<axum::response::Response> {
    let params = Params::parse(q);
    let items = state
        .services
        .list_automations(caller, kind, params.get("instance_id"))
        .await?;
    Ok(axum::Json(ApiResponse::data(items)).into_response())
}

async fn create(
    state: &AppState,
    caller: &Caller,
    kind: AutomationKind,
    body: CreateBody,
) -> AppResult<axum::response::Response> {
    let instance = match (instance_ref(body.instance_id)?, caller) {
        (Some(r), _) => r,
        (None, Caller::Instance { instance_uuid, .. }) => instance_uuid.to_string(),
        (None, Caller::User { .. }) => {
            return Err(AppError::validation(
                "instance_id",
                "The instance_id field is required.",
            ));
        }
    };
    let name = name(body.name, true)?.unwrap_or_default();
    let integration_type = match (kind, body.integration_type) {
        (AutomationKind::Integration, Some(t)) => {
            let t = t.trim().to_ascii_lowercase();
            if !INTEGRATION_TYPES.contains(&t.as_str()) {
                return Err(AppError::validation(
                    "integration_type",
                    "The integration_type must be one of: webhook, api, ai_agent.",
                ));
            }
            Some(t)
        }
        (AutomationKind::Flow, Some(_)) => {
            return Err(AppError::validation(
                "integration_type",
                "The integration_type field is for integrations only.",
            ));
        }
        (_, None) => None,
    };
    let e = state
        .services
        .create_automation(
            caller,
            kind,
            &instance,
            name,
            integration_type,
            body.is_active.unwrap_or(true),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data("Created successfully", e)),
    )
        .into_response())
}

async fn update(
    state: &AppState,
    caller: &Caller,
    kind: AutomationKind,
    id: &str,
    body: UpdateBody,
) -> AppResult<axum::response::Response> {
    let e = state
        .services
        .change_automation(
            caller,
            kind,
            id,
            name(body.name, false)?,
            body.is_active,
            false,
        )
        .await?;
    Ok(axum::Json(ApiResponse::message_data("Updated successfully", e)).into_response())
}

async fn delete(
    state: &AppState,
    caller: &Caller,
    kind: AutomationKind,
    id: &str,
) -> AppResult<axum::response::Response> {
    state
        .services
        .change_automation(caller, kind, id, None, None, true)
        .await?;
    Ok(axum::Json(ApiResponse::<()>::message_only("Deleted successfully")).into_response())
}

#[utoipa::path(
    get,
    path = "/automation/flows",
    tag = "Automation",
    operation_id = "automations_flows",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn flows(
    State(s): State<AppState>,
    Auth(c): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    list(&s, &c, AutomationKind::Flow, q).await
}

#[utoipa::path(
    post,
    path = "/automation/flows",
    tag = "Automation",
    operation_id = "automations_create_flow",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn create_flow(
    State(s): State<AppState>,
    Auth(c): Auth,
    Json(b): Json<CreateBody>,
) -> AppResult<impl IntoResponse> {
    create(&s, &c, AutomationKind::Flow, b).await
}

#[utoipa::path(
    patch,
    path = "/automation/flows/{id}",
    tag = "Automation",
    operation_id = "automations_update_flow",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn update_flow(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<UpdateBody>,
) -> AppResult<impl IntoResponse> {
    update(&s, &c, AutomationKind::Flow, &id, b).await
}

#[utoipa::path(
    delete,
    path = "/automation/flows/{id}",
    tag = "Automation",
    operation_id = "automations_delete_flow",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn delete_flow(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    delete(&s, &c, AutomationKind::Flow, &id).await
}

#[utoipa::path(
    get,
    path = "/automation/integrations",
    tag = "Automation",
    operation_id = "automations_integrations",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn integrations(
    State(s): State<AppState>,
    Auth(c): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    list(&s, &c, AutomationKind::Integration, q).await
}

#[utoipa::path(
    post,
    path = "/automation/integrations",
    tag = "Automation",
    operation_id = "automations_create_integration",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn create_integration(
    State(s): State<AppState>,
    Auth(c): Auth,
    Json(b): Json<CreateBody>,
) -> AppResult<impl IntoResponse> {
    create(&s, &c, AutomationKind::Integration, b).await
}

#[utoipa::path(
    patch,
    path = "/automation/integrations/{id}",
    tag = "Automation",
    operation_id = "automations_update_integration",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn update_integration(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<UpdateBody>,
) -> AppResult<impl IntoResponse> {
    update(&s, &c, AutomationKind::Integration, &id, b).await
}

#[utoipa::path(
    delete,
    path = "/automation/integrations/{id}",
    tag = "Automation",
    operation_id = "automations_delete_integration",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn delete_integration(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    delete(&s, &c, AutomationKind::Integration, &id).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettingsBody {
    auto_transcribe: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    transcription_language: Option<Option<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[utoipa::path(
    get,
    path = "/instances/{id}/inbox-settings",
    tag = "Automation",
    operation_id = "automations_settings",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn settings(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    Ok(axum::Json(ApiResponse::data(
        s.services.inbox_settings(&c, &id).await?,
    )))
}

#[utoipa::path(
    put,
    path = "/instances/{id}/inbox-settings",
    tag = "Automation",
    operation_id = "automations_put_settings",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn put_settings(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<SettingsBody>,
) -> AppResult<impl IntoResponse> {
    let language = match b.transcription_language {
        Some(Some(l)) => {
            let l = l.trim().to_ascii_lowercase();
            if l.is_empty() {
                Some(None)
            } else if l.len() > 16 || !l.chars().all(|c| c.is_ascii_alphabetic() || c == '-') {
                return Err(AppError::validation(
                    "transcription_language",
                    "The transcription_language must be a language code such as pt or en.",
                ));
            } else {
                Some(Some(l))
            }
        }
        other => other,
    };
    let v = s
        .services
        .set_inbox_settings(&c, &id, b.auto_transcribe, language)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Settings updated",
        json!(v),
    )))
}
