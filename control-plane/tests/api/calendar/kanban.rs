//! `to-kanban`: refused while Kanban is off for the tenant (403 `KANBAN_NOT_ENABLED`, before
//! the appointment is looked at), `board_uuid` checked, and one lead per appointment.

use reqwest::Method;
use serde_json::json;

use super::{Cal, enable_kanban, example};

#[tokio::test]
async fn kanban_must_be_enabled() {
    let c = Cal::new().await;
    let a = c.create(example()).await;
    let path = format!(
        "/api/v1/calendar/appointments/{}/to-kanban",
        a["uuid"].as_str().unwrap()
    );
    for p in [
        path.as_str(),
        "/api/v1/calendar/appointments/00000000-0000-4000-8000-000000000000/to-kanban",
    ] {
        let (status, body) = c.call(Method::POST, p, Some(json!({}))).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "KANBAN_NOT_ENABLED");
    }
    enable_kanban(&c.t.app.services, c.tenant().await).await;
    let (status, body) = c
        .call(Method::POST, &path, Some(json!({"board_uuid": "nope"})))
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["board_uuid"].is_array());
    let (status, body) = c
        .call(
            Method::POST,
            "/api/v1/calendar/appointments/00000000-0000-4000-8000-000000000000/to-kanban",
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test]
async fn twice_gives_the_same_lead() {
    let c = Cal::new().await;
    enable_kanban(&c.t.app.services, c.tenant().await).await;
    // The instance's default board.
    let (status, board) = c
        .call(
            Method::POST,
            "/api/v1/kanban/boards",
            Some(json!({"name": "Sales", "is_default": true})),
        )
        .await;
    assert_eq!(status, 201, "{board}");
    let a = c.create(example()).await;
    let path = format!(
        "/api/v1/calendar/appointments/{}/to-kanban",
        a["uuid"].as_str().unwrap()
    );
    let (status, first) = c.call(Method::POST, &path, None).await;
    assert_eq!(status, 201, "{first}");
    let lead = &first["data"];
    assert_eq!(lead["phone_number"], "5511999999999");
    assert_eq!(lead["source"], "calendar");
    assert!(lead["title"].is_string());
    let (status, second) = c.call(Method::POST, &path, Some(json!({}))).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["data"]["uuid"], lead["uuid"]);
    // Into a named board: still the same lead.
    let (status, third) = c
        .call(
            Method::POST,
            &path,
            Some(json!({"board_uuid": board["data"]["uuid"]})),
        )
        .await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["data"]["uuid"], lead["uuid"]);
}
