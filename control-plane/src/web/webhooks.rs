//! An instance's webhook and inbox settings, and its delivery log: the settings form (URL,
//! events, on/off, the secret masked with rotation), removal, the log with its filters
//! (reloading live on `delivery` news), one delivery's request and response, replaying one
//! delivery or the failed ones since a time; and the instance's inbox settings (automatic
//! transcription). Every action calls the service the matching API route calls.

use axum::extract::{Path, RawForm, RawQuery, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use zapini_shared::envelope::PageRequest;

use super::fields::{form_again, form_pairs, form_time, form_value};
use super::render::{self, WebError, WebResult, html};
use super::{Pages, Session};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::webhooks::{DeliveryFilter, WebhookInput, parse_delivery_status};
use crate::webhooks::events::NAMES;

pub const PATHS: &[&str] = &[
    "/dashboard/instances/{id}/webhook",
    "/dashboard/instances/{id}/webhook/delete",
    "/dashboard/instances/{id}/webhook/deliveries",
    "/dashboard/instances/{id}/webhook/deliveries/{delivery}",
    "/dashboard/instances/{id}/webhook/deliveries/{delivery}/replay",
    "/dashboard/instances/{id}/webhook/replay",
    "/dashboard/instances/{id}/inbox-settings",
];

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/instances/{id}/webhook", get(page).post(save))
        .route("/dashboard/instances/{id}/webhook/delete", post(delete))
        .route(
            "/dashboard/instances/{id}/webhook/deliveries",
            get(deliveries),
        )
        .route(
            "/dashboard/instances/{id}/webhook/deliveries/{delivery}",
            get(delivery),
        )
        .route(
            "/dashboard/instances/{id}/webhook/deliveries/{delivery}/replay",
            post(replay_one),
        )
        .route(
            "/dashboard/instances/{id}/webhook/replay",
            post(replay_many),
        )
        .route(
            "/dashboard/instances/{id}/inbox-settings",
            get(inbox_settings).post(save_inbox_settings),
        )
}

/// An ok flash message for the page's `#flash` area.
fn flash(message: &str) -> WebResult<Response> {
    let body = render::render("_flash.html", json!({ "message": message }))?;
    let mut r = Html(body).into_response();
    r.headers_mut().insert(
        "hx-retarget",
        axum::http::HeaderValue::from_static("#flash"),
    );
    r.headers_mut().insert(
        "hx-reswap",
        axum::http::HeaderValue::from_static("innerHTML"),
    );
    Ok(r)
}

// ---- the webhook ----

/// Every event name the API knows, in its order.
fn event_names() -> Vec<&'static str> {
    NAMES.iter().map(|(n, _)| *n).collect()
}

/// The settings panel's data: the webhook (or none), the names to pick from, and whether
/// the webhook takes every event.
async fn settings_ctx(state: &AppState, s: &Session, id: &str) -> WebResult<Value> {
    let instance = state.services.get_instance(&s.caller, id).await?;
    let webhook = match state.services.get_webhook(&s.caller, id).await {
        Ok(w) => Some(w),
        Err(AppError::Client(body)) if body.code == zapini_shared::error::ErrorCode::NotFound => {
            None
        }
        Err(e) => return Err(e.into()),
    };
    let every = webhook
        .as_ref()
        .is_none_or(|w| w.events.len() == NAMES.len());
    Ok(json!({
        "instance": instance,
        "webhook": webhook,
        "names": event_names(),
        "every_event": every,
        "insecure_http": state.services.config.webhooks.allow_http,
    }))
}

async fn page(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let settings = settings_ctx(&state, &s, &id).await?;
    let inbox = state.services.inbox_settings(&s.caller, &id).await?;
    let log = log_ctx(&state, &s, &id, None).await?;
    let mut ctx = s.base("instances");
    // The settings panel's names at the top, as its fragment has them.
    if let (Some(ctx), Value::Object(settings)) = (ctx.as_object_mut(), settings) {
        ctx.extend(settings);
    }
    ctx["inbox"] = json!(inbox);
    ctx["log"] = log;
    html("webhooks/page.html", ctx)
}

/// `POST …/webhook`: the form's `webhook_url`, `events` (repeated), `is_active`, an optional
/// new `webhook_secret`, or `rotate` (a new secret generated here, shown once).
async fn save(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    RawForm(raw): RawForm,
) -> WebResult<Response> {
    let pairs = form_pairs(&raw);
    let rotate = !form_value(&pairs, "rotate").is_empty();
    let typed = form_value(&pairs, "webhook_secret");
    let generated = rotate.then(|| format!("whsec_{}", crate::crypto::random_secret(32)));
    let secret = match (&generated, typed.is_empty()) {
        (Some(g), _) => Some(g.clone()),
        (None, false) => Some(typed.to_owned()),
        (None, true) => None,
    };
    let events: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| k == "events")
        .map(|(_, v)| v.clone())
        .collect();
    // Every name ticked is the same as none: every event.
    let events = if events.len() == NAMES.len() {
        Vec::new()
    } else {
        events
    };
    let input = WebhookInput {
        url: form_value(&pairs, "webhook_url").to_owned(),
        secret,
        events: Some(events),
        is_active: Some(!form_value(&pairs, "is_active").is_empty()),
    };
    match state.services.put_webhook(&s.caller, &id, input).await {
        Ok((view, created)) => {
            let mut ctx = settings_ctx(&state, &s, &id).await?;
            // A secret generated by the service (a new webhook without one) or here (rotation)
            // is shown this once.
            ctx["shown_secret"] = json!(view.webhook_secret.or(generated));
            ctx["saved"] = json!(if created {
                "Webhook configured."
            } else {
                "Webhook saved."
            });
            html("webhooks/_settings.html", ctx)
        }
        Err(e) => {
            let mut ctx = settings_ctx(&state, &s, &id).await?;
            // The form as it was sent, not as stored.
            ctx["form"] = json!({
                "webhook_url": form_value(&pairs, "webhook_url"),
                "events": pairs.iter().filter(|(k, _)| k == "events").map(|(_, v)| v).collect::<Vec<_>>(),
                "is_active": !form_value(&pairs, "is_active").is_empty(),
            });
            form_again("webhooks/_settings.html", ctx, e.into())
        }
    }
}

async fn delete(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.services.delete_webhook(&s.caller, &id).await?;
    let mut ctx = settings_ctx(&state, &s, &id).await?;
    ctx["saved"] = json!("Webhook removed, with its pending deliveries and its log.");
    html("webhooks/_settings.html", ctx)
}

// ---- the delivery log ----

/// The log's filters and page as the page's query string has them.
struct LogQuery {
    status: String,
    event: String,
    since: String,
    page: String,
}

impl LogQuery {
    fn parse(raw: Option<&str>) -> LogQuery {
        let pairs = form_pairs(raw.unwrap_or_default().as_bytes());
        LogQuery {
            status: form_value(&pairs, "status").trim().to_owned(),
            event: form_value(&pairs, "event").trim().to_owned(),
            since: form_value(&pairs, "since").trim().to_owned(),
            page: form_value(&pairs, "page").trim().to_owned(),
        }
    }

    /// The query string of these filters on `page`.
    fn with_page(&self, page: u64) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("status", &self.status)
            .append_pair("event", &self.event)
            .append_pair("since", &self.since)
            .append_pair("page", &page.to_string())
            .finish()
    }
}

const LOG_PER_PAGE: u64 = 25;

async fn log_ctx(
    state: &AppState,
    s: &Session,
    id: &str,
    raw_query: Option<&str>,
) -> WebResult<Value> {
    let q = LogQuery::parse(raw_query);
    let page = super::instances::form_int("page", &q.page)?.map(|p| u64::try_from(p).unwrap_or(0));
    let page = PageRequest::new(page, Some(LOG_PER_PAGE), LOG_PER_PAGE, 100)
        .map_err(|e| WebError::from(AppError::Client(e)))?;
    let filter = DeliveryFilter {
        status: (!q.status.is_empty())
            .then(|| parse_delivery_status("status", &q.status).map(str::to_owned))
            .transpose()?,
        event: (!q.event.is_empty()).then(|| q.event.clone()),
        since: form_time("since", &q.since)?,
    };
    let instance = state.services.get_instance(&s.caller, id).await?;
    let (items, meta) = state
        .services
        .list_deliveries(&s.caller, id, filter, page)
        .await?;
    let p = &meta.pagination;
    Ok(json!({
        "instance": instance,
        "deliveries": items,
        "pagination": p,
        "filters": {"status": q.status, "event": q.event, "since": q.since},
        "query": q.with_page(p.current_page),
        "prev": (p.current_page > 1).then(|| q.with_page(p.current_page - 1)),
        "next": (p.current_page < p.last_page).then(|| q.with_page(p.current_page + 1)),
        "names": event_names(),
    }))
}

/// `GET …/webhook/deliveries?status=&event=&since=&page=`: the log's table (the whole live
/// container, carrying its own filters for the next live reload).
async fn deliveries(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> WebResult<Response> {
    let log = log_ctx(&state, &s, &id, q.as_deref()).await?;
    html("webhooks/_deliveries.html", json!({ "log": log }))
}

/// One delivery: the request as it is sent (headers, body), each attempt's answer.
async fn delivery_ctx(state: &AppState, s: &Session, id: &str, delivery: &str) -> WebResult<Value> {
    let instance = state.services.get_instance(&s.caller, id).await?;
    let detail = state
        .services
        .show_delivery(&s.caller, id, delivery)
        .await?;
    let url = state
        .services
        .get_webhook(&s.caller, id)
        .await
        .ok()
        .map(|w| w.webhook_url);
    let body = serde_json::to_string_pretty(&detail.payload).unwrap_or_default();
    // (name, value, whether the value is literal: the others are made per attempt).
    let headers = [
        ("Content-Type", "application/json".to_owned(), true),
        (
            "User-Agent",
            crate::webhooks::dispatcher::USER_AGENT.to_owned(),
            true,
        ),
        ("X-Webhook-Event", detail.delivery.event.clone(), true),
        ("X-Instance-UUID", instance.uuid.to_string(), true),
        (
            "X-Webhook-Delivery-Id",
            detail.delivery.id.to_string(),
            true,
        ),
        (
            "X-Webhook-Attempt",
            "the attempt's number: 1, 2, …".to_owned(),
            false,
        ),
        (
            "X-Webhook-Timestamp",
            "the attempt's time (Unix seconds)".to_owned(),
            false,
        ),
        (
            "X-Webhook-Signature",
            "HMAC-SHA256 of the body with your secret".to_owned(),
            false,
        ),
        (
            "X-Webhook-Signature-V2",
            "v1= HMAC-SHA256 of \"{timestamp}.{body}\"".to_owned(),
            false,
        ),
    ];
    Ok(json!({
        "instance": instance,
        "delivery": detail.delivery,
        "attempts": detail.attempts_log,
        "url": url,
        "headers": headers,
        "body": body,
    }))
}

async fn delivery(
    State(state): State<AppState>,
    s: Session,
    headers: axum::http::HeaderMap,
    Path((id, delivery)): Path<(String, String)>,
) -> WebResult<Response> {
    let detail = delivery_ctx(&state, &s, &id, &delivery).await?;
    if render::is_htmx(&headers) {
        return html("webhooks/_delivery.html", detail);
    }
    let mut ctx = s.base("instances");
    ctx["instance"] = detail["instance"].clone();
    ctx["detail"] = detail;
    html("webhooks/delivery.html", ctx)
}

/// `POST …/deliveries/{delivery}/replay`: sent again now (same body and delivery id).
async fn replay_one(
    State(state): State<AppState>,
    s: Session,
    Path((id, delivery)): Path<(String, String)>,
) -> WebResult<Response> {
    state
        .services
        .replay_delivery(&s.caller, &id, &delivery)
        .await?;
    flash("Delivery queued again: it is sent now, with the same body and delivery id.")
}

/// `POST …/webhook/replay`: `since` and `status` (failed when absent).
async fn replay_many(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    RawForm(raw): RawForm,
) -> WebResult<Response> {
    let pairs = form_pairs(&raw);
    let since = form_time("since", form_value(&pairs, "since"))?.ok_or_else(|| {
        WebError::from(AppError::validation(
            "since",
            "The since field is required.",
        ))
    })?;
    let status = match form_value(&pairs, "status").trim() {
        "" => crate::webhooks::FAILED,
        other => parse_delivery_status("status", other)?,
    };
    let queued = state
        .services
        .replay_deliveries(&s.caller, &id, since, status)
        .await?;
    flash(&match queued {
        0 => format!("No {status} deliveries since then: nothing to send again."),
        1 => "1 delivery queued again.".to_owned(),
        n => format!("{n} deliveries queued again."),
    })
}

// ---- inbox settings ----

async fn inbox_settings(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let instance = state.services.get_instance(&s.caller, &id).await?;
    let inbox = state.services.inbox_settings(&s.caller, &id).await?;
    html(
        "webhooks/_inbox_settings.html",
        json!({ "instance": instance, "inbox": inbox }),
    )
}

/// `POST …/inbox-settings`: `auto_transcribe` (a checkbox), `transcription_language`
/// (blank: detect).
async fn save_inbox_settings(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    RawForm(raw): RawForm,
) -> WebResult<Response> {
    let pairs = form_pairs(&raw);
    let instance = state.services.get_instance(&s.caller, &id).await?;
    let language = crate::service::transcription::parse_transcription_language(Some(Some(
        form_value(&pairs, "transcription_language").to_owned(),
    )));
    let result = match language {
        Ok(language) => {
            state
                .services
                .set_inbox_settings(
                    &s.caller,
                    &id,
                    Some(!form_value(&pairs, "auto_transcribe").is_empty()),
                    language,
                )
                .await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(inbox) => html(
            "webhooks/_inbox_settings.html",
            json!({ "instance": instance, "inbox": inbox, "saved": true }),
        ),
        Err(e) => {
            let inbox = state.services.inbox_settings(&s.caller, &id).await?;
            let ctx = json!({
                "instance": instance,
                "inbox": inbox,
                "form": {"transcription_language": form_value(&pairs, "transcription_language")},
            });
            form_again("webhooks/_inbox_settings.html", ctx, e.into())
        }
    }
}
