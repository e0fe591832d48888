//! An instance's webhook page: settings saved as the API then shows them (and refused as
//! the API refuses them, per field), the live delivery log, one delivery's request and
//! response, replays that really deliver again, inbox settings, and another tenant's 404s.

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use super::{Events, Receiver, assert_csrf_refused, esc, eventually, other_tenant};
use crate::dashboard::Dash;
use crate::helpers::spawn_app;
use crate::inbox_setup::Inbox;

/// The API's view of the webhook.
async fn api_webhook(t: &Inbox) -> (u16, Value) {
    t.call(Method::GET, &format!("/instances/{}/webhook", t.uuid), None)
        .await
}

/// The API's deliveries, newest first.
async fn api_deliveries(t: &Inbox, query: &str) -> Vec<Value> {
    t.get(&format!(
        "/instances/{}/webhook/deliveries?per_page=100&{query}",
        t.uuid
    ))
    .await["data"]
        .as_array()
        .unwrap()
        .clone()
}

/// Waits until the API shows delivery `id` with `status` and `attempts`.
async fn delivery_becomes(t: &Inbox, id: &str, status: &str, attempts: i64) -> Value {
    eventually(
        &format!("delivery {id} {status} after {attempts}"),
        || async {
            let d = t
                .get(&format!("/instances/{}/webhook/deliveries/{id}", t.uuid))
                .await["data"]
                .clone();
            (d["status"] == status && d["attempts"] == attempts).then_some(d)
        },
    )
    .await
}

#[tokio::test]
async fn webhook_settings_the_live_log_and_replays() {
    let t = Inbox::with_config(|c| {
        c.allow_private_urls = true;
        c.webhooks.allow_http = true;
        // One attempt: a failure is final at once (and replays are what sends it again).
        c.webhooks.retry_schedule = vec![Duration::ZERO];
    })
    .await;
    let dash = Dash::admin(&t.app).await;
    let uuid = t.uuid.clone();
    let base = format!("/dashboard/instances/{uuid}/webhook");
    let receiver = Receiver::start().await;

    // Before any webhook: the page offers the API's event names.
    let (status, page) = dash.get(&base).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("no-webhook") && page.contains("message.received"));
    assert!(
        page.contains("appointment.reminder_sent"),
        "every name the API knows"
    );

    // Configure it: the API shows what the form sent.
    let (status, _, body) = dash
        .post(
            &base,
            &[
                ("webhook_url", receiver.url.as_str()),
                ("events", "message.received"),
                ("events", "message.status"),
                ("is_active", "1"),
                ("webhook_secret", "dashboard-secret-1"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("Webhook configured") && body.contains("********et-1"),
        "{body}"
    );
    let (_, w) = api_webhook(&t).await;
    assert_eq!(w["data"]["webhook_url"], receiver.url.as_str());
    assert_eq!(
        w["data"]["events"],
        json!(["message.received", "message.status"])
    );
    assert_eq!(w["data"]["is_active"], true);
    let (_, page) = dash.get(&base).await;
    assert!(
        page.contains(&esc(&receiver.url)) && page.contains("********et-1"),
        "{page}"
    );

    // A message comes in: delivered, announced live, and in the log.
    let mut events = Events::open(&dash).await;
    t.inbound("5511900000001", "IN-1", "first message").await;
    let hit = receiver.wait_for(1).await;
    assert_eq!(hit.header("x-webhook-event"), "message.received");
    let first = hit.header("x-webhook-delivery-id").to_owned();
    let news = events.wait_for("event: delivery").await;
    assert!(news.contains(&uuid), "{news}");
    delivery_becomes(&t, &first, "delivered", 1).await;
    let (status, log) = dash.get(&format!("{base}/deliveries")).await;
    assert_eq!(status, 200);
    assert!(log.contains(&first) && log.contains("delivered"), "{log}");
    assert!(
        log.contains("data-live=\"delivery\""),
        "the log reloads itself live"
    );

    // The receiver fails the next one: failed after its one attempt, and filtered so.
    receiver.answer_next(&[500]);
    t.inbound("5511900000002", "IN-2", "second message").await;
    let second_hit = receiver.wait_for(2).await;
    let second = second_hit.header("x-webhook-delivery-id").to_owned();
    delivery_becomes(&t, &second, "failed", 1).await;
    let (_, failed) = dash.get(&format!("{base}/deliveries?status=failed")).await;
    assert!(
        failed.contains(&second) && !failed.contains(&first),
        "{failed}"
    );
    let (_, by_event) = dash
        .get(&format!("{base}/deliveries?event=message.status"))
        .await;
    assert!(!by_event.contains(&first), "{by_event}");
    let (status, bad) = dash
        .get(&format!("{base}/deliveries?since=yesterday"))
        .await;
    assert_eq!(status, 422);
    assert!(bad.contains("since"), "{bad}");

    // One delivery: the request (headers, body) and each attempt's answer.
    let (status, detail) = dash.get(&format!("{base}/deliveries/{second}")).await;
    assert_eq!(status, 200, "{detail}");
    for expected in [
        "X-Webhook-Delivery-Id",
        second.as_str(),
        "X-Instance-UUID",
        "second message",
        "HTTP 500",
        "Zapini-Webhook/1.0",
    ] {
        assert!(detail.contains(&esc(expected)), "{expected} in {detail}");
    }

    // Replay it: really sent again, with the same delivery id, and delivered this time.
    let (status, _, body) = dash
        .post(&format!("{base}/deliveries/{second}/replay"), &[])
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("queued again"), "{body}");
    let again = receiver.wait_for(3).await;
    assert_eq!(again.header("x-webhook-delivery-id"), second);
    assert_eq!(again.header("x-webhook-attempt"), "2");
    assert_eq!(again.body, second_hit.body, "the same body, byte for byte");
    delivery_becomes(&t, &second, "delivered", 2).await;

    // Replay the failed ones since a time (a browser's datetime-local value, UTC).
    receiver.answer_next(&[503]);
    t.inbound("5511900000003", "IN-3", "third message").await;
    let third = receiver
        .wait_for(4)
        .await
        .header("x-webhook-delivery-id")
        .to_owned();
    delivery_becomes(&t, &third, "failed", 1).await;
    let since = (chrono::Utc::now() - chrono::Duration::hours(1))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let (status, _, body) = dash
        .post(
            &format!("{base}/replay"),
            &[("since", since.as_str()), ("status", "failed")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("1 delivery queued again"), "{body}");
    assert_eq!(
        receiver.wait_for(5).await.header("x-webhook-delivery-id"),
        third
    );
    delivery_becomes(&t, &third, "delivered", 2).await;
    let (status, _, body) = dash.post(&format!("{base}/replay"), &[("since", "")]).await;
    assert_eq!(status, 422);
    assert!(body.contains("since"), "{body}");

    // Rotate the secret: a new one, shown once; the old one keeps signing for a while.
    let before = api_webhook(&t).await.1["data"]["secret_hint"].clone();
    let (status, _, body) = dash
        .post(
            &base,
            &[
                ("webhook_url", receiver.url.as_str()),
                ("events", "message.received"),
                ("events", "message.status"),
                ("is_active", "1"),
                ("rotate", "1"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let start = body.find("whsec_").expect("the new secret, shown once");
    let secret: String = body[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    let (_, w) = api_webhook(&t).await;
    assert_ne!(w["data"]["secret_hint"], before);
    assert!(secret.ends_with(&w["data"]["secret_hint"].as_str().unwrap().replace('*', "")));
    assert!(w["data"]["previous_secret_expires_at"].is_string(), "{w}");
    let (_, page) = dash.get(&base).await;
    assert!(!page.contains(&secret), "shown once only");

    // Every event (nothing ticked), turned off.
    let (status, _, _) = dash
        .post(&base, &[("webhook_url", receiver.url.as_str())])
        .await;
    assert_eq!(status, 200);
    let (_, w) = api_webhook(&t).await;
    assert_eq!(w["data"]["is_active"], false);
    assert_eq!(w["data"]["status"], "inactive");
    assert!(w["data"]["events"].as_array().unwrap().len() > 20, "{w}");

    // Inbox settings.
    let settings = format!("/dashboard/instances/{uuid}/inbox-settings");
    let (status, _, body) = dash
        .post(
            &settings,
            &[("auto_transcribe", "1"), ("transcription_language", "PT")],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let api = t.get(&format!("/instances/{uuid}/inbox-settings")).await;
    assert_eq!(api["data"]["auto_transcribe"], true);
    assert_eq!(api["data"]["transcription_language"], "pt");
    let (status, _, body) = dash
        .post(&settings, &[("transcription_language", "pt_BR!")])
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("transcription_language"), "{body}");
    let api = t.get(&format!("/instances/{uuid}/inbox-settings")).await;
    assert_eq!(api["data"]["transcription_language"], "pt", "unchanged");
    let (_, page) = dash.get(&base).await;
    assert!(
        page.contains("id=\"auto-transcribe\" name=\"auto_transcribe\" value=\"1\" checked"),
        "{page}"
    );

    // Without the CSRF header: refused, nothing changes.
    assert_csrf_refused(&dash, &format!("{base}/delete"), &[]).await;
    assert_eq!(api_webhook(&t).await.0, 200);

    // Another tenant: every page and action with our ids is 404, and changes nothing.
    let (other, _) = other_tenant(&t.app).await;
    for path in [
        base.clone(),
        format!("{base}/deliveries"),
        format!("{base}/deliveries/{first}"),
        settings.clone(),
    ] {
        let (status, body) = other.get(&path).await;
        assert_eq!(status, 404, "GET {path}: {body}");
        assert!(!body.contains(&esc(&receiver.url)), "{path}");
    }
    for (path, form) in [
        (
            base.clone(),
            vec![("webhook_url", "https://evil.example/x")],
        ),
        (format!("{base}/delete"), vec![]),
        (format!("{base}/deliveries/{first}/replay"), vec![]),
        (format!("{base}/replay"), vec![("since", since.as_str())]),
        (settings.clone(), vec![("transcription_language", "en")]),
    ] {
        let (status, _, body) = other.post(&path, &form).await;
        assert_eq!(status, 404, "POST {path}: {body}");
    }
    let (_, w) = api_webhook(&t).await;
    assert_eq!(w["data"]["webhook_url"], receiver.url.as_str());
    assert_eq!(receiver.hits().len(), 5, "no replay by another tenant");

    // Removed: the API has no webhook, the log is gone.
    let (status, _, body) = dash.post(&format!("{base}/delete"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("no-webhook"), "{body}");
    assert_eq!(api_webhook(&t).await.0, 404);
    assert!(api_deliveries(&t, "").await.is_empty());
}

#[tokio::test]
async fn the_webhook_form_refuses_what_the_api_refuses_by_field() {
    let app = spawn_app().await;
    let token = app.login().await;
    let instance = app.create_instance(&token, "Refusals").await;
    let uuid = instance["uuid"].as_str().unwrap();
    let dash = Dash::admin(&app).await;
    let base = format!("/dashboard/instances/{uuid}/webhook");
    for (url, expected) in [
        ("http://hooks.example.com/in", "must be an https URL"),
        ("https://127.0.0.1/in", "private"),
        ("https://10.1.2.3/in", "private"),
        ("https://localhost/in", "private"),
        ("", "required"),
    ] {
        let (status, _, body) = dash
            .post(&base, &[("webhook_url", url), ("is_active", "1")])
            .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert!(
            body.contains("err-webhook_url"),
            "shown on the field: {body}"
        );
        assert!(body.contains(expected), "{url}: {body}");
        // The form keeps what was typed.
        assert!(body.contains(&format!("value=\"{}\"", esc(url))), "{body}");
    }
    let (status, _, body) = dash
        .post(
            &base,
            &[
                ("webhook_url", "https://hooks.example.com/in"),
                ("events", "message.nope"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body.contains("err-events") && body.contains("message.nope"),
        "{body}"
    );
    let (status, _, body) = dash
        .post(
            &base,
            &[
                ("webhook_url", "https://hooks.example.com/in"),
                ("webhook_secret", "short"),
            ],
        )
        .await;
    assert_eq!(status, 422);
    assert!(body.contains("err-webhook_secret"), "{body}");
    let resp = app
        .get(&format!("/api/v1/instances/{uuid}/webhook"), &token)
        .await;
    assert_eq!(resp.status(), 404, "nothing was saved");

    // A new webhook without a secret: the generated one is shown once.
    let (status, _, body) = dash
        .post(
            &base,
            &[
                ("webhook_url", "https://hooks.example.com/in"),
                ("is_active", "1"),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("webhook-secret") && body.contains("whsec_"),
        "{body}"
    );
    let resp = app
        .get(&format!("/api/v1/instances/{uuid}/webhook"), &token)
        .await;
    assert_eq!(resp.status(), 200);
}
