//! Form bodies of the chat screens (inbox, sandbox phone): URL-encoded, or multipart when a
//! file is attached. Fields are read by hand (repeated keys such as tag check boxes, blank
//! values read as absent) so that bad input gets the API's 422 naming the field, never axum's
//! plain-text rejection.

use axum::extract::multipart::Field;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;

use super::render::{WebError, WebResult};
use crate::error::AppError;

/// The text fields of a form, in order.
#[derive(Debug, Default)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    /// A URL-encoded body.
    pub fn parse(body: &[u8]) -> Fields {
        Fields(
            form_urlencoded::parse(body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
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

#[cfg(test)]
mod tests {
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
}
