//! Contacts: CRUD with phone normalization and duplicates, search and pagination, import
//! with per-row outcomes, JSON and CSV export.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::assert_error;
use crate::inbox_setup::Inbox;

#[tokio::test]
async fn contact_crud_normalizes_and_rejects_duplicates() {
    let t = Inbox::new().await;
    let (status, body) = t
        .call(
            Method::POST,
            "/contacts",
            Some(json!({
                "instance_id": t.uuid, "phone_number": "+55 (11) 99999-9999", "name": "John Doe",
                "email": "john@example.com", "company": "Acme Inc", "notes": "Met at conference"
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let c = &body["data"];
    assert_eq!(c["phone_number"], "5511999999999");
    assert_eq!(c["name"], "John Doe");
    assert_eq!(c["display_name"], "John Doe");
    assert_eq!(c["email"], "john@example.com");
    assert_eq!(c["company"], "Acme Inc");
    assert_eq!(c["is_business"], false);
    assert!(c["id"].is_i64());
    let id = c["id"].as_i64().unwrap();

    // The same number, written differently, on the same instance: a clear 409.
    let resp = t
        .app
        .post(
            "/api/v1/contacts",
            &t.token,
            json!({"instance_id": t.instance_id(), "phone_number": "5511999999999"}),
        )
        .await;
    let err = assert_error(resp, 409, "DUPLICATE_ENTRY").await;
    assert_eq!(err["error"]["details"]["contact_id"], id);

    for (body, field) in [
        (json!({"instance_id": t.uuid}), "phone_number"),
        (
            json!({"instance_id": t.uuid, "phone_number": "abc"}),
            "phone_number",
        ),
        (json!({"phone_number": "5511888888888"}), "instance_id"),
        (
            json!({"instance_id": t.uuid, "phone_number": "5511888888888", "email": "nope"}),
            "email",
        ),
    ] {
        let resp = t.app.post("/contacts", &t.token, body).await;
        let err = assert_error(resp, 422, "VALIDATION_ERROR").await;
        assert!(err["error"]["details"][field].is_array(), "{err}");
    }

    let got = t.get(&format!("/contacts/{id}")).await;
    assert_eq!(got["data"]["phone_number"], "5511999999999");

    let (status, body) = t
        .call(
            Method::PUT,
            &format!("/api/v1/contacts/{id}"),
            Some(json!({"name": "John Smith", "notes": null})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["name"], "John Smith");
    assert_eq!(body["data"]["notes"], Value::Null);
    assert_eq!(body["data"]["company"], "Acme Inc");

    let (status, _) = t
        .call(Method::DELETE, &format!("/contacts/{id}"), None)
        .await;
    assert_eq!(status, 200);
    let (status, _) = t.call(Method::GET, &format!("/contacts/{id}"), None).await;
    assert_eq!(status, 404);
    t.app.stop().await;
}

#[tokio::test]
async fn list_search_paginate_import_and_export() {
    let t = Inbox::new().await;
    // 2,500 rows in one request: valid, duplicated within the request, and invalid.
    let mut rows: Vec<Value> = (0..2_400)
        .map(
            |i| json!({"phone_number": format!("+55 11 9{:08}", i), "name": format!("Person {i}")}),
        )
        .collect();
    rows.push(json!({"phone_number": "5511900000001", "name": "dup"}));
    rows.push(json!({"phone_number": "not a phone"}));
    rows.push(json!({"name": "no phone"}));
    rows.push(json!({"phone_number": "5521977776666", "name": "Zoë \"Q\", Ltd", "email": "zoe@example.com", "notes": "line1\nline2"}));
    // A spreadsheet formula in a free-text field (push names are chosen by strangers).
    rows.push(json!({"phone_number": "5521966665555", "name": "=HYPERLINK(\"http://x\",\"y\")", "company": "@SUM(A1)", "notes": "-2+3"}));
    let (status, body) = t
        .call(
            Method::POST,
            "/contacts/import",
            Some(json!({"instance_id": t.uuid, "contacts": rows})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Contacts imported successfully");
    assert_eq!(body["data"]["imported"], 2_402);
    assert_eq!(body["data"]["skipped"], 1);
    let errors = body["data"]["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0]["index"], 2_401);
    assert_eq!(errors[1]["index"], 2_402);

    // Importing again skips everything that exists.
    let (_, again) = t
        .call(
            Method::POST,
            "/contacts/import",
            Some(json!({"instance_id": t.uuid, "contacts": [{"phone_number": "5511900000002"}, {"phone_number": "5511955554444"}]})),
        )
        .await;
    assert_eq!(again["data"]["imported"], 1);
    assert_eq!(again["data"]["skipped"], 1);

    let page = t.get("/contacts?per_page=50&page=2").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 50);
    assert_eq!(page["meta"]["pagination"]["total"], 2_403);
    assert_eq!(page["meta"]["pagination"]["last_page"], 49);
    let found = t.get("/contacts?search=zo%C3%AB").await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);
    assert_eq!(found["data"][0]["phone_number"], "5521977776666");
    let by_number = t.get("/contacts?search=977776").await;
    assert_eq!(by_number["meta"]["pagination"]["total"], 1);
    let resp = t.app.get("/contacts?per_page=101", &t.token).await;
    assert_error(resp, 422, "VALIDATION_ERROR").await;

    let json_export = t
        .get(&format!("/contacts/export?instance_id={}", t.uuid))
        .await;
    assert_eq!(json_export["data"].as_array().unwrap().len(), 2_403);

    let resp = t
        .app
        .get("/api/v1/contacts/export?format=csv", &t.token)
        .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(
        resp.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    let text = resp.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[3], "phone_number");
    assert_eq!(&headers[4], "name");
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 2_403);
    let zoe = records.iter().find(|r| &r[3] == "5521977776666").unwrap();
    assert_eq!(&zoe[4], "Zoë \"Q\", Ltd");
    assert_eq!(&zoe[9], "line1\nline2");
    assert!(text.contains("\"Zoë \"\"Q\"\", Ltd\""), "quoted as CSV");
    // Formulas are neutralised with a leading quote in CSV, and kept as typed in JSON.
    let formula = records.iter().find(|r| &r[3] == "5521966665555").unwrap();
    assert_eq!(&formula[4], "'=HYPERLINK(\"http://x\",\"y\")");
    assert_eq!(&formula[8], "'@SUM(A1)");
    assert_eq!(&formula[9], "'-2+3");
    let stored = json_export["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phone_number"] == "5521966665555")
        .unwrap();
    assert_eq!(stored["name"], "=HYPERLINK(\"http://x\",\"y\")");

    let resp = t.app.get("/contacts/export?format=xml", &t.token).await;
    assert_error(resp, 422, "VALIDATION_ERROR").await;
    t.app.stop().await;
}

#[tokio::test]
async fn ingest_creates_contacts_and_sk_tokens_see_their_instance_only() {
    let t = Inbox::new().await;
    let other = t.app.create_instance(&t.token, "Other").await;
    t.inbound("5511911112222", "IN1", "hello").await;
    let list = t.get("/contacts").await;
    assert_eq!(list["data"][0]["phone_number"], "5511911112222");
    assert_eq!(list["data"][0]["push_name"], "Maria");
    assert_eq!(list["data"][0]["display_name"], "Maria");

    let sk = t.app.create_sk(&t.token, &other["id"]).await;
    let (status, body) = t.call_as(&sk, Method::GET, "/contacts", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["meta"]["pagination"]["total"], 0);
    let id = list["data"][0]["id"].as_i64().unwrap();
    let (status, _) = t
        .call_as(&sk, Method::GET, &format!("/contacts/{id}"), None)
        .await;
    assert_eq!(status, 404);
    // With an sk_ token, instance_id is optional and defaults to its own instance.
    let (status, body) = t
        .call_as(
            &sk,
            Method::POST,
            "/contacts",
            Some(json!({"phone_number": "5511933334444"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["instance_id"], other["uuid"]);
    t.app.stop().await;
}
