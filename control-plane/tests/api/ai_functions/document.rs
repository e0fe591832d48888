//! Real answers and the examples of the AI Functions routes against the served document.

use reqwest::Method;
use serde_json::{Value, json};

use super::{API_KEY, Ai, Fake, order_parameter};
use crate::document::{assert_documented, mismatches};

#[tokio::test]
async fn answers_and_examples_match_the_document() {
    let ai = Ai::new().await;
    let fake = Fake::start().await;
    let (_, doc) = ai.call(Method::GET, "/openapi.json", None).await;
    let check = |method: &str, template: &str, status: u16, body: &Value| {
        assert_documented(&doc, method, template, status, body)
    };
    let (status, created) = ai
        .call(
            Method::POST,
            "/ai-functions",
            Some(ai.body(
                "check_order_status",
                json!({
                    "endpoint_url": fake.url("/orders"),
                    "auth_type": "api_key",
                    "auth_config": {"key": API_KEY},
                    "headers": {"X-Shop": "1"},
                    "parameters": order_parameter(),
                }),
            )),
        )
        .await;
    check("post", "/ai-functions", status, &created);
    // The check has teeth: an unknown type, or a missing field, does not match.
    let mut wrong = created.clone();
    wrong["data"]["type"] = json!("weird");
    assert!(!mismatches(&doc, "post", "/ai-functions", 201, &wrong).is_empty());
    let mut wrong = created.clone();
    wrong["data"].as_object_mut().unwrap().remove("auth_config");
    assert!(!mismatches(&doc, "post", "/ai-functions", 201, &wrong).is_empty());
    let uuid = created["data"]["uuid"].as_str().unwrap().to_owned();
    let bare = ai.create(ai.body("bare", json!({"type": "action"}))).await;
    let item = format!("/ai-functions/{uuid}");
    for (method, path, template, body) in [
        (
            Method::GET,
            "/ai-functions".to_owned(),
            "/ai-functions",
            None,
        ),
        (Method::GET, item.clone(), "/ai-functions/{uuid}", None),
        (
            Method::GET,
            format!("/ai-functions/{bare}"),
            "/ai-functions/{uuid}",
            None,
        ),
        (
            Method::PUT,
            item.clone(),
            "/ai-functions/{uuid}",
            Some(json!({"timeout_seconds": 3})),
        ),
        (
            Method::POST,
            format!("{item}/toggle"),
            "/ai-functions/{uuid}/toggle",
            None,
        ),
        (
            Method::POST,
            format!("{item}/test"),
            "/ai-functions/{uuid}/test",
            Some(json!({"parameters": {"order_number": "A1"}})),
        ),
        (
            Method::POST,
            format!("{item}/test"),
            "/ai-functions/{uuid}/test",
            Some(json!({})),
        ),
        (
            Method::GET,
            format!("{item}/executions"),
            "/ai-functions/{uuid}/executions",
            None,
        ),
        (
            Method::GET,
            format!("/ai-functions/{}", uuid::Uuid::new_v4()),
            "/ai-functions/{uuid}",
            None,
        ),
        (
            Method::POST,
            "/ai-functions".to_owned(),
            "/ai-functions",
            Some(json!({"name": "X"})),
        ),
        (
            Method::GET,
            "/ai-functions?type=x".to_owned(),
            "/ai-functions",
            None,
        ),
    ] {
        let (status, answer) = ai.call(method.clone(), &path, body).await;
        check(&method.as_str().to_lowercase(), template, status, &answer);
    }
    let list = ai.t.get(&format!("{item}/executions")).await;
    let execution = list["data"][0]["uuid"].as_str().unwrap();
    let (status, shown) = ai
        .call(
            Method::GET,
            &format!("/ai-functions/executions/{execution}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    check("get", "/ai-functions/executions/{uuid}", status, &shown);
    let (status, deleted) = ai.call(Method::DELETE, &item, None).await;
    check("delete", "/ai-functions/{uuid}", status, &deleted);

    // Every example of these routes matches its schema.
    for (path, item) in doc["paths"].as_object().unwrap() {
        if !path.contains("/ai-functions") {
            continue;
        }
        for (method, op) in item.as_object().unwrap() {
            assert_eq!(op["tags"], json!(["AI Functions"]), "{method} {path}");
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
    ai.t.app.stop().await;
}
