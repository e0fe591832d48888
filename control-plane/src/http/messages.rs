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

#[utoipa::path(
    post,
    path = "/chat/send",
    tag = "Messages",
    operation_id = "messages_chat_send",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
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

#[utoipa::path(
    post,
    path = "/messages/send-media",
    tag = "Messages",
    operation_id = "messages_send_media",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn send_media(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Json(body): Json<SendMediaBody>,
) -> AppResult<impl IntoResponse> {
    let instance = instance_ref(body.instance_id)?;
    let recipient = required("recipient", body.recipient, " (or number, to)")?;
    let media_type = body
        .media_type
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty());
    if let Some(t) = &media_type
        && !MEDIA_TYPES.contains(&t.as_str())
    {
        return Err(AppError::validation(
            "media_type",
            "The media_type must be one of: image, video, audio, document.",
        ));
    }
    let media_id = body
        .media_id
        .map(|m| m.trim().to_owned())
        .filter(|m| !m.is_empty());
    let (url, library, media_type) = match (body.media_url, media_id) {
        (Some(_), Some(_)) => {
            return Err(AppError::validation(
                "media_id",
                "Send either media_url or media_id, not both.",
            ));
        }
        (None, Some(id)) => {
            let file = state.services.media_for_send(&caller, &id).await?;
            // The library knows the file's type; a media_type that disagrees is a mistake.
            if let Some(t) = &media_type
                && *t != file.kind
            {
                return Err(AppError::validation(
                    "media_type",
                    format!(
                        "The media_type is {t}, but media {id} is {} ({}).",
                        file.kind, file.mime_type
                    ),
                ));
            }
            let kind = file.kind.clone();
            (String::new(), Some(Box::new(file)), kind)
        }
        (url, None) => {
            let url = required("media_url", url, " (or url, or a media_id)")?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(AppError::validation(
                    "media_url",
                    "The media_url must be an http(s) URL.",
                ));
            }
            let media_type = media_type.ok_or_else(|| {
                AppError::validation("media_type", "The media_type field is required (or type).")
            })?;
            (url, None, media_type)
        }
    };
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
                library,
            },
            body.reply_to.as_deref().filter(|r| !r.is_empty()),
        )
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Media sent successfully",
        msg,
    )))
}

/// `/chat/send-media`: the chat API's form of [`send_media`].
#[utoipa::path(
    post,
    path = "/chat/send-media",
    tag = "Messages",
    operation_id = "messages_chat_send_media",
    security(("user_token" = []), ("instance_token" = [])),
    responses((status = 200, description = "OK"))
)]
pub async fn chat_send_media(
    state: State<AppState>,
    auth: Auth,
    body: Json<SendMediaBody>,
) -> AppResult<impl IntoResponse> {
    send_media(state, auth, body).await
}
