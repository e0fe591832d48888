//! Media for outgoing messages: the reference's limits (size and formats per media type) and
//! the fetcher for `media_url`. Fetches stream with a hard cap at the type's maximum size and
//! pass an SSRF guard: unless private URLs are allowed, hosts that are (or resolve to)
//! loopback, private, link-local or otherwise non-public addresses are refused, including
//! after redirects and at connect time (the guard is the client's DNS resolver), and no
//! environment proxy is used (`netguard::client_builder`).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;

use zapini_shared::netguard::{self, is_public, literal_ip};

use crate::engine::MediaKind;
use crate::outbound::LazyClient;

const MB: u64 = 1024 * 1024;

/// One allowed format: extension and canonical MIME type.
struct Format {
    ext: &'static str,
    mime: &'static str,
}

macro_rules! formats {
    ($($ext:literal => $mime:literal),* $(,)?) => { &[$(Format { ext: $ext, mime: $mime }),*] };
}

const IMAGE: &[Format] = formats!["jpg" => "image/jpeg", "jpeg" => "image/jpeg",
    "png" => "image/png", "gif" => "image/gif", "webp" => "image/webp"];
const VIDEO: &[Format] = formats!["mp4" => "video/mp4", "3gp" => "video/3gpp",
    "mov" => "video/quicktime", "avi" => "video/x-msvideo", "mkv" => "video/x-matroska"];
const AUDIO: &[Format] = formats!["mp3" => "audio/mpeg", "ogg" => "audio/ogg",
    "wav" => "audio/wav", "opus" => "audio/opus", "aac" => "audio/aac", "m4a" => "audio/mp4"];
const DOCUMENT: &[Format] = formats!["pdf" => "application/pdf",
    "doc" => "application/msword",
    "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xls" => "application/vnd.ms-excel",
    "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "ppt" => "application/vnd.ms-powerpoint",
    "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "txt" => "text/plain", "zip" => "application/zip"];
const STICKER: &[Format] = formats!["webp" => "image/webp"];

/// Other spellings servers use for the same types.
const MIME_ALIASES: &[(&str, &str)] = &[
    ("image/jpg", "image/jpeg"),
    ("image/pjpeg", "image/jpeg"),
    ("audio/mp3", "audio/mpeg"),
    ("audio/x-wav", "audio/wav"),
    ("audio/wave", "audio/wav"),
    ("audio/vnd.wave", "audio/wav"),
    ("audio/x-m4a", "audio/mp4"),
    ("audio/m4a", "audio/mp4"),
    ("audio/x-aac", "audio/aac"),
    ("video/x-matroska", "video/x-matroska"),
    ("video/avi", "video/x-msvideo"),
    ("application/x-zip-compressed", "application/zip"),
];

fn formats(kind: MediaKind) -> &'static [Format] {
    match kind {
        MediaKind::Image => IMAGE,
        MediaKind::Video => VIDEO,
        MediaKind::Audio => AUDIO,
        MediaKind::Document => DOCUMENT,
        MediaKind::Sticker => STICKER,
    }
}

/// The reference's maximum size for a media type, in bytes.
pub fn max_bytes(kind: MediaKind) -> u64 {
    match kind {
        MediaKind::Image => 16 * MB,
        MediaKind::Video => 64 * MB,
        MediaKind::Audio => 16 * MB,
        MediaKind::Document => 100 * MB,
        MediaKind::Sticker => MB,
    }
}

/// Parses `image|video|audio|document` (and `sticker` when `allow_sticker`).
pub fn parse_kind(s: &str, allow_sticker: bool) -> Option<MediaKind> {
    match s.trim().to_ascii_lowercase().as_str() {
        "image" => Some(MediaKind::Image),
        "video" => Some(MediaKind::Video),
        "audio" => Some(MediaKind::Audio),
        "document" => Some(MediaKind::Document),
        "sticker" if allow_sticker => Some(MediaKind::Sticker),
        _ => None,
    }
}

fn allowed_list(kind: MediaKind) -> String {
    formats(kind)
        .iter()
        .map(|f| f.ext)
        .collect::<Vec<_>>()
        .join(", ")
}

fn extension(name: &str) -> Option<String> {
    let last = name.rsplit('/').next().unwrap_or(name);
    let (_, ext) = last.rsplit_once('.')?;
    (!ext.is_empty() && ext.len() <= 8).then(|| ext.to_ascii_lowercase())
}

fn mime_for_ext(kind: MediaKind, ext: &str) -> Option<&'static str> {
    formats(kind).iter().find(|f| f.ext == ext).map(|f| f.mime)
}

fn canonical_mime(kind: MediaKind, content_type: &str) -> Option<&'static str> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let ct = MIME_ALIASES
        .iter()
        .find(|(alias, _)| *alias == ct)
        .map_or(ct.as_str(), |(_, canon)| canon);
    formats(kind).iter().find(|f| f.mime == ct).map(|f| f.mime)
}

/// Decides the MIME type of media of `kind` from its name(s) and/or declared content type,
/// or explains which formats are allowed.
pub fn resolve_format(
    kind: MediaKind,
    names: &[Option<&str>],
    content_type: Option<&str>,
) -> Result<&'static str, MediaError> {
    let exts: Vec<String> = names
        .iter()
        .flatten()
        .filter_map(|n| extension(n))
        .collect();
    for ext in &exts {
        if let Some(mime) = mime_for_ext(kind, ext) {
            // A more precise declared type of the same family wins (e.g. audio/ogg for .opus).
            return Ok(content_type
                .and_then(|ct| canonical_mime(kind, ct))
                .unwrap_or(mime));
        }
    }
    if let Some(mime) = content_type.and_then(|ct| canonical_mime(kind, ct)) {
        return Ok(mime);
    }
    let found = match (exts.first(), content_type) {
        (Some(ext), _) => format!("format .{ext}"),
        (None, Some(ct)) => format!("content type {ct}"),
        (None, None) => "an unknown format".to_owned(),
    };
    Err(MediaError::Format(format!(
        "The media is {found}, which is not allowed for {}: allowed formats are {}.",
        kind.as_str(),
        allowed_list(kind)
    )))
}

/// Checks bytes already in hand (gRPC `data`) against the size limit and formats.
pub fn check_inline(
    kind: MediaKind,
    len: usize,
    filename: Option<&str>,
    mime_type: Option<&str>,
) -> Result<&'static str, MediaError> {
    if len as u64 > max_bytes(kind) {
        return Err(MediaError::TooLarge {
            kind,
            limit: max_bytes(kind),
        });
    }
    resolve_format(kind, &[filename], mime_type)
}

/// Why media could not be used. Each maps to a 4xx naming `media_url`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MediaError {
    #[error("{0}")]
    InvalidUrl(String),
    #[error("{0}")]
    Blocked(String),
    #[error("The media URL could not be fetched: {0}")]
    Fetch(String),
    #[error("The media is larger than the {} MB limit for {}.", limit / MB, kind.as_str())]
    TooLarge { kind: MediaKind, limit: u64 },
    #[error("{0}")]
    Format(String),
    #[error(
        "The media_id {0} does not name a media file of this instance's account (it may have expired)."
    )]
    NotInLibrary(String),
}

/// Fetched media, ready for the engine.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub data: Bytes,
    pub mime_type: &'static str,
    /// The file name from the URL path, when it has one.
    pub url_filename: Option<String>,
}

/// Fetches `media_url`s, and library files (`media_id`) from the control plane.
pub struct MediaFetcher {
    /// Built on the first fetch.
    client: LazyClient,
    allow_private: bool,
    library: Option<Library>,
}

/// Where library files come from: the control plane's internal media endpoint, reached with
/// the node secret (not through the SSRF guard: it is our own control plane, configured by
/// the operator, not a user-supplied URL).
struct Library {
    base: reqwest::Url,
    authorization: String,
    instance: String,
    client: LazyClient,
}

impl MediaFetcher {
    pub fn new(allow_private: bool) -> MediaFetcher {
        let client = LazyClient::new(move || {
            netguard::client_builder(
                allow_private,
                Duration::from_secs(10),
                Duration::from_secs(120),
            )
            .user_agent("zapini-instance-node")
            .pool_max_idle_per_host(2)
        });
        MediaFetcher {
            client,
            allow_private,
            library: None,
        }
    }

    /// Lets `media_id` sends fetch library files from the control plane at `base`.
    pub fn with_library(mut self, base: reqwest::Url, node_secret: &str, instance: &str) -> Self {
        self.library = Some(Library {
            base,
            authorization: format!("Bearer {node_secret}"),
            instance: instance.to_owned(),
            client: LazyClient::new(|| {
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(300))
                    .user_agent("zapini-instance-node")
            }),
        });
        self
    }

    /// Fetches library file `media_id` as media of `kind`, with the same limits as a URL.
    pub async fn fetch_library(
        &self,
        media_id: &str,
        kind: MediaKind,
        filename: Option<&str>,
    ) -> Result<Fetched, MediaError> {
        let library = self.library.as_ref().ok_or_else(|| {
            MediaError::Fetch("this node cannot reach the media library".to_owned())
        })?;
        if !media_id.starts_with("media_")
            || !media_id[6..].chars().all(|c| c.is_ascii_alphanumeric())
        {
            return Err(MediaError::InvalidUrl(
                "The media_id field must be a media id like media_abc123.".to_owned(),
            ));
        }
        let url = library
            .base
            .join(&format!("internal/media/{media_id}"))
            .map_err(|e| MediaError::Fetch(e.to_string()))?;
        let client = library.client.get().map_err(describe)?;
        let resp = client
            .get(url)
            .header(reqwest::header::AUTHORIZATION, &library.authorization)
            .header("x-zapini-instance", &library.instance)
            .send()
            .await
            .map_err(describe)?;
        match resp.status() {
            s if s.is_success() => {}
            reqwest::StatusCode::NOT_FOUND => {
                return Err(MediaError::NotInLibrary(media_id.to_owned()));
            }
            s => {
                return Err(MediaError::Fetch(format!(
                    "the media library answered HTTP {s}"
                )));
            }
        }
        let filename = filename.map(str::to_owned).or_else(|| {
            resp.headers()
                .get(reqwest::header::CONTENT_DISPOSITION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split("filename=\"").nth(1))
                .and_then(|v| v.split('"').next())
                .map(str::to_owned)
        });
        self.read_body(resp, kind, &[filename.as_deref()], filename.clone())
            .await
    }

    /// Reads a response as media of `kind`: size-capped while streaming, format checked.
    async fn read_body(
        &self,
        resp: reqwest::Response,
        kind: MediaKind,
        names: &[Option<&str>],
        url_filename: Option<String>,
    ) -> Result<Fetched, MediaError> {
        let limit = max_bytes(kind);
        if resp.content_length().is_some_and(|len| len > limit) {
            return Err(MediaError::TooLarge { kind, limit });
        }
        let content_type = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mime_type = resolve_format(kind, names, content_type.as_deref())?;
        let mut data = BytesMut::new();
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(describe)?;
            if (data.len() + chunk.len()) as u64 > limit {
                return Err(MediaError::TooLarge { kind, limit });
            }
            data.extend_from_slice(&chunk);
        }
        if data.is_empty() {
            return Err(MediaError::Fetch("the file is empty".to_owned()));
        }
        Ok(Fetched {
            data: data.freeze(),
            mime_type,
            url_filename,
        })
    }

    /// Downloads `url` as media of `kind`, refusing anything over the type's limit or in a
    /// format the type does not allow. `filename` (the client's) also counts for the format.
    pub async fn fetch(
        &self,
        url: &str,
        kind: MediaKind,
        filename: Option<&str>,
    ) -> Result<Fetched, MediaError> {
        let parsed = reqwest::Url::parse(url.trim()).map_err(|e| {
            MediaError::InvalidUrl(format!("The media_url field must be a valid URL: {e}."))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(MediaError::InvalidUrl(
                "The media_url field must be an http or https URL.".to_owned(),
            ));
        }
        if !self.allow_private && literal_ip(&parsed).is_some_and(|ip| !is_public(ip)) {
            return Err(MediaError::Blocked(
                "The media_url points to a private or local address, which is not allowed."
                    .to_owned(),
            ));
        }
        let url_filename = parsed
            .path_segments()
            .and_then(|mut s| s.next_back())
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        let client = self.client.get().map_err(describe)?;
        let resp = client.get(parsed).send().await.map_err(describe)?;
        let status = resp.status();
        if !status.is_success() {
            return Err(MediaError::Fetch(format!(
                "the server answered HTTP {status}"
            )));
        }
        let names = [filename, url_filename.as_deref()];
        self.read_body(resp, kind, &names, url_filename.clone())
            .await
    }
}

fn describe(err: reqwest::Error) -> MediaError {
    use std::error::Error as _;
    let mut msg = if err.is_timeout() {
        "the request timed out".to_owned()
    } else if err.is_connect() {
        "could not connect".to_owned()
    } else if err.is_redirect() {
        "bad redirect".to_owned()
    } else {
        "the transfer failed".to_owned()
    };
    let mut source = err.source();
    while let Some(s) = source {
        let text = s.to_string();
        if text.contains("public address") || text.contains("private address") {
            return MediaError::Blocked(format!(
                "The media_url points to a private or local address, which is not allowed ({text})."
            ));
        }
        msg = format!("{msg}: {text}");
        source = s.source();
        if msg.len() > 300 {
            break;
        }
    }
    MediaError::Fetch(msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_extension_and_content_type() {
        assert_eq!(
            resolve_format(MediaKind::Image, &[Some("https://x/a/photo.JPG")], None).unwrap(),
            "image/jpeg"
        );
        assert_eq!(
            resolve_format(MediaKind::Image, &[Some("/dl")], Some("image/png; q=1")).unwrap(),
            "image/png"
        );
        assert!(
            resolve_format(
                MediaKind::Image,
                &[Some("/x.exe")],
                Some("application/x-msdownload")
            )
            .is_err()
        );
        assert!(resolve_format(MediaKind::Video, &[Some("a.jpg")], None).is_err());
        assert_eq!(
            resolve_format(MediaKind::Document, &[None, Some("r.pdf")], None).unwrap(),
            "application/pdf"
        );
        let err = resolve_format(MediaKind::Audio, &[Some("a.flac")], None).unwrap_err();
        assert!(err.to_string().contains("mp3, ogg"));
    }

    #[test]
    fn limits() {
        assert_eq!(max_bytes(MediaKind::Image), 16 * MB);
        assert_eq!(max_bytes(MediaKind::Video), 64 * MB);
        assert_eq!(max_bytes(MediaKind::Document), 100 * MB);
        assert!(check_inline(MediaKind::Image, 17 * MB as usize, Some("a.png"), None).is_err());
    }
}
