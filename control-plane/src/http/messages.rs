//! Universal sends, routed through the instance's node: `POST /chat/send`,
//! `POST /chat/send-media` and `POST /messages/send-media`.

use axum::extract::State;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{
    AllOfBuilder, Object, ObjectBuilder, OneOfBuilder, Schema, SchemaType, Type,
};
use zapini_shared::envelope::ApiResponse;
use zapini_shared::error::ErrorEnvelope;

use super::AppState;
use super::extract::{Auth, Json};
use crate::error::{AppError, AppResult};
use crate::service::message_types::MessageView;
use crate::service::sending::Outgoing;

/// `POST /chat/send`. `recipient` may be sent as `number` or `to`, `reply_to` as
/// `quoted_message_id`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = SendTextFields)]
pub struct SendBody {
    /// Required with a user token; with an instance token (`sk_`) it defaults to the token's instance.
    #[schema(schema_with = instance_id_schema)]
    instance_id: Option<Value>,
    /// Recipient WhatsApp number with country code, or a JID.
    #[serde(alias = "number", alias = "to")]
    #[schema(
        nullable = false,
        pattern = r"^\+?[1-9][0-9]{7,14}$|^[1-9][0-9]{7,14}@s\.whatsapp\.net$",
        example = "5521999999999"
    )]
    recipient: Option<String>,
    /// The text (not blank).
    #[schema(
        required = true,
        nullable = false,
        max_length = 65536,
        pattern = r"\S",
        example = "Hello from Chat API!"
    )]
    message: Option<String>,
    /// WhatsApp message id to reply to (quote).
    #[serde(alias = "quoted_message_id")]
    reply_to: Option<String>,
}

/// `instance_id`: the instance's UUID or numeric id, as a string, or the numeric id as a
/// number. Required with a user token (a 422 without it), optional with an instance token
/// (`sk_`): one schema for both token kinds lists it as optional.
pub(super) fn instance_id_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::String, Type::Integer]))
        .min_length(Some(1))
        .pattern(Some(r"\S"))
        .description(Some(
            "The instance: numeric id or UUID (a string), or the numeric id (a number). Required with a user token; with an instance token (`sk_`) it may be left out (or null): the token's own instance.",
        ))
        .examples([serde_json::json!("777")])
        .build()
}

/// `media_type`: one of the four kinds.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SendMediaType {
    Image,
    Video,
    Audio,
    Document,
}

/// `POST /messages/send-media` and `/chat/send-media`. `recipient` may be sent as `number` or
/// `to`, `media_url` as `url`, `media_type` as `type`, `reply_to` as `quoted_message_id`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = SendMediaFields)]
pub struct SendMediaBody {
    /// Required with a user token; with an instance token (`sk_`) it defaults to the token's instance.
    #[schema(schema_with = instance_id_schema)]
    instance_id: Option<Value>,
    /// Recipient WhatsApp number with country code, or a JID.
    #[serde(alias = "number", alias = "to")]
    #[schema(
        nullable = false,
        pattern = r"^\+?[1-9][0-9]{7,14}$|^[1-9][0-9]{7,14}@s\.whatsapp\.net$",
        example = "+5511999999999"
    )]
    recipient: Option<String>,
    /// Public http(s) URL of the media file. Send `media_url` or `media_id`.
    #[serde(alias = "url")]
    #[schema(pattern = "^https?://", example = "https://example.com/image.jpg")]
    media_url: Option<String>,
    /// ID of a previously uploaded media (`POST /media/upload`). Send `media_url` or
    /// `media_id`.
    #[schema(pattern = "^media_", example = "media_abc123xyz")]
    media_id: Option<String>,
    /// `image`, `video`, `audio` or `document`; required with `media_url`, taken
    /// from the library with `media_id` (where it must agree when sent).
    #[serde(alias = "type")]
    #[schema(value_type = Option<SendMediaType>)]
    media_type: Option<String>,
    /// Caption for images and videos.
    #[schema(example = "Check this image!")]
    caption: Option<String>,
    /// Filename for documents (a library file's own name when absent).
    #[schema(example = "Monthly_Report.pdf")]
    filename: Option<String>,
    /// WhatsApp message id to reply to (quote).
    #[serde(alias = "quoted_message_id")]
    reply_to: Option<String>,
}

/// A body schema with the serde aliases of its fields as properties of their own (the derive
/// does not see them), at most one name of each field, and the groups of names of which
/// exactly one must be sent (a required field and its aliases, or alternatives such as
/// `media_url`/`media_id`).
pub(super) fn aliased(
    schema: RefOr<Schema>,
    aliases: &[(&str, &[&str])],
    exactly_one: &[&[&str]],
) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut object)) = schema else {
        return schema;
    };
    let mut at_most_one = Vec::new();
    for (field, names) in aliases {
        let Some(prop) = object.properties.get(*field).cloned() else {
            continue;
        };
        at_most_one.push(
            std::iter::once(*field)
                .chain(names.iter().copied())
                .collect(),
        );
        for alias in *names {
            let mut p = prop.clone();
            if let RefOr::T(Schema::Object(o)) = &mut p {
                o.description = Some(format!("Alias of `{field}`: send one of its names."));
                o.example = None;
            }
            object.properties.insert((*alias).to_owned(), p);
        }
    }
    if exactly_one.is_empty() && at_most_one.is_empty() {
        return RefOr::T(Schema::Object(object));
    }
    object
        .required
        .retain(|r| !exactly_one.iter().any(|g| g.contains(&r.as_str())));
    let description = object.description.take();
    let mut all = AllOfBuilder::new()
        .description(description)
        .item(Schema::Object(object));
    if let Some(not) = not_two_of(&at_most_one) {
        all = all.item(not);
    }
    for group in exactly_one {
        let listed: Vec<String> = group.iter().map(|n| format!("`{n}`")).collect();
        let mut one = OneOfBuilder::new().description(Some(format!(
            "Exactly one of {} is sent.",
            listed.join(", ")
        )));
        for name in *group {
            one = one.item(ObjectBuilder::new().required(*name));
        }
        all = all.item(one);
    }
    RefOr::T(Schema::AllOf(all.build()))
}

/// A schema refusing any object with two names of one group (a field under two of its names
/// is refused as a duplicate). utoipa has no `not`; it goes in as an extension, which is
/// serialized as a key of the schema.
fn not_two_of(groups: &[Vec<&str>]) -> Option<Schema> {
    let mut pairs = Vec::new();
    for group in groups {
        for (i, a) in group.iter().enumerate() {
            for b in &group[i + 1..] {
                pairs.push(serde_json::json!({"required": [a, b]}));
            }
        }
    }
    if pairs.is_empty() {
        return None;
    }
    let mut extensions = utoipa::openapi::extensions::Extensions::default();
    extensions.insert("not".to_owned(), serde_json::json!({"anyOf": pairs}));
    let mut object = ObjectBuilder::new()
        .description(Some("A field is sent under one of its names only."))
        .build();
    object.extensions = Some(extensions);
    Some(Schema::Object(object))
}

/// The body of `POST /chat/send`, aliases included.
pub struct SendTextBody;

impl utoipa::PartialSchema for SendTextBody {
    fn schema() -> RefOr<Schema> {
        aliased(
            <SendBody as utoipa::PartialSchema>::schema(),
            &[
                ("recipient", &["number", "to"]),
                ("reply_to", &["quoted_message_id"]),
            ],
            &[&["recipient", "number", "to"]],
        )
    }
}

impl utoipa::ToSchema for SendTextBody {}

/// The body of the media sends, aliases included.
pub struct SendMediaRequest;

impl utoipa::PartialSchema for SendMediaRequest {
    fn schema() -> RefOr<Schema> {
        aliased(
            <SendMediaBody as utoipa::PartialSchema>::schema(),
            &[
                ("recipient", &["number", "to"]),
                ("media_url", &["url"]),
                ("media_type", &["type"]),
                ("reply_to", &["quoted_message_id"]),
            ],
            &[
                &["recipient", "number", "to"],
                &["media_url", "url", "media_id"],
            ],
        )
    }
}

impl utoipa::ToSchema for SendMediaRequest {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((
            "SendMediaType".into(),
            <SendMediaType as utoipa::PartialSchema>::schema(),
        ));
    }
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

fn message_example(kind: &str, body: Option<&str>, media: Value) -> Value {
    serde_json::json!({
        "id": 1234,
        "uuid": "660e8400-e29b-41d4-a716-446655440001",
        "unique_id": "3EB0ABC123456789",
        "message_id": "3EB0ABC123456789",
        "conversation_id": "770e8400-e29b-41d4-a716-446655440002",
        "direction": "outgoing",
        "is_from_me": true,
        "message_type": kind,
        "message_body": body,
        "media": media,
        "quoted_message_id": null,
        "mentioned_jids": [],
        "sender_jid": null,
        "sender_name": null,
        "status": "sent",
        "status_code": 2,
        "is_edited": false,
        "is_deleted": false,
        "timestamp": "2025-01-15T10:30:00.000Z",
        "created_at": "2025-01-15T10:30:00Z"
    })
}

/// Send a text message
///
/// Sends a text message and returns the message in chat-optimized format. With a user token
/// `instance_id` names the instance; with an instance token it is optional (the token's own
/// instance). `recipient` may also be sent as `number` or `to`, `reply_to` as
/// `quoted_message_id`.
#[utoipa::path(
    post,
    path = "/chat/send",
    tag = "Messages",
    operation_id = "messages_chat_send",
    security(("user_token" = []), ("instance_token" = [])),
    request_body(
        content = SendTextBody,
        description = "The message.",
        example = json!({"instance_id": "777", "recipient": "5521999999999", "message": "Hello from Chat API!"})
    ),
    responses(
        (status = 200, description = "Sent: the stored message.", body = ApiResponse<MessageView>,
            example = json!({"success": true, "message": "Message sent successfully",
                "data": message_example("text", Some("Hello from Chat API!"), Value::Null)})),
        (status = 400, description = "Malformed JSON (`INVALID_JSON`, `BAD_REQUEST`), or the engine cannot send this (`BAD_REQUEST`).", body = ErrorEnvelope),
        (status = 403, description = "An instance token used for another instance (`INSTANCE_FORBIDDEN`), or WhatsApp refused (`FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance (`INSTANCE_NOT_FOUND`), or the number is not on WhatsApp (`NUMBER_NOT_FOUND`, `NOT_FOUND`).", body = ErrorEnvelope),
        (status = 409, description = "Automation manages the conversation: pause it first (`AUTOMATION_ACTIVE`, with `conversation_id`), or the instance is not connected (`INSTANCE_NOT_CONNECTED`).", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid (`VALIDATION_ERROR`): `instance_id`, `recipient`, `message`.", body = ErrorEnvelope),
        (status = 503, description = "The instance's node is not running or unreachable (`NODE_UNAVAILABLE`), WhatsApp is briefly unavailable, or a dependency is (`SERVICE_UNAVAILABLE`); retry.", body = ErrorEnvelope),
        (status = 504, description = "The instance's node did not answer in time (`GATEWAY_TIMEOUT`).", body = ErrorEnvelope),
    )
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
    let msg = state
        .services
        .send_universal(
            &caller,
            instance.as_deref(),
            &recipient,
            Outgoing::Text { text },
            body.reply_to.as_deref(),
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

/// Send media
///
/// Sends a message with attached media: a public URL (`media_url`, with `media_type`) or a
/// previously uploaded file (`media_id`). Limits: images 16 MB, videos 64 MB, audio 16 MB,
/// documents 100 MB. `recipient` may also be sent as `number` or `to`, `media_url` as `url`,
/// `media_type` as `type`, `reply_to` as `quoted_message_id`.
#[utoipa::path(
    post,
    path = "/messages/send-media",
    tag = "Messages",
    operation_id = "messages_send_media",
    security(("user_token" = []), ("instance_token" = [])),
    request_body(
        content = SendMediaRequest,
        description = "The media message.",
        examples(
            ("Image" = (value = json!({
                "instance_id": "550e8400-e29b-41d4-a716-446655440000",
                "recipient": "+5511999999999",
                "media_url": "https://example.com/image.jpg",
                "media_type": "image",
                "caption": "Check this image!"
            }))),
            ("Document" = (value = json!({
                "instance_id": "550e8400-e29b-41d4-a716-446655440000",
                "recipient": "+5511999999999",
                "media_url": "https://example.com/report.pdf",
                "media_type": "document",
                "filename": "Monthly_Report.pdf",
                "caption": "Here is the monthly report"
            }))),
        )
    ),
    responses(
        (status = 200, description = "Sent: the stored message.", body = ApiResponse<MessageView>,
            example = json!({"success": true, "message": "Media sent successfully",
                "data": message_example("image", None, serde_json::json!({
                    "url": "https://zapini.app/api/v1/messages/660e8400-e29b-41d4-a716-446655440001/media?expires=1737542400&signature=…",
                    "source_url": "https://example.com/image.jpg",
                    "caption": "Check this image!"
                }))})),
        (status = 400, description = "Malformed JSON (`INVALID_JSON`, `BAD_REQUEST`), the media could not be fetched or the engine cannot send it (`BAD_REQUEST`).", body = ErrorEnvelope),
        (status = 403, description = "An instance token used for another instance (`INSTANCE_FORBIDDEN`), or WhatsApp refused (`FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance (`INSTANCE_NOT_FOUND`), or the number is not on WhatsApp (`NUMBER_NOT_FOUND`, `NOT_FOUND`).", body = ErrorEnvelope),
        (status = 409, description = "Automation manages the conversation (`AUTOMATION_ACTIVE`), or the instance is not connected (`INSTANCE_NOT_CONNECTED`).", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid (`VALIDATION_ERROR`): `instance_id`, `recipient`, `media_url` (not http(s), blocked, too large, wrong format), `media_id` (unknown, or sent with `media_url`), `media_type`.", body = ErrorEnvelope),
        (status = 503, description = "The instance's node is not running or unreachable (`NODE_UNAVAILABLE`), WhatsApp is briefly unavailable, or a dependency is (`SERVICE_UNAVAILABLE`); retry.", body = ErrorEnvelope),
        (status = 504, description = "The instance's node did not answer in time (`GATEWAY_TIMEOUT`).", body = ErrorEnvelope),
    )
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
    let msg = state
        .services
        .send_universal(
            &caller,
            instance.as_deref(),
            &recipient,
            Outgoing::Media {
                media_type,
                url,
                caption: body.caption.unwrap_or_default(),
                filename: body.filename.unwrap_or_default(),
                library,
            },
            body.reply_to.as_deref(),
        )
        .await?;
    Ok(axum::Json(ApiResponse::message_data(
        "Media sent successfully",
        msg,
    )))
}

/// Send media (chat API)
///
/// Sends media (image, video, audio, document) and returns chat-optimized response: the chat
/// API's form of `POST /messages/send-media`, with the same body and answers.
#[utoipa::path(
    post,
    path = "/chat/send-media",
    tag = "Messages",
    operation_id = "messages_chat_send_media",
    security(("user_token" = []), ("instance_token" = [])),
    request_body(
        content = SendMediaRequest,
        description = "The media message.",
        example = json!({
            "instance_id": "777",
            "recipient": "5521999999999",
            "media_url": "https://example.com/image.jpg",
            "media_type": "image",
            "caption": "Check this out!"
        })
    ),
    responses(
        (status = 200, description = "Sent: the stored message.", body = ApiResponse<MessageView>),
        (status = 400, description = "Malformed JSON (`INVALID_JSON`, `BAD_REQUEST`), the media could not be fetched or the engine cannot send it (`BAD_REQUEST`).", body = ErrorEnvelope),
        (status = 403, description = "An instance token used for another instance (`INSTANCE_FORBIDDEN`), or WhatsApp refused (`FORBIDDEN`).", body = ErrorEnvelope),
        (status = 404, description = "No such instance (`INSTANCE_NOT_FOUND`), or the number is not on WhatsApp (`NUMBER_NOT_FOUND`, `NOT_FOUND`).", body = ErrorEnvelope),
        (status = 409, description = "Automation manages the conversation (`AUTOMATION_ACTIVE`), or the instance is not connected (`INSTANCE_NOT_CONNECTED`).", body = ErrorEnvelope),
        (status = 422, description = "A field is missing or invalid (`VALIDATION_ERROR`): `instance_id`, `recipient`, `media_url`, `media_id`, `media_type`.", body = ErrorEnvelope),
        (status = 503, description = "The instance's node is not running or unreachable (`NODE_UNAVAILABLE`), WhatsApp is briefly unavailable, or a dependency is (`SERVICE_UNAVAILABLE`); retry.", body = ErrorEnvelope),
        (status = 504, description = "The instance's node did not answer in time (`GATEWAY_TIMEOUT`).", body = ErrorEnvelope),
    )
)]
pub async fn chat_send_media(
    state: State<AppState>,
    auth: Auth,
    body: Json<SendMediaBody>,
) -> AppResult<impl IntoResponse> {
    send_media(state, auth, body).await
}
