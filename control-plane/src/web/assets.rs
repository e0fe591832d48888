//! The dashboard's static files, embedded in the binary: `static/app.css`, `static/app.js`
//! and the vendored htmx (`static/vendor/`, with its licence). Cached for a day; pages name
//! them with the build's version so an upgrade is never served stale.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::Pages;

pub const PATHS: &[&str] = &["/dashboard/static/{*path}"];

#[derive(rust_embed::RustEmbed)]
#[folder = "src/web/static/"]
struct Static;

pub fn routes() -> Pages {
    Pages::new().route("/dashboard/static/{*path}", get(serve))
}

async fn serve(Path(path): Path<String>) -> Response {
    let Some(file) = Static::get(&path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mime = match path.rsplit('.').next() {
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        _ => "text/plain; charset=utf-8",
    };
    let mut r = file.data.into_owned().into_response();
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    r
}
