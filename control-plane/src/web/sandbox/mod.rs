//! The sandbox phone: for an instance on the `sandbox` engine, a phone in the browser. While
//! the instance is not connected it shows the QR code and scans it as a phone would; once
//! connected, it opens the chat with any contact and acts as that contact: writes (text,
//! media from a URL or an upload, replies), reacts, edits and deletes their own messages,
//! marks what the instance sent as read, and breaks the connection (disconnect, logout).
//!
//! Every action is a call to the instance node's `/sandbox/…` controls through
//! [`Services::sandbox_call`](crate::service::Services::sandbox_call) with the person's own
//! token; the thread shows what the control plane stored (the conversation's history, as
//! the inbox does), so it is exactly what the instance sent and received.

use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use zapini_shared::phone::PhoneNumber;

use super::fields::Fields;
use super::inbox::thread;
use super::render::{WebError, WebResult, html};
use super::{Pages, Session};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::inbox::history::MessageFilter;
use crate::service::inbox::{ConversationFilter, ConversationView, Shape};
use crate::service::sandbox::{MAX_SANDBOX_MEDIA, SandboxAction};

mod actions;

pub const PATHS: &[&str] = &[
    "/dashboard/instances/{id}/phone",
    "/dashboard/instances/{id}/phone/screen",
    "/dashboard/instances/{id}/phone/chats",
    "/dashboard/instances/{id}/phone/scan",
    "/dashboard/instances/{id}/phone/fault",
    "/dashboard/instances/{id}/phone/reconnect",
    "/dashboard/instances/{id}/phone/chat",
    "/dashboard/instances/{id}/phone/thread",
    "/dashboard/instances/{id}/phone/send",
    "/dashboard/instances/{id}/phone/react",
    "/dashboard/instances/{id}/phone/read",
    "/dashboard/instances/{id}/phone/edit",
    "/dashboard/instances/{id}/phone/revoke",
];

/// The number the phone scans with, and the contact it offers to act as, unless changed.
const DEFAULT_PHONE: &str = "5511999991234";
const DEFAULT_CONTACT: &str = "5511988887777";

/// How many messages the phone's thread shows (the newest).
const THREAD_LIMIT: u64 = 100;

pub fn routes() -> Pages {
    // An upload is sent to the node as base64 in JSON: at most the sandbox's 16 MB.
    let upload_limit = MAX_SANDBOX_MEDIA + 1024 * 1024;
    Pages::new()
        .route("/dashboard/instances/{id}/phone", get(phone))
        .route("/dashboard/instances/{id}/phone/screen", get(screen))
        .route("/dashboard/instances/{id}/phone/chats", get(chats))
        .route("/dashboard/instances/{id}/phone/scan", post(scan))
        .route("/dashboard/instances/{id}/phone/fault", post(fault))
        .route("/dashboard/instances/{id}/phone/reconnect", post(reconnect))
        .route("/dashboard/instances/{id}/phone/chat", get(chat))
        .route(
            "/dashboard/instances/{id}/phone/thread",
            get(thread_fragment),
        )
        .route(
            "/dashboard/instances/{id}/phone/send",
            post(actions::send).layer(axum::extract::DefaultBodyLimit::max(upload_limit)),
        )
        .route(
            "/dashboard/instances/{id}/phone/react",
            post(actions::react),
        )
        .route("/dashboard/instances/{id}/phone/read", post(actions::read))
        .route("/dashboard/instances/{id}/phone/edit", post(actions::edit))
        .route(
            "/dashboard/instances/{id}/phone/revoke",
            post(actions::revoke),
        )
}

/// A phone number from a form or query field, or the API's 422 naming it.
fn phone_field(field: &str, raw: &str) -> WebResult<PhoneNumber> {
    PhoneNumber::parse_field(field, raw).map_err(|e| WebError::from(AppError::Client(e)))
}

/// The instance's 1:1 conversations (archived too), most recent first.
async fn conversations(
    state: &AppState,
    s: &Session,
    instance: &str,
) -> WebResult<Vec<ConversationView>> {
    let mut all = Vec::new();
    for archived in [false, true] {
        let page = state
            .services
            .list_conversations(
                &s.caller,
                ConversationFilter {
                    instance: Some(instance.to_owned()),
                    is_group: Some(false),
                    archived,
                    page: 1,
                    per_page: 50,
                    ..ConversationFilter::default()
                },
                Shape::Standard { tags: false },
            )
            .await?;
        all.extend(page.items);
    }
    all.sort_by(|a, b| b.last_message_at.cmp(&a.last_message_at));
    Ok(all)
}

/// The phone's screen: the QR code to scan, or the chats once connected.
async fn screen_ctx(state: &AppState, s: &Session, id: &str) -> WebResult<Value> {
    let instance = state.services.sandbox_instance(&s.caller, id).await?;
    let qr = if instance.status == "qr_ready" {
        state.services.instance_qr(&s.caller, id).await.ok()
    } else {
        None
    };
    let chats = if instance.connected {
        conversations(state, s, id).await?
    } else {
        Vec::new()
    };
    Ok(json!({
        "instance": instance,
        "qr": qr,
        "chats": chats,
        "default_phone": DEFAULT_PHONE,
        "default_contact": DEFAULT_CONTACT,
    }))
}

async fn phone(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let mut ctx = s.base("instances");
    ctx["screen"] = screen_ctx(&state, &s, &id).await?;
    html("sandbox/phone.html", ctx)
}

async fn screen(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    html(
        "sandbox/_screen.html",
        json!({ "screen": screen_ctx(&state, &s, &id).await? }),
    )
}

async fn chats(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    let instance = state.services.sandbox_instance(&s.caller, &id).await?;
    let chats = conversations(&state, &s, &id).await?;
    html(
        "sandbox/_chats.html",
        json!({ "screen": { "instance": instance, "chats": chats } }),
    )
}

/// The screen after an action that changed the connection: the node's status now (stored,
/// and told to every page watching).
async fn screen_now(state: &AppState, s: &Session, id: &str) -> WebResult<Response> {
    if let Err(e) = state.services.instance_status(&s.caller, id, true).await {
        tracing::debug!(error = %e, "sandbox phone: status not refreshed");
    }
    html(
        "sandbox/_screen.html",
        json!({ "screen": screen_ctx(state, s, id).await? }),
    )
}

async fn scan(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let form = Fields::parse(&body);
    let phone = phone_field(
        "phone_number",
        form.get("phone_number").unwrap_or(DEFAULT_PHONE),
    )?;
    let mut payload = json!({ "phone_number": phone.as_str() });
    if let Some(name) = form.get("push_name") {
        payload["push_name"] = json!(name);
    }
    state
        .services
        .sandbox_call(&s.caller, &s.token, &id, SandboxAction::Scan, payload)
        .await?;
    screen_now(&state, &s, &id).await
}

async fn fault(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let form = Fields::parse(&body);
    let fault = form.required("fault", "disconnect or logged_out")?;
    if !matches!(fault, "disconnect" | "logged_out" | "stream_replaced") {
        return Err(AppError::validation(
            "fault",
            "The fault field must be disconnect, logged_out or stream_replaced.",
        )
        .into());
    }
    state
        .services
        .sandbox_call(
            &s.caller,
            &s.token,
            &id,
            SandboxAction::Fault,
            json!({ "fault": fault }),
        )
        .await?;
    screen_now(&state, &s, &id).await
}

async fn reconnect(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
) -> WebResult<Response> {
    state.services.sandbox_instance(&s.caller, &id).await?;
    state
        .services
        .instance_connection(&s.caller, &id, true)
        .await?;
    screen_now(&state, &s, &id).await
}

#[derive(Deserialize)]
struct ChatQuery {
    contact: Option<String>,
    name: Option<String>,
}

/// A contact's chat as their phone shows it: the conversation (once there is one), its
/// live key and the newest messages as bubbles.
struct ContactThread {
    conversation: Option<ConversationView>,
    live_key: Option<i64>,
    bubbles: Vec<thread::Bubble>,
    has_more: bool,
}

async fn contact_thread(
    state: &AppState,
    s: &Session,
    id: &str,
    contact: &PhoneNumber,
) -> WebResult<ContactThread> {
    let jid = contact.to_jid().to_string();
    let Some(conversation) = state
        .services
        .chat_conversation(&s.caller, id, &jid)
        .await?
    else {
        return Ok(ContactThread {
            conversation: None,
            live_key: None,
            bubbles: Vec::new(),
            has_more: false,
        });
    };
    let reference = conversation.id.to_string();
    let history = state
        .services
        .conversation_history(
            &s.caller,
            &reference,
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
    let live_key = state
        .services
        .live_conversation_key(&s.caller, &reference)
        .await?;
    let urls = &state.services.media_urls;
    Ok(ContactThread {
        conversation: Some(conversation),
        live_key: Some(live_key),
        bubbles: thread::bubbles(history.messages, thread::Side::Contact, false, |u| {
            urls.message_url(u)
        }),
        has_more: history.has_more,
    })
}

/// The chat page's data: the instance, the contact and their thread.
async fn chat_ctx(state: &AppState, s: &Session, id: &str, q: &ChatQuery) -> WebResult<Value> {
    let instance = state.services.sandbox_instance(&s.caller, id).await?;
    let contact = phone_field("contact", q.contact.as_deref().unwrap_or_default())?;
    let t = contact_thread(state, s, id, &contact).await?;
    Ok(json!({
        "screen": "phone",
        "instance": instance.uuid,
        "instance_view": instance,
        "contact": contact.as_str(),
        "name": q.name.as_deref().map(str::trim).filter(|n| !n.is_empty()),
        "conversation": t.conversation,
        "live_key": t.live_key,
        "bubbles": t.bubbles,
        "has_more": t.has_more,
    }))
}

async fn chat(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<ChatQuery>,
) -> WebResult<Response> {
    let mut ctx = s.base("instances");
    ctx["chat"] = chat_ctx(&state, &s, &id, &q).await?;
    html("sandbox/chat.html", ctx)
}

async fn thread_fragment(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    Query(q): Query<ChatQuery>,
) -> WebResult<Response> {
    html("inbox/_thread.html", chat_ctx(&state, &s, &id, &q).await?)
}
