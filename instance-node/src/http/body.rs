//! Request bodies of the hot path: a JSON object read with a size cap (413 in the envelope),
//! malformed JSON answered with `INVALID_JSON`, and field accessors that accept the
//! reference's aliases and name every accepted spelling when a field is missing or mistyped.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use serde_json::{Map, Value};
use zapini_shared::error::ErrorCode;

use super::error::ApiError;

/// Largest JSON body the hot path accepts.
pub const MAX_JSON_BYTES: usize = 1024 * 1024;

/// A request body that is a JSON object (an empty body counts as `{}`).
pub struct JsonObject(pub Map<String, Value>);

fn too_large() -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("The request body is larger than {MAX_JSON_BYTES} bytes."),
    )
}

impl<S: Send + Sync> FromRequest<S> for JsonObject {
    type Rejection = ApiError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, Self::Rejection> {
        let declared = req
            .headers()
            .get(axum::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_JSON_BYTES as u64) {
            return Err(too_large());
        }
        let body: Body = req.into_body();
        let bytes = axum::body::to_bytes(body, MAX_JSON_BYTES)
            .await
            .map_err(|err| {
                let limited = std::error::Error::source(&err)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                    || err.to_string().contains("length limit");
                if limited {
                    too_large()
                } else {
                    ApiError::new(ErrorCode::BadRequest, "The request body could not be read.")
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(JsonObject(Map::new()));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => Ok(JsonObject(map)),
            Ok(_) => Err(ApiError::new(
                ErrorCode::InvalidJson,
                "The request body must be a JSON object.",
            )),
            Err(e) => Err(ApiError::new(
                ErrorCode::InvalidJson,
                format!("The request body is not valid JSON: {e}."),
            )),
        }
    }
}

fn names(aliases: &[&str]) -> String {
    match aliases {
        [one] => format!("The {one} field"),
        [first, rest @ ..] => format!("The {first} field (or {})", rest.join(", ")),
        [] => "The field".to_owned(),
    }
}

impl JsonObject {
    /// The first present, non-null alias: `(name used, value)`.
    fn find<'a>(&'a self, aliases: &[&'static str]) -> Option<(&'static str, &'a Value)> {
        aliases
            .iter()
            .find_map(|a| self.0.get(*a).filter(|v| !v.is_null()).map(|v| (*a, v)))
    }

    /// An optional string under any of `aliases`; numbers are accepted and converted (phone
    /// numbers are often sent as JSON numbers). Empty strings count as absent.
    pub fn opt_str(
        &self,
        aliases: &[&'static str],
    ) -> Result<Option<(&'static str, String)>, ApiError> {
        match self.find(aliases) {
            None => Ok(None),
            Some((name, Value::String(s))) => Ok((!s.trim().is_empty()).then(|| (name, s.clone()))),
            Some((name, Value::Number(n))) => Ok(Some((name, n.to_string()))),
            Some((name, _)) => Err(ApiError::validation(
                aliases[0],
                format!(
                    "{} must be a string (got a non-string value in {name}).",
                    names(aliases)
                ),
            )),
        }
    }

    /// A required string under any of `aliases`.
    pub fn req_str(&self, aliases: &[&'static str]) -> Result<(&'static str, String), ApiError> {
        self.opt_str(aliases)?.ok_or_else(|| {
            ApiError::validation(aliases[0], format!("{} is required.", names(aliases)))
        })
    }

    /// A required string that may be empty (e.g. an emoji removing a reaction).
    pub fn req_str_allow_empty(&self, aliases: &[&'static str]) -> Result<String, ApiError> {
        match self.find(aliases) {
            Some((_, Value::String(s))) => Ok(s.clone()),
            Some((name, _)) => Err(ApiError::validation(
                aliases[0],
                format!(
                    "{} must be a string (got a non-string value in {name}).",
                    names(aliases)
                ),
            )),
            None => Err(ApiError::validation(
                aliases[0],
                format!("{} is required.", names(aliases)),
            )),
        }
    }

    /// An optional object.
    pub fn opt_object(&self, name: &'static str) -> Result<Option<JsonObject>, ApiError> {
        match self.find(&[name]) {
            None => Ok(None),
            Some((_, Value::Object(m))) => Ok(Some(JsonObject(m.clone()))),
            Some(_) => Err(ApiError::validation(
                name,
                format!("The {name} field must be an object."),
            )),
        }
    }

    /// An optional list of strings.
    pub fn opt_str_list(&self, name: &'static str) -> Result<Vec<String>, ApiError> {
        match self.find(&[name]) {
            None => Ok(Vec::new()),
            Some((_, Value::Array(items))) => items
                .iter()
                .map(|v| match v {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(ApiError::validation(
                        name,
                        format!("The {name} field must be a list of strings."),
                    )),
                })
                .collect(),
            Some(_) => Err(ApiError::validation(
                name,
                format!("The {name} field must be a list of strings."),
            )),
        }
    }

    pub fn opt_f64(&self, name: &'static str) -> Result<Option<f64>, ApiError> {
        match self.find(&[name]) {
            None => Ok(None),
            Some((_, v)) => v.as_f64().map(Some).ok_or_else(|| {
                ApiError::validation(name, format!("The {name} field must be a number."))
            }),
        }
    }

    pub fn opt_u64(&self, name: &'static str) -> Result<Option<u64>, ApiError> {
        match self.find(&[name]) {
            None => Ok(None),
            Some((_, v)) => v.as_u64().map(Some).ok_or_else(|| {
                ApiError::validation(
                    name,
                    format!("The {name} field must be a non-negative integer."),
                )
            }),
        }
    }

    pub fn opt_bool(&self, name: &'static str) -> Result<Option<bool>, ApiError> {
        match self.find(&[name]) {
            None => Ok(None),
            Some((_, v)) => v.as_bool().map(Some).ok_or_else(|| {
                ApiError::validation(name, format!("The {name} field must be true or false."))
            }),
        }
    }
}
