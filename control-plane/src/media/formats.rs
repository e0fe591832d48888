//! What a media file is: its type (image, video, audio, document) and format, decided from
//! its first bytes (magic numbers, via `infer`), never from its name alone, and checked
//! against the reference's limits and format lists.

use std::fmt;

pub const MB: u64 = 1024 * 1024;

/// How many leading bytes the sniffer looks at (Office documents keep their marker a little
/// way into the ZIP; everything else needs far fewer).
pub const SNIFF_BYTES: usize = 8 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
}

impl MediaKind {
    pub const ALL: [MediaKind; 4] = [
        MediaKind::Image,
        MediaKind::Video,
        MediaKind::Audio,
        MediaKind::Document,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::Document => "document",
        }
    }

    pub fn parse(s: &str) -> Option<MediaKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "image" => Some(MediaKind::Image),
            "video" => Some(MediaKind::Video),
            "audio" => Some(MediaKind::Audio),
            "document" => Some(MediaKind::Document),
            _ => None,
        }
    }

    /// The reference's maximum size for this type, in bytes.
    pub fn max_bytes(self) -> u64 {
        match self {
            MediaKind::Image => 16 * MB,
            MediaKind::Video => 64 * MB,
            MediaKind::Audio => 16 * MB,
            MediaKind::Document => 100 * MB,
        }
    }

    /// The reference's formats for this type, as file extensions.
    pub fn formats(self) -> &'static str {
        match self {
            MediaKind::Image => "jpg, jpeg, png, gif, webp",
            MediaKind::Video => "mp4, 3gp, mov, avi, mkv",
            MediaKind::Audio => "mp3, ogg, wav, opus, aac, m4a",
            MediaKind::Document => "pdf, doc, docx, xls, xlsx, ppt, pptx, txt, zip",
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The largest file any type allows.
pub fn max_any() -> u64 {
    MediaKind::ALL
        .iter()
        .map(|k| k.max_bytes())
        .max()
        .unwrap_or(0)
}

/// A recognised format: its type, canonical MIME type and usual extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Format {
    pub kind: MediaKind,
    pub mime: &'static str,
    pub ext: &'static str,
}

const fn f(kind: MediaKind, mime: &'static str, ext: &'static str) -> Format {
    Format { kind, mime, ext }
}

/// Sniffed MIME type (as `infer` names it) -> the reference's format.
const SNIFFED: &[(&str, Format)] = &[
    ("image/jpeg", f(MediaKind::Image, "image/jpeg", "jpg")),
    ("image/png", f(MediaKind::Image, "image/png", "png")),
    ("image/gif", f(MediaKind::Image, "image/gif", "gif")),
    ("image/webp", f(MediaKind::Image, "image/webp", "webp")),
    ("video/mp4", f(MediaKind::Video, "video/mp4", "mp4")),
    ("video/x-m4v", f(MediaKind::Video, "video/mp4", "mp4")),
    ("video/3gpp", f(MediaKind::Video, "video/3gpp", "3gp")),
    (
        "video/quicktime",
        f(MediaKind::Video, "video/quicktime", "mov"),
    ),
    (
        "video/x-msvideo",
        f(MediaKind::Video, "video/x-msvideo", "avi"),
    ),
    (
        "video/x-matroska",
        f(MediaKind::Video, "video/x-matroska", "mkv"),
    ),
    ("audio/mpeg", f(MediaKind::Audio, "audio/mpeg", "mp3")),
    ("audio/ogg", f(MediaKind::Audio, "audio/ogg", "ogg")),
    ("audio/opus", f(MediaKind::Audio, "audio/ogg", "opus")),
    ("audio/x-wav", f(MediaKind::Audio, "audio/wav", "wav")),
    ("audio/aac", f(MediaKind::Audio, "audio/aac", "aac")),
    ("audio/m4a", f(MediaKind::Audio, "audio/mp4", "m4a")),
    (
        "application/pdf",
        f(MediaKind::Document, "application/pdf", "pdf"),
    ),
    (
        "application/msword",
        f(MediaKind::Document, "application/msword", "doc"),
    ),
    (
        "application/vnd.ms-excel",
        f(MediaKind::Document, "application/vnd.ms-excel", "xls"),
    ),
    (
        "application/vnd.ms-powerpoint",
        f(MediaKind::Document, "application/vnd.ms-powerpoint", "ppt"),
    ),
    (
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        f(
            MediaKind::Document,
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
    ),
    (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        f(
            MediaKind::Document,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
        ),
    ),
    (
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        f(
            MediaKind::Document,
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            "pptx",
        ),
    ),
    (
        "application/zip",
        f(MediaKind::Document, "application/zip", "zip"),
    ),
];

const TEXT: Format = f(MediaKind::Document, "text/plain", "txt");

/// Why a file is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormatError {
    /// The content is a known format the reference does not allow (`found` names it).
    NotAllowed { found: String },
    /// Recognised, but not of the type the client declared.
    WrongType { declared: MediaKind, found: Format },
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::NotAllowed { found } => write!(
                f,
                "The file is {found}, which is not an accepted format. Accepted: images ({}), videos ({}), audio ({}), documents ({}).",
                MediaKind::Image.formats(),
                MediaKind::Video.formats(),
                MediaKind::Audio.formats(),
                MediaKind::Document.formats()
            ),
            FormatError::WrongType { declared, found } => write!(
                f,
                "The type is {declared}, but the file is {} ({}, {}); {declared} accepts {}.",
                article(found.kind),
                found.kind,
                found.mime,
                declared.formats()
            ),
        }
    }
}

fn article(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "an image",
        MediaKind::Video => "a video",
        MediaKind::Audio => "audio",
        MediaKind::Document => "a document",
    }
}

fn extension(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once('.')?;
    (!ext.is_empty() && ext.len() <= 8).then(|| ext.to_ascii_lowercase())
}

/// Plain text: no magic number, decodes as UTF-8 (a multi-byte character cut at the end of
/// `head` is fine), no NUL or other binary control bytes.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() {
        return false;
    }
    let valid = match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    };
    valid
        && !head
            .iter()
            .any(|&b| b < 0x09 || (0x0e..0x20).contains(&b) && b != 0x1b)
}

/// Decides the format of a file from its first bytes (`head`, up to [`SNIFF_BYTES`]).
/// The file name only breaks ties the bytes cannot (an `.m4a` in an MP4 container is audio;
/// plain text is only recognised as such).
pub fn sniff(head: &[u8], filename: Option<&str>) -> Result<Format, FormatError> {
    let ext = filename.and_then(extension);
    if let Some(t) = infer::get(head) {
        let sniffed = t.mime_type();
        if let Some((_, format)) = SNIFFED.iter().find(|(m, _)| *m == sniffed) {
            // An MP4 container holding only audio is usually named .m4a.
            if format.kind == MediaKind::Video
                && format.ext == "mp4"
                && ext.as_deref() == Some("m4a")
            {
                return Ok(f(MediaKind::Audio, "audio/mp4", "m4a"));
            }
            return Ok(*format);
        }
        return Err(FormatError::NotAllowed {
            found: format!("{sniffed} (.{})", t.extension()),
        });
    }
    if looks_like_text(head) {
        return Ok(TEXT);
    }
    Err(FormatError::NotAllowed {
        found: match ext {
            Some(ext) => format!("of an unrecognised format (named .{ext})"),
            None => "of an unrecognised format".to_owned(),
        },
    })
}

/// [`sniff`], then checks the declared type when there is one.
pub fn classify(
    head: &[u8],
    filename: Option<&str>,
    declared: Option<MediaKind>,
) -> Result<Format, FormatError> {
    let format = sniff(head, filename)?;
    match declared {
        Some(declared) if declared != format.kind => Err(FormatError::WrongType {
            declared,
            found: format,
        }),
        _ => Ok(format),
    }
}

/// The format a stored MIME type stands for (received media), for its extension.
pub fn by_mime(mime: &str) -> Option<Format> {
    let mime = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    SNIFFED
        .iter()
        .map(|(_, f)| *f)
        .chain(std::iter::once(TEXT))
        .find(|f| f.mime == mime)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";
    const EXE: &[u8] = b"MZ\x90\0\x03\0\0\0\x04\0\0\0\xff\xff\0\0";

    #[test]
    fn sniffs_by_content_not_by_name() {
        assert_eq!(sniff(PNG, Some("photo.pdf")).unwrap().mime, "image/png");
        assert_eq!(sniff(PDF, Some("x.jpg")).unwrap().kind, MediaKind::Document);
        assert_eq!(sniff(b"hello, world\n", None).unwrap().mime, "text/plain");
        assert!(matches!(
            sniff(EXE, Some("setup.pdf")),
            Err(FormatError::NotAllowed { .. })
        ));
        assert!(sniff(&[0u8, 1, 2, 3, 255, 254], Some("a.txt")).is_err());
    }

    #[test]
    fn declared_type_must_match() {
        let err = classify(PDF, None, Some(MediaKind::Image)).unwrap_err();
        assert!(err.to_string().contains("a document"), "{err}");
        assert!(classify(PNG, None, Some(MediaKind::Image)).is_ok());
    }

    #[test]
    fn limits_follow_the_reference() {
        assert_eq!(MediaKind::Image.max_bytes(), 16 * MB);
        assert_eq!(MediaKind::Video.max_bytes(), 64 * MB);
        assert_eq!(MediaKind::Audio.max_bytes(), 16 * MB);
        assert_eq!(MediaKind::Document.max_bytes(), 100 * MB);
        assert_eq!(max_any(), 100 * MB);
    }
}
