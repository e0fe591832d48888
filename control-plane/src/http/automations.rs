//! Automation entities (beyond the reference, which names them but documents no routes):
//! `/automation/flows` and `/automation/integrations` (list, create, update `name` /
//! `is_active` and a flow's `definition`, delete), and the per-instance inbox settings
//! (`/instances/{id}/inbox-settings`: auto-transcription). A flow's test run is in `flows`.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use zapini_shared::envelope::{ApiResponse, MessageOnly};
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::conversations::{InstanceFilterQuery, Params, instance_ref_schema, instance_value};
use super::extract::{Auth, Json};
use super::messages::instance_ref;
use crate::automation::flow::Flow;
use crate::domain::Caller;
use crate::error::AppResult;
use crate::service::inbox::automation::{
    AutomationChange, AutomationEntity, AutomationKind, IntegrationType,
};
use crate::service::inbox::automation_entities::{AutomationInput, flow_definition};
use crate::service::transcription::InboxSettings;

/// `POST /automation/integrations`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IntegrationCreateBody)]
pub struct CreateBody {
    #[schema(schema_with = instance_ref_schema)]
    instance_id: Option<Value>,
    /// The name (trimmed; 1 to 255 characters).
    #[schema(required = true, value_type = String, max_length = 255, pattern = r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]", example = "Support bot")]
    name: Option<String>,
    /// The kind of integration (default `webhook`; case-insensitive; also accepted as `type`).
    #[serde(alias = "type")]
    #[schema(value_type = Option<IntegrationType>)]
    integration_type: Option<String>,
    /// Whether it is active (default `true`): an active flow or integration puts its
    /// instance's conversations under automation.
    is_active: Option<bool>,
    /// When and how it answers (defaults in the schema).
    #[schema(value_type = Option<crate::automation::settings::Settings>)]
    settings: Option<Value>,
    /// Among the instance's automations, the highest priority is asked first (default 0).
    priority: Option<i32>,
    /// `webhook`/`api`: a `WebhookBotConfig`; `ai_agent`: an `AiAgentConfig`. Secrets are
    /// write-only.
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
}

/// `POST /automation/flows`: as an integration, without `integration_type` (refused with 422).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FlowCreateBody)]
pub struct FlowCreateBody {
    #[schema(schema_with = instance_ref_schema)]
    instance_id: Option<Value>,
    /// The name (trimmed; 1 to 255 characters).
    #[schema(required = true, value_type = String, max_length = 255, pattern = r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]", example = "Welcome flow")]
    name: Option<String>,
    #[serde(alias = "type")]
    #[schema(ignore)]
    integration_type: Option<String>,
    /// Whether it is active (default `true`).
    is_active: Option<bool>,
    /// The graph of steps, validated when saved (422 naming the step and field, such as
    /// `definition.steps[3].next`). Without one the flow does not answer.
    #[schema(value_type = Option<crate::automation::flow::Definition>)]
    definition: Option<Value>,
    #[schema(value_type = Option<crate::automation::settings::Settings>)]
    settings: Option<Value>,
    /// Among the instance's automations, the highest priority is asked first (default 0).
    priority: Option<i32>,
    #[schema(ignore)]
    config: Option<Value>,
}

impl FlowCreateBody {
    fn split(self) -> (CreateBody, Option<Value>) {
        (
            CreateBody {
                instance_id: self.instance_id,
                name: self.name,
                integration_type: self.integration_type,
                is_active: self.is_active,
                settings: self.settings,
                priority: self.priority,
                config: self.config,
            },
            self.definition,
        )
    }
}

/// A `definition` from a body, parsed (null: none).
pub(super) fn definition(v: Option<Value>) -> AppResult<Option<Flow>> {
    flow_definition(v)
}

/// `PATCH` a flow or an integration: absent or null fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AutomationUpdateBody)]
pub struct UpdateBody {
    /// The name (trimmed; 1 to 255 characters).
    #[schema(
        max_length = 255,
        pattern = r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
    )]
    name: Option<String>,
    is_active: Option<bool>,
    /// Flows only (422 for an integration): a new graph of steps, validated; a different one
    /// bumps `version`.
    #[schema(value_type = Option<crate::automation::flow::Definition>)]
    definition: Option<Value>,
    /// Replaces the settings (absent fields take their defaults).
    #[schema(value_type = Option<crate::automation::settings::Settings>)]
    settings: Option<Value>,
    priority: Option<i32>,
    /// Integrations: replaces the configuration; a secret left out is kept.
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
}

fn entity_example(kind: Option<&str>) -> Value {
    let mut e = json!({
        "id": "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b",
        "instance_id": "550e8400-e29b-41d4-a716-446655440000",
        "name": if kind.is_some() { "Support bot" } else { "Welcome flow" },
        "is_active": true,
        "created_at": "2025-01-15T10:30:00Z",
        "updated_at": "2025-01-15T10:30:00Z"
    });
    match kind {
        Some(k) => e["integration_type"] = json!(k),
        None => {
            e["definition"] = crate::automation::flow::model::definition_example();
            e["version"] = json!(1);
        }
    }
    e
}

fn flows_example() -> Value {
    json!({"success": true, "data": [entity_example(None)]})
}

fn integrations_example() -> Value {
    json!({"success": true, "data": [entity_example(Some("ai_agent"))]})
}

fn created_integration_example() -> Value {
    json!({"success": true, "message": "Created successfully", "data": entity_example(Some("ai_agent"))})
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
    definition: Option<Value>,
) -> AppResult<axum::response::Response> {
    let instance = instance_ref(instance_value(body.instance_id))?;
    let e = state
        .services
        .add_automation(
            caller,
            kind,
            instance,
            AutomationInput {
                name: body.name,
                integration_type: body.integration_type,
                is_active: body.is_active,
                definition,
                settings: body.settings,
                priority: body.priority,
                config: body.config,
            },
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
        .edit_automation(
            caller,
            kind,
            id,
            AutomationInput {
                name: body.name,
                integration_type: None,
                is_active: body.is_active,
                definition: body.definition,
                settings: body.settings,
                priority: body.priority,
                config: body.config,
            },
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
        .change_automation(caller, kind, id, AutomationChange::default(), true)
        .await?;
    Ok(axum::Json(ApiResponse::<()>::message_only("Deleted successfully")).into_response())
}

const FORBIDDEN_403: &str =
    "`instance_id` names another instance than the `sk_` token's (`INSTANCE_FORBIDDEN`)";
const UNKNOWN_INSTANCE_404: &str =
    "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)";

/// List flows
///
/// The tenant's automation flows (an `sk_` token: its instance's), oldest first, each with its
/// `definition` (the graph of steps) and `version`.
#[utoipa::path(
    get,
    path = "/automation/flows",
    tag = "Automation",
    operation_id = "automations_flows",
    params(InstanceFilterQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The flows.", body = ApiResponse<Vec<AutomationEntity>>,
            example = flows_example),
        (status = 403, description = FORBIDDEN_403, body = ErrorEnvelope),
        (status = 404, description = UNKNOWN_INSTANCE_404, body = ErrorEnvelope),
    )
)]
pub async fn flows(
    State(s): State<AppState>,
    Auth(c): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    list(&s, &c, AutomationKind::Flow, q).await
}

/// Create a flow
///
/// Creates a flow on an instance, with its `definition` (validated: a 422 names the step and
/// field). An active flow puts the instance's conversations under automation: manual sends
/// are refused with `AUTOMATION_ACTIVE` until paused.
#[utoipa::path(
    post,
    path = "/automation/flows",
    tag = "Automation",
    operation_id = "automations_create_flow",
    request_body(content = FlowCreateBody,
        example = json!({"instance_id": "550e8400-e29b-41d4-a716-446655440000", "name": "Welcome flow",
            "definition": crate::automation::flow::model::definition_example()})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "Created.", body = ApiResponse<AutomationEntity>),
        (status = 403, description = FORBIDDEN_403, body = ErrorEnvelope),
        (status = 404, description = UNKNOWN_INSTANCE_404, body = ErrorEnvelope),
        (status = 422, description = "`instance_id` is missing (user token) or not an id, `name` is missing, blank or too long, `integration_type` is given, `definition` is invalid (the field names the step: an unknown type, a missing or invalid field, a duplicate id, a target that is not a step, a step unreachable from `start`, a loop that never waits for the user, an `ai_agent` step naming no AI agent integration of the instance, over 200 steps or 256 KiB), or a field is unknown (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn create_flow(
    State(s): State<AppState>,
    Auth(c): Auth,
    Json(b): Json<FlowCreateBody>,
) -> AppResult<impl IntoResponse> {
    let (body, raw) = b.split();
    create(&s, &c, AutomationKind::Flow, body, raw).await
}

/// Update a flow
///
/// Renames a flow, turns it on or off, or replaces its `definition` (validated; a different
/// one bumps `version`).
#[utoipa::path(
    patch,
    path = "/automation/flows/{id}",
    tag = "Automation",
    operation_id = "automations_update_flow",
    params(("id" = String, Path, description = "The flow's UUID")),
    request_body(content = Option<UpdateBody>, example = json!({"is_active": false})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Updated.", body = ApiResponse<AutomationEntity>),
        (status = 404, description = "No such flow for this token (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "`name` is blank or too long, `definition` is invalid (as when creating), or a field is unknown (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn update_flow(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<UpdateBody>,
) -> AppResult<impl IntoResponse> {
    update(&s, &c, AutomationKind::Flow, &id, b).await
}

/// Delete a flow
///
/// Deletes a flow; without another active flow or integration, its instance's conversations
/// leave automation.
#[utoipa::path(
    delete,
    path = "/automation/flows/{id}",
    tag = "Automation",
    operation_id = "automations_delete_flow",
    params(("id" = String, Path, description = "The flow's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "Deleted successfully"})),
        (status = 404, description = "No such flow for this token (`NOT_FOUND`)", body = ErrorEnvelope),
    )
)]
pub async fn delete_flow(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    delete(&s, &c, AutomationKind::Flow, &id).await
}

/// List integrations
///
/// The tenant's integrations with external systems (webhooks, APIs, AI agents; an `sk_`
/// token: its instance's), oldest first.
#[utoipa::path(
    get,
    path = "/automation/integrations",
    tag = "Automation",
    operation_id = "automations_integrations",
    params(InstanceFilterQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The integrations.", body = ApiResponse<Vec<AutomationEntity>>,
            example = integrations_example),
        (status = 403, description = FORBIDDEN_403, body = ErrorEnvelope),
        (status = 404, description = UNKNOWN_INSTANCE_404, body = ErrorEnvelope),
    )
)]
pub async fn integrations(
    State(s): State<AppState>,
    Auth(c): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    list(&s, &c, AutomationKind::Integration, q).await
}

/// Create an integration
///
/// Creates an integration on an instance. An active integration puts the instance's
/// conversations under automation: manual sends are refused with `AUTOMATION_ACTIVE` until
/// paused.
#[utoipa::path(
    post,
    path = "/automation/integrations",
    tag = "Automation",
    operation_id = "automations_create_integration",
    request_body(content = CreateBody, example = json!({
        "instance_id": "550e8400-e29b-41d4-a716-446655440000",
        "name": "Support bot",
        "integration_type": "ai_agent"
    })),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "Created.", body = ApiResponse<AutomationEntity>,
            example = created_integration_example),
        (status = 403, description = FORBIDDEN_403, body = ErrorEnvelope),
        (status = 404, description = UNKNOWN_INSTANCE_404, body = ErrorEnvelope),
        (status = 422, description = "`instance_id` is missing (user token) or not an id, `name` is missing, blank or too long, `integration_type` is unknown, or a field is unknown (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn create_integration(
    State(s): State<AppState>,
    Auth(c): Auth,
    Json(b): Json<CreateBody>,
) -> AppResult<impl IntoResponse> {
    create(&s, &c, AutomationKind::Integration, b, None).await
}

/// Update an integration
///
/// Renames an integration or turns it on or off.
#[utoipa::path(
    patch,
    path = "/automation/integrations/{id}",
    tag = "Automation",
    operation_id = "automations_update_integration",
    params(("id" = String, Path, description = "The integration's UUID")),
    request_body(content = Option<UpdateBody>, example = json!({"is_active": false})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Updated.", body = ApiResponse<AutomationEntity>),
        (status = 404, description = "No such integration for this token (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "`name` is blank or too long, `definition` is given (flows only), or a field is unknown (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn update_integration(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<UpdateBody>,
) -> AppResult<impl IntoResponse> {
    update(&s, &c, AutomationKind::Integration, &id, b).await
}

/// Delete an integration
///
/// Deletes an integration; without another active flow or integration, its instance's
/// conversations leave automation.
#[utoipa::path(
    delete,
    path = "/automation/integrations/{id}",
    tag = "Automation",
    operation_id = "automations_delete_integration",
    params(("id" = String, Path, description = "The integration's UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "Deleted successfully"})),
        (status = 404, description = "No such integration for this token (`NOT_FOUND`)", body = ErrorEnvelope),
    )
)]
pub async fn delete_integration(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    delete(&s, &c, AutomationKind::Integration, &id).await
}

/// `PUT /instances/{id}/inbox-settings`: absent fields stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = InboxSettingsBody)]
pub struct SettingsBody {
    /// Transcribe incoming audio messages automatically.
    auto_transcribe: Option<bool>,
    /// A language code such as `pt` or `en` (letters and `-`, at most 16; case-insensitive);
    /// null or blank clears it (detect).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, pattern = r"^[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[A-Za-z-]{0,16}[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$", example = "pt")]
    transcription_language: Option<Option<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Get inbox settings
///
/// An instance's inbox settings: whether incoming audio is transcribed automatically, and in
/// which language.
#[utoipa::path(
    get,
    path = "/instances/{id}/inbox-settings",
    tag = "Automation",
    operation_id = "automations_settings",
    params(("id" = String, Path, description = "Instance: numeric id or UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The settings.", body = ApiResponse<InboxSettings>,
            example = json!({"success": true, "data": {
                "instance_id": "550e8400-e29b-41d4-a716-446655440000",
                "auto_transcribe": true,
                "transcription_language": "pt"
            }})),
        (status = 403, description = "An `sk_` token of another instance (`INSTANCE_FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
    )
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

/// Update inbox settings
///
/// Turns automatic transcription of incoming audio on or off, and sets its language.
#[utoipa::path(
    put,
    path = "/instances/{id}/inbox-settings",
    tag = "Automation",
    operation_id = "automations_put_settings",
    params(("id" = String, Path, description = "Instance: numeric id or UUID")),
    request_body(content = Option<SettingsBody>,
        example = json!({"auto_transcribe": true, "transcription_language": "pt"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The settings now.", body = ApiResponse<InboxSettings>),
        (status = 403, description = "An `sk_` token of another instance (`INSTANCE_FORBIDDEN`)", body = ErrorEnvelope),
        (status = 404, description = "No such instance in the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "`transcription_language` is not a language code, or a field is unknown (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
)]
pub async fn put_settings(
    State(s): State<AppState>,
    Auth(c): Auth,
    Path(id): Path<String>,
    Json(b): Json<SettingsBody>,
) -> AppResult<impl IntoResponse> {
    let language =
        crate::service::transcription::parse_transcription_language(b.transcription_language)?;
    let v = s
        .services
        .set_inbox_settings(&c, &id, b.auto_transcribe, language)
        .await?;
    Ok(axum::Json(ApiResponse::message_data("Settings updated", v)))
}
