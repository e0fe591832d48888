//! The inbox's OpenAPI description against the real server: for the main inbox routes
//! (conversation listings with pagination and filters, history, contacts, tags), real
//! responses validate against the schema `/openapi.json` documents for their status, at both
//! URL forms, and the status itself is documented.

use reqwest::Method;
use serde_json::{Value, json};

use crate::inbox_setup::Inbox;

/// The served document, and a validator per documented response.
pub(crate) struct Described {
    doc: Value,
}

/// A path as a JSON pointer token.
fn pointer_token(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// A JSON pointer as a URI fragment (`{id}` is not allowed there as is).
fn fragment(pointer: &str) -> String {
    pointer.replace('{', "%7B").replace('}', "%7D")
}

impl Described {
    pub(crate) async fn fetch(t: &Inbox) -> Described {
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

    /// The JSON pointer of the documented schema for `status` of `method template`, following
    /// a shared response's `$ref`; panics when the status is not documented.
    fn schema_pointer(&self, method: &str, template: &str, status: u16) -> String {
        let op = &self.doc["paths"][template][method];
        assert!(op.is_object(), "{method} {template} is not documented");
        let response = &op["responses"][status.to_string()];
        assert!(
            response.is_object(),
            "{method} {template}: status {status} is not documented"
        );
        let base = match response["$ref"].as_str() {
            Some(r) => r.trim_start_matches('#').to_owned(),
            None => format!(
                "/paths/{}/{method}/responses/{status}",
                pointer_token(template)
            ),
        };
        let pointer = format!("{base}/content/application~1json/schema");
        assert!(
            self.doc.pointer(&pointer).is_some(),
            "{method} {template} {status}: no JSON schema at {pointer}"
        );
        pointer
    }

    /// Asserts that `body`, answered with `status` to `method template`, matches the document.
    pub(crate) fn check(&self, method: &str, template: &str, status: u16, body: &Value) {
        let mut root = self.doc.clone();
        let pointer = self.schema_pointer(method, template, status);
        root["$ref"] = json!(format!("#{}", fragment(&pointer)));
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("{method} {template} {status}: schema: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {status} does not match the document: {errors:#?}\n{body:#}"
        );
    }

    /// Calls `prefix + path` and checks the answer against `prefix + template`.
    #[allow(clippy::too_many_arguments)]
    async fn once(
        &self,
        t: &Inbox,
        token: &str,
        method: Method,
        (template, path): (&str, &str),
        prefix: &str,
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let (got, answer) = t
            .call_as(token, method.clone(), &format!("{prefix}{path}"), body)
            .await;
        assert_eq!(got, status, "{method} {prefix}{path}: {answer}");
        let documented = format!("{prefix}{template}");
        self.check(&method.as_str().to_lowercase(), &documented, got, &answer);
        answer
    }

    /// Calls the route at both URL forms and checks each answer; returns the root form's body.
    async fn call(
        &self,
        t: &Inbox,
        token: &str,
        method: Method,
        route: (&str, &str),
        body: Option<Value>,
        status: u16,
    ) -> Value {
        let v1 = self
            .once(
                t,
                token,
                method.clone(),
                route,
                "/api/v1",
                body.clone(),
                status,
            )
            .await;
        let root = self.once(t, token, method, route, "", body, status).await;
        assert_eq!(root.get("data").is_some(), v1.get("data").is_some());
        root
    }
}

#[tokio::test]
async fn conversation_listings_and_history_match_their_description() {
    let t = Inbox::new().await;
    let now = chrono::Utc::now().timestamp();
    t.inbound_at("5511900000001", "A1", "first", "Alice", now - 30)
        .await;
    t.inbound_at("5511900000002", "B1", "hi @5511900000001", "Bob", now - 20)
        .await;
    t.inbound_at("5511900000003", "C1", "third", "Carol", now - 10)
        .await;
    let d = Described::fetch(&t).await;
    let token = t.token.clone();

    let page = d
        .call(
            &t,
            &token,
            Method::GET,
            ("/conversations", "/conversations?per_page=2&page=2"),
            None,
            200,
        )
        .await;
    assert_eq!(page["meta"]["pagination"]["total"], 3);
    assert_eq!(page["meta"]["pagination"]["last_page"], 2);
    assert_eq!(page["data"].as_array().unwrap().len(), 1);

    // Tags on a conversation, then the shapes that show them.
    let (status, tag) = t
        .call(
            Method::POST,
            "/tags",
            Some(json!({"name": "VIP", "color": "#F59E0B"})),
        )
        .await;
    assert_eq!(status, 201, "{tag}");
    let tag_id = tag["data"]["tag"]["id"].as_str().unwrap().to_owned();
    let alice = t.conversation_of("5511900000001").await;
    let bob = t.conversation_of("5511900000002").await;
    let routes = [
        (
            "/conversations/{id}/tags",
            format!("/conversations/{alice}/tags"),
        ),
        (
            "/conversations",
            "/conversations?include_tags=1&unread=true".to_owned(),
        ),
        (
            "/conversations",
            format!("/conversations?tag_ids[]={tag_id}&format=chat"),
        ),
        (
            "/conversations",
            "/conversations?search=Bob&is_group=false&untagged=true".to_owned(),
        ),
        (
            "/conversations/archived",
            "/conversations/archived".to_owned(),
        ),
        // Pages past any offset a database takes are empty, not an error.
        (
            "/conversations",
            format!("/conversations?page={}", u64::MAX),
        ),
        (
            "/conversations",
            format!("/conversations?search=a&page={}&per_page=100", i64::MAX),
        ),
        (
            "/chat/conversations",
            "/chat/conversations?per_page=1".to_owned(),
        ),
        ("/conversations/{id}", format!("/conversations/{alice}")),
        (
            "/chat/conversations/{id}",
            format!("/chat/conversations/{alice}"),
        ),
        (
            "/conversations/{id}/messages",
            format!("/conversations/{alice}/messages?limit=1"),
        ),
        (
            "/chat/conversations/{id}/messages",
            format!("/chat/conversations/{bob}/messages"),
        ),
        (
            "/conversations/{id}/automation",
            format!("/conversations/{bob}/automation"),
        ),
    ];
    for (template, path) in &routes {
        let (method, body) = if template.ends_with("/tags") {
            (Method::PUT, Some(json!({"tag_ids": [tag_id]})))
        } else {
            (Method::GET, None)
        };
        let answer = d
            .call(&t, &token, method, (template, path), body, 200)
            .await;
        if template.starts_with("/chat/conversations/{id}/messages") {
            assert!(answer["data"]["messages"][0]["formatted_body"].is_string());
        } else if *template == "/chat/conversations" {
            assert!(answer["data"][0]["instance"].is_object(), "{answer}");
        } else if *template == "/chat/conversations/{id}" {
            assert!(answer["data"]["instance"].is_object(), "{answer}");
        }
    }

    // Refusals carry documented statuses and the error envelope.
    let refusals = [
        (
            Method::GET,
            "/conversations",
            "/conversations?per_page=101".to_owned(),
            422,
        ),
        (
            Method::GET,
            "/conversations",
            "/conversations?unread=maybe".to_owned(),
            422,
        ),
        (
            Method::GET,
            "/conversations",
            "/conversations?instance_id=999999".to_owned(),
            404,
        ),
        (
            Method::GET,
            "/conversations/{id}",
            "/conversations/nope".to_owned(),
            404,
        ),
        (
            Method::POST,
            "/conversations/{id}/automation/resume",
            format!("/conversations/{bob}/automation/resume"),
            409,
        ),
    ];
    for (method, template, path, status) in refusals {
        d.call(&t, &token, method, (template, &path), None, status)
            .await;
    }
    t.app.stop().await;
}

#[tokio::test]
async fn contacts_and_tags_match_their_description() {
    let t = Inbox::new().await;
    let d = Described::fetch(&t).await;
    let token = t.token.clone();
    let sk = t.app.create_sk(&t.token, &t.instance["id"]).await;
    let contacts = ("/contacts", "/contacts");

    // Created at each URL form (a number each), then refused as a duplicate at both.
    for (prefix, number) in [("", "+55 (11) 97777-0001"), ("/api/v1", "5511977770003")] {
        let body = json!({"instance_id": t.uuid, "phone": number, "name": "Ana",
            "email": "ana@example.com", "notes": null});
        d.once(&t, &token, Method::POST, contacts, prefix, Some(body), 201)
            .await;
    }
    let dup = json!({"instance_id": t.uuid, "phone_number": "5511977770001"});
    d.call(&t, &token, Method::POST, contacts, Some(dup), 409)
        .await;
    d.call(
        &t,
        &sk,
        Method::POST,
        contacts,
        Some(json!({"phone_number": "12"})),
        422,
    )
    .await;
    let list = d
        .call(
            &t,
            &token,
            Method::GET,
            ("/contacts", "/contacts?per_page=1&search=ana"),
            None,
            200,
        )
        .await;
    assert_eq!(list["meta"]["pagination"]["total"], 2);
    let id = list["data"][0]["id"].to_string();
    let far = format!("/contacts?page={}", u64::MAX);
    let past = d
        .call(&t, &token, Method::GET, ("/contacts", &far), None, 200)
        .await;
    assert_eq!(past["data"], json!([]));
    let one = ("/contacts/{id}", format!("/contacts/{id}"));
    d.call(&t, &token, Method::GET, (one.0, &one.1), None, 200)
        .await;
    let change = json!({"company": "Acme", "email": null});
    d.call(&t, &sk, Method::PATCH, (one.0, &one.1), Some(change), 200)
        .await;
    let rows = json!({"instance_id": t.uuid, "contacts": [
        {"phone_number": "5511977770002", "name": "Bia"},
        {"phone_number": "not a phone"}
    ]});
    let import = ("/contacts/import", "/contacts/import");
    d.call(&t, &token, Method::POST, import, Some(rows), 200)
        .await;
    let export = ("/contacts/export", "/contacts/export");
    d.call(&t, &token, Method::GET, export, None, 200).await;
    let csv = t.app.get("/contacts/export?format=csv", &t.token).await;
    assert_eq!(csv.status(), 200);
    let content_type = csv.headers()["content-type"].to_str().unwrap().to_owned();
    let media = content_type.split(';').next().unwrap();
    let documented = &d.doc["paths"]["/contacts/export"]["get"]["responses"]["200"]["content"];
    assert!(documented[media].is_object(), "{content_type} undocumented");

    // Tags: creation at each URL form, the listing, and the user-only rule.
    let tags = ("/tags", "/tags");
    for (prefix, name) in [("", "Support"), ("/api/v1", "Sales")] {
        let body = json!({"name": name, "color": "#3b82f6"});
        d.once(&t, &token, Method::POST, tags, prefix, Some(body), 201)
            .await;
    }
    let list = d.call(&t, &token, Method::GET, tags, None, 200).await;
    d.call(&t, &sk, Method::GET, tags, None, 200).await;
    let nope = json!({"name": "Nope", "color": "#000000"});
    d.call(&t, &sk, Method::POST, tags, Some(nope), 403).await;
    let bad = json!({"name": "Bad", "color": "blue"});
    d.call(&t, &token, Method::POST, tags, Some(bad), 422).await;
    let tag = list["data"]["tags"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/tags/{tag}");
    let change = json!({"color": "#111111", "name": null});
    d.call(
        &t,
        &token,
        Method::PATCH,
        ("/tags/{id}", &path),
        Some(change),
        200,
    )
    .await;
    assert_eq!(
        d.doc["paths"]["/tags"]["post"]["security"],
        json!([{"user_token": []}])
    );
    t.app.stop().await;
}
