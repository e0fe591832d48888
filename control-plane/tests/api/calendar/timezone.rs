//! Times without an offset are the tenant's local time; answers carry the tenant's offset;
//! the default range is the tenant's month.

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use reqwest::Method;
use serde_json::json;

use super::Cal;

const ZONE: &str = "America/Sao_Paulo";

#[tokio::test]
async fn local_times_are_the_tenants() {
    let c = Cal::new().await;
    super::set_timezone(&c.t.app.services, c.tenant().await, ZONE).await;
    let a = c
        .create(json!({"title": "Local", "starts_at": "2026-05-01T10:00:00", "ends_at": "2026-05-01T11:30"}))
        .await;
    assert_eq!(a["starts_at"], "2026-05-01T10:00:00-03:00");
    assert_eq!(a["ends_at"], "2026-05-01T11:30:00-03:00");
    assert_eq!(a["duration_minutes"], 90);
    assert!(a["created_at"].as_str().unwrap().ends_with("-03:00"), "{a}");
    // An explicit offset is kept as the instant it names, shown in the tenant's zone.
    let b = c
        .create(json!({"title": "Offset", "starts_at": "2026-05-01T10:00:00Z"}))
        .await;
    assert_eq!(b["starts_at"], "2026-05-01T07:00:00-03:00");

    // A day's bounds are the tenant's: 22:00 local on the 30th is the 1st in UTC.
    let late = c
        .create(json!({"title": "Late", "starts_at": "2026-04-30T22:00:00"}))
        .await;
    let (status, body) = c
        .call(
            Method::GET,
            "/api/v1/calendar/appointments?start=2026-04-30&end=2026-04-30",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["uuid"], late["uuid"]);
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    assert_eq!(body["meta"]["range"]["start"], "2026-04-30T00:00:00-03:00");
    assert_eq!(body["meta"]["range"]["end"], "2026-05-01T00:00:00-03:00");

    // The default range is the current month where the tenant is.
    let tz: Tz = ZONE.parse().unwrap();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let (_, body) = c
        .call(Method::GET, "/api/v1/calendar/appointments", None)
        .await;
    let start: DateTime<chrono::FixedOffset> =
        DateTime::parse_from_rfc3339(body["meta"]["range"]["start"].as_str().unwrap()).unwrap();
    assert_eq!(start.date_naive(), today.with_day(1).unwrap());
    assert_eq!(start.format("%H:%M %:z").to_string(), "00:00 -03:00");

    // A local time that does not exist is refused, naming the field.
    super::set_timezone(&c.t.app.services, c.tenant().await, "America/New_York").await;
    let (status, body) = c
        .call(
            Method::POST,
            "/api/v1/calendar/appointments",
            Some(json!({"title": "Gap", "starts_at": "2026-03-08T02:30:00"})),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["starts_at"].is_array());
    // The same appointment, shown in the tenant's new zone.
    let (_, shown) = c
        .call(
            Method::GET,
            &format!(
                "/api/v1/calendar/appointments/{}",
                a["uuid"].as_str().unwrap()
            ),
            None,
        )
        .await;
    assert_eq!(shown["data"]["starts_at"], "2026-05-01T09:00:00-04:00");
}
