//! Create, show, update, delete; the reference's example answered as the reference shows it;
//! validation errors naming the field.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Cal, example, with};

#[tokio::test]
async fn the_reference_example_is_answered_as_documented() {
    let c = Cal::new().await;
    let (status, body) = c
        .call(
            Method::POST,
            "/api/v1/calendar/appointments",
            Some(example()),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["success"], true);
    let a = &body["data"];
    assert!(uuid::Uuid::parse_str(a["uuid"].as_str().unwrap()).is_ok());
    assert_eq!(a["title"], "Consultation with John Doe");
    assert_eq!(a["client_name"], "John Doe");
    assert_eq!(a["client_phone"], "5511999999999");
    assert_eq!(a["client_email"], "john@example.com");
    assert_eq!(a["starts_at"], "2026-05-01T10:00:00+00:00");
    assert_eq!(a["ends_at"], "2026-05-01T11:00:00+00:00");
    assert_eq!(a["duration_minutes"], 60);
    assert_eq!(a["status"], "scheduled");
    assert_eq!(a["color"], "#3b82f6");
    assert_eq!(a["reminder_minutes"], 30);
    assert_eq!(a["location"], "Online - Google Meet");
    assert_eq!(a["instance_id"], c.t.uuid.as_str());
    let created_at = a["created_at"].as_str().unwrap();
    assert!(created_at.ends_with("+00:00"), "{created_at}");

    // Shown the same at both URL forms.
    let uuid = a["uuid"].as_str().unwrap();
    for path in [
        format!("/api/v1/calendar/appointments/{uuid}"),
        format!("/calendar/appointments/{uuid}"),
    ] {
        let (status, shown) = c.call(Method::GET, &path, None).await;
        assert_eq!(status, 200, "{shown}");
        assert_eq!(&shown["data"], a);
    }
}

#[tokio::test]
async fn the_end_comes_from_the_duration_or_defaults_to_an_hour() {
    let c = Cal::new().await;
    let a = c
        .create(
            json!({"title": "Call", "starts_at": "2026-05-01T10:00:00Z", "duration_minutes": 45}),
        )
        .await;
    assert_eq!(a["ends_at"], "2026-05-01T10:45:00+00:00");
    assert_eq!(a["duration_minutes"], 45);
    assert_eq!(a["reminder_minutes"], Value::Null);
    let a = c
        .create(json!({"title": "Call", "starts_at": "2026-05-01T10:00:00Z"}))
        .await;
    assert_eq!(a["ends_at"], "2026-05-01T11:00:00+00:00");
    assert_eq!(a["duration_minutes"], 60);
}

#[tokio::test]
async fn bad_fields_are_named() {
    let c = Cal::new().await;
    let cases = [
        (json!({"starts_at": "2026-05-01T10:00:00"}), "title"),
        (json!({"title": "x"}), "starts_at"),
        (
            with(example(), json!({"starts_at": "1st of May"})),
            "starts_at",
        ),
        (
            with(example(), json!({"ends_at": "2026-05-01T09:00:00"})),
            "ends_at",
        ),
        (
            with(example(), json!({"ends_at": "2026-05-01T10:00:00"})),
            "ends_at",
        ),
        (
            with(example(), json!({"duration_minutes": 90})),
            "duration_minutes",
        ),
        (
            with(example(), json!({"client_phone": "call me"})),
            "client_phone",
        ),
        (
            with(example(), json!({"client_email": "john"})),
            "client_email",
        ),
        (with(example(), json!({"color": "blue"})), "color"),
        (
            with(example(), json!({"reminder_minutes": -5})),
            "reminder_minutes",
        ),
        (
            with(example(), json!({"reminder_minutes": "soon"})),
            "reminder_minutes",
        ),
        (with(example(), json!({"title": "x".repeat(256)})), "title"),
        (with(example(), json!({"status": "confirmed"})), "status"),
        (with(example(), json!({"priority": "high"})), "priority"),
    ];
    for (body, field) in cases {
        let (status, answer) = c
            .call(
                Method::POST,
                "/api/v1/calendar/appointments",
                Some(body.clone()),
            )
            .await;
        assert_eq!(status, 422, "{body}: {answer}");
        assert_eq!(answer["error"]["code"], "VALIDATION_ERROR");
        assert!(
            answer["error"]["details"][field].is_array(),
            "{field} not named for {body}: {answer}"
        );
    }
    // Not an object at all.
    let (status, _) = c
        .call(
            Method::POST,
            "/api/v1/calendar/appointments",
            Some(json!([1, 2])),
        )
        .await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn a_user_token_names_the_instance() {
    let c = Cal::new().await;
    let (status, answer) =
        c.t.call(
            Method::POST,
            "/api/v1/calendar/appointments",
            Some(example()),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(
        answer["error"]["details"]["instance_id"].is_array(),
        "{answer}"
    );
    // `null` is the same as leaving it out.
    let (status, answer) =
        c.t.call(
            Method::POST,
            "/api/v1/calendar/appointments",
            Some(with(example(), json!({"instance_id": null}))),
        )
        .await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"]["details"]["instance_id"].is_array());
    for reference in [
        json!(c.t.uuid),
        json!(c.t.instance_id()),
        c.t.instance["id"].clone(),
    ] {
        let (status, answer) =
            c.t.call(
                Method::POST,
                "/api/v1/calendar/appointments",
                Some(with(example(), json!({"instance_id": reference}))),
            )
            .await;
        assert_eq!(status, 201, "{answer}");
        assert_eq!(answer["data"]["instance_id"], c.t.uuid.as_str());
    }
    let (status, answer) =
        c.t.call(
            Method::POST,
            "/api/v1/calendar/appointments",
            Some(with(
                example(),
                json!({"instance_id": "00000000-0000-4000-8000-000000000000"}),
            )),
        )
        .await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"]["code"], "INSTANCE_NOT_FOUND");
}

#[tokio::test]
async fn update_replaces_the_given_fields_and_delete_removes_it() {
    let c = Cal::new().await;
    let a = c.create(example()).await;
    let path = format!(
        "/api/v1/calendar/appointments/{}",
        a["uuid"].as_str().unwrap()
    );
    // Moving the start keeps the duration; null clears; the others stay.
    let (status, body) = c
        .call(
            Method::PUT,
            &path,
            Some(json!({"starts_at": "2026-05-02T14:00:00", "location": null,
                "notes": "Bring the contract", "color": "#EF4444", "client_phone": "+55 (11) 98888-7777"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let u = &body["data"];
    assert_eq!(u["starts_at"], "2026-05-02T14:00:00+00:00");
    assert_eq!(u["ends_at"], "2026-05-02T15:00:00+00:00");
    assert_eq!(u["location"], Value::Null);
    assert_eq!(u["notes"], "Bring the contract");
    assert_eq!(u["color"], "#ef4444");
    assert_eq!(u["client_phone"], "5511988887777");
    assert_eq!(u["title"], a["title"]);
    assert_eq!(u["created_at"], a["created_at"]);
    let (status, body) = c
        .call(Method::PUT, &path, Some(json!({"duration_minutes": 30})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["ends_at"], "2026-05-02T14:30:00+00:00");
    let (status, body) = c
        .call(
            Method::PUT,
            &path,
            Some(json!({"ends_at": "2026-05-02T13:00:00"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["ends_at"].is_array());
    let (status, body) = c
        .call(Method::PUT, &path, Some(json!({"title": null})))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["title"].is_array());

    let (status, body) = c.call(Method::DELETE, &path, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Appointment deleted successfully");
    let (status, body) = c.call(Method::GET, &path, None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    let (status, _) = c.call(Method::DELETE, &path, None).await;
    assert_eq!(status, 404);
    let (status, _) = c
        .call(
            Method::GET,
            "/api/v1/calendar/appointments/not-a-uuid",
            None,
        )
        .await;
    assert_eq!(status, 404);
}
