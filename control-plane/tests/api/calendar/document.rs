//! Real answers and the examples of the Calendar routes against the served document.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Cal, example};
use crate::document::{assert_documented, mismatches};

#[tokio::test]
async fn answers_and_examples_match_the_document() {
    let c = Cal::new().await;
    let (_, doc) = c.t.call(Method::GET, "/openapi.json", None).await;
    let check = |method: &str, template: &str, status: u16, body: &Value| {
        assert_documented(&doc, method, template, status, body)
    };
    let (status, created) = c
        .call(Method::POST, "/calendar/appointments", Some(example()))
        .await;
    assert_eq!(status, 201);
    check("post", "/calendar/appointments", status, &created);
    // The check has teeth: an unknown status, or a missing field, does not match.
    let mut wrong = created.clone();
    wrong["data"]["status"] = json!("lost");
    assert!(!mismatches(&doc, "post", "/calendar/appointments", 201, &wrong).is_empty());
    let mut wrong = created.clone();
    wrong["data"]
        .as_object_mut()
        .unwrap()
        .remove("reminder_minutes");
    assert!(!mismatches(&doc, "post", "/calendar/appointments", 201, &wrong).is_empty());

    let uuid = created["data"]["uuid"].as_str().unwrap().to_owned();
    let item = format!("/calendar/appointments/{uuid}");
    let one = "/calendar/appointments/{uuid}";
    let missing = format!("/calendar/appointments/{}", uuid::Uuid::new_v4());
    for (method, path, template, body) in [
        (
            Method::GET,
            "/calendar/appointments?start=2026-05-01".to_owned(),
            "/calendar/appointments",
            None,
        ),
        (Method::GET, item.clone(), one, None),
        (
            Method::PUT,
            item.clone(),
            one,
            Some(json!({"notes": "n", "location": null})),
        ),
        (
            Method::PUT,
            item.clone(),
            one,
            Some(json!({"color": "red"})),
        ),
        (
            Method::POST,
            format!("{item}/complete"),
            "/calendar/appointments/{uuid}/complete",
            None,
        ),
        (
            Method::POST,
            format!("{item}/confirm"),
            "/calendar/appointments/{uuid}/confirm",
            None,
        ),
        (
            Method::POST,
            format!("{item}/complete"),
            "/calendar/appointments/{uuid}/complete",
            None,
        ),
        (
            Method::POST,
            format!("{item}/cancel"),
            "/calendar/appointments/{uuid}/cancel",
            None,
        ),
        (
            Method::POST,
            format!("{item}/to-kanban"),
            "/calendar/appointments/{uuid}/to-kanban",
            Some(json!({})),
        ),
        (Method::GET, missing.clone(), one, None),
        (
            Method::POST,
            "/calendar/appointments".to_owned(),
            "/calendar/appointments",
            Some(json!({"title": 1})),
        ),
        (
            Method::GET,
            "/calendar/appointments?end=2020-01-01&start=2021-01-01".to_owned(),
            "/calendar/appointments",
            None,
        ),
        (Method::DELETE, item.clone(), one, None),
        (Method::DELETE, missing, one, None),
    ] {
        let (status, answer) = c.call(method.clone(), &path, body).await;
        check(&method.as_str().to_lowercase(), template, status, &answer);
    }

    // Every example of these routes matches its schema.
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.contains("/calendar/") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(op["tags"], json!(["Calendar"]), "{method} {path}");
            for (status, response) in op["responses"].as_object().unwrap() {
                let Some(example) = response.pointer("/content/application~1json/example") else {
                    continue;
                };
                let errors = mismatches(&doc, method, path, status.parse().unwrap(), example);
                assert!(
                    errors.is_empty(),
                    "{method} {path} {status} example: {errors:#?}"
                );
            }
        }
    }
    c.t.app.stop().await;
}
