//! Contacts: the list with search, the instance filter and pages (reloading live on
//! `contact` news), creating, editing and deleting a contact, importing a CSV or JSON file
//! (the API's import: imported, skipped and the rows refused with their reason) and
//! downloading the API's export. Every action calls the service the matching API route calls.

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{Path, RawForm, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use zapini_shared::envelope::ApiResponse;
use zapini_shared::phone::PhoneNumber;

use super::fields::{form_again, form_echo, form_pairs, form_value};
use super::render::{self, WebError, WebResult, html};
use super::{Pages, Session};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::contacts::{
    ContactFieldsInput, ContactFilter, ImportItem, MAX_IMPORT_ROWS, contacts_csv,
};

pub const PATHS: &[&str] = &[
    "/dashboard/contacts",
    "/dashboard/contacts/list",
    "/dashboard/contacts/import",
    "/dashboard/contacts/export",
    "/dashboard/contacts/{contact}",
    "/dashboard/contacts/{contact}/delete",
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/contacts", get(index).post(create))
        .route("/dashboard/contacts/list", get(list))
        .route("/dashboard/contacts/import", post(import))
        .route("/dashboard/contacts/export", get(export))
        .route("/dashboard/contacts/{contact}", get(show).post(save))
        .route("/dashboard/contacts/{contact}/delete", post(delete))
}

const PER_PAGE: u64 = 25;

/// The list's filters as the query string has them.
struct ListQuery {
    instance: String,
    search: String,
    page: String,
}

impl ListQuery {
    fn parse(raw: Option<&str>) -> ListQuery {
        let pairs = form_pairs(raw.unwrap_or_default().as_bytes());
        ListQuery {
            instance: form_value(&pairs, "instance_id").trim().to_owned(),
            search: form_value(&pairs, "search").trim().to_owned(),
            page: form_value(&pairs, "page").trim().to_owned(),
        }
    }

    fn with_page(&self, page: u64) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("instance_id", &self.instance)
            .append_pair("search", &self.search)
            .append_pair("page", &page.to_string())
            .finish()
    }
}

async fn list_ctx(state: &AppState, s: &Session, raw: Option<&str>) -> WebResult<Value> {
    let q = ListQuery::parse(raw);
    let page = match super::instances::form_int("page", &q.page)? {
        None => 1,
        Some(p) if p >= 1 => p.unsigned_abs(),
        Some(_) => {
            return Err(AppError::validation("page", "The page must be at least 1.").into());
        }
    };
    let (items, total) = state
        .services
        .list_contacts(
            &s.caller,
            ContactFilter {
                instance: (!q.instance.is_empty()).then(|| q.instance.clone()),
                search: (!q.search.is_empty()).then(|| q.search.clone()),
                page,
                per_page: PER_PAGE,
            },
        )
        .await?;
    let instances = state.services.list_instances(&s.caller, None).await?;
    let names: serde_json::Map<String, Value> = instances
        .iter()
        .map(|i| (i.uuid.to_string(), json!(i.name)))
        .collect();
    let last = total.div_ceil(PER_PAGE).max(1);
    Ok(json!({
        "contacts": items,
        "instance_names": names,
        "total": total,
        "page": page,
        "last_page": last,
        "filters": {"instance_id": q.instance, "search": q.search},
        "query": q.with_page(page),
        "prev": (page > 1).then(|| q.with_page(page - 1)),
        "next": (page < last).then(|| q.with_page(page + 1)),
    }))
}

async fn index(
    State(state): State<AppState>,
    s: Session,
    RawQuery(q): RawQuery,
) -> WebResult<Response> {
    let list = list_ctx(&state, &s, q.as_deref()).await?;
    let instances = state.services.list_instances(&s.caller, None).await?;
    let mut ctx = s.base("contacts");
    ctx["list"] = list;
    ctx["instances"] = json!(instances);
    html("contacts/index.html", ctx)
}

/// `GET /dashboard/contacts/list?instance_id=&search=&page=`: the list (the whole live
/// container, carrying its own filters for the next live reload).
async fn list(
    State(state): State<AppState>,
    s: Session,
    RawQuery(q): RawQuery,
) -> WebResult<Response> {
    let list = list_ctx(&state, &s, q.as_deref()).await?;
    html("contacts/_list.html", json!({ "list": list }))
}

/// The editable fields of a form (every one given: an empty field clears it).
fn fields_of(pairs: &[(String, String)]) -> ContactFieldsInput {
    let given = |name: &str| Some(Some(form_value(pairs, name).to_owned()));
    ContactFieldsInput {
        name: given("name"),
        email: given("email"),
        company: given("company"),
        notes: given("notes"),
    }
}

/// `POST /dashboard/contacts`: `instance_id`, `phone_number` and the fields.
async fn create(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    RawForm(raw): RawForm,
) -> WebResult<Response> {
    let pairs = form_pairs(&raw);
    let result = async {
        let instance = form_value(&pairs, "instance_id").trim();
        if instance.is_empty() {
            return Err(AppError::validation(
                "instance_id",
                "The instance_id field is required.",
            ));
        }
        let phone = form_value(&pairs, "phone_number");
        if phone.trim().is_empty() {
            return Err(AppError::validation(
                "phone_number",
                "The phone_number field is required.",
            ));
        }
        let phone = PhoneNumber::parse_field("phone_number", phone)?;
        let fields = fields_of(&pairs).parse()?;
        state
            .services
            .create_contact(&s.caller, instance, phone, fields)
            .await
    }
    .await;
    match result {
        Ok(c) => Ok(render::redirect(
            &headers,
            &format!("/dashboard/contacts/{}", c.uuid),
        )),
        Err(e) => {
            let instances = state.services.list_instances(&s.caller, None).await?;
            let ctx = json!({ "instances": instances, "form": form_echo(&pairs) });
            form_again("contacts/_create.html", ctx, e.into())
        }
    }
}

async fn contact_ctx(state: &AppState, s: &Session, id: &str) -> WebResult<Value> {
    let contact = state.services.get_contact(&s.caller, id).await?;
    let instance = state
        .services
        .get_instance(&s.caller, &contact.instance_id.to_string())
        .await
        .ok();
    Ok(json!({ "contact": contact, "instance": instance }))
}

async fn show(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let c = contact_ctx(&state, &s, &id).await?;
    let mut ctx = s.base("contacts");
    ctx["contact"] = c["contact"].clone();
    ctx["instance"] = c["instance"].clone();
    html("contacts/show.html", ctx)
}

/// `POST /dashboard/contacts/{contact}`: name, email, company, notes (empty clears).
async fn save(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    RawForm(raw): RawForm,
) -> WebResult<Response> {
    let pairs = form_pairs(&raw);
    let result = match fields_of(&pairs).parse() {
        Ok(fields) => state.services.update_contact(&s.caller, &id, fields).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            let mut ctx = contact_ctx(&state, &s, &id).await?;
            ctx["saved"] = json!(true);
            html("contacts/_edit.html", ctx)
        }
        Err(e) => {
            let mut ctx = contact_ctx(&state, &s, &id).await?;
            ctx["form"] = form_echo(&pairs);
            form_again("contacts/_edit.html", ctx, e.into())
        }
    }
}

async fn delete(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.services.delete_contact(&s.caller, &id).await?;
    Ok(render::redirect(&headers, "/dashboard/contacts"))
}

// ---- import ----

/// A JSON import row: the API's import row (`phone_number`, also `phone` or `number`).
#[derive(Deserialize, Default)]
struct JsonRow {
    #[serde(alias = "phone", alias = "number")]
    phone_number: Option<Value>,
    name: Option<Value>,
    email: Option<Value>,
    company: Option<Value>,
    notes: Option<Value>,
}

/// A JSON file: an array of rows, or the API's body (`{"contacts": [...]}`).
#[derive(Deserialize)]
#[serde(untagged)]
enum JsonFile {
    Rows(Vec<Value>),
    Body { contacts: Vec<Value> },
}

fn file_error(message: impl Into<String>) -> AppError {
    AppError::validation("file", message)
}

/// A JSON value as an optional text field (numbers become their digits).
fn json_text(v: Option<Value>) -> Option<Option<String>> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(Some(s)),
        Some(other) => Some(Some(other.to_string())),
    }
}

fn parse_json(bytes: &[u8]) -> Result<Vec<ImportItem>, AppError> {
    let file: JsonFile = serde_json::from_slice(bytes).map_err(|e| {
        file_error(format!(
            "The file is not a JSON array of contacts (nor {{\"contacts\": [...]}}): {e}."
        ))
    })?;
    let rows = match file {
        JsonFile::Rows(r) | JsonFile::Body { contacts: r } => r,
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            // A row that is not an object becomes a row without a number: refused by the
            // import with its reason, like the API's.
            let row: JsonRow = serde_json::from_value(row).unwrap_or_default();
            ImportItem {
                phone_number: json_text(row.phone_number).flatten().unwrap_or_default(),
                fields: ContactFieldsInput {
                    name: json_text(row.name),
                    email: json_text(row.email),
                    company: json_text(row.company),
                    notes: json_text(row.notes),
                },
            }
        })
        .collect())
}

/// A CSV file with a header row: `phone_number` (or `phone`, `number`), and any of `name`,
/// `email`, `company`, `notes`; other columns (the export's) are ignored.
fn parse_csv(bytes: &[u8]) -> Result<Vec<ImportItem>, AppError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(bytes);
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| file_error(format!("The CSV's header row cannot be read: {e}.")))?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let column = |names: &[&str]| header.iter().position(|h| names.contains(&h.as_str()));
    let phone = column(&["phone_number", "phone", "number"]).ok_or_else(|| {
        file_error("The CSV needs a header row with a phone_number column (and optionally name, email, company, notes).")
    })?;
    let (name, email, company, notes) = (
        column(&["name"]),
        column(&["email"]),
        column(&["company"]),
        column(&["notes"]),
    );
    let mut items = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record
            .map_err(|e| file_error(format!("Row {} of the CSV cannot be read: {e}.", n + 2)))?;
        let cell = |i: Option<usize>| {
            i.and_then(|i| record.get(i))
                .filter(|v| !v.is_empty())
                .map(|v| Some(v.to_owned()))
        };
        items.push(ImportItem {
            phone_number: record.get(phone).unwrap_or_default().to_owned(),
            fields: ContactFieldsInput {
                name: cell(name),
                email: cell(email),
                company: cell(company),
                notes: cell(notes),
            },
        });
    }
    Ok(items)
}

/// Whether a file is JSON: by its name, else by its first character.
fn is_json(filename: &str, bytes: &[u8]) -> bool {
    let lower = filename.to_ascii_lowercase();
    if lower.ends_with(".json") {
        return true;
    }
    if lower.ends_with(".csv") {
        return false;
    }
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[' || *b == b'{')
}

/// `POST /dashboard/contacts/import` (multipart): `instance_id` and `file` (CSV or JSON).
async fn import(
    State(state): State<AppState>,
    s: Session,
    multipart: Result<Multipart, MultipartRejection>,
) -> WebResult<Response> {
    let mut multipart = multipart.map_err(|e| {
        WebError::bad_request(format!("Send the form as multipart/form-data: {e}."))
    })?;
    let mut instance = String::new();
    let mut file: Option<(String, Vec<u8>)> = None;
    loop {
        let field = multipart.next_field().await.map_err(|e| {
            WebError::bad_request(format!("The upload is malformed or incomplete: {e}."))
        })?;
        let Some(field) = field else { break };
        match field.name() {
            Some("instance_id") => {
                instance = field.text().await.unwrap_or_default().trim().to_owned();
            }
            Some("file") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let bytes = field.bytes().await.map_err(|e| {
                    WebError::bad_request(format!("The file did not arrive whole: {e}."))
                })?;
                file = Some((name, bytes.to_vec()));
            }
            _ => {}
        }
    }
    if instance.is_empty() {
        return Err(
            AppError::validation("instance_id", "The instance_id field is required.").into(),
        );
    }
    let (name, bytes) = file
        .filter(|(_, b)| !b.iter().all(u8::is_ascii_whitespace))
        .ok_or_else(|| file_error("Choose a CSV or JSON file with at least one contact."))?;
    let json_file = is_json(&name, &bytes);
    let items = if json_file {
        parse_json(&bytes)?
    } else {
        parse_csv(&bytes)?
    };
    if items.len() > MAX_IMPORT_ROWS {
        return Err(file_error(format!(
            "The file has {} contacts; at most {MAX_IMPORT_ROWS} are imported at once.",
            items.len()
        ))
        .into());
    }
    let outcome = state
        .services
        .import_contact_items(&s.caller, &instance, items)
        .await
        .map_err(|e| match e {
            // The API's field is the file's rows here.
            AppError::Client(body) if body.details.get("contacts").is_some() => {
                file_error("The file has no contacts.")
            }
            other => other,
        })?;
    let instance = state.services.get_instance(&s.caller, &instance).await?;
    html(
        "contacts/_import_result.html",
        json!({
            "outcome": outcome,
            "instance": instance,
            "filename": name,
            // CSV rows are counted from the header (row 1); JSON items from 0.
            "row_offset": if json_file { 0 } else { 2 },
            "json_file": json_file,
        }),
    )
}

// ---- export ----

/// `GET /dashboard/contacts/export?format=csv|json&instance_id=`: the API's export, as a
/// download.
async fn export(
    State(state): State<AppState>,
    s: Session,
    RawQuery(q): RawQuery,
) -> WebResult<Response> {
    let pairs = form_pairs(q.unwrap_or_default().as_bytes());
    let format = form_value(&pairs, "format").trim().to_ascii_lowercase();
    let instance = form_value(&pairs, "instance_id").trim();
    let instance = (!instance.is_empty()).then_some(instance);
    let contacts = state.services.export_contacts(&s.caller, instance).await?;
    let (body, mime, filename) = match format.as_str() {
        "csv" | "" => (
            contacts_csv(&contacts)?,
            "text/csv; charset=utf-8",
            "contacts.csv",
        ),
        "json" => (
            serde_json::to_vec(&ApiResponse::data(contacts))
                .map_err(|e| WebError::internal(format!("export: {e}")))?,
            "application/json",
            "contacts.json",
        ),
        _ => {
            return Err(
                AppError::validation("format", "The format field must be json or csv.").into(),
            );
        }
    };
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_files_are_read_by_their_header() {
        let items = parse_csv(
            "\u{feff}Name,Phone_Number,Email,extra\nAna,+55 11 99999-0001,ana@example.com,x\n,5511999990002,,\n"
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].phone_number, "+55 11 99999-0001");
        assert_eq!(items[0].fields.name, Some(Some("Ana".into())));
        assert_eq!(items[1].fields.name, None);
        let e = parse_csv(b"name,email\nAna,a@b.c\n").unwrap_err();
        let AppError::Client(body) = e else {
            panic!("a client error")
        };
        assert!(body.details.get("file").is_some(), "{body:?}");
    }

    #[test]
    fn json_files_are_arrays_or_the_apis_body() {
        let items = parse_json(br#"[{"phone": "5511999990001", "name": "Ana"}, 7]"#).unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0].phone_number, "5511999990001");
        assert_eq!(items[1].phone_number, "");
        let items = parse_json(br#"{"contacts": [{"phone_number": 5511999990003}]}"#).unwrap();
        assert_eq!(items[0].phone_number, "5511999990003");
        assert!(parse_json(b"{oops").is_err());
        assert!(is_json("x.txt", b"  ["));
        assert!(!is_json("x.csv", b"["));
    }
}
