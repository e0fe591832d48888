//! The inbox: conversations with the API's filters (instance, unread, tag, search, archived)
//! beside one conversation's thread (media, reactions, edits, deletions, transcriptions),
//! its composer (text, a media URL or an upload, replies), mark read, archive / restore,
//! tags, and its automation state with pause / resume (the reference's rule: resuming needs
//! the conversation archived, and unarchives it). Everything goes through the services the
//! conversations and chat API use; lists and threads reload on `message` news.

mod composer;
pub mod thread;

use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::json;

use super::fields::Fields;
use super::render::{WebError, WebResult, html};
use super::{Pages, Session};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::inbox::history::MessageFilter;
use crate::service::inbox::{ConversationFilter, ConversationView, Shape};
use thread::thread_changed;

pub const PATHS: &[&str] = &[
    "/dashboard/inbox",
    "/dashboard/inbox/list",
    "/dashboard/inbox/{conversation}",
    "/dashboard/inbox/{conversation}/thread",
    "/dashboard/inbox/{conversation}/panel",
    "/dashboard/inbox/{conversation}/send",
    "/dashboard/inbox/{conversation}/read",
    "/dashboard/inbox/{conversation}/archive",
    "/dashboard/inbox/{conversation}/restore",
    "/dashboard/inbox/{conversation}/tags",
    "/dashboard/inbox/{conversation}/pause",
    "/dashboard/inbox/{conversation}/resume",
    "/dashboard/inbox/{conversation}/transcribe",
];

/// How many messages a thread shows (the newest).
const THREAD_LIMIT: u64 = 100;
const PER_PAGE: u64 = 50;

pub fn routes() -> Pages {
    // An upload may be as large as the largest media kind (documents).
    let upload_limit = (crate::media::formats::max_any() + crate::media::formats::MB) as usize;
    Pages::new()
        .route("/dashboard/inbox", get(index))
        .route("/dashboard/inbox/list", get(list))
        .route("/dashboard/inbox/{conversation}", get(show))
        .route(
            "/dashboard/inbox/{conversation}/thread",
            get(thread_fragment),
        )
        .route("/dashboard/inbox/{conversation}/panel", get(panel))
        .route(
            "/dashboard/inbox/{conversation}/send",
            post(composer::send).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route("/dashboard/inbox/{conversation}/read", post(mark_read))
        .route("/dashboard/inbox/{conversation}/archive", post(archive))
        .route("/dashboard/inbox/{conversation}/restore", post(restore))
        .route("/dashboard/inbox/{conversation}/tags", post(set_tags))
        .route("/dashboard/inbox/{conversation}/pause", post(pause))
        .route("/dashboard/inbox/{conversation}/resume", post(resume))
        .route(
            "/dashboard/inbox/{conversation}/transcribe",
            post(transcribe),
        )
}

/// The list's filters, as the page's query string carries them.
#[derive(Debug, Default, Serialize)]
struct Filter {
    instance: String,
    unread: bool,
    tag: String,
    search: String,
    archived: bool,
    page: u64,
}

fn truthy(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "true" | "on" | "yes"))
}

impl Filter {
    fn parse(raw: Option<&str>) -> Filter {
        let f = Fields::parse(raw.unwrap_or_default().as_bytes());
        Filter {
            instance: f.get("instance").unwrap_or_default().to_owned(),
            unread: truthy(f.get("unread")),
            tag: f.get("tag").unwrap_or_default().to_owned(),
            search: f.get("search").unwrap_or_default().to_owned(),
            archived: truthy(f.get("archived")),
            page: f
                .get("page")
                .and_then(|p| p.parse().ok())
                .filter(|p| *p >= 1)
                .unwrap_or(1),
        }
    }

    /// The query string of these filters (without the page), for links and reloads.
    fn query(&self) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        if !self.instance.is_empty() {
            s.append_pair("instance", &self.instance);
        }
        if self.unread {
            s.append_pair("unread", "1");
        }
        if !self.tag.is_empty() {
            s.append_pair("tag", &self.tag);
        }
        if !self.search.is_empty() {
            s.append_pair("search", &self.search);
        }
        if self.archived {
            s.append_pair("archived", "1");
        }
        s.finish()
    }

    fn service(&self) -> WebResult<ConversationFilter> {
        let tag_ids = if self.tag.is_empty() {
            Vec::new()
        } else {
            vec![uuid::Uuid::parse_str(&self.tag).map_err(|_| {
                WebError::from(AppError::validation(
                    "tag",
                    "The tag filter must be a tag's UUID.",
                ))
            })?]
        };
        Ok(ConversationFilter {
            instance: Some(self.instance.clone()).filter(|i| !i.is_empty()),
            unread: self.unread.then_some(true),
            is_group: None,
            search: Some(self.search.clone()).filter(|s| !s.is_empty()),
            tag_ids,
            untagged: false,
            archived: self.archived,
            page: self.page,
            per_page: PER_PAGE,
        })
    }
}

/// The conversation list's data.
async fn list_ctx(state: &AppState, s: &Session, filter: &Filter) -> WebResult<serde_json::Value> {
    let page = state
        .services
        .list_conversations(&s.caller, filter.service()?, Shape::Standard { tags: true })
        .await?;
    let query = filter.query();
    let sep = if query.is_empty() { "" } else { "&" };
    Ok(json!({
        "conversations": page.items,
        "total": page.total,
        "filter": filter,
        "query": query,
        "prev": (filter.page > 1).then(|| format!("{query}{sep}page={}", filter.page - 1)),
        "next": (filter.page * PER_PAGE < page.total).then(|| format!("{query}{sep}page={}", filter.page + 1)),
    }))
}

/// The page's frame: the list, the filter choices.
async fn page_ctx(state: &AppState, s: &Session, filter: &Filter) -> WebResult<serde_json::Value> {
    let mut ctx = s.base("inbox");
    ctx["list"] = list_ctx(state, s, filter).await?;
    ctx["instances"] = json!(state.services.list_instances(&s.caller, None).await?);
    ctx["tags"] = json!(state.services.list_tags(&s.caller).await?);
    Ok(ctx)
}

async fn index(
    State(state): State<AppState>,
    s: Session,
    RawQuery(q): RawQuery,
) -> WebResult<Response> {
    let filter = Filter::parse(q.as_deref());
    let ctx = page_ctx(&state, &s, &filter).await?;
    html("inbox/index.html", ctx)
}

async fn list(
    State(state): State<AppState>,
    s: Session,
    RawQuery(q): RawQuery,
) -> WebResult<Response> {
    let filter = Filter::parse(q.as_deref());
    let mut list = list_ctx(&state, &s, &filter).await?;
    // The conversation open beside the list, highlighted.
    list["current"] = json!(Fields::parse(q.unwrap_or_default().as_bytes()).get("current"));
    html("inbox/_list.html", json!({ "list": list }))
}

/// One conversation's thread.
async fn thread_ctx(state: &AppState, s: &Session, id: &str) -> WebResult<serde_json::Value> {
    let group = state
        .services
        .get_conversation(&s.caller, id, Shape::Standard { tags: false })
        .await?
        .is_group;
    let history = state
        .services
        .conversation_history(
            &s.caller,
            id,
            MessageFilter {
                before_id: None,
                after_id: None,
                from: None,
                to: None,
                limit: THREAD_LIMIT,
            },
            true,
        )
        .await?;
    let urls = &state.services.media_urls;
    Ok(json!({
        "screen": "inbox",
        "conversation_id": id,
        "bubbles": thread::bubbles(history.messages, thread::Side::Instance, group, |u| urls.message_url(u)),
        "has_more": history.has_more,
    }))
}

/// The side panel: the conversation's state, tags and automation.
async fn panel_ctx(state: &AppState, s: &Session, id: &str) -> WebResult<serde_json::Value> {
    let conversation = state
        .services
        .get_conversation(&s.caller, id, Shape::Standard { tags: true })
        .await?;
    panel_of(state, s, conversation).await
}

async fn panel_of(
    state: &AppState,
    s: &Session,
    conversation: ConversationView,
) -> WebResult<serde_json::Value> {
    let automation = state
        .services
        .automation_of(&s.caller, &conversation.id.to_string())
        .await?;
    let assigned: Vec<uuid::Uuid> = conversation.tags.iter().flatten().map(|t| t.id).collect();
    let tags: Vec<serde_json::Value> = state
        .services
        .list_tags(&s.caller)
        .await?
        .into_iter()
        .map(|t| {
            let checked = assigned.contains(&t.id);
            json!({"tag": t, "checked": checked})
        })
        .collect();
    Ok(json!({
        "conversation": conversation,
        "automation": automation,
        "tags": tags,
    }))
}

async fn show(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    RawQuery(q): RawQuery,
) -> WebResult<Response> {
    let filter = Filter::parse(q.as_deref());
    // The conversation first: an unknown or foreign one is the page's 404.
    let conversation = state
        .services
        .get_conversation(&s.caller, &id, Shape::Standard { tags: true })
        .await?;
    let live_key = state.services.live_conversation_key(&s.caller, &id).await?;
    let instance = state
        .services
        .get_instance(&s.caller, &conversation.instance_id.to_string())
        .await?;
    let mut ctx = page_ctx(&state, &s, &filter).await?;
    ctx["list"]["current"] = json!(id);
    ctx["current"] = json!({
        "id": id,
        "live_key": live_key,
        "instance": instance,
    });
    ctx["panel"] = panel_of(&state, &s, conversation).await?;
    ctx["thread"] = thread_ctx(&state, &s, &id).await?;
    html("inbox/show.html", ctx)
}

async fn thread_fragment(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    html("inbox/_thread.html", thread_ctx(&state, &s, &id).await?)
}

async fn panel(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    html("inbox/_panel.html", panel_ctx(&state, &s, &id).await?)
}

/// Panel answers of actions, with the thread and list told to reload.
async fn panel_after(state: &AppState, s: &Session, id: &str) -> WebResult<Response> {
    Ok(thread_changed(html(
        "inbox/_panel.html",
        panel_ctx(state, s, id).await?,
    )?))
}

async fn mark_read(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.services.mark_read(&s.caller, &id).await?;
    panel_after(&state, &s, &id).await
}

async fn archive(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.services.archive_conversation(&s.caller, &id).await?;
    panel_after(&state, &s, &id).await
}

async fn restore(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.services.restore_conversation(&s.caller, &id).await?;
    panel_after(&state, &s, &id).await
}

async fn set_tags(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let form = Fields::parse(&body);
    let mut ids = Vec::new();
    for raw in form.all("tag_ids") {
        let u = uuid::Uuid::parse_str(raw).map_err(|_| {
            WebError::from(AppError::validation(
                "tag_ids",
                "The tag_ids field must hold tag UUIDs.",
            ))
        })?;
        if !ids.contains(&u) {
            ids.push(u);
        }
    }
    state
        .services
        .set_conversation_tags(&s.caller, &id, ids)
        .await?;
    panel_after(&state, &s, &id).await
}

async fn pause(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let form = Fields::parse(&body);
    let reason = form.get("reason").map(str::to_owned);
    if reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(AppError::validation(
            "reason",
            "The reason may not be greater than 500 characters.",
        )
        .into());
    }
    state
        .services
        .pause_automation(&s.caller, &id, reason)
        .await?;
    panel_after(&state, &s, &id).await
}

async fn resume(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.services.resume_automation(&s.caller, &id).await?;
    panel_after(&state, &s, &id).await
}

async fn transcribe(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    // The message must be of this conversation (and so of the caller's tenant).
    state.services.live_conversation_key(&s.caller, &id).await?;
    let form = Fields::parse(&body);
    let message = form.required("message", "the audio message's id")?;
    state
        .services
        .request_transcription(&s.caller, message)
        .await?;
    Ok(thread_changed(
        axum::http::StatusCode::NO_CONTENT.into_response(),
    ))
}
