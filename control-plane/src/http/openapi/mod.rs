//! The OpenAPI 3.1 document and the docs page. The paths come from the handlers'
//! `#[utoipa::path]` attributes, collected by the router itself (`routes!`), so the document
//! and the router cannot drift apart; this module finishes that document once at start (info,
//! security schemes, the error responses every operation shares, the webhooks, the Instance
//! API) and serves it, with an embedded Scalar page at `/docs`.
//!
//! It must not describe a route by hand that the router does not serve: the drift test
//! (`control-plane/tests/api/openapi.rs`) requests every documented operation.

mod common;
mod instance_api;
mod webhooks;

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use serde_json::{Value, json};

/// The finished document, serialized once.
#[derive(Clone)]
pub struct Document {
    json: Bytes,
    page: Arc<str>,
}

impl Document {
    /// Finishes what the router collected and serializes it.
    pub fn new(collected: utoipa::openapi::OpenApi) -> Document {
        let value = finish(serde_json::to_value(&collected).unwrap_or(Value::Null));
        let json = Bytes::from(serde_json::to_vec(&value).unwrap_or_default());
        Document {
            json,
            page: docs_html().into(),
        }
    }
}

/// The complete document as JSON: what `/openapi.json` serves.
pub fn finish(mut doc: Value) -> Value {
    doc["info"] = json!({
        "title": "Zapini API",
        "version": env!("CARGO_PKG_VERSION"),
        "summary": "Self-hosted, multi-tenant WhatsApp API.",
        "description": INFO_DESCRIPTION,
        "license": {"name": "MIT", "identifier": "MIT"},
    });
    doc["servers"] = json!([{"url": "/", "description": "This server"}]);
    common::finish_operations(&mut doc);
    common::add_components(&mut doc);
    instance_api::add(&mut doc);
    doc["webhooks"] = webhooks::webhooks();
    webhooks::add_schemas(&mut doc);
    doc["tags"] = common::tags();
    doc
}

const INFO_DESCRIPTION: &str = "\
Connect WhatsApp numbers, send and receive messages, get signed webhooks for every event, and \
run the inbox on top. Every route is served at the root (`/instances`) and under `/api/v1` \
(`/api/v1/instances`).\n\n\
Authenticate with `Authorization: Bearer <token>`: a user token (`{id}|…`, from \
`POST /auth/login`) reaches every instance of the tenant; an instance token (`sk_…`) reaches \
only its instance. Each operation lists the schemes it accepts.\n\n\
Successful responses are `{\"success\": true, \"message\"?, \"data\"?, \"meta\"?}`; errors are \
`{\"success\": false, \"error\": {\"code\", \"message\", \"details\"}}`.";

/// Serves the document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "Documentation",
    operation_id = "openapi_document",
    summary = "This OpenAPI 3.1 document",
    security(()),
    responses((status = 200, description = "The OpenAPI document.", content_type = "application/json", body = Object))
)]
pub async fn document_json(Extension(doc): Extension<Document>) -> Response {
    let mut resp = doc.json.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// The interactive reference over the document.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "Documentation",
    operation_id = "docs_page",
    summary = "Interactive API reference (Scalar)",
    security(()),
    responses((status = 200, description = "An HTML page.", content_type = "text/html", body = String))
)]
pub async fn docs_page(Extension(doc): Extension<Document>) -> Html<String> {
    Html(doc.page.to_string())
}

/// The docs page's script, embedded at build time from the `scalar_api_reference` crate.
#[utoipa::path(
    get,
    path = "/docs/scalar.js",
    tag = "Documentation",
    operation_id = "docs_script",
    summary = "The docs page's script",
    security(()),
    responses((status = 200, description = "JavaScript.", content_type = "text/javascript", body = String))
)]
pub async fn docs_script() -> Response {
    match scalar_api_reference::get_asset("scalar.js") {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                (header::CACHE_CONTROL, "public, max-age=86400"),
            ],
            bytes,
        )
            .into_response(),
        None => crate::error::AppError::internal("the docs script is not embedded").into_response(),
    }
}

/// The page: Scalar over `openapi.json`, with everything it loads served from here (no CDN,
/// no web fonts), so it renders offline. Relative URLs keep it working under `/api/v1/docs`.
fn docs_html() -> String {
    let config = json!({
        "url": "openapi.json",
        "withDefaultFonts": false,
        "telemetry": false,
        // Scalar's own toolbar and AI agent call scalar.com; this page stays on this server.
        "showDeveloperTools": "never",
        "agent": {"disabled": true},
        "mcp": {"disabled": true},
    });
    scalar_api_reference::scalar_html(&config, Some("docs/scalar.js"))
}
