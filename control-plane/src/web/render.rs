//! Templates and the dashboard's responses: pages, fragments for htmx, error pages and
//! fragments, security headers.
//!
//! Templates live in `web/templates/` (embedded in release builds, read from the source tree
//! in debug builds), are Jinja-style (minijinja) and escape everything by default. A page
//! template extends `layout.html`; a fragment (a name starting with `_` in its folder) is
//! rendered alone for htmx swaps and included by its page.

use std::sync::OnceLock;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use minijinja::Environment;
use serde::Serialize;

use crate::error::AppError;

#[derive(rust_embed::RustEmbed)]
#[folder = "src/web/templates/"]
struct Templates;

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_loader(|name| {
            Ok(Templates::get(name).map(|f| String::from_utf8_lossy(f.data.as_ref()).into_owned()))
        });
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Chainable);
        env.add_filter("when", when);
        env.add_filter("initials", initials);
        env
    })
}

/// An RFC 3339 time as `YYYY-MM-DD HH:MM` (UTC), for tables; the full value is the
/// `<time datetime>` the script shows in the browser's own time zone.
fn when(value: Option<String>) -> String {
    let Some(v) = value else {
        return String::new();
    };
    match chrono::DateTime::parse_from_rfc3339(&v) {
        Ok(t) => t
            .with_timezone(&chrono::Utc)
            .format("%Y-%m-%d %H:%M")
            .to_string(),
        Err(_) => v,
    }
}

/// Up to two initials of a name, for avatars.
fn initials(value: Option<String>) -> String {
    value
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect()
}

/// Renders `name` with `ctx`.
pub fn render<S: Serialize>(name: &str, ctx: S) -> WebResult<String> {
    let tmpl = env()
        .get_template(name)
        .map_err(|e| WebError::internal(format!("template {name}: {e:#}")))?;
    tmpl.render(minijinja::value::Serde(&ctx))
        .map_err(|e| WebError::internal(format!("rendering {name}: {e:#}")))
}

/// A 200 HTML response of `name` with `ctx`.
pub fn html<S: Serialize>(name: &str, ctx: S) -> WebResult<Response> {
    Ok(Html(render(name, ctx)?).into_response())
}

/// What a dashboard handler answers.
pub type WebResult<T> = Result<T, WebError>;

/// A failure shown to a person: the API's error (same code and status), or our own.
#[derive(Debug)]
pub struct WebError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    /// Per field, for forms.
    pub fields: Vec<(String, String)>,
}

impl WebError {
    pub fn internal(message: impl Into<String>) -> WebError {
        let message = message.into();
        tracing::error!(error = %message, "dashboard error");
        WebError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            code: "INTERNAL_ERROR".into(),
            message: "Something went wrong on our side; try again.".into(),
            fields: Vec::new(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> WebError {
        WebError {
            status: StatusCode::BAD_REQUEST,
            code: "BAD_REQUEST".into(),
            message: message.into(),
            fields: Vec::new(),
        }
    }

    pub fn forbidden(message: impl Into<String>) -> WebError {
        WebError {
            status: StatusCode::FORBIDDEN,
            code: "FORBIDDEN".into(),
            message: message.into(),
            fields: Vec::new(),
        }
    }
}

impl From<AppError> for WebError {
    fn from(e: AppError) -> WebError {
        let body = match e {
            AppError::Client(body) | AppError::RateLimited { body, .. } => body,
            AppError::Unavailable(cause) => {
                tracing::warn!(%cause, "dashboard: a dependency is unavailable");
                zapini_shared::error::ErrorBody::new(
                    zapini_shared::error::ErrorCode::ServiceUnavailable,
                    "The service is temporarily unavailable. Please retry.",
                )
            }
            AppError::Internal(cause) => return WebError::internal(format!("{cause:#}")),
        };
        let mut fields = Vec::new();
        if let Some(map) = body.details.as_object() {
            for (field, messages) in map {
                for m in messages.as_array().into_iter().flatten() {
                    if let Some(m) = m.as_str() {
                        fields.push((field.clone(), m.to_owned()));
                    }
                }
            }
        }
        WebError {
            status: StatusCode::from_u16(body.http_status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: body.code.as_str().to_owned(),
            message: body.message,
            fields,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        #[derive(Serialize)]
        struct Ctx<'a> {
            status: u16,
            code: &'a str,
            message: &'a str,
            fields: &'a [(String, String)],
        }
        let ctx = Ctx {
            status: self.status.as_u16(),
            code: &self.code,
            message: &self.message,
            fields: &self.fields,
        };
        let body = render("_error.html", &ctx).unwrap_or_else(|_| {
            format!(
                "<div class=\"flash error\" role=\"alert\">{}</div>",
                minijinja::HtmlEscape(&self.message)
            )
        });
        // htmx shows it in the page's flash area, whatever the request's own target.
        let mut headers = HeaderMap::new();
        headers.insert("hx-retarget", HeaderValue::from_static("#flash"));
        headers.insert("hx-reswap", HeaderValue::from_static("innerHTML"));
        let mut r = (self.status, headers, Html(body)).into_response();
        r.extensions_mut().insert(Shown {
            status: self.status.as_u16(),
            code: self.code,
            message: self.message,
        });
        r
    }
}

/// An error response's content, for [`security_headers`] to turn into a whole page when a
/// browser (not htmx) asked.
#[derive(Clone, Serialize)]
struct Shown {
    status: u16,
    code: String,
    message: String,
}

/// Whether the request came from htmx (a fragment is wanted, not a page).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// Tells htmx to load another page (or the browser to go there).
pub fn redirect(headers: &HeaderMap, to: &str) -> Response {
    if is_htmx(headers) {
        let mut r = StatusCode::NO_CONTENT.into_response();
        if let Ok(v) = HeaderValue::from_str(to) {
            r.headers_mut().insert("hx-redirect", v);
        }
        r
    } else {
        axum::response::Redirect::to(to).into_response()
    }
}

/// The dashboard's headers: nothing from elsewhere may load or frame it, no inline script.
/// An error answered to a browser's own navigation becomes a whole page.
pub async fn security_headers(req: Request, next: Next) -> Response {
    let fragment_wanted = is_htmx(req.headers());
    let mut res = next.run(req).await;
    if !fragment_wanted && let Some(shown) = res.extensions().get::<Shown>().cloned() {
        let status = res.status();
        if let Ok(body) = render("error.html", &shown) {
            res = (status, Html(body)).into_response();
        }
    }
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; \
             style-src 'self'; script-src 'self'; connect-src 'self'; \
             frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        for name in Templates::iter() {
            env()
                .get_template(&name)
                .unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }

    #[test]
    fn filters() {
        assert_eq!(
            when(Some("2026-01-02T03:04:05-03:00".into())),
            "2026-01-02 06:04"
        );
        assert_eq!(initials(Some("ana maria souza".into())), "AM");
    }
}
