//! The reminder job follows the appointment: scheduled at `starts_at - reminder_minutes`,
//! moved with the time, dropped by cancel, delete, no phone or no reminder; and every change
//! queues its `appointment.*` webhook in the same transaction.

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use control_plane::db::entities::{scheduled_job, webhook_delivery};
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use super::Cal;

async fn job(c: &Cal, uuid: &str) -> Option<scheduled_job::Model> {
    scheduled_job::Entity::find()
        .filter(scheduled_job::Column::Kind.eq("appointment_reminder"))
        .filter(scheduled_job::Column::Subject.eq(uuid))
        .one(&c.t.app.services.db)
        .await
        .unwrap()
}

/// Pending and due at `at`.
async fn due_at(c: &Cal, uuid: &str, at: DateTime<Utc>) {
    let j = job(c, uuid).await.expect("a reminder job");
    assert!(!j.done, "{j:?}");
    assert_eq!(j.due_at, at, "{j:?}");
}

async fn no_pending(c: &Cal, uuid: &str) {
    if let Some(j) = job(c, uuid).await {
        assert!(j.done, "{j:?}");
    }
}

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

#[tokio::test]
async fn the_reminder_job_follows_the_appointment() {
    let c = Cal::new().await;
    let start = (Utc::now() + Duration::days(3))
        .with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Secs, true);
    let start: DateTime<Utc> = start.parse().unwrap();
    let a = c
        .create(json!({"title": "Visit", "client_phone": "5511999999999",
            "starts_at": rfc(start), "reminder_minutes": 30}))
        .await;
    let uuid = a["uuid"].as_str().unwrap();
    let path = format!("/api/v1/calendar/appointments/{uuid}");
    due_at(&c, uuid, start - Duration::minutes(30)).await;

    // Moving the time moves the reminder; so does changing reminder_minutes.
    let later = start + Duration::hours(2);
    let (status, body) = c
        .call(Method::PUT, &path, Some(json!({"starts_at": rfc(later)})))
        .await;
    assert_eq!(status, 200, "{body}");
    due_at(&c, uuid, later - Duration::minutes(30)).await;
    let (status, _) = c
        .call(Method::PUT, &path, Some(json!({"reminder_minutes": 120})))
        .await;
    assert_eq!(status, 200);
    due_at(&c, uuid, later - Duration::minutes(120)).await;
    // Confirming keeps it.
    let (status, _) = c.call(Method::POST, &format!("{path}/confirm"), None).await;
    assert_eq!(status, 200);
    due_at(&c, uuid, later - Duration::minutes(120)).await;
    // No reminder, no phone: no job; back again when both are there.
    let (status, _) = c
        .call(Method::PUT, &path, Some(json!({"reminder_minutes": null})))
        .await;
    assert_eq!(status, 200);
    no_pending(&c, uuid).await;
    let (status, _) = c
        .call(
            Method::PUT,
            &path,
            Some(json!({"reminder_minutes": 10, "client_phone": null})),
        )
        .await;
    assert_eq!(status, 200);
    no_pending(&c, uuid).await;
    let (status, _) = c
        .call(
            Method::PUT,
            &path,
            Some(json!({"client_phone": "5511999999999"})),
        )
        .await;
    assert_eq!(status, 200);
    due_at(&c, uuid, later - Duration::minutes(10)).await;
    // Cancelling drops it.
    let (status, _) = c.call(Method::POST, &format!("{path}/cancel"), None).await;
    assert_eq!(status, 200);
    no_pending(&c, uuid).await;

    // Deleting drops it too.
    let b = c
        .create(json!({"title": "Other", "client_phone": "5511999999999",
            "starts_at": rfc(start), "reminder_minutes": 0}))
        .await;
    let b_uuid = b["uuid"].as_str().unwrap();
    due_at(&c, b_uuid, start).await;
    let (status, _) = c
        .call(
            Method::DELETE,
            &format!("/api/v1/calendar/appointments/{b_uuid}"),
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert!(job(&c, b_uuid).await.is_none());
    // Without a phone, no job at all.
    let d = c
        .create(json!({"title": "No phone", "starts_at": rfc(start), "reminder_minutes": 5}))
        .await;
    assert!(job(&c, d["uuid"].as_str().unwrap()).await.is_none());
}

#[tokio::test]
async fn every_change_queues_its_webhook() {
    let c = Cal::with_config(|c| {
        c.allow_private_urls = true;
        c.webhooks.allow_http = true;
    })
    .await;
    let id = c.t.instance_id();
    // Nothing listens there: the deliveries stay in the log, which is what this test reads.
    let (status, body) = c
        .t
        .call(
            Method::PUT,
            &format!("/api/v1/instances/{id}/webhook"),
            Some(json!({"webhook_url": "http://127.0.0.1:9/hook", "webhook_secret": "calendar-secret-1",
                "events": ["appointment.created", "appointment.updated"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let a = c.create(super::example()).await;
    let uuid = a["uuid"].as_str().unwrap();
    let path = format!("/api/v1/calendar/appointments/{uuid}");
    assert_eq!(
        c.call(Method::POST, &format!("{path}/confirm"), None)
            .await
            .0,
        200
    );
    assert_eq!(
        c.call(Method::PUT, &path, Some(json!({"notes": "x"})))
            .await
            .0,
        200
    );
    assert_eq!(c.call(Method::DELETE, &path, None).await.0, 200);

    let deliveries = webhook_delivery::Entity::find()
        .order_by_asc(webhook_delivery::Column::Id)
        .all(&c.t.app.services.db)
        .await
        .unwrap();
    let seen: Vec<(String, Value)> = deliveries
        .iter()
        .map(|d| {
            let body: Value = serde_json::from_str(&d.payload).unwrap();
            (d.event.clone(), body)
        })
        .collect();
    let names: Vec<(&str, &str)> = seen
        .iter()
        .map(|(e, b)| (e.as_str(), b["data"]["action"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("appointment.created", "created"),
            ("appointment.updated", "confirmed"),
            ("appointment.updated", "updated"),
            ("appointment.updated", "deleted"),
        ]
    );
    let created = &seen[0].1;
    assert_eq!(created["instance_uuid"], c.t.uuid.as_str());
    assert_eq!(created["data"]["appointment"], a);
    assert_eq!(created["data"]["previous_status"], Value::Null);
    assert_eq!(seen[1].1["data"]["previous_status"], "scheduled");
    assert_eq!(seen[1].1["data"]["appointment"]["status"], "confirmed");
    assert!(created["data"].get("reminder").is_none());
}

/// Sets the reminder job's lease as a worker that died (or still runs) would have left it.
async fn lease(c: &Cal, uuid: &str, until: DateTime<Utc>) {
    use sea_orm::sea_query::Expr;
    scheduled_job::Entity::update_many()
        .col_expr(scheduled_job::Column::LeaseOwner, Expr::value("jobs-gone"))
        .col_expr(scheduled_job::Column::LeaseUntil, Expr::value(until))
        .col_expr(scheduled_job::Column::DueAt, Expr::value(Utc::now()))
        .filter(scheduled_job::Column::Subject.eq(uuid))
        .exec(&c.t.app.services.db)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_lease_that_ran_out_is_taken_up_and_a_live_one_is_not() {
    let c = Cal::new().await;
    let start: DateTime<Utc> = rfc(Utc::now() + Duration::hours(2)).parse().unwrap();
    let body = |title: &str| {
        json!({"title": title, "client_phone": "5511999999999",
            "starts_at": rfc(start), "reminder_minutes": 60})
    };
    let held = c.create(body("held")).await;
    let dead = c.create(body("dead")).await;
    let (held, dead) = (
        held["uuid"].as_str().unwrap().to_owned(),
        dead["uuid"].as_str().unwrap().to_owned(),
    );
    // Both made due now (before the reminder's time); one still leased for a minute, the
    // other's lease ran out.
    lease(&c, &held, Utc::now() + Duration::minutes(1)).await;
    lease(&c, &dead, Utc::now() - Duration::seconds(1)).await;
    // The worker takes the dead one up, finds that the reminder is not due yet, and gives it
    // back for the reminder's time.
    let taken = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let j = job(&c, &dead).await.unwrap();
            if j.lease_owner.as_deref() != Some("jobs-gone") && j.last_error.is_some() {
                return j;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("the job whose lease ran out was taken up");
    assert!(!taken.done, "{taken:?}");
    assert_eq!(taken.due_at, start - Duration::minutes(60), "{taken:?}");
    assert_eq!(taken.lease_owner, None, "{taken:?}");
    assert!(taken.attempts >= 1, "{taken:?}");
    // The one held by a live lease was not touched.
    let h = job(&c, &held).await.unwrap();
    assert_eq!(h.lease_owner.as_deref(), Some("jobs-gone"), "{h:?}");
    assert_eq!(h.attempts, 0, "{h:?}");
    assert!(h.last_error.is_none(), "{h:?}");
}
