//! Where media bytes live: one seam ([`Storage`], over the `object_store` crate's trait) with
//! two backends — files under the data directory (the embedded default) and an S3-compatible
//! object store (AWS S3, MinIO, R2, …) when configured. Writes stream in parts and reads
//! stream back; no file is ever held whole in memory.

use std::sync::Arc;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{ObjectStore, WriteMultipart};

use crate::config::MediaStorageConfig;

/// Bytes written to the backend per part; S3 needs at least 5 MiB for all but the last.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts in flight at once while writing (bounds the memory an upload holds).
const PARTS_IN_FLIGHT: usize = 2;

/// A storage failure; the cause is logged, the client sees a 5xx.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("media object not found")]
    NotFound,
    #[error("media storage: {0}")]
    Backend(#[from] object_store::Error),
    #[error("media storage: {0}")]
    Io(#[from] std::io::Error),
}

impl From<StorageError> for crate::error::AppError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => crate::error::AppError::new(
                zapini_shared::error::ErrorCode::NotFound,
                "The media file is no longer available.",
            ),
            other => crate::error::AppError::Internal(anyhow::Error::new(other)),
        }
    }
}

/// The configured backend.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The directory of the `fs` backend: files are made private to the service's user
    /// (directories `0700`, files `0600`), which the object store's file backend cannot do
    /// itself.
    root: Option<Arc<std::path::PathBuf>>,
    /// `fs` or `s3`, for logs.
    pub backend: &'static str,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Storage({})", self.backend)
    }
}

/// A stored object being read.
pub struct Reader {
    pub size: u64,
    pub body: BoxStream<'static, Result<Bytes, StorageError>>,
}

impl Storage {
    pub fn open(config: &MediaStorageConfig) -> Result<Storage, StorageError> {
        match config {
            MediaStorageConfig::Fs { dir } => {
                zapini_shared::private_fs::create_dir_all(dir)?;
                zapini_shared::private_fs::restrict_dir(dir)?;
                let store = object_store::local::LocalFileSystem::new_with_prefix(dir)?;
                let root = std::fs::canonicalize(dir)?;
                Ok(Storage {
                    store: Arc::new(store),
                    root: Some(Arc::new(root)),
                    backend: "fs",
                })
            }
            MediaStorageConfig::S3(s3) => {
                use secrecy::ExposeSecret;
                let mut builder = object_store::aws::AmazonS3Builder::new()
                    .with_bucket_name(&s3.bucket)
                    .with_region(&s3.region)
                    .with_allow_http(s3.allow_http)
                    .with_virtual_hosted_style_request(!s3.path_style);
                if let Some(endpoint) = &s3.endpoint {
                    builder = builder.with_endpoint(endpoint);
                }
                if let (Some(id), Some(secret)) = (&s3.access_key_id, &s3.secret_access_key) {
                    builder = builder
                        .with_access_key_id(id)
                        .with_secret_access_key(secret.expose_secret());
                }
                Ok(Storage {
                    store: Arc::new(builder.build()?),
                    root: None,
                    backend: "s3",
                })
            }
        }
    }

    /// In memory, for one-shot CLI tools that never touch media.
    pub fn memory() -> Storage {
        Storage {
            store: Arc::new(object_store::memory::InMemory::new()),
            root: None,
            backend: "memory",
        }
    }

    fn path(key: &str) -> Path {
        Path::from(key)
    }

    /// Starts writing `key`; finish with [`Writer::finish`] or drop it with [`Writer::abort`].
    pub async fn writer(&self, key: &str) -> Result<Writer, StorageError> {
        let path = Self::path(key);
        // The file backend writes a staging file next to the object and creates missing
        // directories with the process umask: create them `0700` first, so neither the staging
        // file nor the object is ever reachable by another user.
        let file = match &self.root {
            Some(root) => {
                let file = root.join(path.as_ref());
                if let Some(parent) = file.parent() {
                    zapini_shared::private_fs::create_dir_all(parent)?;
                }
                Some(file)
            }
            None => None,
        };
        let upload = self.store.put_multipart(&path).await?;
        Ok(Writer {
            inner: Some(WriteMultipart::new_with_chunk_size(upload, PART_BYTES)),
            written: 0,
            file,
        })
    }

    pub async fn read(&self, key: &str) -> Result<Reader, StorageError> {
        let result = match self.store.get(&Self::path(key)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Err(StorageError::NotFound),
            Err(e) => return Err(e.into()),
        };
        let size = result.meta.size;
        let body = result
            .into_stream()
            .map(|chunk| chunk.map_err(StorageError::from))
            .boxed();
        Ok(Reader { size, body })
    }

    /// Deletes `key`; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&Self::path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// An object being written in parts.
pub struct Writer {
    inner: Option<WriteMultipart>,
    written: u64,
    /// The object's file (the `fs` backend), narrowed to `0600` once written.
    file: Option<std::path::PathBuf>,
}

impl Writer {
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Appends `data`, waiting while too many parts are in flight.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), StorageError> {
        let Some(inner) = self.inner.as_mut() else {
            return Ok(());
        };
        inner.wait_for_capacity(PARTS_IN_FLIGHT).await?;
        inner.write(data);
        self.written += data.len() as u64;
        Ok(())
    }

    pub async fn finish(mut self) -> Result<u64, StorageError> {
        if let Some(inner) = self.inner.take() {
            inner.finish().await?;
        }
        if let Some(file) = &self.file {
            zapini_shared::private_fs::restrict_file(file)?;
        }
        Ok(self.written)
    }

    pub async fn abort(mut self) {
        if let Some(inner) = self.inner.take()
            && let Err(e) = inner.abort().await
        {
            tracing::warn!(error = %e, "aborting a media upload left parts behind");
        }
    }
}
