//! Downloading the media of messages the real engine reported: the handle it stores in
//! [`MediaInfo::url`] and the CDN fetch behind [`Engine::download_media`]. Fetching,
//! decryption and the MAC check are the crate's own; this module only decides where to fetch
//! from, checks the plaintext against the message's SHA-256, and says what a failure means to
//! the node. It keeps no state: everything a download needs is in the handle.
//!
//! The handle is `wa-media:` followed by base64url (no padding) of a small JSON object: a
//! version, the media type, the message's `direct_path`, `media_key`, `file_enc_sha256`,
//! `file_sha256` (base64url) and `file_length`. The control plane stores it with the message
//! (as `source_url`), never shows it to API clients or webhooks (the media key decrypts the
//! file), and hands it back on download, so a download works after a node restart or on
//! another node.
//!
//! [`Engine::download_media`]: crate::engine::Engine::download_media

use std::error::Error as StdError;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use whatsapp_rust::download::{
    DownloadParams, DownloadUtils, Downloadable, MediaDecryptionError, MediaDownloadError,
    MediaDownloader, MediaRoute, MediaType,
};
use whatsapp_rust::http::HttpClient;
use whatsapp_rust::{Client, ErrorChainExt, TokioRuntime};
use zapini_shared::netguard;

use super::http_client::TooLarge;
use crate::engine::EngineError;
use crate::engine::types::MediaInfo;

const SCHEME: &str = "wa-media:";
const VERSION: u8 = 1;

/// The media types a handle names (those of the messages the engine maps).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
}

impl Kind {
    fn of(media_type: MediaType) -> Option<Kind> {
        match media_type {
            MediaType::Image => Some(Kind::Image),
            MediaType::Video => Some(Kind::Video),
            MediaType::Audio => Some(Kind::Audio),
            MediaType::Document => Some(Kind::Document),
            MediaType::Sticker => Some(Kind::Sticker),
            // History blobs, app state, sticker packs, thumbnails, catalog images: never the
            // media of a message the engine reports.
            _ => None,
        }
    }

    fn media_type(self) -> MediaType {
        match self {
            Kind::Image => MediaType::Image,
            Kind::Video => MediaType::Video,
            Kind::Audio => MediaType::Audio,
            Kind::Document => MediaType::Document,
            Kind::Sticker => MediaType::Sticker,
        }
    }
}

/// What downloading one message's media needs. `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct MediaHandle {
    v: u8,
    #[serde(rename = "type")]
    kind: Kind,
    direct_path: String,
    #[serde(with = "b64")]
    media_key: Vec<u8>,
    #[serde(with = "b64")]
    enc_sha256: Vec<u8>,
    /// Empty when the message carried none (then only the MAC vouches for the bytes).
    #[serde(with = "b64", default)]
    sha256: Vec<u8>,
    length: u64,
}

impl std::fmt::Debug for MediaHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaHandle")
            .field("kind", &self.kind)
            .field("direct_path", &self.direct_path)
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

impl MediaHandle {
    /// The handle of a message's media, or `None` when it lacks what a download needs
    /// (unencrypted channel media, a message without a direct path).
    pub(super) fn of(media: &dyn Downloadable) -> Option<MediaHandle> {
        let bytes = |b: Option<&[u8]>| b.filter(|b| !b.is_empty()).map(<[u8]>::to_vec);
        Some(MediaHandle {
            v: VERSION,
            kind: Kind::of(media.app_info())?,
            direct_path: media
                .direct_path()
                .filter(|p| is_safe_direct_path(p))?
                .to_owned(),
            media_key: bytes(media.media_key())?,
            enc_sha256: bytes(media.file_enc_sha256())?,
            sha256: bytes(media.file_sha256()).unwrap_or_default(),
            length: media.file_length().unwrap_or(0),
        })
    }

    /// The `wa-media:` URI carried in [`MediaInfo::url`].
    pub(super) fn encode(&self) -> String {
        let json = serde_json::to_vec(self).expect("a handle always serializes");
        format!("{SCHEME}{}", URL_SAFE_NO_PAD.encode(json))
    }

    /// The handle in a message's media info. No `url`, or one that is not ours (a message
    /// recorded before handles existed, or sent through the API with a link), means this
    /// engine cannot fetch it: `NotFound`. A `wa-media:` URI that does not decode is
    /// `Invalid`.
    pub(super) fn from_info(info: &MediaInfo) -> Result<MediaHandle, EngineError> {
        match info.url.as_deref() {
            Some(url) if url.starts_with(SCHEME) => MediaHandle::parse(url),
            _ => Err(EngineError::NotFound(
                "a WhatsApp download reference for this media".to_owned(),
            )),
        }
    }

    pub(super) fn parse(url: &str) -> Result<MediaHandle, EngineError> {
        let bad = |why: &str| EngineError::Invalid(format!("malformed media handle: {why}"));
        let encoded = url
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("not a wa-media: URI"))?;
        let json = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| bad("not base64url"))?;
        let handle: MediaHandle = serde_json::from_slice(&json).map_err(|e| bad(&e.to_string()))?;
        if handle.v != VERSION {
            return Err(bad(&format!("unknown version {}", handle.v)));
        }
        if !is_safe_direct_path(&handle.direct_path) || handle.media_key.len() != 32 {
            return Err(bad("no safe direct path or no 32-byte media key"));
        }
        Ok(handle)
    }

    pub(super) fn params(&self) -> DownloadParams {
        DownloadParams::encrypted(
            self.direct_path.clone(),
            &self.media_key,
            &self.sha256,
            &self.enc_sha256,
            self.length,
            self.kind.media_type(),
        )
    }
}

/// Whether a message's `direct_path` can follow a media host in a URL without changing the
/// host. The crate builds `https://{host}{direct_path}?auth=…`, and the path comes from the
/// sender's message: `@attacker.example/x` would make the URL's host the attacker's (and
/// hand it the session's media auth), `\`, `#` and whitespace are read differently by
/// different URL parsers. So a path must start with `/` and contain none of them (nor
/// control characters).
pub(super) fn is_safe_direct_path(path: &str) -> bool {
    path.starts_with('/')
        && !path
            .chars()
            .any(|c| matches!(c, '@' | '\\' | '#') || c.is_whitespace() || c.is_control())
}

/// Downloads through the connected session when there is one: the crate asks the server for
/// its media hosts and auth, and on a refused or expired reference refreshes them and tries
/// again before giving up.
pub(super) async fn download_live(
    client: &Client,
    handle: &MediaHandle,
) -> Result<bytes::Bytes, EngineError> {
    let bytes = client.download(&handle.params()).await.map_err(|e| {
        let cause: &(dyn StdError + 'static) = e.as_ref();
        classify(cause, &e)
    })?;
    verified(bytes, handle)
}

/// Downloads from the hosts of `route` with no session behind it (the CDN gates a download
/// on the signed direct path and its hash token, not on the session): the path for a node
/// that is not connected, over WhatsApp's known CDN hosts.
pub(super) async fn download_via(
    http: Arc<dyn HttpClient>,
    route: MediaRoute,
    handle: &MediaHandle,
) -> Result<bytes::Bytes, EngineError> {
    let downloader = MediaDownloader::new(http, Arc::new(TokioRuntime), route);
    let bytes = downloader
        .download(&handle.params())
        .await
        .map_err(|e| match &e {
            MediaDownloadError::ReferenceRejected(_) => gone(),
            MediaDownloadError::HostsUnreachable(_) => classify(&e, &e),
            MediaDownloadError::NoHosts => {
                EngineError::Temporary("no media host to download from".to_owned())
            }
            MediaDownloadError::Other(why) => {
                EngineError::Invalid(format!("incomplete media handle: {why}"))
            }
            // The enum is non-exhaustive; a new kind is treated as a transient failure.
            _ => EngineError::Temporary(format!("media download failed: {e}")),
        })?;
    verified(bytes, handle)
}

fn gone() -> EngineError {
    EngineError::NotFound("the media on WhatsApp's servers (expired or deleted)".to_owned())
}

/// What a failed download means: a response over the size cap or a media host the SSRF
/// guard refuses is invalid (trying again changes nothing), the CDN refusing or not knowing
/// the reference is gone media, bytes that fail their MAC are a failed (retryable) transfer,
/// a dropped session is `NotConnected`.
fn classify(cause: &(dyn StdError + 'static), shown: &dyn std::fmt::Display) -> EngineError {
    if let Some(too_large) =
        ErrorChainExt::sources(cause).find_map(|c| c.downcast_ref::<TooLarge>())
    {
        EngineError::Invalid(format!("the media is too large: {too_large}"))
    } else if let Some(refused) =
        ErrorChainExt::sources(cause).find_map(|c| c.downcast_ref::<netguard::NotPublic>())
    {
        EngineError::Invalid(format!("the media host is refused: {refused}"))
    } else if matches!(cause.http_status(), Some(401 | 403 | 404 | 410)) {
        gone()
    } else if ErrorChainExt::sources(cause)
        .any(|c| c.downcast_ref::<MediaDecryptionError>().is_some())
    {
        EngineError::Temporary("the downloaded media failed verification".to_owned())
    } else if cause.is_transport_unavailable() {
        EngineError::NotConnected
    } else {
        EngineError::Temporary(format!("media download failed: {shown:#}"))
    }
}

/// The decrypted bytes, checked against the plaintext SHA-256 the message announced (the MAC
/// already proved they are what the sender encrypted).
fn verified(bytes: Vec<u8>, handle: &MediaHandle) -> Result<bytes::Bytes, EngineError> {
    if !handle.sha256.is_empty() {
        DownloadUtils::validate_plaintext_sha256(&bytes, &handle.sha256).map_err(|_| {
            EngineError::Temporary("the downloaded media failed verification".to_owned())
        })?;
    }
    Ok(bytes::Bytes::from(bytes))
}

/// `Vec<u8>` as base64url without padding.
mod b64 {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = String::deserialize(d)?;
        URL_SAFE_NO_PAD
            .decode(s.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}
