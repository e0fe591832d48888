//! The OpenAPI document against real traffic: a sandbox session's webhook deliveries (every
//! event kind, received by a real HTTP receiver) and the node's Instance API answers are
//! validated against the schemas `/openapi.json` of the same control plane documents.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use zapini_e2e::receiver::{Received, Receiver};
use zapini_e2e::{Api, ControlPlane, Node, config};

const T: Duration = Duration::from_secs(30);

/// A validator for `schema`, a schema taken from `doc` (its `#/components/...` references
/// resolve against the document's components).
fn validator(doc: &Value, schema: &Value) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": doc["components"],
        "allOf": [schema],
    });
    jsonschema::options()
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("schema compiles: {e}\n{schema}"))
}

fn assert_valid(doc: &Value, schema: &Value, instance: &Value, what: &str) {
    let v = validator(doc, schema);
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not match the document:\n{}\n{instance:#}",
        errors.join("\n")
    );
}

/// Checks one delivery against its webhook's description: the body against the request
/// schema, every documented header (required ones present) against its schema.
pub(crate) fn check_delivery(doc: &Value, r: &Received) {
    let event = r.header("x-webhook-event");
    let op = &doc["webhooks"][event]["post"];
    assert!(op.is_object(), "{event} is not documented");
    let schema = &op["requestBody"]["content"]["application/json"]["schema"];
    assert_valid(doc, schema, &r.json(), &format!("the {event} body"));
    for p in op["parameters"].as_array().expect("parameters") {
        let name = p["name"].as_str().unwrap();
        let value = r.headers.get(&name.to_ascii_lowercase());
        match value {
            Some(v) => assert_valid(doc, &p["schema"], &json!(v), &format!("{event} {name}")),
            None => assert!(
                p["required"] != true,
                "{event}: required header {name} missing"
            ),
        }
    }
}

/// The documented schema of `status` answers of a path's operation.
fn response_schema<'a>(doc: &'a Value, path: &str, method: &str, status: &str) -> &'a Value {
    let op = &doc["paths"][path][method];
    assert_eq!(op["x-zapini-served-by"], "node", "{method} {path}");
    &op["responses"][status]["content"]["application/json"]["schema"]
}

struct Session {
    api: Api,
    sk: String,
    node: Node,
    doc: Value,
}

impl Session {
    /// Calls a node path, checks the request against the documented body and the answer
    /// against the documented 200.
    async fn node_call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let m = method.as_str().to_ascii_lowercase();
        if let Some(b) = &body {
            let schema = &self.doc["paths"][path][&m]["requestBody"]["content"]["application/json"]
                ["schema"];
            assert_valid(&self.doc, schema, b, &format!("the {path} request"));
        }
        let (status, resp) = self
            .api
            .call(method, &self.node.url(path), Some(&self.sk), None, body)
            .await;
        assert_eq!(status, 200, "{path}: {resp}");
        let schema = response_schema(&self.doc, path, &m, "200");
        assert_valid(&self.doc, schema, &resp, &format!("the {path} answer"));
        resp
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_deliveries_and_node_answers_match_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let cp = ControlPlane::start(config(dir.path()).await.unwrap())
        .await
        .unwrap();
    let api = Api::default();
    let (status, doc) = api
        .call(Method::GET, &cp.url("/openapi.json"), None, None, None)
        .await;
    assert_eq!(status, 200);
    let user = api.login(&cp).await;
    let rx = Receiver::start().await;
    let (id, uuid) = api.create_instance(&cp, &user, "described").await;
    let sk = api.create_sk_token(&cp, &user, id).await;
    // Every event (no list), signed.
    let (status, body) = api
        .call(
            Method::PUT,
            &cp.url(&format!("/instances/{uuid}/webhook")),
            Some(&user),
            None,
            Some(json!({"webhook_url": rx.url, "webhook_secret": "s3cret-for-the-doc-test"})),
        )
        .await;
    assert!(status == 200 || status == 201, "{body}");
    let node = Node::start(cp.node_config(uuid, &dir.path().join("node")))
        .await
        .unwrap();
    let s = Session { api, sk, node, doc };

    let has = |log: &[Received], event: &str| {
        log.iter()
            .any(|r| r.ok() && r.header("x-webhook-event") == event)
    };
    rx.wait_until(T, "instance.qr", |log| has(log, "instance.qr"))
        .await;
    s.node_call(
        Method::POST,
        "/sandbox/scan",
        Some(json!({"phone_number": "5511999990001", "push_name": "Doc"})),
    )
    .await;
    rx.wait_until(T, "instance.connected", |log| {
        has(log, "instance.connected")
    })
    .await;
    s.node_call(Method::GET, "/status", None).await;

    let sent = s
        .node_call(
            Method::POST,
            "/send-message",
            Some(json!({"to": "5511888888888", "message": "Thanks for contacting us!"})),
        )
        .await;
    let sent_wa = sent["message_id"].as_str().unwrap().to_owned();
    s.node_call(
        Method::POST,
        "/sandbox/receipt",
        Some(json!({"message_id": sent_wa, "status": "read"})),
    )
    .await;
    let inbound = s
        .node_call(
            Method::POST,
            "/sandbox/inbound",
            Some(json!({"from": "5511888888888", "message": "Hello, I need help!", "push_name": "John Doe"})),
        )
        .await;
    let in_wa = inbound["data"]["message_id"].as_str().unwrap().to_owned();
    s.node_call(
        Method::POST,
        "/sandbox/inbound",
        Some(json!({"from": "5511888888888", "location": {"latitude": -23.5505, "longitude": -46.6333, "name": "Praça da Sé"}})),
    )
    .await;
    for (path, body) in [
        (
            "/sandbox/reaction",
            json!({"from": "5511888888888", "message_id": sent_wa, "emoji": "👍"}),
        ),
        (
            "/sandbox/edit",
            json!({"from": "5511888888888", "message_id": in_wa, "text": "Hello, I need help now!"}),
        ),
        (
            "/sandbox/revoke",
            json!({"from": "5511888888888", "message_id": in_wa}),
        ),
        (
            "/sandbox/groups",
            json!({"subject": "Team", "participants": ["5511888888888"]}),
        ),
    ] {
        s.node_call(Method::POST, path, Some(body)).await;
    }
    let events = [
        "instance.qr",
        "instance.connected",
        "message.sent",
        "message.status",
        "message.received",
        "message.reaction",
        "message.edited",
        "message.deleted",
        "contact.update",
        "group.update",
    ];
    rx.wait_until(T, "every message event", |log| {
        events.iter().all(|e| has(log, e))
            && log
                .iter()
                .filter(|r| r.ok() && r.header("x-webhook-event") == "message.received")
                .count()
                >= 2
    })
    .await;
    s.node_call(
        Method::POST,
        "/sandbox/fault",
        Some(json!({"fault": "logged_out"})),
    )
    .await;
    let log = rx
        .wait_until(T, "instance.disconnected", |log| {
            has(log, "instance.disconnected")
        })
        .await;

    let delivered: Vec<&Received> = log.iter().filter(|r| r.ok()).collect();
    for r in &delivered {
        check_delivery(&s.doc, r);
    }
    let located = delivered
        .iter()
        .map(|r| r.json())
        .find(|b| b["event"] == "message.received" && b["data"]["message_type"] == "location")
        .expect("the location message was delivered");
    assert_eq!(located["data"]["location"]["latitude"], -23.5505);
    let mut seen: Vec<String> = delivered
        .iter()
        .map(|r| r.header("x-webhook-event").to_owned())
        .collect();
    seen.sort();
    seen.dedup();
    for e in events.iter().chain(&["instance.disconnected"]) {
        assert!(seen.iter().any(|s| s == e), "{e} not delivered: {seen:?}");
    }
    s.node.stop().await;
}
