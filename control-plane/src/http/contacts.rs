//! Contacts: list/search, create, show, update, delete, import (a JSON array of contacts),
//! export (JSON or CSV).

use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use zapini_shared::envelope::{ApiResponse, MessageOnly};
use zapini_shared::error::ErrorEnvelope;
use zapini_shared::phone::PhoneNumber;

use super::AppState;
use super::conversations::{
    ContactExportQuery, ContactListQuery, Params, instance_ref_schema, instance_value,
};
use super::extract::{Auth, Json};
use super::messages::instance_ref;
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::contacts::{
    ContactFields, ContactFieldsInput, ContactFilter, ContactView, ImportItem as ImportInput,
    ImportOutcome, contacts_csv,
};

/// The editable fields: each may be absent (unchanged), null or blank (cleared) or a string
/// (trimmed). The email pattern is [`fields`]' check: blank, or `local@domain` with a dot
/// inside the domain and no spaces.
#[derive(Deserialize, Default, ToSchema)]
#[schema(as = ContactFieldsBody)]
pub struct FieldsBody {
    /// Contact name (max 255 characters).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, example = "John Doe")]
    name: Option<Option<String>>,
    /// Contact email (max 255 characters).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255,
        pattern = r"^[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*(?:[^@\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]+@[^.\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000][^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*\.[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*[^.\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000])?[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$", example = "john@example.com")]
    email: Option<Option<String>>,
    /// Contact company (max 255 characters).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 255, example = "Acme Inc")]
    company: Option<Option<String>>,
    /// Notes about the contact (max 10000 characters).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 10000, example = "Met at conference")]
    notes: Option<Option<String>>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `POST /contacts`. The phone pattern is [`PhoneNumber::parse`]'s: 8 to 15 digits, country
/// code first (no leading 0), an optional leading `+`, spaces, `-`, `.`, `(` and `)` ignored.
#[derive(Deserialize, ToSchema)]
#[schema(as = ContactCreateBody)]
pub struct CreateBody {
    #[schema(schema_with = instance_ref_schema)]
    instance_id: Option<Value>,
    /// Contact phone number with country code (also accepted as `phone` or `number`).
    #[serde(alias = "phone", alias = "number")]
    #[schema(required = true, value_type = String, example = "+5511999999999",
        pattern = r"^[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*\+?[ .()-]*[1-9](?:[ .()-]*[0-9]){7,14}[ .()-]*[\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]*$")]
    phone_number: Option<String>,
    #[serde(flatten)]
    fields: FieldsBody,
}

/// `POST /contacts/import`.
#[derive(Deserialize, ToSchema)]
#[schema(as = ContactImportBody)]
pub struct ImportBody {
    #[schema(schema_with = instance_ref_schema)]
    instance_id: Option<Value>,
    /// The contacts, 1 to 10000 (more is a 422). A row with an invalid number or field is
    /// reported under `errors` instead of failing the import. (The upper bound is not given as
    /// `maxItems`: fuzzers build an array of that size to probe it.)
    #[schema(required = true, value_type = Vec<ImportItem>, min_items = 1)]
    contacts: Option<Vec<ImportItem>>,
}

/// One row of an import: the fields of a contact, checked per row.
#[derive(Deserialize, ToSchema)]
#[schema(as = ContactImportRow)]
pub struct ImportItem {
    /// Contact phone number with country code (also accepted as `phone` or `number`).
    #[serde(alias = "phone", alias = "number")]
    #[schema(example = "+5511999999999")]
    phone_number: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "John Doe")]
    name: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    company: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    notes: Option<Option<String>>,
}

/// Validates the editable fields.
fn fields(body: FieldsBody) -> AppResult<ContactFields> {
    body.into_input().parse()
}

impl FieldsBody {
    fn into_input(self) -> ContactFieldsInput {
        ContactFieldsInput {
            name: self.name,
            email: self.email,
            company: self.company,
            notes: self.notes,
        }
    }
}

/// The instance named by `instance_id`, or the `sk_` token's own.
fn target_instance(caller: &Caller, v: Option<Value>) -> AppResult<String> {
    match (instance_ref(instance_value(v))?, caller) {
        (Some(r), _) => Ok(r),
        (None, Caller::Instance { instance_uuid, .. }) => Ok(instance_uuid.to_string()),
        (None, Caller::User { .. }) => Err(AppError::validation(
            "instance_id",
            "The instance_id field is required.",
        )),
    }
}

const INSTANCE_ERRORS_403: &str =
    "`instance_id` names another instance than the `sk_` token's (`INSTANCE_FORBIDDEN`)";

fn contact_example() -> Value {
    json!({
        "id": 1,
        "uuid": "9b2f6c1e-8a4d-4f3b-9c7e-2d5a1b0c3e4f",
        "instance_id": "550e8400-e29b-41d4-a716-446655440000",
        "jid": "5511999999999@s.whatsapp.net",
        "phone_number": "5511999999999",
        "name": "John Doe",
        "display_name": "John Doe",
        "push_name": "John",
        "email": "john@example.com",
        "company": "Acme Inc",
        "notes": "VIP customer",
        "profile_picture_url": "https://...",
        "is_business": false,
        "created_at": "2025-01-15T10:30:00Z",
        "updated_at": "2025-01-15T10:30:00Z"
    })
}

fn list_example() -> Value {
    json!({
        "success": true,
        "data": [contact_example()],
        "meta": {"pagination": {"total": 500, "per_page": 50, "current_page": 1, "last_page": 10}}
    })
}

fn created_example() -> Value {
    json!({"success": true, "message": "Contact created successfully", "data": contact_example()})
}

/// List contacts
///
/// Lists all saved contacts of the tenant's instances (an `sk_` token: of its instance),
/// newest first.
#[utoipa::path(
    get,
    path = "/contacts",
    tag = "Contacts",
    operation_id = "contacts_list",
    params(ContactListQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "A page of contacts.", body = ApiResponse<Vec<ContactView>>,
            example = list_example),
        (status = 403, description = INSTANCE_ERRORS_403, body = ErrorEnvelope),
        (status = 404, description = "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
    )
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

/// Create a contact
///
/// Creates a new contact on an instance. The number is normalized to its digits; an
/// instance has one contact per number.
#[utoipa::path(
    post,
    path = "/contacts",
    tag = "Contacts",
    operation_id = "contacts_create",
    request_body(content = CreateBody, example = json!({
        "instance_id": "550e8400-e29b-41d4-a716-446655440000",
        "phone_number": "+5511999999999",
        "name": "John Doe",
        "email": "john@example.com",
        "company": "Acme Inc",
        "notes": "Met at conference"
    })),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 201, description = "Created.", body = ApiResponse<ContactView>,
            example = created_example),
        (status = 403, description = INSTANCE_ERRORS_403, body = ErrorEnvelope),
        (status = 404, description = "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 409, description = "The instance has a contact with this number (`DUPLICATE_ENTRY`; `details.contact_id` is its id)", body = ErrorEnvelope),
        (status = 422, description = "`instance_id` is missing (user token) or not an id, `phone_number` is missing or invalid, a field is too long or `email` is invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
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

/// Get a contact
///
/// Returns details of a specific contact.
#[utoipa::path(
    get,
    path = "/contacts/{id}",
    tag = "Contacts",
    operation_id = "contacts_show",
    params(("id" = String, Path, description = "The contact's numeric id or UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The contact.", body = ApiResponse<ContactView>,
            example = json!({"success": true, "data": contact_example()})),
        (status = 404, description = "No such contact for this token (`NOT_FOUND`)", body = ErrorEnvelope),
    )
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

/// Update a contact
///
/// Updates an existing contact (`PUT` or `PATCH`, both partial): absent fields stay, null or
/// blank ones are cleared. The number cannot change.
#[utoipa::path(
    method(put, patch),
    path = "/contacts/{id}",
    tag = "Contacts",
    operation_id = "contacts_update",
    params(("id" = String, Path, description = "The contact's numeric id or UUID")),
    request_body(content = Option<FieldsBody>,
        example = json!({"name": "John Doe", "company": "Acme Inc", "notes": "VIP customer"})),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Updated.", body = ApiResponse<ContactView>),
        (status = 404, description = "No such contact for this token (`NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "A field is too long or `email` is invalid (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
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

/// Delete a contact
///
/// Deletes a contact. Its conversations stay (a later message creates the contact again).
#[utoipa::path(
    delete,
    path = "/contacts/{id}",
    tag = "Contacts",
    operation_id = "contacts_delete",
    params(("id" = String, Path, description = "The contact's numeric id or UUID")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "Contact deleted successfully"})),
        (status = 404, description = "No such contact for this token (`NOT_FOUND`)", body = ErrorEnvelope),
    )
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

/// Import contacts
///
/// Imports multiple contacts at once, as a JSON body (not a file upload). Numbers already
/// contacts of the instance, or repeated in the import, are skipped; rows with an invalid
/// number or field are listed under `errors` by index; the rest are created.
#[utoipa::path(
    post,
    path = "/contacts/import",
    tag = "Contacts",
    operation_id = "contacts_import",
    request_body(content = ImportBody, example = json!({
        "instance_id": "550e8400-e29b-41d4-a716-446655440000",
        "contacts": [
            {"phone_number": "+5511999999999", "name": "John Doe"},
            {"phone_number": "+5511888888888", "name": "Jane Smith"}
        ]
    })),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "What was imported.", body = ApiResponse<ImportOutcome>,
            example = json!({"success": true, "message": "Contacts imported successfully",
                "data": {"imported": 2, "skipped": 0, "errors": []}})),
        (status = 403, description = INSTANCE_ERRORS_403, body = ErrorEnvelope),
        (status = 404, description = "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
        (status = 422, description = "`instance_id` is missing (user token) or not an id, or `contacts` is missing, empty or longer than 10000 (`VALIDATION_ERROR`)", body = ErrorEnvelope),
    )
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
    let items = items
        .into_iter()
        .map(|item| ImportInput {
            phone_number: item.phone_number.unwrap_or_default(),
            fields: ContactFieldsInput {
                name: item.name,
                email: item.email,
                company: item.company,
                notes: item.notes,
            },
        })
        .collect();
    let outcome = state
        .services
        .import_contact_items(&caller, &instance, items)
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Contacts imported successfully",
        outcome,
    )))
}

/// Export contacts
///
/// Exports every contact (of `instance_id`, or of the `sk_` token's instance), oldest first, in
/// JSON (the envelope, `data` being the contacts) or CSV (`format=csv`: a header row, then one
/// row per contact; free-text cells starting with `=`, `+`, `-` or `@` get a leading `'` so
/// that spreadsheets do not run them as formulas).
#[utoipa::path(
    get,
    path = "/contacts/export",
    tag = "Contacts",
    operation_id = "contacts_export",
    params(ContactExportQuery),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The contacts.", content(
            (ApiResponse<Vec<ContactView>> = "application/json"),
            (String = "text/csv", example = json!("id,uuid,instance_id,phone_number,name,display_name,push_name,email,company,notes,is_business,created_at\n1,9b2f6c1e-8a4d-4f3b-9c7e-2d5a1b0c3e4f,550e8400-e29b-41d4-a716-446655440000,5511999999999,John Doe,John Doe,John,john@example.com,Acme Inc,VIP customer,false,2025-01-15T10:30:00Z\n")),
        ), headers(("Content-Disposition" = String, description = "With `format=csv`: `attachment; filename=\"contacts.csv\"`."))),
        (status = 403, description = INSTANCE_ERRORS_403, body = ErrorEnvelope),
        (status = 404, description = "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)", body = ErrorEnvelope),
    )
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
