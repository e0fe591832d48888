//! Real answers of the External Functions routes, the call and its log included, against
//! the served document (both URL forms).

use reqwest::Method;
use serde_json::{Value, json};

use super::Xf;
use crate::document::{assert_documented, mismatches};

#[tokio::test]
async fn answers_match_the_document() {
    let x = Xf::new().await;
    let (_, doc) = x.call(Method::GET, "/openapi.json", None).await;
    let check = |method: &str, template: &str, status: u16, body: &Value| {
        assert_documented(&doc, method, template, status, body)
    };
    let (status, created) = x
        .call(
            Method::POST,
            "/external-functions",
            Some(
                json!({"instance_uuid": x.t.uuid, "name": "Contacts", "slug": "contacts",
                "action_type": "create_contact", "description": "Adds CRM contacts",
                "config": {"name": "{{first}}"}, "allowed_ips": ["127.0.0.1", "203.0.113.0/24"]}),
            ),
        )
        .await;
    check("post", "/external-functions", status, &created);
    // The check has teeth: without the key, or with an unknown action, it fails.
    let mut wrong = created.clone();
    wrong["data"].as_object_mut().unwrap().remove("api_key");
    assert!(!mismatches(&doc, "post", "/external-functions", 201, &wrong).is_empty());
    let mut wrong = created.clone();
    wrong["data"]["action_type"] = json!("telepathy");
    assert!(!mismatches(&doc, "post", "/external-functions", 201, &wrong).is_empty());
    let uuid = created["data"]["uuid"].as_str().unwrap().to_owned();
    let key = created["data"]["api_key"].as_str().unwrap().to_owned();

    let (status, body) = x.call(Method::GET, "/external-functions", None).await;
    check("get", "/external-functions", status, &body);
    let (status, body) = x
        .call(Method::GET, &format!("/external-functions/{uuid}"), None)
        .await;
    check("get", "/external-functions/{uuid}", status, &body);
    let (status, body) = x
        .call(
            Method::PUT,
            &format!("/external-functions/{uuid}"),
            Some(json!({"description": null})),
        )
        .await;
    check("put", "/external-functions/{uuid}", status, &body);
    let (status, body) = x
        .call(
            Method::POST,
            &format!("/external-functions/{uuid}/toggle"),
            None,
        )
        .await;
    check("post", "/external-functions/{uuid}/toggle", status, &body);
    x.call(
        Method::POST,
        &format!("/external-functions/{uuid}/toggle"),
        None,
    )
    .await;
    let (status, body) = x
        .call(
            Method::POST,
            &format!("/external-functions/{uuid}/regenerate-key"),
            None,
        )
        .await;
    check(
        "post",
        "/external-functions/{uuid}/regenerate-key",
        status,
        &body,
    );
    let key_now = body["data"]["api_key"].as_str().unwrap().to_owned();
    assert_ne!(key, key_now);

    // The call: a success, a 422, a 401, a 403.
    let a = x
        .execute(
            "contacts",
            Some(&key_now),
            json!({"phone": "5511988880000", "first": "Ana"}),
            Some("203.0.113.9"),
        )
        .await;
    check(
        "post",
        "/external-functions/{slug}/execute",
        a.status,
        &a.body,
    );
    assert_eq!(a.status, 200);
    let a = x
        .execute(
            "contacts",
            Some(&key_now),
            json!({"phone": "5511988880001"}),
            Some("203.0.113.9"),
        )
        .await;
    check(
        "post",
        "/external-functions/{slug}/execute",
        a.status,
        &a.body,
    );
    assert_eq!(a.status, 422);
    let a = x.execute("contacts", Some(&key), json!({}), None).await;
    check(
        "post",
        "/external-functions/{slug}/execute",
        a.status,
        &a.body,
    );
    assert_eq!(a.status, 401);
    let a = x
        .execute("contacts", Some(&key_now), json!({}), Some("192.0.2.1"))
        .await;
    check(
        "post",
        "/external-functions/{slug}/execute",
        a.status,
        &a.body,
    );
    assert_eq!(a.status, 403);

    let (status, body) = x
        .call(
            Method::GET,
            &format!("/external-functions/{uuid}/logs"),
            None,
        )
        .await;
    check("get", "/external-functions/{uuid}/logs", status, &body);
    assert_eq!(body["data"].as_array().unwrap().len(), 3);
    let (status, body) = x.call(Method::GET, "/external-functions/nope", None).await;
    check("get", "/external-functions/{uuid}", status, &body);
    let (status, body) = x
        .call(Method::DELETE, &format!("/external-functions/{uuid}"), None)
        .await;
    check("delete", "/external-functions/{uuid}", status, &body);

    // The examples in the document match their own schemas.
    for (method, template, status) in [
        ("get", "/external-functions", 200),
        ("post", "/external-functions", 201),
        ("get", "/external-functions/{uuid}", 200),
        ("post", "/external-functions/{uuid}/regenerate-key", 200),
        ("get", "/external-functions/{uuid}/logs", 200),
        ("post", "/external-functions/{slug}/execute", 200),
    ] {
        let example = &doc["paths"][template][method]["responses"][status.to_string()]["content"]["application/json"]
            ["example"];
        assert!(example.is_object(), "{method} {template} has an example");
        let errors = mismatches(&doc, method, template, status, example);
        assert!(
            errors.is_empty(),
            "{method} {template} example: {errors:#?}"
        );
    }
    x.t.app.stop().await;
}
