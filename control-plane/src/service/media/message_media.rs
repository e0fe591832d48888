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
use crate::media::message_media::{ENGINE_HANDLE, MEDIA_TYPES, field};
use crate::media::storage::Reader;
use crate::service::Services;

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
    let public_id = crate::media::new_public_id();
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
