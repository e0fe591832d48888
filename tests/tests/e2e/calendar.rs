//! The Calendar end to end on the sandbox: an appointment through every transition with its
//! webhooks at a real receiver; WhatsApp reminders sent once, at their time, across a
//! control-plane restart, in the tenant's template and time zone, never for a cancelled
//! appointment, and not twice when a send is repeated after a crash;
//! `appointment.reminder_sent` at the receiver.

use chrono::{DateTime, Duration, FixedOffset, SecondsFormat, Utc};
use control_plane::db::entities::{appointment, scheduled_job};
use control_plane::service::tenant_settings::FeatureChange;
use reqwest::Method;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use zapini_e2e::receiver::{Received, Receiver};

use crate::support::{self, Setup, T, paired};

const INSTANCE_PHONE: &str = "5511900000077";
const TEMPLATE: &str = "Oi {{client_name}}! {{title}} em {{date}} às {{time}} ({{location}})";

fn rfc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn events<'a>(log: &'a [Received], name: &str) -> Vec<&'a Received> {
    log.iter()
        .filter(|r| r.ok() && r.header("x-webhook-event") == name)
        .collect()
}

/// `appointment.reminder_sent` deliveries for the appointment `uuid`.
fn reminders_of(log: &[Received], uuid: &str) -> usize {
    events(log, "appointment.reminder_sent")
        .iter()
        .filter(|r| r.json()["data"]["appointment"]["uuid"] == uuid)
        .count()
}

/// `message.sent` deliveries whose text is `text`.
fn sent_texts(log: &[Received], text: &str) -> Vec<Value> {
    events(log, "message.sent")
        .iter()
        .map(|r| r.json())
        .filter(|b| b["data"]["content"] == text)
        .collect()
}

async fn create(s: &Setup, sk: &str, body: Value) -> Value {
    let (status, created) = s.post("/api/v1/calendar/appointments", sk, body).await;
    assert_eq!(status, 201, "{created}");
    created["data"].clone()
}

/// A whole minute from now and `lead` seconds: the start of an appointment whose one-minute
/// reminder is due `lead` seconds from now (whole seconds, as the API keeps them).
fn start_in(lead: i64) -> DateTime<Utc> {
    let t = Utc::now() + Duration::seconds(60 + lead);
    rfc(t).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_appointment_goes_through_every_transition_with_its_webhooks() {
    let s = support::setup().await;
    let p = paired(&s, "calendar-lifecycle", INSTANCE_PHONE).await;
    let rx = Receiver::start().await;
    let (status, body) = s
        .send(
            Method::PUT,
            &format!("/api/v1/instances/{}/webhook", p.id),
            &s.user,
            Some(json!({"webhook_url": rx.url,
                "events": ["appointment.created", "appointment.updated"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let a = create(
        &s,
        &p.sk,
        json!({"title": "Consultation", "client_name": "Ana", "client_phone": "5511911112222",
            "starts_at": "2026-05-01T10:00:00", "duration_minutes": 30}),
    )
    .await;
    let uuid = a["uuid"].as_str().unwrap();
    let path = format!("/api/v1/calendar/appointments/{uuid}");
    for (action, status_after) in [("confirm", "confirmed"), ("complete", "completed")] {
        let (status, body) = s.post(&format!("{path}/{action}"), &p.sk, json!({})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["data"]["status"], status_after);
    }
    let (status, body) = s.post(&format!("{path}/cancel"), &p.sk, json!({})).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["details"]["current_status"], "completed");

    // A second one is cancelled; a third is a no-show.
    let b = create(
        &s,
        &p.sk,
        json!({"title": "B", "starts_at": "2026-05-02T10:00:00"}),
    )
    .await;
    let (status, _) = s
        .post(
            &format!(
                "/api/v1/calendar/appointments/{}/cancel",
                b["uuid"].as_str().unwrap()
            ),
            &p.sk,
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    let c = create(
        &s,
        &p.sk,
        json!({"title": "C", "starts_at": "2026-05-03T10:00:00"}),
    )
    .await;
    let (status, body) = s
        .send(
            Method::PUT,
            &format!(
                "/api/v1/calendar/appointments/{}",
                c["uuid"].as_str().unwrap()
            ),
            &p.sk,
            Some(json!({"status": "no_show"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["status"], "no_show");

    let log = rx
        .wait_until(T, "every appointment webhook", |log| {
            events(log, "appointment.created").len() == 3
                && events(log, "appointment.updated").len() == 4
        })
        .await;
    let of = |uuid: &str| -> Vec<(String, Value)> {
        log.iter()
            .filter(|r| r.ok())
            .map(|r| (r.header("x-webhook-event").to_owned(), r.json()))
            .filter(|(_, b)| b["data"]["appointment"]["uuid"] == uuid)
            .map(|(e, b)| (e, b["data"].clone()))
            .collect()
    };
    let first = of(uuid);
    let actions: Vec<(&str, &str, Value)> = first
        .iter()
        .map(|(e, d)| {
            (
                e.as_str(),
                d["action"].as_str().unwrap(),
                d["previous_status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        actions,
        [
            ("appointment.created", "created", Value::Null),
            ("appointment.updated", "confirmed", json!("scheduled")),
            ("appointment.updated", "completed", json!("confirmed")),
        ]
    );
    assert_eq!(
        first[0].1["appointment"]["starts_at"],
        "2026-05-01T10:00:00+00:00"
    );
    assert_eq!(first[2].1["appointment"]["status"], "completed");
    assert_eq!(of(b["uuid"].as_str().unwrap())[1].1["action"], "cancelled");
    assert_eq!(of(c["uuid"].as_str().unwrap())[1].1["action"], "no_show");
    // Each delivery is signed and shaped as the document describes it.
    let (status, doc) = s.get("/openapi.json", &s.user).await;
    assert_eq!(status, 200);
    for r in log.iter().filter(|r| r.ok()) {
        assert_eq!(r.header("x-instance-uuid"), p.uuid.to_string());
        crate::openapi_events::check_delivery(&doc, r);
    }
    p.node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reminder_goes_out_once_at_its_time_across_a_restart_and_never_after_cancel() {
    let s = support::setup().await;
    let p = paired(&s, "calendar-reminders", INSTANCE_PHONE).await;
    let rx = Receiver::start().await;
    let (status, body) = s
        .send(
            Method::PUT,
            &format!("/api/v1/instances/{}/webhook", p.id),
            &s.user,
            Some(json!({"webhook_url": rx.url,
                "events": ["appointment.reminder_sent", "message.sent"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    // The tenant's text and time zone (São Paulo: UTC-3 all year).
    let ops = services(&s).await;
    let (status, me) = s.get("/api/v1/auth/me", &s.user).await;
    assert_eq!(status, 200, "{me}");
    let tenant = control_plane::domain::TenantId(me["data"]["tenant"]["id"].as_i64().unwrap());
    ops.set_tenant_features(
        tenant,
        FeatureChange {
            timezone: Some(Some("America/Sao_Paulo".into())),
            reminder_template: Some(Some(TEMPLATE.into())),
            ..FeatureChange::default()
        },
    )
    .await
    .unwrap();

    // A: reminded a minute before it starts, 15 s from now. B: 10 s from now, but
    // cancelled. C: 20 s from now, the marker that B's time has passed.
    let a_start = start_in(15);
    let a = create(
        &s,
        &p.sk,
        json!({"title": "Dentist", "client_name": "Ana", "client_phone": "5511922223333",
            "starts_at": rfc(a_start), "reminder_minutes": 1, "location": "Rua A, 1"}),
    )
    .await;
    let b = create(
        &s,
        &p.sk,
        json!({"title": "Haircut", "client_name": "Bia", "client_phone": "5511922224444",
            "starts_at": rfc(start_in(10)), "reminder_minutes": 1}),
    )
    .await;
    let (status, body) = s
        .post(
            &format!(
                "/api/v1/calendar/appointments/{}/cancel",
                b["uuid"].as_str().unwrap()
            ),
            &p.sk,
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let c = create(
        &s,
        &p.sk,
        json!({"title": "Massage", "client_name": "Caio", "client_phone": "5511922225555",
            "starts_at": rfc(start_in(20)), "reminder_minutes": 1}),
    )
    .await;

    // The control plane restarts before any of them is due: the reminders live in the
    // database, not in the process.
    let Setup { dir, cp, api, user } = s;
    let s = Setup {
        cp: cp.restart().await.unwrap(),
        dir,
        api,
        user,
    };
    let due = a_start - Duration::minutes(1);
    assert!(
        Utc::now() < due,
        "the restart took until A's reminder was due"
    );

    let a_uuid = a["uuid"].as_str().unwrap();
    let c_uuid = c["uuid"].as_str().unwrap();
    let log = rx
        .wait_until(
            std::time::Duration::from_secs(60),
            "the reminders of A and C",
            |log| reminders_of(log, a_uuid) >= 1 && reminders_of(log, c_uuid) >= 1,
        )
        .await;
    let reminder = events(&log, "appointment.reminder_sent")
        .into_iter()
        .map(|r| r.json())
        .find(|b| b["data"]["appointment"]["uuid"] == a_uuid)
        .unwrap();
    let text = reminder["data"]["reminder"]["content"]
        .as_str()
        .unwrap()
        .to_owned();
    let local = a_start.with_timezone(&FixedOffset::west_opt(3 * 3600).unwrap());
    assert_eq!(
        text,
        format!(
            "Oi Ana! Dentist em {} às {} (Rua A, 1)",
            local.format("%d/%m/%Y"),
            local.format("%H:%M")
        )
    );
    assert_eq!(
        reminder["data"]["reminder"]["recipient_number"],
        "5511922223333"
    );
    let sent_at: DateTime<Utc> = reminder["data"]["appointment"]["reminder_sent_at"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(sent_at >= due, "sent at {sent_at}, due {due}");
    assert!(sent_at < a_start, "sent at {sent_at}, starts {a_start}");
    let (status, doc) = s.get("/openapi.json", &s.user).await;
    assert_eq!(status, 200);
    for r in events(&log, "appointment.reminder_sent") {
        crate::openapi_events::check_delivery(&doc, r);
    }

    // C's reminder is the marker that B's time has passed: B was never reminded. A's text
    // went out once, as a message of the instance (and so into the conversation).
    let log = rx.received();
    assert_eq!(reminders_of(&log, b["uuid"].as_str().unwrap()), 0);
    assert!(
        events(&log, "message.sent")
            .iter()
            .all(|r| !r.json()["data"]["content"]
                .as_str()
                .unwrap_or_default()
                .contains("Haircut")),
        "B's reminder was sent"
    );
    assert_eq!(reminders_of(&log, a_uuid), 1);
    let sent = sent_texts(&log, &text);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0]["data"]["recipient_number"], "5511922223333");
    let (conv, msgs) =
        support::conversation_where(&s, p.uuid, |c| c["contact_number"] == "5511922223333", 1)
            .await;
    let reminders: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["message_body"] == text.as_str())
        .collect();
    assert_eq!(reminders.len(), 1, "{conv} {msgs:?}");
    assert_eq!(reminders[0]["direction"], "outgoing");

    // The appointment shows when it was reminded.
    let (status, shown) = s
        .get(&format!("/api/v1/calendar/appointments/{a_uuid}"), &p.sk)
        .await;
    assert_eq!(status, 200, "{shown}");
    assert!(shown["data"]["reminder_sent_at"].is_string());
    assert!(
        shown["data"]["starts_at"]
            .as_str()
            .unwrap()
            .ends_with("-03:00"),
        "{shown}"
    );

    // A crash after the send and before it was recorded: the job runs again and the
    // appointment does not show the reminder. The node answers the repeated client reference
    // with the first send: no second message.
    let first_id = reminder["data"]["reminder"]["whatsapp_message_id"].clone();
    appointment::Entity::update_many()
        .col_expr(
            appointment::Column::ReminderSentAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(appointment::Column::Uuid.eq(uuid::Uuid::parse_str(a_uuid).unwrap()))
        .exec(&ops.db)
        .await
        .unwrap();
    scheduled_job::Entity::update_many()
        .col_expr(scheduled_job::Column::Done, Expr::value(false))
        .col_expr(scheduled_job::Column::DueAt, Expr::value(Utc::now()))
        .filter(scheduled_job::Column::Subject.eq(a_uuid))
        .exec(&ops.db)
        .await
        .unwrap();
    let log = rx
        .wait_until(T, "A's reminder recorded again", |log| {
            reminders_of(log, a_uuid) == 2
        })
        .await;
    let again = events(&log, "appointment.reminder_sent")
        .into_iter()
        .map(|r| r.json())
        .filter(|b| b["data"]["appointment"]["uuid"] == a_uuid)
        .nth(1)
        .unwrap();
    assert_eq!(again["data"]["reminder"]["whatsapp_message_id"], first_id);
    assert_eq!(sent_texts(&log, &text).len(), 1);
    let (_, msgs) =
        support::conversation_where(&s, p.uuid, |c| c["contact_number"] == "5511922223333", 1)
            .await;
    assert_eq!(
        msgs.iter()
            .filter(|m| m["message_body"] == text.as_str())
            .count(),
        1
    );
    p.node.stop().await;
}

/// The control plane's services over its database (as an operator's CLI has them).
async fn services(s: &Setup) -> control_plane::service::Services {
    let db = control_plane::db::connect(&s.cp_config()).await.unwrap();
    control_plane::service::Services::for_cli(db, s.cp_config())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn to_kanban_twice_makes_one_lead_with_the_clients_data() {
    let s = support::setup().await;
    let p = paired(&s, "calendar-kanban", INSTANCE_PHONE).await;
    let ops = services(&s).await;
    let (_, me) = s.get("/api/v1/auth/me", &s.user).await;
    let tenant = control_plane::domain::TenantId(me["data"]["tenant"]["id"].as_i64().unwrap());
    let a = create(
        &s,
        &p.sk,
        json!({"title": "Demo", "client_name": "Duda", "client_phone": "5511933334444",
            "client_email": "duda@example.com", "starts_at": "2026-05-01T10:00:00"}),
    )
    .await;
    let path = format!(
        "/api/v1/calendar/appointments/{}/to-kanban",
        a["uuid"].as_str().unwrap()
    );
    // Kanban is off: refused.
    let (status, body) = s.post(&path, &p.sk, json!({})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["code"], "KANBAN_NOT_ENABLED");
    ops.set_tenant_features(
        tenant,
        FeatureChange {
            kanban_enabled: Some(true),
            ..FeatureChange::default()
        },
    )
    .await
    .unwrap();
    let (status, board) = s
        .post(
            "/api/v1/kanban/boards",
            &p.sk,
            json!({"name": "Sales Pipeline", "is_default": true}),
        )
        .await;
    assert_eq!(status, 201, "{board}");
    let (status, first) = s.post(&path, &p.sk, json!({})).await;
    assert_eq!(status, 201, "{first}");
    let lead = first["data"].clone();
    assert_eq!(lead["phone_number"], "5511933334444");
    assert_eq!(lead["source"], "calendar");
    let (status, second) = s
        .post(&path, &p.sk, json!({"board_uuid": board["data"]["uuid"]}))
        .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["data"]["uuid"], lead["uuid"]);
    let (status, shown) = s
        .get(
            &format!("/api/v1/kanban/leads/{}", lead["uuid"].as_str().unwrap()),
            &p.sk,
        )
        .await;
    assert_eq!(status, 200, "{shown}");
    assert_eq!(shown["data"]["email"], "duda@example.com");
    p.node.stop().await;
}
