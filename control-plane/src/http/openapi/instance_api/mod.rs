//! The Instance API: what a node serves itself at `instance-{id}.<domain>`
//! (`zapini_shared::node_routes`; handlers in `instance-node/src/http/`). Each operation gets
//! a path-level `servers` override with that host template, the tag `Instance API` (the
//! sandbox hooks `Sandbox`), an `instance_` operation id and `x-zapini-served-by: node`: the
//! control plane's router does not serve these paths (its edge only proxies them for instance
//! hosts), so the drift test and the fuzz run skip them.
//!
//! The answers are the node's wire types (`zapini_shared::node_api`); the request bodies are
//! described by hand because the node reads them field by field, with the reference's aliases
//! (`body.rs`: a field may come under any alias, strings may be sent as numbers, empty strings
//! and `null` count as absent).
//!
//! The node's `GET /health` (no auth, `{"status","uptime","timestamp"}`) is left out: path
//! keys are unique and the control plane's own `/health` holds that key; a request to
//! `/health` on an instance host reaches the node through the edge.

mod sandbox;

use serde_json::{Map, Value, json};
use utoipa::{PartialSchema, ToSchema};
use zapini_shared::error::ErrorCode;
use zapini_shared::node_api::{PacingReport, QrResponse, SentResponse, StatusResponse};

use super::common::error_response;

/// The extension that marks operations served by nodes, not by the control plane's router.
pub const SERVED_BY: &str = "x-zapini-served-by";

const TAG: &str = "Instance API";

/// The instance host, as a server URL template.
fn servers() -> Value {
    json!([{
        "url": "https://instance-{id}.{domain}",
        "description": "The instance's own host: its node answers these paths.",
        "variables": {
            "id": {
                "default": "777",
                "description": "The instance: numeric id or UUID.",
            },
            "domain": {
                "default": "localhost",
                "description": "The deployment's base domain (`ZAPINI_BASE_DOMAIN`).",
            },
        },
    }])
}

fn schema_ref<T: ToSchema>() -> Value {
    json!({"$ref": format!("#/components/schemas/{}", T::name())})
}

/// A JSON answer with a schema and an example.
fn json_response(description: &str, schema: Value, example: Value) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": schema, "example": example}},
    })
}

/// `{"type": ["string", "number"]}`: the node takes numbers where it reads strings.
fn text(description: &str) -> Value {
    json!({"type": ["string", "number"], "description": description})
}

fn alias_of(field: &str) -> Value {
    json!({"type": ["string", "number"], "description": format!("Alias of `{field}`.")})
}

/// A body where one of `aliases` must be present (besides `required`).
fn body(
    description: &str,
    properties: Value,
    required: &[&str],
    one_of_aliases: &[&[&str]],
    example: Value,
) -> Value {
    let mut schema = json!({"type": "object", "properties": properties, "required": required});
    let groups: Vec<Value> = one_of_aliases
        .iter()
        .map(|aliases| {
            json!({"anyOf": aliases.iter().map(|a| json!({"required": [a]})).collect::<Vec<_>>()})
        })
        .collect();
    if !groups.is_empty() {
        schema["allOf"] = Value::Array(groups);
    }
    json!({
        "required": true,
        "description": description,
        "content": {"application/json": {"schema": schema, "example": example}},
    })
}

/// The statuses every authenticated node path can answer: the token check, the edge limits,
/// and the control plane's edge proxy in front of the node.
fn add_common(responses: &mut Map<String, Value>, has_body: bool) {
    let mut limited = error_response(
        "Too many requests (per client address and per token); retry after `Retry-After` seconds",
        &[ErrorCode::RateLimitExceeded],
    );
    limited["headers"] = json!({"Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 1},
    }});
    let mut shared = vec![
        (
            "401",
            error_response(
                "Missing or invalid bearer token, or an expired one",
                &[ErrorCode::Unauthenticated, ErrorCode::TokenExpired],
            ),
        ),
        (
            "403",
            error_response(
                "The token belongs to another instance",
                &[ErrorCode::InstanceForbidden],
            ),
        ),
        ("429", limited),
        (
            "503",
            error_response(
                "The token cannot be verified right now, or (through the control plane's edge) no node serves the instance",
                &[ErrorCode::ServiceUnavailable, ErrorCode::NodeUnavailable],
            ),
        ),
        (
            "504",
            error_response(
                "Through the control plane's edge: the node did not answer in time",
                &[ErrorCode::GatewayTimeout],
            ),
        ),
        (
            "508",
            error_response(
                "A proxied request came back to a proxy",
                &[ErrorCode::LoopDetected],
            ),
        ),
    ];
    if has_body {
        shared.extend([
            (
                "400",
                error_response(
                    "The body is not a JSON object",
                    &[ErrorCode::InvalidJson, ErrorCode::BadRequest],
                ),
            ),
            (
                "413",
                error_response(
                    "The body is larger than 1 MiB",
                    &[ErrorCode::PayloadTooLarge],
                ),
            ),
            (
                "422",
                error_response(
                    "A field is missing or invalid; `details` names it",
                    &[ErrorCode::ValidationError],
                ),
            ),
        ]);
    }
    for (status, response) in shared {
        responses.entry(status).or_insert(response);
    }
}

/// One node operation.
struct Op {
    path: &'static str,
    method: &'static str,
    id: &'static str,
    tag: &'static str,
    summary: &'static str,
    description: String,
    request: Option<Value>,
    /// Header parameters (the `Idempotency-Key` of the sends).
    parameters: Vec<Value>,
    /// Route-specific responses (the success first).
    responses: Vec<(&'static str, Value)>,
}

impl Op {
    fn into_item(self) -> Value {
        let mut responses = Map::new();
        for (status, response) in self.responses {
            responses.insert(status.to_owned(), response);
        }
        add_common(&mut responses, self.request.is_some());
        let mut op = json!({
            "tags": [self.tag],
            "operationId": format!("instance_{}", self.id),
            "summary": self.summary,
            "description": self.description,
            "security": [{"instance_token": []}, {"user_token": []}],
            "responses": responses,
            SERVED_BY: "node",
        });
        if let Some(request) = self.request {
            op["requestBody"] = request;
        }
        if !self.parameters.is_empty() {
            op["parameters"] = Value::Array(self.parameters);
        }
        json!({"servers": servers(), self.method: op})
    }
}

const AUTH_NOTE: &str = "\n\nServed by the instance's node at `instance-{id}.<domain>` \
(the control plane's edge proxies it there too). Authenticate with the instance's `sk_` token \
or a user token of its tenant.";

const RECIPIENT: &str = "The recipient: a phone number with country code (`5511999999999`) \
or a JID (`…@s.whatsapp.net`, a group's `…@g.us`). Also accepted as `number` or `to`.";

fn send_failures(media: bool) -> Vec<(&'static str, Value)> {
    let mut out = vec![
        (
            "400",
            error_response(
                if media {
                    "The body is not a JSON object, the media could not be fetched, or the engine cannot send this"
                } else {
                    "The body is not a JSON object, or the engine cannot send this"
                },
                &[ErrorCode::InvalidJson, ErrorCode::BadRequest],
            ),
        ),
        (
            "403",
            error_response(
                "The token belongs to another instance, or WhatsApp does not allow this send",
                &[ErrorCode::InstanceForbidden, ErrorCode::Forbidden],
            ),
        ),
        (
            "404",
            error_response(
                "The number is not on WhatsApp, or the group or message is unknown",
                &[ErrorCode::NumberNotFound, ErrorCode::NotFound],
            ),
        ),
        (
            "409",
            error_response(
                "The instance is not connected (scan the QR code first), or the conversation's automation is active",
                &[ErrorCode::InstanceNotConnected, ErrorCode::AutomationActive],
            ),
        ),
        (
            "422",
            error_response(
                if media {
                    "A field is missing or invalid (`recipient`, `media_url`, `media_type`, `media_id`, the `Idempotency-Key` header), or the media is too large or of the wrong format"
                } else {
                    "A field is missing or invalid (`recipient`, `message`, the `Idempotency-Key` header); `details` names it"
                },
                &[ErrorCode::ValidationError],
            ),
        ),
    ];
    let mut limited = error_response(
        "Too many requests, sending paused by the anti-ban pacing (`details.retry_after`), or the daily message limit reached; retry after `Retry-After` seconds",
        &[ErrorCode::RateLimitExceeded, ErrorCode::DailyLimitExceeded],
    );
    limited["headers"] = json!({"Retry-After": {
        "description": "Seconds to wait before retrying (absent for the daily limit, which resets at 00:00 UTC).",
        "schema": {"type": "integer", "minimum": 1},
    }});
    out.push(("429", limited));
    out.push((
        "503",
        error_response(
            "WhatsApp is briefly unavailable, the token cannot be verified right now, or no node serves the instance",
            &[ErrorCode::ServiceUnavailable, ErrorCode::NodeUnavailable],
        ),
    ));
    out
}

/// The `Idempotency-Key` header of the sends (the node's `service::sent_refs`).
fn idempotency_key() -> Value {
    json!({
        "name": "Idempotency-Key",
        "in": "header",
        "required": false,
        "description": "Makes the send idempotent: a second request with the same key within \
            30 minutes answers the first send's `message_id` and `timestamp` without sending \
            again or counting toward the daily limit, and requests racing with one key send \
            once. A failed send is not remembered, so it can be retried with the same key. \
            Keys belong to the instance (the node remembers up to 20,000); a key reused for a \
            different message still answers the first one. 1 to 128 visible ASCII characters, \
            else 422 naming `Idempotency-Key`.",
        "schema": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]{1,128}$"},
        "example": "order-8841-confirmation",
    })
}

fn sent(message: &str, id: &str) -> (&'static str, Value) {
    (
        "200",
        json_response(
            "Sent. `message_id` is WhatsApp's id of the message.",
            schema_ref::<SentResponse>(),
            json!({
                "success": true,
                "message": message,
                "message_id": id,
                "timestamp": "2025-12-30T17:30:00.000Z",
            }),
        ),
    )
}

fn hot_path() -> Vec<Op> {
    let reply_to =
        text("WhatsApp id of a message to reply to. Also accepted as `quoted_message_id`.");
    vec![
        Op {
            path: "/send-message",
            method: "post",
            id: "send_message",
            tag: TAG,
            summary: "Send a text message",
            description: format!(
                "Sends a text message to a WhatsApp number or group. `recipient`, `number` and \
                 `to` are equivalent, as are `reply_to` and `quoted_message_id`.{AUTH_NOTE}"
            ),
            request: Some(body(
                "The recipient and the text.",
                json!({
                    "recipient": text(RECIPIENT),
                    "number": alias_of("recipient"),
                    "to": alias_of("recipient"),
                    "message": text("The text."),
                    "reply_to": reply_to,
                    "quoted_message_id": alias_of("reply_to"),
                }),
                &["message"],
                &[&["recipient", "number", "to"]],
                json!({"recipient": "5511999999999", "message": "Olá! Esta é uma mensagem de teste."}),
            )),
            parameters: vec![idempotency_key()],
            responses: [
                vec![sent("Message sent successfully", "3EB0B430A8B7F23C1D12")],
                send_failures(false),
            ]
            .concat(),
        },
        Op {
            path: "/send-media",
            method: "post",
            id: "send_media",
            tag: TAG,
            summary: "Send a media message",
            description: format!(
                "Sends an image, video, audio or document, from a public URL (`media_url`) or \
                 from the media library (`media_id`, from `POST /media/upload`). \
                 `recipient`/`number`/`to`, `media_url`/`url` and `media_type`/`type` are \
                 equivalent.{AUTH_NOTE}"
            ),
            request: Some(body(
                "The recipient and the media.",
                json!({
                    "recipient": text(RECIPIENT),
                    "number": alias_of("recipient"),
                    "to": alias_of("recipient"),
                    "media_url": {"type": ["string", "number"], "description": "Public URL of the media file (required unless `media_id` is given). Also accepted as `url`."},
                    "url": alias_of("media_url"),
                    "media_id": {"type": ["string", "number"], "description": "A media library file's id, instead of `media_url`."},
                    "media_type": {"type": "string", "enum": ["image", "video", "audio", "document"], "description": "The kind of media (case-insensitive). Also accepted as `type`."},
                    "type": {"type": "string", "enum": ["image", "video", "audio", "document"], "description": "Alias of `media_type`."},
                    "caption": text("Caption for images and videos."),
                    "filename": text("File name for documents."),
                    "reply_to": reply_to,
                    "quoted_message_id": alias_of("reply_to"),
                }),
                &[],
                &[
                    &["recipient", "number", "to"],
                    &["media_url", "url", "media_id"],
                    &["media_type", "type"],
                ],
                json!({
                    "recipient": "5511999999999",
                    "media_url": "https://example.com/image.jpg",
                    "media_type": "image",
                    "caption": "Confira esta imagem!",
                }),
            )),
            parameters: vec![idempotency_key()],
            responses: [
                vec![sent("Media sent successfully", "3EB0B430A8B7F23C1D13")],
                send_failures(true),
            ]
            .concat(),
        },
        Op {
            path: "/send-reaction",
            method: "post",
            id: "send_reaction",
            tag: TAG,
            summary: "React to a message",
            description: format!(
                "Sends a reaction emoji to a message; an empty `emoji` removes this instance's \
                 reaction. `to` is also accepted as `chat` or `recipient`, `messageId` as \
                 `message_id`.{AUTH_NOTE}"
            ),
            request: Some(body(
                "The chat, the message and the emoji.",
                json!({
                    "to": text("The chat's JID (or a phone number). Also accepted as `chat` or `recipient`."),
                    "chat": alias_of("to"),
                    "recipient": alias_of("to"),
                    "messageId": text("WhatsApp id of the message to react to. Also accepted as `message_id`."),
                    "message_id": alias_of("messageId"),
                    "emoji": {"type": "string", "description": "The emoji (👍, ❤️, 😂); empty removes the reaction."},
                    "from_me": {"type": "boolean", "default": false, "description": "True when the message reacted to is this instance's own."},
                }),
                &["emoji"],
                &[&["to", "chat", "recipient"], &["messageId", "message_id"]],
                json!({"to": "5511999999999@s.whatsapp.net", "messageId": "3EB0B430A8B7F23C1D12", "emoji": "👍"}),
            )),
            parameters: Vec::new(),
            responses: [
                vec![sent("Reaction sent successfully", "3EB0B430A8B7F23C1D14")],
                send_failures(false)
                    .into_iter()
                    .filter(|(status, _)| *status != "409" && *status != "429")
                    .collect(),
                vec![(
                    "409",
                    error_response(
                        "The instance is not connected; scan the QR code first",
                        &[ErrorCode::InstanceNotConnected],
                    ),
                )],
            ]
            .concat(),
        },
        Op {
            path: "/status",
            method: "get",
            id: "status",
            tag: TAG,
            summary: "Connection status",
            description: format!(
                "The WhatsApp session's connection status, the connected number and profile \
                 name; beyond the reference, the engine, why the status last changed, and the \
                 anti-ban pacing on engines that pace sends.{AUTH_NOTE}"
            ),
            request: None,
            parameters: Vec::new(),
            responses: vec![(
                "200",
                json_response(
                    "The connection.",
                    schema_ref::<StatusResponse>(),
                    json!({
                        "success": true,
                        "status": "connected",
                        "phone": "5511999999999",
                        "name": "Meu WhatsApp",
                        "platform": "android",
                        "engine": "whatsapp",
                        "reason": "paired",
                    }),
                ),
            )],
        },
        Op {
            path: "/qr",
            method: "get",
            id: "qr",
            tag: TAG,
            summary: "QR code to connect",
            description: format!(
                "The QR code to scan with WhatsApp on the phone. Only available while the \
                 status is `qr_ready`.{AUTH_NOTE}"
            ),
            request: None,
            parameters: Vec::new(),
            responses: vec![
                (
                    "200",
                    json_response(
                        "The QR code, as a PNG data URL and as text.",
                        schema_ref::<QrResponse>(),
                        json!({
                            "success": true,
                            "qr": "data:image/png;base64,iVBORw0KGgoAAAA...",
                            "qr_code_text": "2@ABC123...",
                            "status": "qr_ready",
                        }),
                    ),
                ),
                (
                    "409",
                    error_response(
                        "No QR code is on offer (the instance is connected, or not pairing); `details.status` is the current status",
                        &[ErrorCode::Conflict],
                    ),
                ),
            ],
        },
    ]
}

/// Adds the Instance API's operations, with their own server URL template, and the schemas
/// they refer to. A path the document already has (the control plane's) is left alone.
pub fn add(doc: &mut Value) {
    let Some(root) = doc.as_object_mut() else {
        return;
    };
    if let Some(schemas) = root
        .entry("components")
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .and_then(|c| {
            c.entry("schemas")
                .or_insert_with(|| json!({}))
                .as_object_mut()
        })
    {
        for (name, schema) in [
            (SentResponse::name(), SentResponse::schema()),
            (StatusResponse::name(), StatusResponse::schema()),
            (PacingReport::name(), PacingReport::schema()),
            (QrResponse::name(), QrResponse::schema()),
        ] {
            schemas
                .entry(name.into_owned())
                .or_insert_with(|| serde_json::to_value(schema).unwrap_or_default());
        }
    }
    let Some(paths) = root
        .entry("paths")
        .or_insert_with(|| json!({}))
        .as_object_mut()
    else {
        return;
    };
    for op in hot_path().into_iter().chain(sandbox::operations()) {
        if !paths.contains_key(op.path) {
            paths.insert(op.path.to_owned(), op.into_item());
        }
    }
}
