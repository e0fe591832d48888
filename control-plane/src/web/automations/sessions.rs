//! Live automation sessions: `GET /automation/sessions` as a table with its filters
//! (instance, automation, status), reloaded when a turn runs or a session changes
//! (`data-live="session"`), and pausing, resuming or closing one through the API's status
//! route (resuming follows the inbox's rule: archive the conversation first).

use std::collections::HashMap;

use axum::extract::{Form, Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;
use zapini_shared::envelope::PageRequest;

use super::{filter, instances};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::automation::sessions::SessionFilter;
use crate::service::inbox::automation::AutomationKind;
use crate::web::render::{WebError, WebResult, html};
use crate::web::{Pages, Session};

pub fn routes() -> Pages {
    Pages::new()
        .route("/dashboard/automations/sessions", get(index))
        .route("/dashboard/automations/sessions/table", get(table))
        .route(
            "/dashboard/automations/sessions/{session}/status",
            post(set_status),
        )
}

#[derive(Deserialize, Default)]
struct Filters {
    instance: Option<String>,
    automation: Option<String>,
    status: Option<String>,
    page: Option<String>,
}

impl Filters {
    /// The filters as a query string (for the table's reloads and paging).
    fn query(&self, page: Option<u64>) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("instance", &self.instance),
            ("automation", &self.automation),
            ("status", &self.status),
        ] {
            if let Some(v) = filter(v) {
                q.append_pair(k, &v);
            }
        }
        if let Some(p) = page {
            q.append_pair("page", &p.to_string());
        }
        q.finish()
    }
}

/// Flow and integration names by UUID.
async fn names(state: &AppState, s: &Session) -> WebResult<(HashMap<String, String>, Value)> {
    let mut map = HashMap::new();
    let mut all = Vec::new();
    for (kind, label) in [
        (AutomationKind::Flow, "flow"),
        (AutomationKind::Integration, "integration"),
    ] {
        for e in state
            .services
            .list_automations(&s.caller, kind, None)
            .await?
        {
            map.insert(e.id.to_string(), e.name.clone());
            all.push(json!({"id": e.id, "name": e.name, "kind": label}));
        }
    }
    Ok((map, json!(all)))
}

async fn table_ctx(state: &AppState, s: &Session, f: &Filters) -> WebResult<Value> {
    let status = filter(&f.status);
    if status
        .as_deref()
        .is_some_and(|v| !matches!(v, "active" | "paused" | "closed"))
    {
        return Err(AppError::validation(
            "status",
            "The status must be one of: active, paused, closed.",
        )
        .into());
    }
    let automation = match filter(&f.automation) {
        Some(a) => Some(Uuid::parse_str(&a).map_err(|_| {
            WebError::from(AppError::validation(
                "automation_id",
                "The automation_id must be a UUID.",
            ))
        })?),
        None => None,
    };
    let page_no = match filter(&f.page) {
        None => None,
        Some(p) => Some(p.parse::<u64>().map_err(|_| {
            WebError::from(AppError::validation(
                "page",
                "The page field must be a whole number.",
            ))
        })?),
    };
    let page = PageRequest::new(page_no, None, 20, 100).map_err(AppError::Client)?;
    let (rows, pagination) = state
        .services
        .list_sessions(
            &s.caller,
            SessionFilter {
                instance: filter(&f.instance),
                automation,
                status,
            },
            page,
        )
        .await?;
    let (names, _) = names(state, s).await?;
    let pagination = json!(pagination);
    let last = pagination["last_page"].as_u64().unwrap_or(1);
    Ok(json!({
        "sessions": rows,
        "names": names,
        "pagination": pagination,
        "query": f.query(None),
        "prev": (page.page > 1).then(|| f.query(Some(page.page - 1))),
        "next": (page.page < last).then(|| f.query(Some(page.page + 1))),
    }))
}

async fn index(
    State(state): State<AppState>,
    s: Session,
    Query(f): Query<Filters>,
) -> WebResult<Response> {
    let mut ctx = s.base("automations");
    ctx["tab"] = json!("sessions");
    ctx["table"] = table_ctx(&state, &s, &f).await?;
    ctx["instances"] = instances(&state, &s).await?;
    ctx["automations"] = names(&state, &s).await?.1;
    ctx["f"] = json!({
        "instance": filter(&f.instance),
        "automation": filter(&f.automation),
        "status": filter(&f.status),
    });
    html("automations/sessions.html", ctx)
}

async fn table(
    State(state): State<AppState>,
    s: Session,
    Query(f): Query<Filters>,
) -> WebResult<Response> {
    html(
        "automations/_sessions_table.html",
        json!({ "table": table_ctx(&state, &s, &f).await? }),
    )
}

#[derive(Deserialize)]
struct StatusForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    reason: String,
}

async fn set_status(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Form(form): Form<StatusForm>,
) -> WebResult<Response> {
    let status = form.status.trim().to_ascii_lowercase();
    if !matches!(status.as_str(), "active" | "paused" | "closed") {
        return Err(AppError::validation(
            "status",
            "The status must be one of: active, paused, closed.",
        )
        .into());
    }
    let reason = Some(form.reason.trim().to_owned()).filter(|r| !r.is_empty());
    if reason.as_ref().is_some_and(|r| r.chars().count() > 255) {
        return Err(AppError::validation(
            "reason",
            "The reason may not be greater than 255 characters.",
        )
        .into());
    }
    let session = state
        .services
        .set_session_status(&s.caller, &id, &status, reason)
        .await?;
    let (names, _) = names(&state, &s).await?;
    html(
        "automations/_session_row.html",
        json!({ "x": session, "names": names }),
    )
}
