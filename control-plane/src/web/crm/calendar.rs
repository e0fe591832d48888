//! The calendar: month and week views of the appointments (the API's list with `start` and
//! `end`, in the tenant's time zone: times are shown as the API returns them), creating an
//! appointment, and its page: edit, confirm, complete, cancel, delete, and a Kanban lead from
//! it (`to-kanban`).

use std::collections::BTreeMap;

use axum::extract::{Form, Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{Datelike, Duration, Months, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::{instances, kanban_gate};
use crate::crm::calendar::model::Status;
use crate::crm::calendar::service::AppointmentFilter;
use crate::crm::calendar::views::AppointmentView;
use crate::error::AppError;
use crate::http::AppState;
use crate::web::automations::flash_ok;
use crate::web::instances::form_int;
use crate::web::render::{self, WebError, WebResult, html};
use crate::web::{Pages, Session};

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/crm/calendar", get(calendar))
        .route("/dashboard/crm/calendar/appointments", post(create))
        .route(
            "/dashboard/crm/calendar/appointments/{appointment}",
            get(show).post(update),
        )
        .route(
            "/dashboard/crm/calendar/appointments/{appointment}/confirm",
            post(confirm),
        )
        .route(
            "/dashboard/crm/calendar/appointments/{appointment}/complete",
            post(complete),
        )
        .route(
            "/dashboard/crm/calendar/appointments/{appointment}/cancel",
            post(cancel),
        )
        .route(
            "/dashboard/crm/calendar/appointments/{appointment}/delete",
            post(delete),
        )
        .route(
            "/dashboard/crm/calendar/appointments/{appointment}/to-kanban",
            post(to_kanban),
        )
}

#[derive(Deserialize, Default)]
struct CalendarQuery {
    view: Option<String>,
    date: Option<String>,
    instance: Option<String>,
}

/// The days a view covers, and the API's range for them (`end` a date: that day included).
struct Span {
    week: bool,
    first: NaiveDate,
    last: NaiveDate,
    /// The grid: whole weeks from Monday.
    grid_first: NaiveDate,
    grid_last: NaiveDate,
    prev: NaiveDate,
    next: NaiveDate,
}

fn span(week: bool, date: NaiveDate) -> Span {
    let monday = |d: NaiveDate| d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
    if week {
        let first = monday(date);
        let last = first + Duration::days(6);
        Span {
            week,
            first,
            last,
            grid_first: first,
            grid_last: last,
            prev: first - Duration::days(7),
            next: first + Duration::days(7),
        }
    } else {
        let first = date.with_day(1).unwrap_or(date);
        let next = first + Months::new(1);
        let last = next - Duration::days(1);
        let grid_first = monday(first);
        let grid_last = monday(last) + Duration::days(6);
        Span {
            week,
            first,
            last,
            grid_first,
            grid_last,
            prev: first - Months::new(1),
            next,
        }
    }
}

/// Every appointment starting in the span (the API's pages of 100).
async fn appointments(
    state: &AppState,
    s: &Session,
    sp: &Span,
    instance: Option<String>,
) -> WebResult<Vec<AppointmentView>> {
    let mut all = Vec::new();
    for page in 1..=20 {
        let p = state
            .services
            .list_appointments(
                &s.caller,
                AppointmentFilter {
                    instance: instance.clone(),
                    start: Some(sp.first.to_string()),
                    end: Some(sp.last.to_string()),
                    status: None,
                    page,
                    per_page: 100,
                },
            )
            .await?;
        let n = p.items.len();
        all.extend(p.items);
        if n < 100 || all.len() as u64 >= p.total {
            break;
        }
    }
    Ok(all)
}

/// An appointment for a day cell: its times as the API wrote them (the tenant's zone).
fn item(a: &AppointmentView) -> Value {
    let time = |t: &str| t.get(11..16).unwrap_or_default().to_owned();
    json!({
        "uuid": a.uuid,
        "title": a.title,
        "client_name": a.client_name,
        "status": a.status,
        "color": a.color,
        "start": time(&a.starts_at),
        "end": time(&a.ends_at),
        "starts_at": a.starts_at,
    })
}

async fn calendar(
    State(state): State<AppState>,
    s: Session,
    Query(q): Query<CalendarQuery>,
) -> WebResult<Response> {
    let tz = s.tenant.features.tz();
    let today = Utc::now().with_timezone(&tz).date_naive();
    let date = match q.date.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
        None => today,
        Some(d) => NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| {
            WebError::from(AppError::validation(
                "date",
                "The date must be a date such as 2026-05-01.",
            ))
        })?,
    };
    let week = q.view.as_deref() == Some("week");
    let sp = span(week, date);
    let instance = q
        .instance
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty())
        .map(str::to_owned);
    let list = appointments(&state, &s, &sp, instance.clone()).await?;
    let mut by_day: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for a in &list {
        by_day
            .entry(a.starts_at.get(..10).unwrap_or_default().to_owned())
            .or_default()
            .push(item(a));
    }
    let mut weeks = Vec::new();
    let mut d = sp.grid_first;
    while d <= sp.grid_last {
        let mut days = Vec::with_capacity(7);
        for _ in 0..7 {
            let key = d.to_string();
            days.push(json!({
                "date": key,
                "day": d.day(),
                "weekday": d.format("%a").to_string(),
                "label": d.format("%A %-d %B %Y").to_string(),
                "in_range": d >= sp.first && d <= sp.last,
                "today": d == today,
                "items": by_day.get(&key).cloned().unwrap_or_default(),
            }));
            d += Duration::days(1);
        }
        weeks.push(days);
    }
    let mut ctx = s.base("crm");
    ctx["view"] = json!(if sp.week { "week" } else { "month" });
    ctx["title"] = json!(if sp.week {
        format!("Week of {}", sp.first.format("%-d %B %Y"))
    } else {
        sp.first.format("%B %Y").to_string()
    });
    ctx["date"] = json!(date.to_string());
    ctx["prev"] = json!(sp.prev.to_string());
    ctx["next"] = json!(sp.next.to_string());
    ctx["today"] = json!(today.to_string());
    ctx["weeks"] = json!(weeks);
    ctx["count"] = json!(list.len());
    ctx["timezone"] = json!(s.tenant.features.timezone);
    ctx["instances"] = instances(&state, &s).await?;
    ctx["instance"] = json!(instance);
    ctx["default_start"] = json!(format!("{date}T09:00"));
    html("crm/calendar.html", ctx)
}

/// The fields of the create and edit forms, as the API's body: blank fields are left out on
/// create and cleared (`null`) on update; whole numbers are checked here, naming the field.
fn appointment_body(
    form: &std::collections::HashMap<String, String>,
    create: bool,
) -> WebResult<Map<String, Value>> {
    let mut body = Map::new();
    for key in [
        "instance_id",
        "title",
        "description",
        "client_name",
        "client_phone",
        "client_email",
        "starts_at",
        "ends_at",
        "color",
        "location",
        "notes",
    ] {
        let Some(v) = form.get(key) else { continue };
        let v = v.trim();
        if !v.is_empty() {
            body.insert(key.into(), json!(v));
        } else if !create && !matches!(key, "title" | "starts_at" | "instance_id" | "color") {
            body.insert(key.into(), Value::Null);
        }
    }
    for key in ["duration_minutes", "reminder_minutes"] {
        let Some(v) = form.get(key) else { continue };
        match form_int(key, v)? {
            Some(n) => {
                body.insert(key.into(), json!(n));
            }
            None if !create && key == "reminder_minutes" => {
                body.insert(key.into(), Value::Null);
            }
            None => {}
        }
    }
    Ok(body)
}

async fn create(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> WebResult<Response> {
    let a = state
        .services
        .create_appointment(&s.caller, appointment_body(&form, true)?)
        .await?;
    let view = form
        .get("view")
        .map_or("month", |v| if v == "week" { "week" } else { "month" });
    Ok(render::redirect(
        &headers,
        &format!(
            "/dashboard/crm/calendar?view={view}&date={}",
            a.starts_at.get(..10).unwrap_or_default()
        ),
    ))
}

async fn panel_ctx(state: &AppState, s: &Session, a: AppointmentView) -> WebResult<Value> {
    let gate = kanban_gate(state, s).await?;
    let boards = if gate.is_null() {
        json!(
            state
                .services
                .list_boards(&s.caller, Some(&a.instance_id.to_string()))
                .await?
        )
    } else {
        json!([])
    };
    let lead = if gate.is_null() {
        state
            .services
            .appointment_lead(&s.caller, &a.uuid.to_string())
            .await?
    } else {
        None
    };
    let local = |t: &str| t.get(..16).unwrap_or_default().to_owned();
    Ok(json!({
        "starts_local": local(&a.starts_at),
        "ends_local": local(&a.ends_at),
        "a": a,
        "gate": gate,
        "boards": boards,
        "lead": lead,
    }))
}

async fn show(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let a = state.services.get_appointment(&s.caller, &id).await?;
    let mut ctx = s.base("crm");
    ctx["p"] = panel_ctx(&state, &s, a).await?;
    ctx["timezone"] = json!(s.tenant.features.timezone);
    html("crm/appointment.html", ctx)
}

async fn panel(
    state: &AppState,
    s: &Session,
    a: AppointmentView,
    message: &str,
) -> WebResult<Response> {
    let body = render::render(
        "crm/_appointment.html",
        json!({ "p": panel_ctx(state, s, a).await?,
                "timezone": s.tenant.features.timezone }),
    )? + &flash_ok(message)?;
    Ok(Html(body).into_response())
}

async fn update(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> WebResult<Response> {
    let a = state
        .services
        .update_appointment(&s.caller, &id, appointment_body(&form, false)?)
        .await?;
    panel(&state, &s, a, "Appointment saved.").await
}

async fn transition(
    state: AppState,
    s: Session,
    id: String,
    to: Status,
    message: &str,
) -> WebResult<Response> {
    let a = state
        .services
        .transition_appointment(&s.caller, &id, to)
        .await?;
    panel(&state, &s, a, message).await
}

async fn confirm(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    transition(state, s, id, Status::Confirmed, "Appointment confirmed.").await
}

async fn complete(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    transition(state, s, id, Status::Completed, "Appointment completed.").await
}

async fn cancel(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    transition(state, s, id, Status::Cancelled, "Appointment cancelled.").await
}

async fn delete(
    State(state): State<AppState>,
    s: Session,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let a = state.services.get_appointment(&s.caller, &id).await?;
    state.services.delete_appointment(&s.caller, &id).await?;
    Ok(render::redirect(
        &headers,
        &format!(
            "/dashboard/crm/calendar?date={}",
            a.starts_at.get(..10).unwrap_or_default()
        ),
    ))
}

#[derive(Deserialize)]
struct ToKanbanForm {
    #[serde(default)]
    board_uuid: String,
}

async fn to_kanban(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Form(f): Form<ToKanbanForm>,
) -> WebResult<Response> {
    let board = match f.board_uuid.trim() {
        "" => None,
        b => Some(Uuid::parse_str(b).map_err(|_| {
            WebError::from(AppError::validation(
                "board_uuid",
                "The board_uuid must be a UUID.",
            ))
        })?),
    };
    let r = state
        .services
        .appointment_to_kanban(&s.caller, &id, board)
        .await?;
    let a = state.services.get_appointment(&s.caller, &id).await?;
    panel(
        &state,
        &s,
        a,
        if r.created {
            "Lead created from the appointment."
        } else {
            "The appointment already has its lead."
        },
    )
    .await
}
