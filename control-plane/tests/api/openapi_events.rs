//! The OpenAPI document's webhooks and Instance API, as the real server serves them: every
//! event name has a webhook with the signature headers, every node path is described on the
//! instance host and marked as the node's, and every example matches its schema. (Real
//! deliveries are validated against these schemas in `tests/tests/openapi_events.rs`.)

use control_plane::webhooks::events::NAMES;
use reqwest::Method;
use serde_json::{Value, json};
use zapini_shared::node_routes::ROUTES;

use crate::helpers::spawn_app;

async fn document() -> Value {
    let app = spawn_app().await;
    let resp = app
        .req(Method::GET, "/openapi.json", None)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    app.stop().await;
    doc
}

/// Errors of `instance` against `schema`, a schema of `doc` (its `#/components/...`
/// references resolve against the document's components).
fn errors(doc: &Value, schema: &Value, instance: &Value) -> Vec<String> {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema compiles: {e}\n{schema}"));
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Checks every `example` of a media object against its `schema`.
fn check_examples(doc: &Value, content: &Value, what: &str) {
    let Some(media) = content.as_object() else {
        return;
    };
    for (kind, m) in media {
        if let Some(example) = m.get("example") {
            let errs = errors(doc, &m["schema"], example);
            assert!(errs.is_empty(), "{what} ({kind}) example: {errs:?}");
        }
    }
}

#[tokio::test]
async fn every_event_is_a_signed_webhook_with_a_valid_example() {
    let doc = document().await;
    let hooks = doc["webhooks"].as_object().expect("webhooks");
    assert_eq!(
        hooks.len(),
        NAMES.len(),
        "one webhook per event name, no other"
    );
    let mut ids = Vec::new();
    for (name, _) in NAMES {
        let op = &hooks[*name]["post"];
        assert!(op.is_object(), "{name} has no webhook");
        ids.push(op["operationId"].as_str().unwrap().to_owned());
        let header = |h: &str| {
            op["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == h && p["in"] == "header")
                .unwrap_or_else(|| panic!("{name}: no {h} header"))
                .clone()
        };
        for h in [
            "X-Webhook-Signature",
            "X-Webhook-Signature-V2",
            "X-Webhook-Timestamp",
            "X-Webhook-Event",
            "X-Instance-UUID",
            "X-Webhook-Delivery-Id",
        ] {
            assert_eq!(header(h)["required"], true, "{name}: {h}");
        }
        assert!(
            header("X-Webhook-Signature")["description"]
                .as_str()
                .unwrap()
                .contains("HMAC-SHA256")
        );
        assert_eq!(header("X-Webhook-Event")["schema"]["const"], *name);
        let content = &op["requestBody"]["content"];
        let schema = &content["application/json"]["schema"];
        assert_eq!(schema["properties"]["event"]["const"], *name);
        let data_ref = schema["properties"]["data"]["$ref"].as_str().unwrap();
        let component = data_ref.trim_start_matches("#/components/schemas/");
        assert!(
            doc["components"]["schemas"][component].is_object(),
            "{name}: {data_ref} is not in the components"
        );
        assert!(
            content["application/json"]["example"].is_object(),
            "{name}: no example"
        );
        check_examples(&doc, content, name);
        let responses = &op["responses"];
        assert!(responses["2XX"].is_object() && responses["default"].is_object());
        assert!(
            responses["default"]["description"]
                .as_str()
                .unwrap()
                .contains("retried"),
            "{name}: the retry policy is stated"
        );
    }
    // An example with a field the schema does not know, or a wrong type, is refused: the
    // check above is not vacuous.
    let schema =
        &hooks["message.received"]["post"]["requestBody"]["content"]["application/json"]["schema"];
    let mut bad =
        hooks["message.received"]["post"]["requestBody"]["content"]["application/json"]["example"]
            .clone();
    bad["data"]["conversation_id"] = json!("123");
    assert!(!errors(&doc, schema, &bad).is_empty());
    bad["data"]["conversation_id"] = json!(123);
    bad["event"] = json!("message.incoming");
    assert!(!errors(&doc, schema, &bad).is_empty());
    bad["event"] = json!("message.received");
    bad["data"]["timestamp"] = json!("2025-01-15 10:30:00");
    assert!(
        !errors(&doc, schema, &bad).is_empty(),
        "formats are checked"
    );
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), NAMES.len(), "webhook operation ids are unique");
}

#[tokio::test]
async fn the_instance_api_is_described_on_the_instance_host() {
    let doc = document().await;
    let paths = doc["paths"].as_object().expect("paths");
    for route in ROUTES {
        if route.path == "/health" {
            // The control plane's own `/health` holds the key.
            assert!(paths["/health"]["get"]["x-zapini-served-by"].is_null());
            continue;
        }
        let item = &paths
            .get(route.path)
            .unwrap_or_else(|| panic!("{} is not described", route.path));
        assert_eq!(
            item["servers"][0]["url"], "https://instance-{id}.{domain}",
            "{}",
            route.path
        );
        for method in route.methods.iter().filter(|m| **m != "HEAD") {
            let m = method.to_ascii_lowercase();
            let op = &item[&m];
            let what = format!("{method} {}", route.path);
            assert_eq!(op["x-zapini-served-by"], "node", "{what}");
            assert!(
                op["operationId"]
                    .as_str()
                    .is_some_and(|id| id.starts_with("instance_")),
                "{what}"
            );
            let tag = if route.path.starts_with("/sandbox/") {
                "Sandbox"
            } else {
                "Instance API"
            };
            assert_eq!(op["tags"], json!([tag]), "{what}");
            let security = op["security"].as_array().unwrap();
            assert!(security.contains(&json!({"instance_token": []})), "{what}");
            for status in ["200", "401", "429"] {
                assert!(op["responses"][status].is_object(), "{what}: no {status}");
            }
            check_examples(&doc, &op["requestBody"]["content"], &what);
            for (status, response) in op["responses"].as_object().unwrap() {
                check_examples(&doc, &response["content"], &format!("{what} {status}"));
            }
        }
    }
    // Nothing else is marked as the node's.
    for (path, item) in paths {
        let by_node = item
            .as_object()
            .unwrap()
            .values()
            .any(|op| op["x-zapini-served-by"] == "node");
        assert_eq!(
            by_node,
            ROUTES.iter().any(|r| r.path == path && r.path != "/health"),
            "{path}"
        );
    }
}
