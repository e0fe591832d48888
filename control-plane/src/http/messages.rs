//! Universal sends, routed through the instance's node: `POST /chat/send`,
//! `POST /chat/send-media` and `POST /messages/send-media`.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use zapini_shared::envelope::ApiResponse;

use super::AppState;
use super::extract::{Auth, Json};
use crate::error::{AppError, AppResult};
use crate::service::messaging::Outgoing;

#[derive(Deserialize)]
pub struct SendBody {
    instance_id: Option<Value>,
    #[serde(alias = "number", alias = "to")]
    recipient: Option<String>,
    message: Option<String>,
    #[serde(alias = "quoted_message_id")]
    reply_to: Option<String>,
}

#[derive(Deserialize)]
pub struct SendMediaBody {
    instance_id: Option<Value>,
    #[serde(alias = "number", alias = "to")]
    recipient: Option<String>,
    #[serde(alias = "url")]
    media_url: Option<String>,
    media_id: Option<String>,
    #[serde(alias = "type")]
    media_type: Option<String>,
    caption: Option<String>,
    filename: Option<String>,
    #[serde(alias = "quoted_message_id")]
    reply_to: Option<String>,
}

/// `instance_id` as the reference shows it: a UUID string or a numeric id (string or number).
pub(super) fn instance_ref(v: Option<Value>) -> AppResult<Option<String>> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(Value::Number(n)) if n.is_i64() => Ok(Some(n.to_string())),
        Some(_) => Err(AppError::validation(
            "instance_id",
            "The instance_id must be the instance's numeric id or UUID.",
        )),
    }
}

fn required(field: &str, v: Option<String>, aliases: &str) -> AppResult<String> {
    v.map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            AppError::validation(field, format!("The {field} field is required{aliases}."))
        })
}

const MEDIA_TYPES: [&str; 4] = ["image", "video", "audio", "document"];

pub async fn chat_send(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<SendBody>,
) -> AppResult<impl IntoResponse> {
    let instance = instance_ref(body.instance_id)?;
    let recipient = required("recipient", body.recipient, " (or number, to)")?;
    let text = body
        .message
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| AppError::validation("message", "The message field is required."))?;
    if text.chars().count() > 65_536 {
        return Err(AppError::validation(
            "message",
            "The message may not be greater than 65536 characters.",
        ));
    }
    let inst = state
        .services
        .send_target(&caller, instance.as_deref())
        .await?;
    let msg = state
        .services
        .send_through_node(
            &inst,
            &recipient,
            Outgoing::Text { text },
            body.reply_to.as_deref().filter(|r| !r.is_empty()),
        )
        .await?;
    let msg = state
        .services
        .chat_message(&caller, &msg.uuid.to_string())
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Message sent successfully",
        msg,
    )))
}

pub async fn send_media(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<SendMediaBody>,
) -> AppResult<impl IntoResponse> {
    let instance = instance_ref(body.instance_id)?;
    let recipient = required("recipient", body.recipient, " (or number, to)")?;
    if body.media_id.is_some() && body.media_url.is_none() {
        return Err(AppError::validation(
            "media_id",
            "Sending by media_id needs the media library, which is not available yet; send a media_url.",
        ));
    }
    let url = required("media_url", body.media_url, " (or url)")?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(AppError::validation(
            "media_url",
            "The media_url must be an http(s) URL.",
        ));
    }
    let media_type = required("media_type", body.media_type, " (or type)")?.to_ascii_lowercase();
    if !MEDIA_TYPES.contains(&media_type.as_str()) {
        return Err(AppError::validation(
            "media_type",
            "The media_type must be one of: image, video, audio, document.",
        ));
    }
    let inst = state
        .services
        .send_target(&caller, instance.as_deref())
        .await?;
    let msg = state
        .services
        .send_through_node(
            &inst,
            &recipient,
            Outgoing::Media {
                media_type,
                url,
                caption: body.caption.unwrap_or_default(),
                filename: body.filename.unwrap_or_default(),
            },
            body.reply_to.as_deref().filter(|r| !r.is_empty()),
        )
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Media sent successfully",
        msg,
    )))
}
