//! Another tenant's appointments are 404 on every route, and so are another instance's for an
//! `sk_` token; nothing of theirs is listed.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Cal, example};

fn routes(uuid: &str) -> Vec<(Method, String, Option<Value>)> {
    let one = format!("/api/v1/calendar/appointments/{uuid}");
    vec![
        (Method::GET, one.clone(), None),
        (Method::PUT, one.clone(), Some(json!({"title": "mine now"}))),
        (Method::DELETE, one.clone(), None),
        (Method::POST, format!("{one}/confirm"), None),
        (Method::POST, format!("{one}/complete"), None),
        (Method::POST, format!("{one}/cancel"), None),
        (Method::POST, format!("{one}/to-kanban"), Some(json!({}))),
    ]
}

#[tokio::test]
async fn another_tenants_appointments_are_not_found() {
    let c = Cal::new().await;
    let a = c.create(example()).await;
    let uuid = a["uuid"].as_str().unwrap();

    let other = c.t.app.other_tenant_token("other@test.local").await;
    let other_instance = c.t.app.create_instance(&other, "Other").await;
    let other_sk = c.t.app.create_sk(&other, &other_instance["id"]).await;
    // Kanban on for the other tenant, so to-kanban answers for the appointment, not the flag.
    let other_tenant = {
        let me =
            c.t.call_as(&other, Method::GET, "/api/v1/auth/me", None)
                .await
                .1;
        control_plane::domain::TenantId(me["data"]["tenant"]["id"].as_i64().unwrap())
    };
    super::enable_kanban(&c.t.app.services, other_tenant).await;
    for token in [&other, &other_sk] {
        for (method, path, body) in routes(uuid) {
            let (status, answer) = c.t.call_as(token, method.clone(), &path, body).await;
            assert_eq!(status, 404, "{method} {path}: {answer}");
            assert_eq!(answer["error"]["code"], "NOT_FOUND");
        }
        let (status, list) =
            c.t.call_as(
                token,
                Method::GET,
                "/api/v1/calendar/appointments?start=2026-05-01&end=2026-05-31",
                None,
            )
            .await;
        assert_eq!(status, 200, "{list}");
        assert_eq!(list["data"], json!([]));
    }
    // Nor can the other tenant create one on this tenant's instance.
    let (status, answer) =
        c.t.call_as(
            &other,
            Method::POST,
            "/api/v1/calendar/appointments",
            Some(super::with(example(), json!({"instance_id": c.t.uuid}))),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    // The appointment is untouched.
    let (status, shown) = c
        .call(
            Method::GET,
            &format!("/api/v1/calendar/appointments/{uuid}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(shown["data"], a);
}

#[tokio::test]
async fn an_sk_token_reaches_its_own_instance_only() {
    let c = Cal::new().await;
    let second = c.t.app.create_instance(&c.t.token, "Second").await;
    let second_sk = c.t.app.create_sk(&c.t.token, &second["id"]).await;
    let a = c.create(example()).await;
    let uuid = a["uuid"].as_str().unwrap();
    for (method, path, body) in routes(uuid) {
        if path.ends_with("to-kanban") {
            // Kanban is off for this tenant: the flag answers first.
            continue;
        }
        let (status, answer) = c.t.call_as(&second_sk, method.clone(), &path, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    // It cannot book on the first instance either.
    let (status, answer) =
        c.t.call_as(
            &second_sk,
            Method::POST,
            "/api/v1/calendar/appointments",
            Some(super::with(example(), json!({"instance_id": c.t.uuid}))),
        )
        .await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "INSTANCE_FORBIDDEN");
    // The user token reaches both.
    let (status, _) =
        c.t.call(
            Method::GET,
            &format!("/api/v1/calendar/appointments/{uuid}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    // Moving an appointment to the second instance takes it out of the first token's reach.
    let (status, moved) =
        c.t.call(
            Method::PUT,
            &format!("/api/v1/calendar/appointments/{uuid}"),
            Some(json!({"instance_id": second["uuid"]})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["data"]["instance_id"], second["uuid"]);
    let (status, _) = c
        .call(
            Method::GET,
            &format!("/api/v1/calendar/appointments/{uuid}"),
            None,
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn no_token_no_answer() {
    let c = Cal::new().await;
    let resp =
        c.t.app
            .req(Method::GET, "/api/v1/calendar/appointments", None)
            .send()
            .await
            .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
}
