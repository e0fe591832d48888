//! A message's media for `GET /messages/{uuid}/media`: served from the library when the
//! message was sent with a `media_id` or its media was fetched before; otherwise streamed
//! once from the instance's node (the engine downloads it from WhatsApp) into storage, kept
//! like an upload (until it expires), and served from there.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use zapini_shared::error::ErrorCode;

use crate::db::entities::{conversation, instance, media, message};
use crate::error::{AppError, AppResult};
use crate::grpc::media::MediaToDownload;
use crate::media::formats;
use crate::media::storage::Reader;
use crate::service::Services;

/// Message types that carry media bytes.
pub const MEDIA_TYPES: [&str; 6] = ["image", "video", "audio", "voice", "document", "sticker"];

fn field<'a>(media: Option<&'a Value>, key: &str) -> Option<&'a str> {
    media
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The name a download gets: the sender's file name, else `{whatsapp id}.{ext}`.
fn filename(m: &message::Model, mime: &str) -> String {
    if let Some(name) = field(m.media.as_ref(), "filename") {
        return name.to_owned();
    }
    let ext = formats::by_mime(mime).map_or("bin", |f| f.ext);
    format!("{}.{ext}", m.wa_message_id)
}

/// A message's media bytes: its name, MIME type and a reader.
pub(crate) async fn serve(
    services: &Services,
    m: &message::Model,
) -> AppResult<(String, String, Reader)> {
    if !MEDIA_TYPES.contains(&m.message_type.as_str()) {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "This message has no media.",
        ));
    }
    let now = Utc::now();
    // Kept before (fetched from the node), or sent from the library.
    let mut kept = media::Entity::find()
        .filter(media::Column::TenantId.eq(m.tenant_id))
        .filter(media::Column::MessageId.eq(m.id))
        .one(&services.db)
        .await?;
    if kept.is_none()
        && let Some(id) = field(m.media.as_ref(), "media_id")
    {
        kept = media::Entity::find()
            .filter(media::Column::TenantId.eq(m.tenant_id))
            .filter(media::Column::PublicId.eq(id))
            .one(&services.db)
            .await?;
    }
    if let Some(row) = kept.filter(|r| r.expires_at.is_none_or(|e| e > now)) {
        match services.storage.read(&row.storage_key).await {
            Ok(reader) => {
                return Ok((filename(m, &row.mime_type), row.mime_type, reader));
            }
            Err(crate::media::storage::StorageError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    fetch_from_node(services, m).await
}

async fn fetch_from_node(
    services: &Services,
    m: &message::Model,
) -> AppResult<(String, String, Reader)> {
    let inst = instance::Entity::find_by_id(m.instance_id)
        .one(&services.db)
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "The message's instance is gone."))?;
    let conv = conversation::Entity::find_by_id(m.conversation_id)
        .one(&services.db)
        .await?
        .ok_or_else(|| AppError::new(ErrorCode::NotFound, "The message's chat is gone."))?;
    let node = services.require_node(&inst).await?;
    let info = m.media.as_ref();
    let mut download = node
        .download_message_media(MediaToDownload {
            chat_jid: &conv.chat_jid,
            message_id: &m.wa_message_id,
            from_me: m.from_me,
            mime_type: field(info, "mime_type").unwrap_or_default(),
            caption: field(info, "caption").unwrap_or_default(),
            filename: field(info, "filename").unwrap_or_default(),
            size: info
                .and_then(|i| i.get("size"))
                .and_then(Value::as_u64)
                .unwrap_or(0),
            url: field(info, ENGINE_HANDLE)
                .or_else(|| field(info, "source_url"))
                .unwrap_or_default(),
            sha256: field(info, "sha256").unwrap_or_default(),
        })
        .await?;
    let mime = Some(download.mime_type.clone())
        .filter(|s| !s.is_empty())
        .or_else(|| field(info, "mime_type").map(str::to_owned))
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    let public_id = super::new_public_id();
    let key = format!("t{}/messages/{public_id}", m.tenant_id);
    let mut writer = services.storage.writer(&key).await?;
    let limit = formats::max_any() + formats::MB;
    let mut chunk = Some(std::mem::take(&mut download.first));
    while let Some(data) = chunk {
        if writer.written() + data.len() as u64 > limit {
            writer.abort().await;
            return Err(AppError::internal(
                "node media larger than any allowed type",
            ));
        }
        if let Err(e) = writer.write(&data).await {
            writer.abort().await;
            return Err(e.into());
        }
        chunk = match download.next().await {
            Ok(c) => c,
            Err(e) => {
                writer.abort().await;
                return Err(e);
            }
        };
    }
    let size = writer.finish().await?;
    let now = Utc::now();
    let ttl = chrono::Duration::from_std(services.config.media.ttl)
        .unwrap_or_else(|_| chrono::Duration::days(7));
    let name = filename(m, &mime);
    media::Entity::insert(media::ActiveModel {
        public_id: Set(public_id),
        tenant_id: Set(m.tenant_id),
        instance_id: Set(Some(m.instance_id)),
        message_id: Set(Some(m.id)),
        kind: Set(m.message_type.clone()),
        mime_type: Set(mime.clone()),
        size: Set(size as i64),
        filename: Set(name.chars().take(255).collect()),
        storage_key: Set(key.clone()),
        created_at: Set(now),
        expires_at: Set(Some(now + ttl)),
        ..Default::default()
    })
    .exec(&services.db)
    .await?;
    let reader = services.storage.read(&key).await?;
    Ok((name, mime, reader))
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
