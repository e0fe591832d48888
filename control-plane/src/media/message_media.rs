//! A message's media as stored and shown: the JSON a message keeps (its link, the engine's
//! private download handle, the signed URL it is shown with). Serving its bytes is
//! `service::media::message_media`.

use serde_json::Value;

/// Message types that carry media bytes.
pub const MEDIA_TYPES: [&str; 6] = ["image", "video", "audio", "voice", "document", "sticker"];

pub(crate) fn field<'a>(media: Option<&'a Value>, key: &str) -> Option<&'a str> {
    media
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// A link the media was sent from or received at: an http(s) `source_url`. Anything else
/// there is an engine's private download handle (the WhatsApp engine's `wa-media:` carries
/// the file's decryption key): kept for [`fetch_from_node`], never shown.
pub fn external_source(media: &Value) -> Option<&str> {
    media
        .get("source_url")
        .and_then(Value::as_str)
        .filter(|u| is_link(u))
}

/// An http(s) link, as opposed to an engine's private handle.
pub fn is_link(url: &str) -> bool {
    url.starts_with("https://") || url.starts_with("http://")
}

/// Where an engine's private download handle is kept when `source_url` already holds the
/// link a message was sent from (media sent through the API with `media_url`: the engine's
/// echo of the sent message brings the handle later, see `service::ingest::apply::messages`).
pub const ENGINE_HANDLE: &str = "engine_handle";

/// A message's media JSON as API clients see it: without an engine's private handle.
pub fn public_media(media: Option<&Value>) -> Option<Value> {
    let mut media = media?.clone();
    let external = external_source(&media).is_some();
    if let Some(obj) = media.as_object_mut() {
        if !external {
            obj.remove("source_url");
        }
        obj.remove(ENGINE_HANDLE);
    }
    Some(media)
}

/// A stored message's media as clients see it ([`public_media`]) with Zapini's `url` signed
/// afresh, so a message read long after it arrived still shows a URL that works (signed
/// URLs expire).
pub fn shown_media(
    urls: &crate::media::MediaUrls,
    message_type: &str,
    uuid: uuid::Uuid,
    media: Option<&Value>,
) -> Option<Value> {
    let mut shown = public_media(media)?;
    if MEDIA_TYPES.contains(&message_type)
        && let Some(obj) = shown.as_object_mut()
        && obj.contains_key("url")
    {
        obj.insert("url".to_owned(), Value::from(urls.message_url(uuid)));
    }
    Some(shown)
}

/// The media JSON of a stored message with the engine's download `handle` adopted: as
/// `source_url` when that is empty, else as [`ENGINE_HANDLE`]. `None` when nothing changes.
pub fn adopt_engine_handle(media: Option<&Value>, handle: &str) -> Option<Value> {
    let mut media = media?.clone();
    let obj = media.as_object_mut()?;
    let key = match obj.get("source_url").and_then(Value::as_str) {
        None | Some("") => "source_url",
        Some(current) if current == handle => return None,
        Some(_) => ENGINE_HANDLE,
    };
    if obj.get(key).and_then(Value::as_str) == Some(handle) {
        return None;
    }
    obj.insert(key.to_owned(), Value::from(handle));
    Some(media)
}

/// The media JSON stored with a message: the node's or client's `url` moves to
/// `source_url`, and `url` becomes Zapini's signed URL of `GET /messages/{uuid}/media`.
pub fn with_signed_url(
    urls: &crate::media::MediaUrls,
    message_type: &str,
    uuid: uuid::Uuid,
    media: Option<Value>,
) -> Option<Value> {
    let mut media = media?;
    if !MEDIA_TYPES.contains(&message_type) {
        return Some(media);
    }
    if let Some(obj) = media.as_object_mut() {
        if let Some(source) = obj.remove("url").filter(|u| !u.is_null())
            && !obj.contains_key("source_url")
        {
            obj.insert("source_url".to_owned(), source);
        }
        obj.insert("url".to_owned(), Value::from(urls.message_url(uuid)));
    }
    Some(media)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_engine_handle_is_kept_for_downloads_but_never_shown() {
        let urls = crate::media::MediaUrls::new(b"0123456789abcdef0123456789abcdef", None);
        let uuid = uuid::Uuid::new_v4();
        let handle = "wa-media:eyJ2IjoxfQ";
        let stored = with_signed_url(
            &urls,
            "image",
            uuid,
            Some(json!({"mime_type": "image/jpeg", "url": handle})),
        )
        .unwrap();
        // Stored for the node...
        assert_eq!(stored["source_url"], handle);
        assert_eq!(external_source(&stored), None);
        // ...but not in what clients see, where `url` is Zapini's signed route.
        let shown = public_media(Some(&stored)).unwrap();
        assert_eq!(shown.get("source_url"), None);
        assert_eq!(shown["url"], Value::from(urls.message_url(uuid)));
        assert_eq!(shown["mime_type"], "image/jpeg");

        // A link a client sent from stays visible.
        let link = "https://example.com/a.jpg";
        let stored = with_signed_url(&urls, "image", uuid, Some(json!({"url": link}))).unwrap();
        assert_eq!(external_source(&stored), Some(link));
        assert_eq!(public_media(Some(&stored)).unwrap()["source_url"], link);
        assert_eq!(public_media(None), None);
    }

    #[test]
    fn a_sent_links_message_adopts_the_engines_handle_beside_the_link() {
        let handle = "wa-media:eyJ2IjoxfQ";
        // Sent by media_url: the link stays the source, the handle goes beside it, hidden.
        let sent = json!({"url": "https://z/sig", "source_url": "https://example.com/a.jpg"});
        let adopted = adopt_engine_handle(Some(&sent), handle).unwrap();
        assert_eq!(adopted["source_url"], "https://example.com/a.jpg");
        assert_eq!(adopted[ENGINE_HANDLE], handle);
        assert_eq!(
            adopt_engine_handle(Some(&adopted), handle),
            None,
            "no change twice"
        );
        let shown = public_media(Some(&adopted)).unwrap();
        assert_eq!(shown.get(ENGINE_HANDLE), None);
        assert_eq!(shown["source_url"], "https://example.com/a.jpg");
        // Sent by media_id (no source): the handle becomes the source.
        let adopted = adopt_engine_handle(Some(&json!({"url": "https://z/sig"})), handle).unwrap();
        assert_eq!(adopted["source_url"], handle);
        assert_eq!(adopted.get(ENGINE_HANDLE), None);
        assert_eq!(adopt_engine_handle(None, handle), None);
    }
}
