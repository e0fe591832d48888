//! Contacts: list/search, create, show, update, delete, import, export (JSON or CSV).

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use zapini_shared::envelope::ApiResponse;
use zapini_shared::phone::PhoneNumber;

use super::AppState;
use super::conversations::Params;
use super::extract::{Auth, Json};
use super::messages::instance_ref;
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::contacts::{
    ContactFields, ContactFilter, ImportRow, MAX_IMPORT_ROWS, contacts_csv,
};

/// A JSON field that may be absent, null (clears) or a string.
#[derive(Deserialize, Default)]
pub struct FieldsBody {
    #[serde(default, deserialize_with = "present")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    company: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    notes: Option<Option<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
pub struct CreateBody {
    instance_id: Option<Value>,
    #[serde(alias = "phone", alias = "number")]
    phone_number: Option<String>,
    #[serde(flatten)]
    fields: FieldsBody,
}

#[derive(Deserialize)]
pub struct ImportBody {
    instance_id: Option<Value>,
    contacts: Option<Vec<ImportItem>>,
}

#[derive(Deserialize)]
pub struct ImportItem {
    #[serde(alias = "phone", alias = "number")]
    phone_number: Option<String>,
    #[serde(flatten)]
    fields: FieldsBody,
}

fn text(field: &str, v: Option<Option<String>>, max: usize) -> AppResult<Option<Option<String>>> {
    let Some(v) = v else { return Ok(None) };
    let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if v.as_ref().is_some_and(|s| s.chars().count() > max) {
        return Err(AppError::validation(
            field,
            format!("The {field} may not be greater than {max} characters."),
        ));
    }
    Ok(Some(v))
}

/// Validates the editable fields.
fn fields(body: FieldsBody) -> AppResult<ContactFields> {
    let email = text("email", body.email, 255)?;
    if let Some(Some(e)) = &email {
        let ok = e.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        }) && !e.contains(char::is_whitespace);
        if !ok {
            return Err(AppError::validation(
                "email",
                "The email must be a valid email address.",
            ));
        }
    }
    Ok(ContactFields {
        name: text("name", body.name, 255)?,
        email,
        company: text("company", body.company, 255)?,
        notes: text("notes", body.notes, 10_000)?,
    })
}

/// The instance named by `instance_id`, or the `sk_` token's own.
fn target_instance(caller: &Caller, v: Option<Value>) -> AppResult<String> {
    match (instance_ref(v)?, caller) {
        (Some(r), _) => Ok(r),
        (None, Caller::Instance { instance_uuid, .. }) => Ok(instance_uuid.to_string()),
        (None, Caller::User { .. }) => Err(AppError::validation(
            "instance_id",
            "The instance_id field is required.",
        )),
    }
}

#[utoipa::path(
    get,
    path = "/contacts",
    tag = "Contacts",
    operation_id = "contacts_list",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<impl IntoResponse> {
    let params = Params::parse(q);
    let page = params.page(15)?;
    let (items, total) = state
        .services
        .list_contacts(
            &caller,
            ContactFilter {
                instance: params.get("instance_id").map(str::to_owned),
                search: params.get("search").map(str::to_owned),
                page: page.page,
                per_page: page.per_page,
            },
        )
        .await?;
    Ok(axum::Json(ApiResponse::paginated(items, page.meta(total))))
}

#[utoipa::path(
    post,
    path = "/contacts",
    tag = "Contacts",
    operation_id = "contacts_create",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<CreateBody>,
) -> AppResult<impl IntoResponse> {
    let instance = target_instance(&caller, body.instance_id)?;
    let raw = body
        .phone_number
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| {
            AppError::validation("phone_number", "The phone_number field is required.")
        })?;
    let phone = PhoneNumber::parse_field("phone_number", &raw)?;
    let fields = fields(body.fields)?;
    let c = state
        .services
        .create_contact(&caller, &instance, phone, fields)
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(ApiResponse::message_data("Contact created successfully", c)),
    ))
}

#[utoipa::path(
    get,
    path = "/contacts/{id}",
    tag = "Contacts",
    operation_id = "contacts_show",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    Ok(axum::Json(ApiResponse::data(
        state.services.get_contact(&caller, &id).await?,
    )))
}

#[utoipa::path(
    method(put, patch),
    path = "/contacts/{id}",
    tag = "Contacts",
    operation_id = "contacts_update",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn update(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    Json(body): Json<FieldsBody>,
) -> AppResult<impl IntoResponse> {
    let c = state
        .services
        .update_contact(&caller, &id, fields(body)?)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Contact updated successfully",
        c,
    )))
}

#[utoipa::path(
    delete,
    path = "/contacts/{id}",
    tag = "Contacts",
    operation_id = "contacts_delete",
    params(("id" = String, Path)),
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    state.services.delete_contact(&caller, &id).await?;
    Ok(axum::Json(ApiResponse::<()>::message_only(
        "Contact deleted successfully",
    )))
}

#[utoipa::path(
    post,
    path = "/contacts/import",
    tag = "Contacts",
    operation_id = "contacts_import",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn import(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<ImportBody>,
) -> AppResult<impl IntoResponse> {
    let instance = target_instance(&caller, body.instance_id)?;
    let items = body
        .contacts
        .ok_or_else(|| AppError::validation("contacts", "The contacts field is required."))?;
    if items.is_empty() {
        return Err(AppError::validation(
            "contacts",
            "The contacts field must have at least 1 item.",
        ));
    }
    if items.len() > MAX_IMPORT_ROWS {
        return Err(AppError::validation(
            "contacts",
            format!("The contacts field must not have more than {MAX_IMPORT_ROWS} items."),
        ));
    }
    let mut rows = Vec::with_capacity(items.len());
    let mut invalid = Vec::new();
    for (index, item) in items.into_iter().enumerate() {
        let phone = item.phone_number.unwrap_or_default();
        match fields(item.fields) {
            Ok(f) => rows.push((
                index,
                ImportRow {
                    phone_number: phone,
                    fields: f,
                },
            )),
            Err(AppError::Client(e)) => invalid.push(crate::service::contacts::ImportError {
                index,
                phone_number: phone,
                message: e.message,
            }),
            Err(e) => return Err(e),
        }
    }
    let indexes: Vec<usize> = rows.iter().map(|(i, _)| *i).collect();
    let mut outcome = state
        .services
        .import_contacts(
            &caller,
            &instance,
            rows.into_iter().map(|(_, r)| r).collect(),
        )
        .await?;
    // Row numbers refer to the request's array.
    for e in &mut outcome.errors {
        e.index = indexes.get(e.index).copied().unwrap_or(e.index);
    }
    outcome.errors.extend(invalid);
    outcome.errors.sort_by_key(|e| e.index);
    Ok(axum::Json(ApiResponse::message_data(
        "Contacts imported successfully",
        outcome,
    )))
}

#[utoipa::path(
    get,
    path = "/contacts/export",
    tag = "Contacts",
    operation_id = "contacts_export",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn export(
    State(state): State<AppState>,
    Auth(caller): Auth,
    RawQuery(q): RawQuery,
) -> AppResult<axum::response::Response> {
    let params = Params::parse(q);
    let format = params.get("format").unwrap_or("json").to_ascii_lowercase();
    if format != "json" && format != "csv" {
        return Err(AppError::validation(
            "format",
            "The format field must be json or csv.",
        ));
    }
    let contacts = state
        .services
        .export_contacts(&caller, params.get("instance_id"))
        .await?;
    if format == "csv" {
        let body = contacts_csv(&contacts)?;
        return Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"contacts.csv\"",
                ),
            ],
            body,
        )
            .into_response());
    }
    Ok(axum::Json(ApiResponse::data(contacts)).into_response())
}
