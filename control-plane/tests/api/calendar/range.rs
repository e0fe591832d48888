//! The list: the current month by default, `start`/`end`, `status`, `instance_id`, pages
//! (`per_page` at most 100), and bad ranges refused.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use super::Cal;

fn titles(body: &Value) -> Vec<String> {
    body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["title"].as_str().unwrap().to_owned())
        .collect()
}

async fn list(c: &Cal, query: &str) -> Value {
    let (status, body) = c
        .call(
            Method::GET,
            &format!("/api/v1/calendar/appointments{query}"),
            None,
        )
        .await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

#[tokio::test]
async fn the_current_month_is_listed_by_start_time() {
    let c = Cal::new().await;
    let today = Utc::now().date_naive();
    let first = today.with_day(1).unwrap();
    let next_month = (first + Duration::days(32)).with_day(1).unwrap();
    let last_of_previous = first - Duration::days(1);
    let at = |d: NaiveDate, h: u32| format!("{d}T{h:02}:00:00Z");
    c.create(json!({"title": "late", "starts_at": at(first, 15)}))
        .await;
    c.create(json!({"title": "early", "starts_at": at(first, 9)}))
        .await;
    c.create(json!({"title": "previous", "starts_at": at(last_of_previous, 23)}))
        .await;
    c.create(json!({"title": "next", "starts_at": at(next_month, 0)}))
        .await;
    let body = list(&c, "").await;
    assert_eq!(titles(&body), ["early", "late"]);
    assert_eq!(body["meta"]["pagination"]["total"], 2);
    assert_eq!(body["meta"]["pagination"]["per_page"], 50);
    assert_eq!(
        body["meta"]["range"]["start"],
        format!("{first}T00:00:00+00:00")
    );
    assert_eq!(
        body["meta"]["range"]["end"],
        format!("{next_month}T00:00:00+00:00")
    );

    // A date `end` includes its day; only `start` runs to its month's end.
    let body = list(&c, &format!("?start={last_of_previous}&end={first}")).await;
    assert_eq!(titles(&body), ["previous", "early", "late"]);
    let body = list(&c, &format!("?start={next_month}")).await;
    assert_eq!(titles(&body), ["next"]);
    let body = list(
        &c,
        &format!("?start={first}T10:00:00Z&end={next_month}T00:00:01Z"),
    )
    .await;
    assert_eq!(titles(&body), ["late", "next"]);
}

#[tokio::test]
async fn status_instance_and_pages_filter() {
    let c = Cal::new().await;
    let mut uuids = Vec::new();
    for i in 0..5 {
        let a = c
            .create(json!({"title": format!("a{i}"), "starts_at": format!("2026-03-0{}T10:00:00Z", i + 1)}))
            .await;
        uuids.push(a["uuid"].as_str().unwrap().to_owned());
    }
    let (status, _) = c
        .call(
            Method::POST,
            &format!("/api/v1/calendar/appointments/{}/confirm", uuids[1]),
            None,
        )
        .await;
    assert_eq!(status, 200);
    let range = "start=2026-03-01&end=2026-03-31";
    let body = list(&c, &format!("?{range}&status=confirmed")).await;
    assert_eq!(titles(&body), ["a1"]);
    let body = list(&c, &format!("?{range}&status=scheduled&per_page=2&page=2")).await;
    assert_eq!(titles(&body), ["a3", "a4"]);
    assert_eq!(body["meta"]["pagination"]["total"], 4);
    assert_eq!(body["meta"]["pagination"]["last_page"], 2);
    let body = list(&c, &format!("?{range}&per_page=100&page=9")).await;
    assert_eq!(titles(&body), Vec::<String>::new());

    // A user token sees the tenant's, or one instance's.
    let other = c.t.app.create_instance(&c.t.token, "Second").await;
    let other_uuid = other["uuid"].as_str().unwrap();
    let (status, body) = c
        .t
        .call(
            Method::POST,
            "/api/v1/calendar/appointments",
            Some(json!({"title": "elsewhere", "starts_at": "2026-03-06T10:00:00Z", "instance_id": other_uuid})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, all) =
        c.t.call(
            Method::GET,
            &format!("/api/v1/calendar/appointments?{range}"),
            None,
        )
        .await;
    assert_eq!(all["meta"]["pagination"]["total"], 6, "{all}");
    let (_, one) =
        c.t.call(
            Method::GET,
            &format!("/api/v1/calendar/appointments?{range}&instance_id={other_uuid}"),
            None,
        )
        .await;
    assert_eq!(titles(&one), ["elsewhere"]);
    // The sk_ token sees its own instance's only, and no other instance's.
    let body = list(&c, &format!("?{range}")).await;
    assert_eq!(body["meta"]["pagination"]["total"], 5);
    let (status, body) = c
        .call(
            Method::GET,
            &format!("/api/v1/calendar/appointments?{range}&instance_id={other_uuid}"),
            None,
        )
        .await;
    assert_eq!(status, 403, "{body}");
}

#[tokio::test]
async fn bad_ranges_and_parameters_are_refused() {
    let c = Cal::new().await;
    for (query, field) in [
        ("?start=2026-05-02&end=2026-05-01", "end"),
        (
            "?start=2026-05-01T10:00:00Z&end=2026-05-01T10:00:00Z",
            "end",
        ),
        ("?start=2026-01-01&end=2027-01-03", "end"),
        ("?start=yesterday", "start"),
        ("?end=2026-02-30", "end"),
        ("?status=done", "status"),
        ("?per_page=101", "per_page"),
        ("?per_page=0", "per_page"),
        ("?page=0", "page"),
    ] {
        let (status, body) = c
            .call(
                Method::GET,
                &format!("/api/v1/calendar/appointments{query}"),
                None,
            )
            .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert!(
            body["error"]["details"][field].is_array(),
            "{query}: {field} not named: {body}"
        );
    }
    // A whole year (leap day included) is allowed.
    list(&c, "?start=2028-01-01&end=2028-12-31").await;
}
