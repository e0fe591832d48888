//! A conversation's messages as chat bubbles, from either side: the inbox (the instance's
//! messages are ours) and the sandbox phone (the contact's are). Built from the history the
//! API answers (`GET /chat/conversations/{id}/messages`), so both screens show exactly what
//! was stored.

use std::collections::HashMap;

use axum::http::HeaderValue;
use axum::response::Response;
use serde::Serialize;

use crate::media::message_media::MEDIA_TYPES;
use crate::service::inbox::history::HistoryMessage;

/// Whose screen the thread is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The inbox: the instance's messages are on the right.
    Instance,
    /// The sandbox phone: the contact's messages are on the right.
    Contact,
}

#[derive(Debug, Serialize)]
pub struct Reaction {
    emoji: String,
    count: usize,
    names: String,
}

#[derive(Debug, Serialize)]
pub struct Transcription {
    status: Option<String>,
    text: Option<String>,
    error: Option<String>,
}

/// One bubble.
#[derive(Debug, Serialize)]
pub struct Bubble {
    pub id: i64,
    pub uuid: uuid::Uuid,
    /// WhatsApp's id (what replies, reactions and receipts name).
    pub message_id: String,
    /// On the right (the screen owner's own message).
    pub mine: bool,
    /// Sent by the instance: shows its receipt ticks.
    pub from_instance: bool,
    pub status: &'static str,
    pub kind: String,
    pub body: Option<String>,
    /// `image`, `video`, `audio` or `file`, for media messages.
    pub media: Option<&'static str>,
    /// Same-origin URL of the media (the signed URL's path and query).
    pub media_src: Option<String>,
    pub media_name: Option<String>,
    pub caption: Option<String>,
    /// The quoted message's text (or kind), when it is in the thread.
    pub quoted: Option<String>,
    pub quoted_id: Option<String>,
    pub sender_name: Option<String>,
    pub reactions: Vec<Reaction>,
    pub edited: bool,
    pub deleted: bool,
    /// `HH:MM` (UTC) and the full time.
    pub time: String,
    pub timestamp: String,
    pub transcription: Option<Transcription>,
    /// A short text for reply previews.
    pub preview: String,
}

/// The path and query of a URL (media URLs are absolute under the public base; the page
/// loads them from its own origin, as its Content-Security-Policy wants).
pub fn same_origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        },
        Err(_) => url.to_owned(),
    }
}

fn media_class(kind: &str, mime: Option<&str>) -> &'static str {
    match kind {
        "image" | "sticker" => "image",
        "video" => "video",
        "audio" | "voice" => "audio",
        _ if mime.is_some_and(|m| m.starts_with("image/")) => "image",
        _ => "file",
    }
}

fn short(s: &str, n: usize) -> String {
    let mut out: String = s.chars().take(n).collect();
    if s.chars().count() > n {
        out.push('…');
    }
    out
}

/// Bubbles of a window of history (oldest first). `message_url` makes the signed media URL
/// of a message that has none in its stored details (media sent from the library). Senders
/// are named in groups only.
pub fn bubbles(
    messages: Vec<HistoryMessage>,
    side: Side,
    group: bool,
    message_url: impl Fn(uuid::Uuid) -> String,
) -> Vec<Bubble> {
    let texts: HashMap<String, String> = messages
        .iter()
        .map(|h| {
            let m = &h.message;
            if m.is_deleted {
                return (m.message_id.clone(), "This message was deleted".to_owned());
            }
            let text = m
                .message_body
                .clone()
                .filter(|b| !b.is_empty())
                .or_else(|| {
                    m.media
                        .as_ref()
                        .and_then(|v| v.get("caption"))
                        .and_then(|c| c.as_str())
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| format!("[{}]", m.message_type));
            (m.message_id.clone(), text)
        })
        .collect();
    messages
        .into_iter()
        .map(|h| {
            let m = h.message;
            let is_media = MEDIA_TYPES.contains(&m.message_type.as_str());
            let field = |k: &str| {
                m.media
                    .as_ref()
                    .and_then(|v| v.get(k))
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
            };
            let media_src =
                is_media.then(|| same_origin(&field("url").unwrap_or_else(|| message_url(m.uuid))));
            let mime = field("mime_type");
            let time = chrono::DateTime::parse_from_rfc3339(&m.timestamp)
                .map(|t| t.with_timezone(&chrono::Utc).format("%H:%M").to_string())
                .unwrap_or_default();
            let transcription =
                (h.transcription.transcription_status.is_some()).then(|| Transcription {
                    status: h.transcription.transcription_status.clone(),
                    text: h.transcription.audio_transcription.clone(),
                    error: h.transcription.transcription_error.clone(),
                });
            let reactions = h
                .grouped_reactions
                .unwrap_or_default()
                .into_iter()
                .map(|g| Reaction {
                    names: g.reactor_names.join(", "),
                    emoji: g.emoji,
                    count: g.count,
                })
                .collect();
            let preview = short(
                texts
                    .get(&m.message_id)
                    .map(String::as_str)
                    .unwrap_or_default(),
                80,
            );
            Bubble {
                id: m.id,
                uuid: m.uuid,
                mine: match side {
                    Side::Instance => m.is_from_me,
                    Side::Contact => !m.is_from_me,
                },
                from_instance: m.is_from_me,
                status: m.status,
                media: is_media.then(|| media_class(&m.message_type, mime.as_deref())),
                media_src,
                media_name: field("filename"),
                caption: field("caption"),
                quoted: m
                    .quoted_message_id
                    .as_ref()
                    .and_then(|q| texts.get(q))
                    .map(|t| short(t, 120)),
                quoted_id: m.quoted_message_id.clone(),
                sender_name: m.sender_name.clone().filter(|_| group),
                kind: m.message_type,
                body: m.message_body.filter(|b| !b.is_empty()),
                message_id: m.message_id,
                reactions,
                edited: m.is_edited,
                deleted: m.is_deleted,
                time,
                timestamp: m.timestamp,
                transcription,
                preview,
            }
        })
        .collect()
}

/// Tells the page's thread to reload now (the live news follows once the control plane has
/// stored the change): the `thread-changed` event both chat screens listen for.
pub(crate) fn thread_changed(mut r: Response) -> Response {
    r.headers_mut()
        .insert("hx-trigger", HeaderValue::from_static("thread-changed"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_urls_load_from_the_page_origin() {
        assert_eq!(
            same_origin("http://127.0.0.1:8080/api/v1/messages/x/media?expires=1&signature=ab"),
            "/api/v1/messages/x/media?expires=1&signature=ab"
        );
        assert_eq!(same_origin("/already/relative"), "/already/relative");
    }

    #[test]
    fn previews_are_short() {
        assert_eq!(short("abcdef", 3), "abc…");
        assert_eq!(short("abc", 3), "abc");
    }
}
