//! The OpenAPI document against real answers of the core routes (auth, instances, tokens,
//! connection, sends, webhooks, health): every answer's status is documented for its
//! operation, and its body validates against the documented schema (a JSON Schema validator
//! over the document's own components, formats checked).

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::id_str;
use crate::inbox_setup::Inbox;

/// Validates answers against the document served by the same server.
struct Described {
    doc: Value,
}

impl Described {
    async fn fetch(t: &Inbox) -> Described {
        let resp = t
            .app
            .req(Method::GET, "/openapi.json", None)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        Described {
            doc: resp.json().await.unwrap(),
        }
    }

    /// The documented response of `method path` for `status`, `$ref`s to shared responses
    /// followed.
    fn response(&self, method: &str, path: &str, status: u16) -> &Value {
        let op = &self.doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is not documented");
        let mut resp = &op["responses"][status.to_string()];
        assert!(
            resp.is_object(),
            "{method} {path} answered {status}, which its description does not list"
        );
        if let Some(r) = resp["$ref"].as_str() {
            let name = r.trim_start_matches("#/components/responses/");
            resp = &self.doc["components"]["responses"][name];
        }
        resp
    }

    /// Asserts that `body` is what the document says `method path` answers with `status`.
    #[track_caller]
    fn check(&self, method: &str, path: &str, status: u16, body: &Value) {
        let errors = self.errors(method, path, status, body);
        assert!(
            errors.is_empty(),
            "{method} {path} {status}: the answer does not match the document:\n{}\n{body:#}",
            errors.join("\n")
        );
    }

    /// Why `body` is not what the document says `method path` answers with `status`.
    fn errors(&self, method: &str, path: &str, status: u16, body: &Value) -> Vec<String> {
        let resp = self.response(method, path, status);
        let mut schema = resp["content"]["application/json"]["schema"].clone();
        assert!(
            schema.is_object(),
            "{method} {path} {status}: no JSON schema documented"
        );
        // The schema's `$ref`s point into the document's components: carry them along.
        schema["components"] = self.doc["components"].clone();
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .should_validate_formats(true)
            .build(&schema)
            .unwrap_or_else(|e| panic!("{method} {path} {status}: bad schema: {e}"));
        validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect()
    }
}

async fn call(
    t: &Inbox,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = t.app.req(method, path, token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// Calls `method url` and checks the answer against the description of `method path`;
/// returns the body.
async fn checked(
    t: &Inbox,
    d: &Described,
    token: Option<&str>,
    (method, path, url): (Method, &str, &str),
    body: Option<Value>,
    expect: u16,
) -> Value {
    let name = method.as_str().to_ascii_lowercase();
    let (status, answer) = call(t, token, method, url, body).await;
    assert_eq!(status, expect, "{name} {url}: {answer}");
    d.check(&name, path, status, &answer);
    answer
}

#[tokio::test]
async fn core_answers_match_their_description() {
    let t = Inbox::with_config(|c| {
        c.allow_private_urls = true;
        c.webhooks.allow_http = true;
    })
    .await;
    let d = Described::fetch(&t).await;
    let token = t.token.clone();
    let user = Some(token.as_str());
    let id = t.instance_id();

    // Auth.
    let login = checked(
        &t,
        &d,
        None,
        (Method::POST, "/auth/login", "/auth/login"),
        Some(json!({"email": crate::helpers::ADMIN_EMAIL, "password": crate::helpers::ADMIN_PASSWORD, "device_name": "docs"})),
        200,
    )
    .await;
    assert_eq!(login["data"]["token_type"], "Bearer");
    checked(
        &t,
        &d,
        None,
        (Method::POST, "/auth/login", "/auth/login"),
        Some(json!({"email": crate::helpers::ADMIN_EMAIL, "password": "wrong-password"})),
        401,
    )
    .await;
    checked(
        &t,
        &d,
        None,
        (Method::POST, "/auth/login", "/auth/login"),
        Some(json!({"password": "x"})),
        422,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (Method::GET, "/auth/me", "/auth/me"),
        None,
        200,
    )
    .await;

    // Instances: the one the set-up created through the API, then another.
    let list = checked(
        &t,
        &d,
        user,
        (Method::GET, "/instances", "/instances"),
        None,
        200,
    )
    .await;
    assert_eq!(list["data"]["instances"][0]["id"].to_string(), id);
    checked(
        &t,
        &d,
        user,
        (
            Method::GET,
            "/api/v1/instances",
            "/api/v1/instances?status=pending",
        ),
        None,
        200,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (Method::GET, "/instances", "/instances?status=nope"),
        None,
        422,
    )
    .await;
    let created = checked(
        &t,
        &d,
        user,
        (Method::POST, "/api/v1/instances", "/api/v1/instances"),
        Some(json!({"name": "Docs", "engine": "sandbox", "daily_limit": 100})),
        201,
    )
    .await;
    let other = id_str(&created["data"]["instance"]["id"]);
    checked(
        &t,
        &d,
        user,
        (Method::POST, "/instances", "/instances"),
        Some(json!({"name": "x", "colour": "red"})),
        422,
    )
    .await;
    let show = format!("/instances/{id}");
    let mut one = checked(
        &t,
        &d,
        user,
        (Method::GET, "/instances/{id}", &show),
        None,
        200,
    )
    .await;
    // The check has teeth: an unknown status, a timestamp that is not one, a missing field.
    one["data"]["instance"]["status"] = json!("sleeping");
    one["data"]["instance"]["created_at"] = json!("yesterday");
    one["data"]["instance"]
        .as_object_mut()
        .unwrap()
        .remove("uuid");
    assert_eq!(
        d.errors("get", "/instances/{id}", 200, &one).len(),
        3,
        "{one}"
    );
    checked(
        &t,
        &d,
        user,
        (Method::GET, "/instances/{id}", "/instances/987654"),
        None,
        404,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (Method::PATCH, "/instances/{id}", &show),
        Some(json!({"daily_limit": 600})),
        200,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (
            Method::GET,
            "/instances/{id}/stats",
            &format!("{show}/stats"),
        ),
        None,
        200,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (
            Method::GET,
            "/instances/{id}/status",
            &format!("{show}/status"),
        ),
        None,
        200,
    )
    .await;
    // No node runs in these tests: the node-backed routes answer 503, as documented.
    checked(
        &t,
        &d,
        user,
        (Method::GET, "/instances/{id}/qr", &format!("{show}/qr")),
        None,
        503,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (
            Method::GET,
            "/instances/{id}/groups",
            &format!("{show}/groups"),
        ),
        None,
        503,
    )
    .await;

    // Tokens, and what an sk_ token may not do.
    let tokens = format!("{show}/tokens");
    let sk = checked(
        &t,
        &d,
        user,
        (Method::POST, "/instances/{id}/tokens", &tokens),
        Some(json!({"name": "docs", "expires_in_days": 30})),
        201,
    )
    .await;
    let sk = sk["data"]["token"].as_str().unwrap().to_owned();
    checked(
        &t,
        &d,
        user,
        (Method::GET, "/instances/{id}/tokens", &tokens),
        None,
        200,
    )
    .await;
    let bot = Some(sk.as_str());
    checked(
        &t,
        &d,
        bot,
        (Method::GET, "/auth/me", "/auth/me"),
        None,
        403,
    )
    .await;
    checked(
        &t,
        &d,
        bot,
        (
            Method::GET,
            "/instances/{id}",
            &format!("/instances/{other}"),
        ),
        None,
        403,
    )
    .await;
    checked(
        &t,
        &d,
        bot,
        (Method::DELETE, "/instances/{id}", &show),
        None,
        403,
    )
    .await;
    checked(
        &t,
        &d,
        None,
        (Method::GET, "/instances", "/instances"),
        None,
        401,
    )
    .await;
    // A send passes its checks, then finds no node.
    checked(
        &t,
        &d,
        bot,
        (Method::POST, "/chat/send", "/chat/send"),
        Some(json!({"to": "5511999990000", "message": "hi"})),
        503,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (Method::POST, "/chat/send", "/chat/send"),
        Some(json!({"recipient": "5511999990000", "message": "hi"})),
        422,
    )
    .await;

    // The webhook, a delivery made by an incoming message, its detail and a replay.
    let hook = format!("{show}/webhook");
    checked(
        &t,
        &d,
        user,
        (Method::GET, "/instances/{id}/webhook", &hook),
        None,
        404,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (Method::PUT, "/instances/{id}/webhook", &hook),
        Some(json!({"url": "http://127.0.0.1:9/hook", "events": "message.received, message.status", "is_active": "1"})),
        201,
    )
    .await;
    checked(
        &t,
        &d,
        bot,
        (Method::PUT, "/instances/{id}/webhook", &hook),
        Some(json!({"webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "a-new-secret-1"})),
        200,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (Method::GET, "/instances/{id}/webhook", &hook),
        None,
        200,
    )
    .await;
    t.inbound("5511988887777", "DOC1", "Hello").await;
    let log = format!("{hook}/deliveries");
    let deliveries = checked(
        &t,
        &d,
        user,
        (
            Method::GET,
            "/instances/{id}/webhook/deliveries",
            &format!("{log}?per_page=5"),
        ),
        None,
        200,
    )
    .await;
    let delivery = deliveries["data"][0]["id"]
        .as_str()
        .expect("a delivery")
        .to_owned();
    // A page past any offset a database takes is empty, not an error.
    let far = checked(
        &t,
        &d,
        user,
        (
            Method::GET,
            "/instances/{id}/webhook/deliveries",
            &format!("{log}?page={}", u64::MAX),
        ),
        None,
        200,
    )
    .await;
    assert_eq!(far["data"], json!([]), "{far}");
    let one = format!("{log}/{delivery}");
    checked(
        &t,
        &d,
        user,
        (
            Method::GET,
            "/instances/{id}/webhook/deliveries/{delivery}",
            &one,
        ),
        None,
        200,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (
            Method::POST,
            "/instances/{id}/webhook/deliveries/{delivery}/replay",
            &format!("{one}/replay"),
        ),
        None,
        202,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (
            Method::POST,
            "/instances/{id}/webhook/replay",
            &format!("{hook}/replay"),
        ),
        Some(json!({"since": "2020-01-01T00:00:00Z"})),
        202,
    )
    .await;
    checked(
        &t,
        &d,
        user,
        (Method::DELETE, "/instances/{id}/webhook", &hook),
        None,
        200,
    )
    .await;

    // Health, without a token.
    checked(&t, &d, None, (Method::GET, "/health", "/health"), None, 200).await;
}
