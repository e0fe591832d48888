//! The OpenAPI document against the router it describes: served without auth at both URL
//! forms, parses as OpenAPI 3.1, and the drift test — every documented operation reaches a
//! handler (never the router's "no route" or "method not allowed" fallback), and on every
//! documented path each undocumented method is refused with 405, so nothing is routed that the
//! document leaves out. `http/mod.rs` registers routes only through `routes!`, which takes
//! path and method from the handler's description (checked below too).

use reqwest::Method;
use serde_json::Value;

use crate::helpers::spawn_app_with;

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch"];

async fn document(app: &crate::helpers::TestApp, path: &str) -> Value {
    let resp = app.req(Method::GET, path, None).send().await.unwrap();
    assert_eq!(resp.status(), 200, "{path}");
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    resp.json().await.unwrap()
}

/// Operations the control plane serves itself (the Instance API is served by nodes).
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in METHODS {
            let op = &item[*method];
            if op.is_object() && op.get("x-zapini-served-by").is_none() {
                ops.push((method.to_string(), path.clone()));
            }
        }
    }
    ops
}

/// A concrete URL for a templated path: every parameter becomes `1`.
fn concrete(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => in_param = true,
            '}' => {
                in_param = false;
                out.push('1');
            }
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

/// The router's own fallbacks, as opposed to a handler's 404 for an unknown id.
async fn is_fallback(resp: reqwest::Response) -> Option<String> {
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    let code = body["error"]["code"].as_str().unwrap_or_default();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    let fallback = (status == 404 && code == "NOT_FOUND" && message.starts_with("No route for"))
        || (status == 405 && code == "METHOD_NOT_ALLOWED");
    fallback.then(|| format!("{status} {message}"))
}

#[tokio::test]
async fn the_document_is_served_without_auth_at_both_url_forms_and_parses_as_openapi_3_1() {
    let app = spawn_app_with(|_| {}).await;
    let root = document(&app, "/openapi.json").await;
    let v1 = document(&app, "/api/v1/openapi.json").await;
    assert_eq!(root, v1);
    assert_eq!(root["openapi"], "3.1.0");
    let text = serde_json::to_string(&root).unwrap();
    let parsed: oas3::Spec = oas3::from_json(&text).expect("a valid OpenAPI 3.1 document");
    assert!(parsed.paths.as_ref().is_some_and(|p| p.len() > 100));

    // Operation ids are unique, both URL forms are described, both token kinds are declared.
    let mut ids = std::collections::HashSet::new();
    for (method, path) in operations(&root) {
        let id = root["paths"][&path][&method]["operationId"]
            .as_str()
            .unwrap();
        assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
    }
    assert!(root["paths"]["/instances/{id}"]["get"].is_object());
    assert!(root["paths"]["/api/v1/instances/{id}"]["get"].is_object());
    let schemes = &root["components"]["securitySchemes"];
    assert_eq!(schemes["user_token"]["scheme"], "bearer");
    assert_eq!(schemes["instance_token"]["scheme"], "bearer");
    app.stop().await;
}

#[tokio::test]
async fn every_documented_operation_is_routed_and_nothing_else_is() {
    // With a metrics token, `/metrics` on the API port is routed (without one it answers 404).
    let app = spawn_app_with(|c| {
        c.rate_limit_requests = 1_000_000;
        c.metrics.token = Some(secrecy::SecretString::from(
            "metrics-token-for-the-drift-test",
        ));
    })
    .await;
    let token = app.login().await;
    let doc = document(&app, "/openapi.json").await;
    let ops = operations(&doc);
    assert!(ops.len() > 150, "only {} operations", ops.len());

    // Undocumented methods on documented paths: the router refuses them.
    let mut paths: Vec<&String> = doc["paths"].as_object().unwrap().keys().collect();
    paths.retain(|p| {
        METHODS.iter().any(|m| {
            doc["paths"][*p][*m].get("x-zapini-served-by").is_none()
                && doc["paths"][*p][*m].is_object()
        })
    });
    let mut routed_but_undocumented = Vec::new();
    for path in &paths {
        for method in METHODS {
            if doc["paths"][*path][*method].is_object() {
                continue;
            }
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = app
                .req(m, &concrete(path), Some(&token))
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap();
            if resp.status() != 405 {
                routed_but_undocumented.push(format!("{method} {path}: {}", resp.status()));
            }
        }
    }
    assert!(
        routed_but_undocumented.is_empty(),
        "routed but not documented: {routed_but_undocumented:#?}"
    );

    // Documented operations reach a handler. Logging out revokes the token: it goes last.
    let mut ordered = ops.clone();
    ordered.sort_by_key(|(_, path)| path.ends_with("/auth/logout"));
    let mut documented_but_unrouted = Vec::new();
    for (method, path) in &ordered {
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let resp = app
            .req(m, &concrete(path), Some(&token))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        if let Some(what) = is_fallback(resp).await {
            documented_but_unrouted.push(format!("{method} {path}: {what}"));
        }
    }
    assert!(
        documented_but_unrouted.is_empty(),
        "documented but not routed: {documented_but_unrouted:#?}"
    );
    app.stop().await;
}

/// The node's sends document their `Idempotency-Key` header; the other node paths take none.
#[tokio::test]
async fn the_node_sends_document_the_idempotency_key_header() {
    let app = spawn_app_with(|_| {}).await;
    let doc = document(&app, "/openapi.json").await;
    for path in ["/send-message", "/send-media"] {
        let params = doc["paths"][path]["post"]["parameters"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} has no parameters"));
        let key = params
            .iter()
            .find(|p| p["name"] == "Idempotency-Key")
            .unwrap_or_else(|| panic!("{path} has no Idempotency-Key"));
        assert_eq!(key["in"], "header");
        assert_eq!(key["required"], false);
        assert_eq!(key["schema"]["maxLength"], 128);
    }
    assert!(doc["paths"]["/send-reaction"]["post"]["parameters"].is_null());
    app.stop().await;
}

/// The router registers routes only through `routes!`, so that each one carries its
/// description; a plain `.route(` would serve a path the document cannot know about.
#[test]
fn the_router_registers_routes_only_with_their_descriptions() {
    let source = include_str!("../../src/http/mod.rs");
    let plain: Vec<&str> = source
        .lines()
        .filter(|l| {
            l.contains(".route(") || l.contains(".route_service(") || l.contains(".nest_service(")
        })
        .collect();
    assert!(plain.is_empty(), "undescribed routes: {plain:#?}");
}

/// The docs page loads nothing from elsewhere: its script is served here, at a URL relative
/// to the page, so it works offline and under `/api/v1/docs` too.
#[tokio::test]
async fn the_docs_page_is_served_with_its_script_and_no_outside_assets() {
    let app = spawn_app_with(|_| {}).await;
    for prefix in ["", "/api/v1"] {
        let resp = app
            .req(Method::GET, &format!("{prefix}/docs"), None)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(
            resp.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        let page = resp.text().await.unwrap();
        assert!(page.contains(r#"src="docs/scalar.js""#), "{page}");
        assert!(page.contains("openapi.json"), "{page}");
        for attr in ["src=\"http", "href=\"http", "src='http", "href='http"] {
            assert!(!page.contains(attr), "an outside asset in {page}");
        }
        let script = app
            .req(Method::GET, &format!("{prefix}/docs/scalar.js"), None)
            .send()
            .await
            .unwrap();
        assert_eq!(script.status(), 200);
        assert!(
            script.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        assert!(script.bytes().await.unwrap().len() > 1_000_000);
    }
    app.stop().await;
}
