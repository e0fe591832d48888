//! Form bodies of the dashboard: URL-encoded, or multipart when a file is attached (the chat
//! screens: inbox, sandbox phone). Fields are read by hand (repeated keys such as tag check
//! boxes, blank values read as absent) so that bad input gets the API's 422 naming the field,
//! never axum's plain-text rejection; a form the service refused field by field is shown
//! again with its errors ([`form_again`]).

use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Map, Value, json};

use super::render::{self, WebError, WebResult};
use crate::error::AppError;

/// The text fields of a form, in order.
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// A URL-encoded body.
    pub fn parse(body: &[u8]) -> Fields {
        Fields(form_pairs(body))
    }

    pub fn push(&mut self, key: String, value: String) {
        self.0.push((key, value));
    }

    /// The last value of `key`, trimmed; blank reads as absent.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The last value of `key` as sent (a message's own spaces and new lines kept); blank
    /// reads as absent.
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.trim().is_empty())
    }

    /// Every non-blank value of `key` (check boxes).
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    /// A required field: 422 naming it when missing.
    pub fn required(&self, key: &str, what: &str) -> WebResult<&str> {
        self.get(key).ok_or_else(|| {
            WebError::from(AppError::validation(
                key,
                format!("The {key} field is required ({what})."),
            ))
        })
    }
}

/// A form body: its fields, or a multipart stream still to be read (fields and a file).
pub enum Body {
    Form(Fields),
    Multipart(Multipart),
}

/// The largest URL-encoded form (a message of 65,536 characters fits with room to spare);
/// a multipart form is capped by its route's body limit and its parts' own limits.
const FORM_LIMIT: usize = 1024 * 1024;

/// The largest text part of a multipart form.
const TEXT_PART_LIMIT: usize = 512 * 1024;

/// Reads a request's body as a form of either kind.
pub async fn body(req: Request) -> WebResult<Body> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    if multipart {
        let m = Multipart::from_request(req, &())
            .await
            .map_err(|e| WebError::bad_request(format!("The form could not be read: {e}.")))?;
        return Ok(Body::Multipart(m));
    }
    let bytes = axum::body::to_bytes(req.into_body(), FORM_LIMIT)
        .await
        .map_err(|_| {
            WebError::from(AppError::new(
                zapini_shared::error::ErrorCode::PayloadTooLarge,
                "The form is larger than 1 MB; attach large content as a file.",
            ))
        })?;
    Ok(Body::Form(Fields::parse(&bytes)))
}

/// A multipart error as the API words it.
pub fn multipart_error(e: &axum::extract::multipart::MultipartError) -> WebError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return WebError::from(AppError::new(
            zapini_shared::error::ErrorCode::PayloadTooLarge,
            "The file is larger than this form accepts.",
        ));
    }
    WebError::bad_request(format!(
        "The form is malformed or incomplete: {}.",
        e.body_text()
    ))
}

/// A text part of a multipart form (at most 512 KiB, else a 422 naming it).
pub async fn text_part(mut field: Field<'_>) -> WebResult<String> {
    let name = field.name().unwrap_or("form").to_owned();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
        if bytes.len() + chunk.len() > TEXT_PART_LIMIT {
            return Err(WebError::from(AppError::validation(
                &name,
                format!("The {name} field may not be longer than 512 KiB."),
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// A file part read whole, at most `max` bytes (else 413 naming `field_name`); `None` for an
/// empty file input (nothing chosen).
pub async fn file_part(
    mut field: Field<'_>,
    field_name: &str,
    max: usize,
) -> WebResult<Option<FilePart>> {
    let filename = field.file_name().map(str::to_owned);
    let content_type = field.content_type().map(str::to_owned);
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
        if bytes.len() + chunk.len() > max {
            return Err(WebError::from(AppError::Client(
                zapini_shared::error::ErrorBody::new(
                    zapini_shared::error::ErrorCode::PayloadTooLarge,
                    format!(
                        "The {field_name} is larger than {} MB, the limit here.",
                        max / (1024 * 1024)
                    ),
                )
                .with_details(serde_json::json!({ field_name: [format!("At most {max} bytes.")] })),
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    if bytes.is_empty() {
        return Ok(None);
    }
    Ok(Some(FilePart {
        filename: filename.filter(|f| !f.trim().is_empty()),
        content_type: content_type.filter(|c| !c.trim().is_empty()),
        bytes,
    }))
}

/// An uploaded file, read whole.
pub struct FilePart {
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// A form's fields in order, repeated names included (`events=a&events=b`).
pub(super) fn form_pairs(raw: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(raw).into_owned().collect()
}

/// The first value of `name` ("" when absent).
pub(super) fn form_value<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// A time from a form: RFC 3339, or a browser's `datetime-local` value (`2025-01-15T10:30`,
/// seconds optional) read as UTC. Empty: absent.
pub(super) fn form_time(
    field: &str,
    value: &str,
) -> WebResult<Option<chrono::DateTime<chrono::Utc>>> {
    let v = value.trim();
    if v.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = zapini_shared::time::parse_rfc3339(v) {
        return Ok(Some(t));
    }
    for format in ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"] {
        if let Ok(t) = chrono::NaiveDateTime::parse_from_str(v, format) {
            return Ok(Some(t.and_utc()));
        }
    }
    Err(WebError::from(AppError::validation(
        field,
        format!("The {field} field must be an ISO 8601 date."),
    )))
}

/// The answer to a form the service refused field by field: the form again (`template`
/// with `ctx`), with `errors` (field → messages) and `error` (the message) added, under the
/// error's status (422). htmx swaps it where the form was. Errors that name no field stay
/// the page's flash message.
pub(super) fn form_again(template: &str, mut ctx: Value, e: WebError) -> WebResult<Response> {
    if e.fields.is_empty() {
        return Err(e);
    }
    let mut errors = serde_json::Map::new();
    for (field, message) in &e.fields {
        if let Some(list) = errors
            .entry(field.clone())
            .or_insert_with(|| json!([]))
            .as_array_mut()
        {
            list.push(json!(message));
        }
    }
    ctx["errors"] = Value::Object(errors);
    ctx["error"] = json!(e.message);
    let body = render::render(template, ctx)?;
    Ok((e.status, Html(body)).into_response())
}

/// The form as sent (the first value of each name), for showing it again with its errors.
pub(super) fn form_echo(pairs: &[(String, String)]) -> Value {
    let mut form = Map::new();
    for (k, v) in pairs {
        form.entry(k.clone()).or_insert_with(|| json!(v));
    }
    Value::Object(form)
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    #[test]
    fn fields_read_like_the_api() {
        let f = Fields::parse(b"text=+hi%0Athere+&tag=a&tag=&tag=b&blank=+&x=1&x=2");
        assert_eq!(f.get("text"), Some("hi\nthere"));
        assert_eq!(f.text("text"), Some(" hi\nthere "));
        assert_eq!(f.all("tag"), vec!["a", "b"]);
        assert_eq!(f.get("blank"), None);
        assert_eq!(f.get("x"), Some("2"));
        assert!(f.required("missing", "a number").is_err());
    }

    #[test]
    fn times_from_forms() {
        let t = form_time("since", "2025-01-15T10:30").unwrap().unwrap();
        assert_eq!(t.to_rfc3339(), "2025-01-15T10:30:00+00:00");
        let t = form_time("since", "2025-01-15T10:30:00-03:00")
            .unwrap()
            .unwrap();
        assert_eq!(t.to_rfc3339(), "2025-01-15T13:30:00+00:00");
        assert!(form_time("since", " ").unwrap().is_none());
        let e = form_time("since", "yesterday").unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(e.fields[0].0, "since");
    }

    #[test]
    fn repeated_form_fields_are_kept() {
        let pairs = form_pairs(b"events=a&events=b&webhook_url=https%3A%2F%2Fx.example");
        assert_eq!(form_value(&pairs, "webhook_url"), "https://x.example");
        assert_eq!(pairs.iter().filter(|(k, _)| k == "events").count(), 2);
        assert_eq!(form_value(&pairs, "missing"), "");
    }
}
