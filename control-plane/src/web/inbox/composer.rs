//! The inbox's composer: a text, a media URL or an uploaded file (streamed into the media
//! library, the same upload as `POST /media/upload`), with a reply, sent through the service
//! the chat API's send uses.

use axum::extract::{Path, Request, State};
use axum::response::Response;
use serde_json::json;

use super::thread::thread_changed;
use crate::error::AppError;
use crate::http::AppState;
use crate::service::sending::Outgoing;
use crate::web::Session;
use crate::web::fields::{self, Body, Fields};
use crate::web::render::{WebResult, html};

/// What the composer sent, the file already in the media library.
#[derive(Default)]
struct Composed {
    fields: Fields,
    media_id: Option<String>,
}

/// Reads the composer's form; an attached file is streamed into the media library (the same
/// upload as `POST /media/upload`).
async fn composed(state: &AppState, s: &Session, req: Request) -> WebResult<Composed> {
    let multipart = match fields::body(req).await? {
        Body::Form(fields) => {
            return Ok(Composed {
                fields,
                media_id: None,
            });
        }
        Body::Multipart(m) => m,
    };
    let mut out = Composed::default();
    let mut multipart = multipart;
    let mut upload = None;
    let result: WebResult<()> = async {
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| fields::multipart_error(&e))?
        {
            let name = field.name().unwrap_or_default().to_owned();
            if name != "file" {
                let value = fields::text_part(field).await?;
                out.fields.push(name, value);
                continue;
            }
            let filename = field.file_name().map(str::to_owned);
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| fields::multipart_error(&e))?
            {
                if upload.is_none() {
                    if chunk.is_empty() {
                        continue;
                    }
                    let mut u = state.services.begin_upload(&s.caller).await?;
                    u.set_filename(filename.as_deref());
                    upload = Some(u);
                }
                if let Some(u) = upload.as_mut() {
                    u.push(chunk).await.map_err(AppError::from)?;
                }
            }
        }
        Ok(())
    }
    .await;
    let Some(mut upload) = upload else {
        result?;
        return Ok(out);
    };
    if let Err(e) = result {
        state.services.abort_upload(upload).await;
        return Err(e);
    }
    if let Some(kind) = out
        .fields
        .get("media_type")
        .and_then(crate::media::formats::MediaKind::parse)
        && let Err(e) = upload.declare(kind)
    {
        state.services.abort_upload(upload).await;
        return Err(AppError::from(e).into());
    }
    let view = state.services.finish_upload(&s.caller, upload).await?;
    out.media_id = Some(view.id);
    Ok(out)
}

const MEDIA_TYPES: [&str; 4] = ["image", "video", "audio", "document"];

pub(super) async fn send(
    State(state): State<AppState>,
    s: Session,
    Path(id): Path<String>,
    req: Request,
) -> WebResult<Response> {
    // The conversation before the body: a foreign one is 404 whatever was sent.
    state.services.live_conversation_key(&s.caller, &id).await?;
    let Composed { fields, media_id } = composed(&state, &s, req).await?;
    let reply_to = fields.get("reply_to");
    let caption = fields.text("text").unwrap_or_default().trim().to_owned();
    let outgoing = match (media_id, fields.get("media_url")) {
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "media_url",
                "Attach a file or give a media URL, not both.",
            )
            .into());
        }
        (Some(media_id), None) => {
            state
                .services
                .library_outgoing(
                    &s.caller,
                    &media_id,
                    caption,
                    fields.get("filename").unwrap_or_default().to_owned(),
                )
                .await?
        }
        (None, Some(url)) => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(AppError::validation(
                    "media_url",
                    "The media_url must be an http(s) URL.",
                )
                .into());
            }
            let media_type = fields.get("media_type").unwrap_or_default();
            if !MEDIA_TYPES.contains(&media_type) {
                return Err(AppError::validation(
                    "media_type",
                    "The media_type must be one of: image, video, audio, document.",
                )
                .into());
            }
            Outgoing::Media {
                media_type: media_type.to_owned(),
                url: url.to_owned(),
                caption,
                filename: fields.get("filename").unwrap_or_default().to_owned(),
                library: None,
            }
        }
        (None, None) => {
            let text = fields
                .text("text")
                .ok_or_else(|| AppError::validation("message", "The message field is required."))?;
            if text.chars().count() > 65_536 {
                return Err(AppError::validation(
                    "message",
                    "The message may not be greater than 65536 characters.",
                )
                .into());
            }
            Outgoing::Text {
                text: text.to_owned(),
            }
        }
    };
    state
        .services
        .send_in_conversation(&s.caller, &id, outgoing, reply_to)
        .await?;
    Ok(thread_changed(html(
        "inbox/_composer.html",
        json!({ "conversation_id": id }),
    )?))
}
