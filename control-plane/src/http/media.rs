//! The media library over HTTP: `POST /media/upload` (multipart, streamed), `GET` and
//! `DELETE /media/{id}`, `GET /media/{id}/content` and `GET /messages/{uuid}/media` (the
//! bytes, with a token or a signed URL), and the nodes' internal fetch of a library file.

use axum::body::Body;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures::TryStreamExt;
use serde::Deserialize;
use zapini_shared::envelope::{ApiResponse, MessageOnly};
use zapini_shared::error::{ErrorCode, ErrorEnvelope};

use super::AppState;
use super::extract::{Auth, Query};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::media::formats::MediaKind;
use crate::media::storage::Reader;
use crate::service::media::{MediaView, Upload};

/// The `multipart/form-data` body of `POST /media/upload`, as the document shows it: other
/// fields are ignored, but their names cannot hold a quote, a backslash or a control character
/// other than a tab (the part's header would be malformed; the multipart parser refuses them
/// with a 400).
pub struct UploadForm;

impl utoipa::PartialSchema for UploadForm {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::RefOr;
        use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
        let mut schema = <UploadFields as utoipa::PartialSchema>::schema();
        if let RefOr::T(Schema::Object(o)) = &mut schema {
            o.property_names = Some(Box::new(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some(r#"^[^"\\\u0000-\u0008\u000A-\u001F\u007F]*$"#))
                    .into(),
            ));
        }
        schema
    }
}

impl utoipa::ToSchema for UploadForm {
    fn name() -> std::borrow::Cow<'static, str> {
        "MediaUploadForm".into()
    }
}

#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
struct UploadFields {
    /// The media file (one per upload). Images up to 16 MB (jpg, png, gif, webp), videos 64 MB
    /// (mp4, 3gp, mov, avi, mkv), audio 16 MB (mp3, ogg, wav, opus, aac, m4a), documents
    /// 100 MB (pdf, doc, docx, xls, xlsx, ppt, pptx, txt, zip).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
    /// `image`, `video`, `audio` or `document`; auto-detected from the bytes when absent, and
    /// checked against them when sent.
    #[schema(value_type = Option<String>, nullable = false, pattern = "^(image|video|audio|document)?$")]
    r#type: Option<String>,
}

fn media_example() -> serde_json::Value {
    serde_json::json!({
        "id": "media_abc123xyz",
        "url": "https://zapini.app/api/v1/media/media_abc123xyz/content?expires=1737542400&signature=…",
        "type": "image",
        "mime_type": "image/jpeg",
        "size": 102400,
        "filename": "image.jpg",
        "created_at": "2025-01-15T10:30:00Z",
        "expires_at": "2025-01-22T10:30:00Z"
    })
}

/// At most this much of a refused upload's remaining body is read (and dropped) so the
/// client sees the answer instead of a reset connection.
const DRAIN_LIMIT: u64 = 8 * 1024 * 1024;

fn multipart_error(e: &MultipartError) -> AppError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return AppError::new(
            ErrorCode::PayloadTooLarge,
            "The upload is larger than the largest file accepted (100 MB, for documents).",
        );
    }
    AppError::new(
        ErrorCode::BadRequest,
        format!(
            "The multipart body is malformed or incomplete: {}.",
            e.body_text()
        ),
    )
}

/// Reads and drops what is left of a refused upload, up to [`DRAIN_LIMIT`] in all.
async fn drain_field(field: &mut axum::extract::multipart::Field<'_>, read: &mut u64) {
    while *read <= DRAIN_LIMIT {
        match field.chunk().await {
            Ok(Some(c)) => *read += c.len() as u64,
            _ => return,
        }
    }
}

async fn drain(multipart: &mut Multipart, mut read: u64) {
    while read <= DRAIN_LIMIT {
        match multipart.next_field().await {
            Ok(Some(mut f)) => drain_field(&mut f, &mut read).await,
            _ => return,
        }
    }
}

fn parse_type(raw: &str) -> AppResult<MediaKind> {
    MediaKind::parse(raw).ok_or_else(|| {
        AppError::validation(
            "type",
            "The type field must be one of: image, video, audio, document.",
        )
    })
}

/// Streams the `file` part into `upload`; `Err` leaves the upload to be aborted.
async fn feed(
    upload: &mut Upload,
    field: &mut axum::extract::multipart::Field<'_>,
) -> AppResult<()> {
    upload.set_filename(field.file_name());
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => upload.push(chunk).await?,
            Ok(None) => return Ok(()),
            Err(e) => return Err(multipart_error(&e)),
        }
    }
}

/// Upload media
///
/// Uploads a media file for later use (`media_id` in `POST /messages/send-media`), as
/// `multipart/form-data` with a `file` field and optionally `type`. The file is streamed to
/// storage, its format sniffed from its bytes, and kept for a limited time (`expires_at`).
#[utoipa::path(
    post,
    path = "/media/upload",
    tag = "Media",
    operation_id = "media_upload",
    security(("user_token" = []), ("instance_token" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data", description = "The file and, optionally, its type."),
    responses(
        (status = 201, description = "Stored.", body = ApiResponse<MediaView>,
            example = json!({"success": true, "data": media_example()})),
        (status = 400, description = "The multipart body is malformed or incomplete (`BAD_REQUEST`).", body = ErrorEnvelope),
        (status = 403, description = "The tenant's media storage quota is used up (`QUOTA_EXCEEDED`).", body = ErrorEnvelope),
        (status = 413, description = "The file is larger than its type's limit, or than the largest accepted (`PAYLOAD_TOO_LARGE`; `details` gives `type` and `max_bytes`).", body = ErrorEnvelope),
        (status = 415, description = "The body is not `multipart/form-data` (`UNSUPPORTED_MEDIA_TYPE`).", body = ErrorEnvelope),
        (status = 422, description = "`file` is missing, empty, sent twice, or of a format not accepted; or `type` is invalid or disagrees with the bytes (`VALIDATION_ERROR`).", body = ErrorEnvelope),
    )
)]
pub async fn upload(
    State(state): State<AppState>,
    Auth(caller): Auth,
    multipart: Result<Multipart, MultipartRejection>,
) -> AppResult<Response> {
    let mut multipart = multipart.map_err(|_| {
        AppError::new(
            ErrorCode::UnsupportedMediaType,
            "Send the file as multipart/form-data with a `file` field (and optionally `type`).",
        )
    })?;
    let services = &state.services;
    let mut upload = services.begin_upload(&caller).await?;
    let mut has_file = false;
    let outcome: AppResult<()> = loop {
        let mut field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break Ok(()),
            Err(e) => break Err(multipart_error(&e)),
        };
        match field.name() {
            Some("file") if has_file => {
                break Err(AppError::validation("file", "Send one file per upload."));
            }
            Some("file") => {
                has_file = true;
                if let Err(e) = feed(&mut upload, &mut field).await {
                    let mut read = 0;
                    drain_field(&mut field, &mut read).await;
                    break Err(e);
                }
            }
            Some("type") => {
                let text = match field.text().await {
                    Ok(t) => t,
                    Err(e) => break Err(multipart_error(&e)),
                };
                if text.trim().is_empty() {
                    continue;
                }
                let declared = match parse_type(&text) {
                    Ok(k) => k,
                    Err(e) => break Err(e),
                };
                if let Err(e) = upload.declare(declared) {
                    break Err(e.into());
                }
            }
            // Other fields are ignored, as form posts often carry extras.
            _ => while let Ok(Some(_)) = field.chunk().await {},
        }
    };
    if let Err(e) = outcome {
        services.abort_upload(upload).await;
        drain(&mut multipart, 0).await;
        return Err(e);
    }
    if !has_file {
        services.abort_upload(upload).await;
        return Err(AppError::validation(
            "file",
            "The file field is required (multipart/form-data).",
        ));
    }
    let view = services.finish_upload(&caller, upload).await?;
    Ok((StatusCode::CREATED, Json(ApiResponse::data(view))).into_response())
}

/// Get media
///
/// Returns information about a media file of the library (an instance token sees only files
/// it uploaded).
#[utoipa::path(
    get,
    path = "/media/{id}",
    tag = "Media",
    operation_id = "media_show",
    params(("id" = String, Path, description = "The media's id (`media_…`)", example = "media_abc123xyz")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The file's information, with a fresh signed URL.", body = ApiResponse<MediaView>,
            example = json!({"success": true, "data": media_example()})),
        (status = 404, description = "No such file, or it expired (`NOT_FOUND`).", body = ErrorEnvelope),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    let view = state.services.get_media(&caller, &id).await?;
    Ok(Json(ApiResponse::data(view)))
}

/// Delete media
///
/// Deletes a media file.
#[utoipa::path(
    delete,
    path = "/media/{id}",
    tag = "Media",
    operation_id = "media_delete",
    params(("id" = String, Path, description = "The media's id (`media_…`)", example = "media_abc123xyz")),
    security(("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "Deleted.", body = MessageOnly,
            example = json!({"success": true, "message": "Media deleted successfully"})),
        (status = 404, description = "No such file, or it expired (`NOT_FOUND`).", body = ErrorEnvelope),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> AppResult<impl IntoResponse> {
    state.services.delete_media(&caller, &id).await?;
    Ok(Json(ApiResponse::message_only(
        "Media deleted successfully",
    )))
}

/// The signed URL's query, for requests without a token.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignedQuery {
    /// The signed URL's signature.
    signature: Option<String>,
    /// Unix seconds; a value that is not a number counts as missing (the signature then
    /// fails to verify).
    #[serde(default, deserialize_with = "lenient_i64")]
    #[param(value_type = Option<String>)]
    expires: Option<i64>,
}

impl SignedQuery {
    fn signed(&self) -> Option<crate::service::media::SignedQuery<'_>> {
        self.signature
            .as_deref()
            .map(|signature| crate::service::media::SignedQuery {
                expires: self.expires,
                signature,
            })
    }
}

fn lenient_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let raw = Option::<String>::deserialize(d)?;
    Ok(raw.and_then(|v| v.trim().parse().ok()))
}

/// `filename="…"` (ASCII) plus `filename*=UTF-8''…` for the rest.
fn disposition(filename: &str) -> HeaderValue {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .filter(|c| *c != '"' && *c != '\\')
        .collect();
    let mut encoded = String::new();
    for b in filename.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

fn binary(filename: &str, mime: &str, reader: Reader) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(reader.size));
    headers.insert(header::CONTENT_DISPOSITION, disposition(filename));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let body = Body::from_stream(reader.body.map_err(std::io::Error::other));
    (headers, body).into_response()
}

/// Download media
///
/// The bytes of a library file, with its `Content-Type` and a `Content-Disposition`
/// attachment. With a token, or without one through the signed `url` of the file's
/// information (`expires` and `signature`).
#[utoipa::path(
    get,
    path = "/media/{id}/content",
    tag = "Media",
    operation_id = "media_content",
    params(("id" = String, Path, description = "The media's id (`media_…`)", example = "media_abc123xyz"), SignedQuery),
    security((), ("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The file, with the file's own `Content-Type`.", content_type = "*/*", body = Vec<u8>),
        (status = 403, description = "Without a token: the signed URL expired or its signature is not valid (`FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such file, or it expired (`NOT_FOUND`).", body = ErrorEnvelope),
    )
)]
pub async fn content(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    Query(q): Query<SignedQuery>,
) -> AppResult<Response> {
    let caller = caller.map(|Extension(c)| c);
    let (row, reader) = state
        .services
        .media_content(caller.as_ref(), &id, q.signed())
        .await?;
    Ok(binary(&row.filename, &row.mime_type, reader))
}

/// Download a message's media
///
/// Downloads media received (or sent) in a message: the binary file with the appropriate
/// Content-Type. Fetched once from the instance's node, then kept. With a token, or without
/// one through the signed `url` in the message's `media`.
#[utoipa::path(
    get,
    path = "/messages/{id}/media",
    tag = "Media",
    operation_id = "media_message_media",
    params(("id" = String, Path, description = "The message's UUID", example = "660e8400-e29b-41d4-a716-446655440001"), SignedQuery),
    security((), ("user_token" = []), ("instance_token" = [])),
    responses(
        (status = 200, description = "The file, with the media's own `Content-Type`.", content_type = "*/*", body = Vec<u8>),
        (status = 400, description = "The instance's engine cannot download media (`BAD_REQUEST`).", body = ErrorEnvelope),
        (status = 403, description = "Without a token: the signed URL expired or its signature is not valid; or WhatsApp refused (`FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such message, it has no media, or the media is no longer available (`NOT_FOUND`).", body = ErrorEnvelope),
        (status = 409, description = "The instance is not connected, so the media cannot be fetched (`INSTANCE_NOT_CONNECTED`).", body = ErrorEnvelope),
        (status = 503, description = "The instance's node is not running or unreachable (`NODE_UNAVAILABLE`), or a dependency is briefly unavailable (`SERVICE_UNAVAILABLE`); retry.", body = ErrorEnvelope),
        (status = 504, description = "The instance's node did not answer in time (`GATEWAY_TIMEOUT`).", body = ErrorEnvelope),
    )
)]
pub async fn message_media(
    State(state): State<AppState>,
    caller: Option<Extension<Caller>>,
    Path(id): Path<String>,
    Query(q): Query<SignedQuery>,
) -> AppResult<Response> {
    let caller = caller.map(|Extension(c)| c);
    let (filename, mime, reader) = state
        .services
        .message_media(caller.as_ref(), &id, q.signed())
        .await?;
    Ok(binary(&filename, &mime, reader))
}

/// Library file for a node
///
/// A node fetching a library file for a `media_id` send: `Authorization: Bearer <node
/// credential>` and `X-Zapini-Instance: <instance uuid>`; the credential must be that
/// instance's (a node fetches for its own instance only).
#[utoipa::path(
    get,
    path = "/internal/media/{id}",
    tag = "Internal",
    operation_id = "media_for_node",
    params(
        ("id" = String, Path, description = "The media's id (`media_…`)"),
        ("X-Zapini-Instance" = uuid::Uuid, Header, description = "The UUID of the instance the node serves"),
    ),
    security(("node_secret" = [])),
    responses(
        (status = 200, description = "The file, with its own `Content-Type`.", content_type = "*/*", body = Vec<u8>),
        (status = 401, description = "Missing node credential, or not valid for this instance (`UNAUTHENTICATED`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance (`INSTANCE_NOT_FOUND`), or no such file of its tenant, or it expired (`NOT_FOUND`).", body = ErrorEnvelope),
        (status = 422, description = "`X-Zapini-Instance` is missing or not a UUID (`VALIDATION_ERROR`).", body = ErrorEnvelope),
    )
)]
pub async fn for_node(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> AppResult<Response> {
    use secrecy::ExposeSecret;
    let Some(presented) = headers.get(header::AUTHORIZATION) else {
        return Err(AppError::unauthenticated("missing node credential"));
    };
    let instance = headers
        .get("x-zapini-instance")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| uuid::Uuid::parse_str(v).ok())
        .ok_or_else(|| {
            AppError::validation("x-zapini-instance", "The instance UUID is required.")
        })?;
    if !zapini_shared::node_auth::verify_bearer(
        state.services.node_secret.expose_secret().as_bytes(),
        instance,
        presented.as_bytes(),
    ) {
        let peer = extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.to_string())
            .unwrap_or_default();
        tracing::warn!(%instance, %peer, "media fetch with a node credential not valid for this instance refused");
        return Err(AppError::unauthenticated(
            "the node credential is not valid for this instance",
        ));
    }
    let (row, reader) = state.services.media_for_node(instance, &id).await?;
    Ok(binary(&row.filename, &row.mime_type, reader))
}
