//! What the contact does on the sandbox phone's chat: writes (text, media from a URL or an
//! upload, replies), reacts, edits and deletes their own messages, and reads what the
//! instance sent. Each is one call to the node's `/sandbox/…` controls; the answer tells the
//! page's thread to reload.

use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};
use zapini_shared::phone::PhoneNumber;

use super::{contact_thread, phone_field};
use crate::error::AppError;
use crate::http::AppState;
use crate::service::sandbox::{MAX_SANDBOX_MEDIA, SandboxAction};
use crate::web::Session;
use crate::web::fields::{self, Body, Fields, FilePart};
use crate::web::inbox::thread::thread_changed;
use crate::web::render::{WebError, WebResult, html};

fn done() -> Response {
    thread_changed(StatusCode::NO_CONTENT.into_response())
}

/// The media type the sandbox gets for a file of `mime`.
fn kind_of(mime: &str) -> &'static str {
    match mime.split('/').next().unwrap_or_default() {
        "image" if mime == "image/webp" => "sticker",
        "image" => "image",
        "video" => "video",
        "audio" => "audio",
        _ => "document",
    }
}

const MEDIA_TYPES: [&str; 6] = ["image", "video", "audio", "voice", "document", "sticker"];

/// Reads the composer: its fields and an attached file (at most the sandbox's limit).
async fn composed(req: Request) -> WebResult<(Fields, Option<FilePart>)> {
    match fields::body(req).await? {
        Body::Form(f) => Ok((f, None)),
        Body::Multipart(mut m) => {
            let mut f = Fields::default();
            let mut file = None;
            while let Some(field) = m
                .next_field()
                .await
                .map_err(|e| fields::multipart_error(&e))?
            {
                let name = field.name().unwrap_or_default().to_owned();
                if name == "file" {
                    if let Some(part) = fields::file_part(field, "file", MAX_SANDBOX_MEDIA).await? {
                        file = Some(part);
                    }
                } else {
                    let value = fields::text_part(field).await?;
                    f.push(name, value);
                }
            }
            Ok((f, file))
        }
    }
}

pub(super) async fn send(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    req: Request,
) -> WebResult<Response> {
    // The instance before the body: another tenant's is 404 whatever was sent.
    state.services.sandbox_instance(&s.caller, &id).await?;
    let (form, file) = composed(req).await?;
    let contact = phone_field("contact", form.get("contact").unwrap_or_default())?;
    let text = form.text("text").map(str::to_owned);
    let declared = form.get("media_type");
    if let Some(t) = declared
        && !MEDIA_TYPES.contains(&t)
    {
        return Err(AppError::validation(
            "media_type",
            "The media_type must be one of: image, video, audio, voice, document, sticker.",
        )
        .into());
    }
    let media = match (file, form.get("media_url")) {
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "media_url",
                "Attach a file or give a media URL, not both.",
            )
            .into());
        }
        (Some(part), None) => Some((part.bytes, part.content_type, part.filename)),
        (None, Some(url)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(AppError::validation(
                    "media_url",
                    "The media_url must be an http(s) URL.",
                )
                .into());
            }
            let (bytes, mime) = state.services.fetch_sandbox_media(url).await?;
            let filename = url
                .split(['?', '#'])
                .next()
                .and_then(|u| u.rsplit('/').next())
                .filter(|n| !n.is_empty())
                .map(str::to_owned);
            Some((bytes, mime, filename))
        }
        (None, None) => None,
    };
    let mut payload = json!({ "from": contact.as_str() });
    if let Some(name) = form.get("name") {
        payload["push_name"] = json!(name);
    }
    if let Some(reply_to) = form.get("reply_to") {
        payload["reply_to"] = json!(reply_to);
    }
    match media {
        Some((bytes, mime, filename)) => {
            let mime = mime
                .map(|m| m.split(';').next().unwrap_or_default().trim().to_owned())
                .filter(|m| !m.is_empty() && m != "application/octet-stream");
            let kind = declared
                .or_else(|| mime.as_deref().map(kind_of))
                .unwrap_or("document");
            let mut m = json!({
                "type": kind,
                "size": bytes.len(),
                "data": base64::engine::general_purpose::STANDARD.encode(&bytes),
            });
            if let Some(mime) = mime {
                m["mime_type"] = json!(mime);
            }
            if let Some(f) = filename {
                m["filename"] = json!(f);
            }
            if let Some(t) = &text {
                m["caption"] = json!(t.trim());
            }
            payload["media"] = m;
        }
        None => {
            let text = text.ok_or_else(|| {
                WebError::from(AppError::validation(
                    "message",
                    "The message field is required (or attach media).",
                ))
            })?;
            payload["message"] = json!(text);
        }
    }
    state
        .services
        .sandbox_call(&s.caller, &s.token, &id, SandboxAction::Inbound, payload)
        .await?;
    Ok(thread_changed(html(
        "sandbox/_composer.html",
        json!({ "chat": {
            "instance": id,
            "contact": contact.as_str(),
            "name": form.get("name"),
        }}),
    )?))
}

/// The contact and message of a thread action.
fn target(form: &Fields) -> WebResult<(PhoneNumber, String)> {
    let contact = phone_field("contact", form.get("contact").unwrap_or_default())?;
    let message = form.required("message_id", "the message's WhatsApp id")?;
    Ok((contact, message.to_owned()))
}

pub(super) async fn react(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let form = Fields::parse(&body);
    let (contact, message) = target(&form)?;
    let emoji = form.get("emoji").unwrap_or_default();
    let body = json!({ "from": contact.as_str(), "message_id": message, "emoji": emoji });
    act(&state, &s, &id, SandboxAction::Reaction, body).await
}

pub(super) async fn edit(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let form = Fields::parse(&body);
    let (contact, message) = target(&form)?;
    let text = form.text("text").ok_or_else(|| {
        WebError::from(AppError::validation("text", "The text field is required."))
    })?;
    let body = json!({ "from": contact.as_str(), "message_id": message, "text": text });
    act(&state, &s, &id, SandboxAction::Edit, body).await
}

pub(super) async fn revoke(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let form = Fields::parse(&body);
    let (contact, message) = target(&form)?;
    let body = json!({ "from": contact.as_str(), "message_id": message });
    act(&state, &s, &id, SandboxAction::Revoke, body).await
}

/// One call to the node's sandbox controls, answered with the thread told to reload.
async fn act(
    state: &AppState,
    s: &Session,
    id: &str,
    action: SandboxAction,
    body: Value,
) -> WebResult<Response> {
    state
        .services
        .sandbox_call(&s.caller, &s.token, id, action, body)
        .await?;
    Ok(done())
}

/// The contact reads what the instance sent: one message (`message_id`), or every message
/// of the chat not read yet.
pub(super) async fn read(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> WebResult<Response> {
    let form = Fields::parse(&body);
    let contact = phone_field("contact", form.get("contact").unwrap_or_default())?;
    let receipt = |message: &str| {
        state.services.sandbox_call(
            &s.caller,
            &s.token,
            &id,
            SandboxAction::Receipt,
            json!({ "message_id": message, "status": "read" }),
        )
    };
    if let Some(message) = form.get("message_id") {
        receipt(message).await?;
        return Ok(done());
    }
    state.services.sandbox_instance(&s.caller, &id).await?;
    let unread: Vec<String> = contact_thread(&state, &s, &id, &contact)
        .await?
        .bubbles
        .into_iter()
        .filter(|b| b.from_instance && !matches!(b.status, "read" | "played"))
        .map(|b| b.message_id)
        .collect();
    for message in unread {
        match receipt(&message).await {
            // A message the node no longer remembers (sent before it restarted) stays as is.
            Err(AppError::Client(body))
                if body.code == zapini_shared::error::ErrorCode::NotFound => {}
            other => {
                other?;
            }
        }
    }
    Ok(done())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_kinds_from_mime_types() {
        assert_eq!(kind_of("image/png"), "image");
        assert_eq!(kind_of("image/webp"), "sticker");
        assert_eq!(kind_of("audio/ogg"), "audio");
        assert_eq!(kind_of("application/pdf"), "document");
    }
}
