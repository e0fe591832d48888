//! The media library's use-cases: streamed uploads (sniffed, size-capped per type, written to
//! storage as they arrive), reading and deleting uploaded files, serving a message's media
//! (from the library, or fetched once from the instance's node and kept), the nodes'
//! authenticated fetch of a library file for `media_id` sends, and removing expired files.
//!
//! Every query is scoped to the caller's tenant; an `sk_` token sees only its own
//! instance's files. Unknown, expired and other tenants' ids are all 404.

pub mod message_media;

use bytes::Bytes;
use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::time::format_secs;

use crate::db::TenantScoped;
use crate::db::entities::{instance, media, message};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::media::Signed;
use crate::media::formats::{self, Format, FormatError, MediaKind, SNIFF_BYTES};
use crate::media::storage::{Reader, Writer};
use crate::service::Services;

/// What clients see of a library file.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MediaView {
    /// The file's id, for `media_id` in sends.
    #[schema(example = "media_abc123xyz")]
    pub id: String,
    /// A signed URL of the file's bytes (`GET /media/{id}/content`), usable without a token
    /// until it expires.
    #[schema(
        example = "https://zapini.app/api/v1/media/media_abc123xyz/content?expires=1737542400&signature=…"
    )]
    pub url: String,
    /// `image`, `video`, `audio` or `document`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(image|video|audio|document)$", example = "image")]
    pub kind: String,
    #[schema(example = "image/jpeg")]
    pub mime_type: String,
    /// Bytes.
    #[schema(minimum = 1, example = 102400)]
    pub size: i64,
    #[schema(example = "image.jpg")]
    pub filename: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the file is removed.
    #[schema(format = DateTime, example = "2025-01-22T10:30:00Z")]
    pub expires_at: Option<String>,
}

/// A file on its way to storage; fed by the HTTP edge chunk by chunk.
pub struct Upload {
    writer: Option<Writer>,
    key: String,
    public_id: String,
    /// Leading bytes kept until the format is known.
    head: Vec<u8>,
    format: Option<Format>,
    declared: Option<MediaKind>,
    filename: Option<String>,
    size: u64,
    /// The tenant's media quota and what it used when the upload began; `None`: unlimited.
    quota: Option<(u64, u64)>,
}

/// Why an upload is refused.
#[derive(Debug)]
pub enum UploadError {
    TooLarge {
        kind: MediaKind,
        size_hint: u64,
    },
    Format {
        field: &'static str,
        error: FormatError,
    },
    Empty,
    /// The tenant's media quota (`limit` bytes, `used` before this upload) is used up.
    Quota {
        limit: u64,
        used: u64,
    },
    Storage(crate::media::storage::StorageError),
}

impl From<UploadError> for AppError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::TooLarge { kind, .. } => AppError::Client(
                ErrorBody::new(
                    ErrorCode::PayloadTooLarge,
                    format!(
                        "The file is larger than the {} MB limit for {} files.",
                        kind.max_bytes() / formats::MB,
                        kind
                    ),
                )
                .with_details(serde_json::json!({
                    "file": [format!("The {kind} may not be greater than {} bytes.", kind.max_bytes())],
                    "type": kind.as_str(),
                    "max_bytes": kind.max_bytes(),
                })),
            ),
            UploadError::Format { field, error } => AppError::validation(field, error.to_string()),
            UploadError::Empty => AppError::validation("file", "The file is empty."),
            UploadError::Quota { limit, used } => crate::service::quotas::media_quota_error(limit, used),
            UploadError::Storage(e) => e.into(),
        }
    }
}

/// A file name safe to store and to put in a `Content-Disposition` header.
fn clean_filename(name: &str) -> Option<String> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let cleaned: String = last
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '"' | '\\'))
        .take(200)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

impl Upload {
    /// Sets the client's declared type (the `type` field), which may come before or after
    /// the file in the form.
    pub fn declare(&mut self, kind: MediaKind) -> Result<(), UploadError> {
        self.declared = Some(kind);
        if let Some(format) = self.format
            && format.kind != kind
        {
            return Err(UploadError::Format {
                field: "type",
                error: FormatError::WrongType {
                    declared: kind,
                    found: format,
                },
            });
        }
        Ok(())
    }

    pub fn set_filename(&mut self, name: Option<&str>) {
        self.filename = name.and_then(clean_filename);
    }

    fn classify(&mut self) -> Result<Format, UploadError> {
        if let Some(f) = self.format {
            return Ok(f);
        }
        let format = formats::classify(&self.head, self.filename.as_deref(), self.declared)
            .map_err(|error| UploadError::Format {
                field: match error {
                    FormatError::WrongType { .. } => "type",
                    FormatError::NotAllowed { .. } => "file",
                },
                error,
            })?;
        self.format = Some(format);
        Ok(format)
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), UploadError> {
        if let Some(w) = self.writer.as_mut() {
            w.write(data).await.map_err(UploadError::Storage)?;
        }
        Ok(())
    }

    /// Takes the next chunk of the file: classifies it once enough has arrived, enforces the
    /// type's limit, and writes it through.
    pub async fn push(&mut self, chunk: Bytes) -> Result<(), UploadError> {
        self.size += chunk.len() as u64;
        if let Some((limit, used)) = self.quota
            && used.saturating_add(self.size) > limit
        {
            return Err(UploadError::Quota { limit, used });
        }
        if let Some(format) = self.format {
            if self.size > format.kind.max_bytes() {
                return Err(UploadError::TooLarge {
                    kind: format.kind,
                    size_hint: self.size,
                });
            }
            return self.write(&chunk).await;
        }
        self.head.extend_from_slice(&chunk);
        if self.head.len() >= SNIFF_BYTES {
            let format = self.classify()?;
            if self.size > format.kind.max_bytes() {
                return Err(UploadError::TooLarge {
                    kind: format.kind,
                    size_hint: self.size,
                });
            }
            let head = std::mem::take(&mut self.head);
            self.write(&head).await?;
        }
        Ok(())
    }

    /// Flushes what is left and closes the object.
    async fn complete(&mut self) -> Result<Format, UploadError> {
        if self.size == 0 {
            return Err(UploadError::Empty);
        }
        let format = self.classify()?;
        if self.size > format.kind.max_bytes() {
            return Err(UploadError::TooLarge {
                kind: format.kind,
                size_hint: self.size,
            });
        }
        if !self.head.is_empty() {
            let head = std::mem::take(&mut self.head);
            self.write(&head).await?;
        }
        if let Some(w) = self.writer.take() {
            w.finish().await.map_err(UploadError::Storage)?;
        }
        Ok(format)
    }
}

impl Services {
    fn media_view(&self, m: &media::Model) -> MediaView {
        MediaView {
            id: m.public_id.clone(),
            url: self.media_urls.media_url(&m.public_id),
            kind: m.kind.clone(),
            mime_type: m.mime_type.clone(),
            size: m.size,
            filename: m.filename.clone(),
            created_at: format_secs(m.created_at),
            expires_at: m.expires_at.map(format_secs),
        }
    }

    /// Starts an upload for `caller`.
    pub async fn begin_upload(&self, caller: &Caller) -> AppResult<Upload> {
        let quota = self.media_quota(caller.tenant()).await?;
        if let Some((limit, used)) = quota
            && used >= limit
        {
            return Err(crate::service::quotas::media_quota_error(limit, used));
        }
        let public_id = crate::media::new_public_id();
        let key = format!("t{}/{public_id}", caller.tenant().0);
        let writer = self.storage.writer(&key).await?;
        Ok(Upload {
            writer: Some(writer),
            key,
            public_id,
            head: Vec::with_capacity(SNIFF_BYTES),
            format: None,
            declared: None,
            filename: None,
            size: 0,
            quota,
        })
    }

    /// Drops an upload that failed: nothing of it stays in storage.
    pub async fn abort_upload(&self, mut upload: Upload) {
        if let Some(w) = upload.writer.take() {
            w.abort().await;
        }
        if let Err(e) = self.storage.delete(&upload.key).await {
            tracing::warn!(error = %e, key = %upload.key, "could not remove an aborted upload");
        }
    }

    /// Completes an upload and records it in the library.
    pub async fn finish_upload(&self, caller: &Caller, mut upload: Upload) -> AppResult<MediaView> {
        let format = match upload.complete().await {
            Ok(f) => f,
            Err(e) => {
                self.abort_upload(upload).await;
                return Err(e.into());
            }
        };
        let now = Utc::now();
        let ttl = chrono::Duration::from_std(self.config.media.ttl)
            .unwrap_or_else(|_| chrono::Duration::days(7));
        let filename = upload
            .filename
            .clone()
            .unwrap_or_else(|| format!("{}.{}", upload.public_id, format.ext));
        let row = media::ActiveModel {
            public_id: Set(upload.public_id.clone()),
            tenant_id: Set(caller.tenant().0),
            instance_id: Set(caller.bound_instance().map(|i| i.0)),
            message_id: Set(None),
            kind: Set(format.kind.as_str().to_owned()),
            mime_type: Set(format.mime.to_owned()),
            size: Set(upload.size as i64),
            filename: Set(filename),
            storage_key: Set(upload.key.clone()),
            created_at: Set(now),
            expires_at: Set(Some(now + ttl)),
            ..Default::default()
        };
        // Checked again with the others' finished uploads, where concurrent ones cannot
        // both pass.
        let recorded = async {
            let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
            self.check_media_quota(&txn, caller.tenant(), upload.size)
                .await?;
            let m = media::Entity::insert(row).exec_with_returning(&txn).await?;
            txn.commit().await?;
            Ok::<_, AppError>(m)
        };
        match recorded.await {
            Ok(m) => Ok(self.media_view(&m)),
            Err(e) => {
                self.abort_upload(upload).await;
                Err(e)
            }
        }
    }

    /// A library file the caller may see: its tenant's, its instance's for an `sk_` token,
    /// not expired.
    async fn find_media(&self, caller: &Caller, id: &str) -> AppResult<media::Model> {
        let not_found = || AppError::not_found(ErrorCode::NotFound, "Media");
        let id = id.trim();
        if !id.starts_with("media_") || id.len() > 64 {
            return Err(not_found());
        }
        let mut query = media::Entity::scoped(caller.tenant())
            .filter(media::Column::PublicId.eq(id))
            .filter(media::Column::MessageId.is_null());
        if let Some(bound) = caller.bound_instance() {
            query = query.filter(media::Column::InstanceId.eq(bound.0));
        }
        let row = query.one(&self.db).await?.ok_or_else(not_found)?;
        if row.expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(not_found());
        }
        Ok(row)
    }

    pub async fn get_media(&self, caller: &Caller, id: &str) -> AppResult<MediaView> {
        let row = self.find_media(caller, id).await?;
        Ok(self.media_view(&row))
    }

    pub async fn delete_media(&self, caller: &Caller, id: &str) -> AppResult<()> {
        let row = self.find_media(caller, id).await?;
        media::Entity::delete_by_id(row.id).exec(&self.db).await?;
        self.storage.delete(&row.storage_key).await?;
        Ok(())
    }

    /// A library file's bytes, for its owner or for a valid, unexpired signature.
    pub async fn media_content(
        &self,
        caller: Option<&Caller>,
        id: &str,
        signed: Option<SignedQuery<'_>>,
    ) -> AppResult<(media::Model, Reader)> {
        let check = signed.map(|q| self.media_urls.check_media(id, q.expires, q.signature));
        let row = match (check, caller) {
            (Some(Signed::Valid), _) => media::Entity::find()
                .filter(media::Column::PublicId.eq(id))
                .one(&self.db)
                .await?
                .filter(|r| r.expires_at.is_none_or(|e| e > Utc::now()))
                .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "Media"))?,
            (_, Some(caller)) => self.find_media(caller, id).await?,
            (Some(Signed::Expired), None) => return Err(expired_url()),
            (Some(Signed::Invalid), None) => return Err(invalid_url()),
            (None, None) => {
                return Err(AppError::unauthenticated(
                    "Unauthenticated: send Authorization: Bearer {token}, or use the signed url.",
                ));
            }
        };
        let reader = self.storage.read(&row.storage_key).await?;
        Ok((row, reader))
    }

    /// For a node sending `media_id`: the file, if it belongs to the instance's tenant (and,
    /// for files uploaded with an `sk_` token, to that instance).
    pub async fn media_for_node(
        &self,
        instance_uuid: Uuid,
        id: &str,
    ) -> AppResult<(media::Model, Reader)> {
        let inst = instance::Entity::find()
            .filter(instance::Column::Uuid.eq(instance_uuid))
            .one(&self.db)
            .await?
            .ok_or_else(|| AppError::not_found(ErrorCode::InstanceNotFound, "Instance"))?;
        let row = media::Entity::find()
            .filter(media::Column::PublicId.eq(id))
            .filter(media::Column::TenantId.eq(inst.tenant_id))
            .one(&self.db)
            .await?
            .filter(|r| r.instance_id.is_none_or(|i| i == inst.id))
            .filter(|r| r.expires_at.is_none_or(|e| e > Utc::now()))
            .ok_or_else(|| AppError::not_found(ErrorCode::NotFound, "Media"))?;
        let reader = self.storage.read(&row.storage_key).await?;
        Ok((row, reader))
    }

    /// Resolves `media_id` for a send: the library file the caller may use, and what to
    /// record on the message.
    pub async fn media_for_send(&self, caller: &Caller, id: &str) -> AppResult<media::Model> {
        self.find_media(caller, id).await.map_err(|e| match e {
            AppError::Client(body) if body.code == ErrorCode::NotFound => {
                AppError::Client(ErrorBody::validation(
                    "media_id",
                    "The media_id does not name a media file of yours (it may have expired).",
                ))
            }
            other => other,
        })
    }

    /// What to send for a library file (`media_id`), as `POST /messages/send-media` builds
    /// it: the file's own type, and the caption and file name given.
    pub async fn library_outgoing(
        &self,
        caller: &Caller,
        id: &str,
        caption: String,
        filename: String,
    ) -> AppResult<crate::service::sending::Outgoing> {
        let file = self.media_for_send(caller, id).await?;
        Ok(crate::service::sending::Outgoing::Media {
            media_type: file.kind.clone(),
            url: String::new(),
            caption,
            filename,
            library: Some(Box::new(file)),
        })
    }

    /// Removes expired files, a batch at a time; returns how many were removed.
    pub async fn cleanup_expired_media(&self) -> AppResult<usize> {
        let mut removed = 0;
        loop {
            let rows = media::Entity::find()
                .filter(media::Column::ExpiresAt.lte(Utc::now()))
                .order_by_asc(media::Column::ExpiresAt)
                .limit(200)
                .all(&self.db)
                .await?;
            if rows.is_empty() {
                return Ok(removed);
            }
            for row in &rows {
                if let Err(e) = self.storage.delete(&row.storage_key).await {
                    tracing::warn!(error = %e, key = %row.storage_key, "could not remove expired media");
                }
            }
            let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
            media::Entity::delete_many()
                .filter(media::Column::Id.is_in(ids))
                .exec(&self.db)
                .await?;
            removed += rows.len();
        }
    }

    /// The media of a message, for its tenant (or a valid, unexpired signature): from the
    /// library when kept there, else fetched once from the instance's node and kept.
    pub async fn message_media(
        &self,
        caller: Option<&Caller>,
        reference: &str,
        signed: Option<SignedQuery<'_>>,
    ) -> AppResult<(String, String, Reader)> {
        let not_found = || AppError::not_found(ErrorCode::NotFound, "Message");
        let uuid = Uuid::parse_str(reference.trim()).map_err(|_| not_found())?;
        let check = signed.map(|q| self.media_urls.check_message(uuid, q.expires, q.signature));
        let query = match (check, caller) {
            (Some(Signed::Valid), _) => message::Entity::find(),
            (_, Some(caller)) => {
                let mut q = message::Entity::scoped(caller.tenant());
                if let Some(bound) = caller.bound_instance() {
                    q = q.filter(message::Column::InstanceId.eq(bound.0));
                }
                q
            }
            (Some(Signed::Expired), None) => return Err(expired_url()),
            (Some(Signed::Invalid), None) => return Err(invalid_url()),
            (None, None) => {
                return Err(AppError::unauthenticated(
                    "Unauthenticated: send Authorization: Bearer {token}, or use the signed url.",
                ));
            }
        };
        let m = query
            .filter(message::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
            .ok_or_else(not_found)?;
        message_media::serve(self, &m).await
    }
}

/// The `expires` and `signature` of a signed media URL's query.
#[derive(Debug, Clone, Copy)]
pub struct SignedQuery<'a> {
    pub expires: Option<i64>,
    pub signature: &'a str,
}

/// An expired signed URL without a token to fall back on: 403 (the URL is no longer a
/// credential), saying how to get a fresh one.
fn expired_url() -> AppError {
    AppError::forbidden(
        "The media URL has expired: fetch the message or media again for a fresh URL, or send Authorization: Bearer {token}.",
    )
}

/// A signed URL that was altered, made for another object or lacks `expires`: 403.
fn invalid_url() -> AppError {
    AppError::forbidden(
        "The media URL's signature is not valid (altered or incomplete): use the URL exactly as given, or send Authorization: Bearer {token}.",
    )
}
