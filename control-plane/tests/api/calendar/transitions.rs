//! scheduled → confirmed → completed; cancel from scheduled or confirmed; `no_show` by
//! update; every refused transition a 409 naming the current status.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Cal, example};

async fn post(c: &Cal, uuid: &str, action: &str) -> (u16, Value) {
    c.call(
        Method::POST,
        &format!("/api/v1/calendar/appointments/{uuid}/{action}"),
        None,
    )
    .await
}

fn refused(status: u16, body: &Value, current: &str) {
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "CONFLICT");
    assert_eq!(
        body["error"]["details"]["current_status"], current,
        "{body}"
    );
    assert!(
        body["error"]["message"].as_str().unwrap().contains(current),
        "{body}"
    );
}

#[tokio::test]
async fn an_appointment_goes_through_its_lifecycle() {
    let c = Cal::new().await;
    let a = c.create(example()).await;
    let uuid = a["uuid"].as_str().unwrap();
    assert_eq!(a["confirmed_at"], Value::Null);

    let (status, body) = post(&c, uuid, "complete").await;
    refused(status, &body, "scheduled");
    let (status, body) = post(&c, uuid, "confirm").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Appointment confirmed");
    assert_eq!(body["data"]["status"], "confirmed");
    assert!(body["data"]["confirmed_at"].is_string());
    let (status, body) = post(&c, uuid, "confirm").await;
    refused(status, &body, "confirmed");
    let (status, body) = post(&c, uuid, "complete").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "completed");
    assert!(body["data"]["completed_at"].is_string());

    // A completed appointment cannot be cancelled, nor go anywhere else.
    let (status, body) = post(&c, uuid, "cancel").await;
    refused(status, &body, "completed");
    assert_eq!(
        body["error"]["message"],
        "A completed appointment cannot be cancelled."
    );
    for action in ["confirm", "complete"] {
        let (status, body) = post(&c, uuid, action).await;
        refused(status, &body, "completed");
    }
    let (status, body) = c
        .call(
            Method::PUT,
            &format!("/api/v1/calendar/appointments/{uuid}"),
            Some(json!({"status": "no_show"})),
        )
        .await;
    refused(status, &body, "completed");
    // Its details can still be written down.
    let (status, body) = c
        .call(
            Method::PUT,
            &format!("/api/v1/calendar/appointments/{uuid}"),
            Some(json!({"notes": "Went well"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "completed");
}

#[tokio::test]
async fn cancel_and_no_show_close_an_open_appointment() {
    let c = Cal::new().await;
    for first in [None, Some("confirm")] {
        let a = c.create(example()).await;
        let uuid = a["uuid"].as_str().unwrap();
        if let Some(action) = first {
            assert_eq!(post(&c, uuid, action).await.0, 200);
        }
        let (status, body) = post(&c, uuid, "cancel").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["status"], "cancelled");
        assert!(body["data"]["cancelled_at"].is_string());
        let (status, body) = post(&c, uuid, "confirm").await;
        refused(status, &body, "cancelled");
        let (status, body) = post(&c, uuid, "cancel").await;
        refused(status, &body, "cancelled");
    }
    let a = c.create(example()).await;
    let path = format!(
        "/api/v1/calendar/appointments/{}",
        a["uuid"].as_str().unwrap()
    );
    let (status, body) = c
        .call(Method::PUT, &path, Some(json!({"status": "no_show"})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "no_show");
    let (status, body) = c
        .call(Method::PUT, &path, Some(json!({"status": "scheduled"})))
        .await;
    refused(status, &body, "no_show");
    let (status, body) = c
        .call(Method::PUT, &path, Some(json!({"status": "lost"})))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["status"].is_array());
    // A transition by update works as its route does.
    let b = c.create(example()).await;
    let (status, body) = c
        .call(
            Method::PUT,
            &format!(
                "/api/v1/calendar/appointments/{}",
                b["uuid"].as_str().unwrap()
            ),
            Some(json!({"status": "confirmed", "notes": "called back"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "confirmed");
    assert_eq!(body["data"]["notes"], "called back");
}
