//! Extractors that turn requests into typed input, with every rejection in the reference's
//! envelope: JSON bodies (400 malformed, 413 too large, 415 not JSON, 422 wrong field),
//! query strings (422), path ids, and the authenticated [`Caller`].

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use zapini_shared::error::{ErrorBody, ErrorCode};

use crate::domain::Caller;
pub use crate::error::parse_json;
use crate::error::{AppError, field_error};

/// A JSON object body. An empty body, or `null`, reads as `{}`, so endpoints whose fields are
/// all optional accept a bare POST (the OpenAPI document declares such bodies optional and
/// nullable). Any other top-level value than an object is a 422: serde would otherwise read
/// an array as a struct's fields in order.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                AppError::new(
                    ErrorCode::PayloadTooLarge,
                    "The request body is larger than this server accepts.",
                )
            } else {
                AppError::new(
                    ErrorCode::BadRequest,
                    format!("Could not read the body: {rej}"),
                )
            }
        })?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            if let Some(ct) = &content_type
                && !(ct.starts_with("application/json") || ct.contains("+json"))
            {
                return Err(AppError::new(
                    ErrorCode::UnsupportedMediaType,
                    format!(
                        "Send the body as JSON with Content-Type: application/json (got `{ct}`)."
                    ),
                ));
            }
            match bytes.trim_ascii() {
                b"null" => b"{}",
                [b'{', ..] => &bytes,
                // Malformed JSON stays a 400, from the parser.
                [b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f', ..]
                    if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_ok() =>
                {
                    return Err(AppError::validation(
                        "body",
                        "The body must be a JSON object.",
                    ));
                }
                _ => &bytes,
            }
        };
        parse_json(body).map(Json)
    }
}

/// A query string, rejected with a 422 naming the parameter.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Query)
            .map_err(|err| {
                let path = err.path().to_string();
                field_error(&path, &err.into_inner().to_string())
            })
    }
}

/// The authenticated caller, put in place by the auth middleware.
pub struct Auth(pub Caller);

/// Why authentication failed, left by the middleware for [`Auth`] to report.
#[derive(Clone, Debug)]
pub struct AuthFailure(pub ErrorBody);

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        if let Some(caller) = parts.extensions.get::<Caller>() {
            return Ok(Auth(caller.clone()));
        }
        if let Some(AuthFailure(body)) = parts.extensions.get::<AuthFailure>() {
            return Err(AppError::Client(body.clone()));
        }
        Err(AppError::unauthenticated(
            "Unauthenticated: send Authorization: Bearer {token}.",
        ))
    }
}

/// The client's address as the rate limiter sees it.
#[derive(Clone, Debug)]
pub struct ClientIp(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<ClientIp>()
            .cloned()
            .unwrap_or_else(|| ClientIp("unknown".to_owned())))
    }
}
