//! `/sandbox/*`: the sandbox engine's test hooks (`instance-node/src/http/sandbox.rs`), which
//! drive the simulated WhatsApp network: a phone scans the QR, a message arrives, a receipt
//! comes back, the connection fails. Only instances running the sandbox engine serve them
//! (others answer 404). Every success is `{"success": true, "data": {...}}`, built with
//! `json!` in the node, so the schemas here are written by hand.

use serde_json::{Value, json};
use zapini_shared::error::ErrorCode;
use zapini_shared::status::{InstanceStatus, MessageStatus};

use super::super::common::error_response;
use super::{AUTH_NOTE, Op, alias_of, body, json_response, text};

const TAG: &str = "Sandbox";

const NOTE: &str = "\n\nA sandbox test hook: only instances running the sandbox engine serve \
it (others answer 404 `NOT_FOUND`).";

fn string() -> Value {
    json!({"type": "string"})
}

fn nullable_string() -> Value {
    json!({"type": ["string", "null"]})
}

/// `{"success": true, "data": <data>}`.
fn success(description: &str, mut data: Value, example: Value) -> (&'static str, Value) {
    let required: Vec<String> = data["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    data["type"] = json!("object");
    if !required.is_empty() {
        data["required"] = json!(required);
    }
    (
        "200",
        json_response(
            description,
            json!({
                "type": "object",
                "required": ["success", "data"],
                "properties": {"success": {"type": "boolean", "const": true}, "data": data},
            }),
            json!({"success": true, "data": example}),
        ),
    )
}

/// The session after a scan, pairing or fault.
fn connection(example: Value) -> (&'static str, Value) {
    success(
        "The session's connection now.",
        json!({"properties": {
            "status": {
                "type": "string",
                "enum": InstanceStatus::ALL.iter().map(InstanceStatus::as_str).collect::<Vec<_>>(),
            },
            "phone": nullable_string(),
            "name": nullable_string(),
            "platform": nullable_string(),
            "reason": nullable_string(),
        }}),
        example,
    )
}

fn failures() -> Vec<(&'static str, Value)> {
    vec![
        (
            "404",
            error_response(
                "Not a sandbox instance, or the message or group named is unknown",
                &[ErrorCode::NotFound],
            ),
        ),
        (
            "409",
            error_response(
                "The simulated session is not connected",
                &[ErrorCode::InstanceNotConnected],
            ),
        ),
        (
            "422",
            error_response(
                "A field is missing or invalid, or the simulated network refuses the action; `details` names the field",
                &[ErrorCode::ValidationError],
            ),
        ),
    ]
}

fn op(
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    description: &str,
    request: Value,
    ok: (&'static str, Value),
) -> Op {
    Op {
        path,
        method: "post",
        id,
        tag: TAG,
        summary,
        description: format!("{description}{NOTE}{AUTH_NOTE}"),
        request: Some(request),
        parameters: Vec::new(),
        responses: [vec![ok], failures()].concat(),
    }
}

const FROM: &str = "Who acts: a phone number or a JID.";
const CHAT: &str = "The chat (JID or number); default: the 1:1 chat with `from`.";

pub(super) fn operations() -> Vec<Op> {
    let connected = json!({"status": "connected", "phone": "5511999999999", "name": "Sandbox", "platform": "android", "reason": "paired"});
    let message_id = text("WhatsApp id of the message. Also accepted as `messageId`.");
    vec![
        op(
            "/sandbox/scan",
            "sandbox_scan",
            "The phone scans the QR code",
            "The simulated phone scans the QR code on offer: the session becomes `connected` \
             with that number. 422 when no QR code is on offer.",
            body(
                "The phone.",
                json!({
                    "phone_number": text("The phone's number, with country code."),
                    "push_name": text("The profile name. Also accepted as `name`."),
                    "name": alias_of("push_name"),
                }),
                &["phone_number"],
                &[],
                json!({"phone_number": "5511999999999", "push_name": "Sandbox"}),
            ),
            connection(connected.clone()),
        ),
        op(
            "/sandbox/pair-code",
            "sandbox_pair_code",
            "Pair with a code",
            "Types `code` on the simulated phone: pairs when it matches the code on offer. With \
             only `phone_number`, requests a pairing code for that number instead and returns \
             it (`data.code`).",
            body(
                "The code, or the number to request one for.",
                json!({
                    "code": text("The pairing code on offer."),
                    "phone_number": text("Request a code for this number instead."),
                }),
                &[],
                &[&["code", "phone_number"]],
                json!({"code": "ABCD-EFGH"}),
            ),
            success(
                "The connection after pairing, or `{code}` when a code was requested.",
                json!({"properties": {}, "anyOf": [
                    {"required": ["code"], "properties": {"code": string()}},
                    {"required": ["status"], "properties": {"status": string()}},
                ]}),
                connected.clone(),
            ),
        ),
        op(
            "/sandbox/inbound",
            "sandbox_inbound",
            "A message arrives",
            "A message arrives from `from` (in `group` when given, with `from` a participant): \
             text (`message`) and/or `media`, a `location` or a `contact`. It reaches the \
             control plane as a received message (and `message.received` webhooks).",
            body(
                "The message.",
                json!({
                    "from": text(FROM),
                    "message": text("The text. Also accepted as `text`."),
                    "text": alias_of("message"),
                    "group": {"type": "string", "description": "A group JID (`…@g.us`) this instance is in."},
                    "push_name": text("The sender's profile name."),
                    "reply_to": text("WhatsApp id of the message replied to. Also accepted as `quoted_message_id`."),
                    "quoted_message_id": alias_of("reply_to"),
                    "mentions": {"type": "array", "items": {"type": "string"}, "description": "Mentioned numbers or JIDs."},
                    "media": {
                        "type": "object",
                        "required": ["type"],
                        "properties": {
                            "type": {"type": "string", "enum": ["image", "video", "audio", "voice", "ptt", "document", "sticker"], "description": "Case-insensitive."},
                            "mime_type": text("Default: a usual one for the type."),
                            "filename": text("The file name."),
                            "caption": text("The caption."),
                            "size": {"type": "integer", "minimum": 0, "maximum": 16_777_216, "description": "Bytes to make up when `data` is absent."},
                            "data": {"type": "string", "contentEncoding": "base64", "description": "The bytes, base64."},
                        },
                    },
                    "location": {
                        "type": "object",
                        "required": ["latitude", "longitude"],
                        "properties": {
                            "latitude": {"type": "number"},
                            "longitude": {"type": "number"},
                            "name": text("The place's name."),
                            "address": text("The place's address."),
                        },
                    },
                    "contact": {
                        "type": "object",
                        "required": ["display_name"],
                        "properties": {"display_name": text("The contact's name."), "vcard": text("The vCard.")},
                    },
                }),
                &["from"],
                &[],
                json!({"from": "5511999999999", "message": "Hello!", "push_name": "John Doe"}),
            ),
            success(
                "The message as the simulated network delivered it.",
                json!({"properties": {
                    "message_id": string(),
                    "chat": string(),
                    "from": string(),
                    "type": {"type": "string", "enum": ["text", "image", "video", "audio", "voice", "document", "sticker", "location", "contact", "other"]},
                    "timestamp": {"type": "string", "format": "date-time"},
                }}),
                json!({"message_id": "3EB0SANDBOX00000001", "chat": "5511999999999@s.whatsapp.net", "from": "5511999999999@s.whatsapp.net", "type": "text", "timestamp": "2025-01-15T10:30:00.000Z"}),
            ),
        ),
        op(
            "/sandbox/reaction",
            "sandbox_reaction",
            "Someone reacts",
            "`from` reacts to a message (ours or theirs) in `chat`; an empty emoji removes the \
             reaction.",
            body(
                "The reaction.",
                json!({
                    "from": text(FROM),
                    "message_id": message_id.clone(),
                    "messageId": alias_of("message_id"),
                    "emoji": {"type": "string", "description": "The emoji; empty removes it."},
                    "chat": text(CHAT),
                }),
                &["from", "emoji"],
                &[&["message_id", "messageId"]],
                json!({"from": "5511999999999", "message_id": "3EB0B430A8B7F23C1D12", "emoji": "👍"}),
            ),
            success(
                "The reaction.",
                json!({"properties": {"message_id": string(), "chat": string(), "emoji": string()}}),
                json!({"message_id": "3EB0B430A8B7F23C1D12", "chat": "5511999999999@s.whatsapp.net", "emoji": "👍"}),
            ),
        ),
        op(
            "/sandbox/edit",
            "sandbox_edit",
            "The author edits a message",
            "`from` edits one of the messages injected from them.",
            body(
                "The edit.",
                json!({
                    "from": text(FROM),
                    "message_id": message_id.clone(),
                    "messageId": alias_of("message_id"),
                    "text": text("The new text. Also accepted as `message`."),
                    "message": alias_of("text"),
                    "chat": text(CHAT),
                }),
                &["from"],
                &[&["message_id", "messageId"], &["text", "message"]],
                json!({"from": "5511999999999", "message_id": "3EB0SANDBOX00000001", "text": "Hello again!"}),
            ),
            success(
                "The edit.",
                json!({"properties": {"message_id": string(), "chat": string(), "text": string()}}),
                json!({"message_id": "3EB0SANDBOX00000001", "chat": "5511999999999@s.whatsapp.net", "text": "Hello again!"}),
            ),
        ),
        op(
            "/sandbox/revoke",
            "sandbox_revoke",
            "The author deletes a message for everyone",
            "`from` deletes one of the messages injected from them, for everyone.",
            body(
                "The deletion.",
                json!({
                    "from": text(FROM),
                    "message_id": message_id.clone(),
                    "messageId": alias_of("message_id"),
                    "chat": text(CHAT),
                }),
                &["from"],
                &[&["message_id", "messageId"]],
                json!({"from": "5511999999999", "message_id": "3EB0SANDBOX00000001"}),
            ),
            success(
                "The deletion.",
                json!({"properties": {"message_id": string(), "chat": string()}}),
                json!({"message_id": "3EB0SANDBOX00000001", "chat": "5511999999999@s.whatsapp.net"}),
            ),
        ),
        op(
            "/sandbox/receipt",
            "sandbox_receipt",
            "A receipt for one of our messages",
            "The recipient's phone acknowledges one of this instance's messages. Receipts never \
             go backwards (`advanced: false` then); `played` is for audio only.",
            body(
                "The receipt.",
                json!({
                    "message_id": message_id,
                    "messageId": alias_of("message_id"),
                    "status": {"type": "string", "enum": ["delivered", "read", "played"], "description": "Case-insensitive."},
                }),
                &["status"],
                &[&["message_id", "messageId"]],
                json!({"message_id": "3EB0B430A8B7F23C1D12", "status": "read"}),
            ),
            success(
                "The receipt, and whether it moved the status.",
                json!({"properties": {
                    "message_id": string(),
                    "status": {"type": "string", "enum": [MessageStatus::Delivered.as_str(), MessageStatus::Read.as_str(), MessageStatus::Played.as_str()]},
                    "advanced": {"type": "boolean"},
                }}),
                json!({"message_id": "3EB0B430A8B7F23C1D12", "status": "read", "advanced": true}),
            ),
        ),
        op(
            "/sandbox/fault",
            "sandbox_fault",
            "The connection fails",
            "The connection fails: a network drop (`disconnect`), logged out from the phone \
             (`logged_out`, also `logout`), or another client took the session \
             (`stream_replaced`).",
            body(
                "The fault.",
                json!({"fault": {"type": "string", "enum": ["disconnect", "logged_out", "logout", "stream_replaced"], "description": "Case-insensitive."}}),
                &["fault"],
                &[],
                json!({"fault": "logged_out"}),
            ),
            connection(
                json!({"status": "disconnected", "phone": null, "name": null, "platform": null, "reason": "logged_out"}),
            ),
        ),
        op(
            "/sandbox/groups",
            "sandbox_groups",
            "Someone adds us to a group",
            "Someone creates a group with this instance in it; the first participant owns it \
             unless `we_are_admin`.",
            body(
                "The group.",
                json!({
                    "subject": text("The group's name."),
                    "participants": {"type": "array", "items": {"type": "string"}, "description": "The other members: numbers or JIDs."},
                    "we_are_admin": {"type": "boolean", "default": false},
                }),
                &["subject"],
                &[],
                json!({"subject": "Support team", "participants": ["5511999999999"]}),
            ),
            success(
                "The group.",
                json!({"properties": {
                    "jid": string(),
                    "subject": string(),
                    "description": nullable_string(),
                    "owner": nullable_string(),
                    "created_at": {"type": "string", "format": "date-time"},
                    "participants": {"type": "array", "items": {
                        "type": "object",
                        "required": ["jid", "is_admin", "is_super_admin"],
                        "properties": {"jid": string(), "is_admin": {"type": "boolean"}, "is_super_admin": {"type": "boolean"}},
                    }},
                }}),
                json!({
                    "jid": "120363000000000001@g.us",
                    "subject": "Support team",
                    "description": null,
                    "owner": "5511999999999@s.whatsapp.net",
                    "created_at": "2025-01-15T10:30:00Z",
                    "participants": [
                        {"jid": "5511999999999@s.whatsapp.net", "is_admin": true, "is_super_admin": true},
                        {"jid": "5511888888888@s.whatsapp.net", "is_admin": false, "is_super_admin": false},
                    ],
                }),
            ),
        ),
        Op {
            path: "/sandbox/presence",
            method: "get",
            id: "sandbox_presence",
            tag: TAG,
            summary: "What the phones saw: typing indicators",
            description: format!(
                "The presence this instance showed in chats (\"typing…\" while an \
                 automation's reply waits its delay, \"recording audio…\" before a voice note), \
                 as the contacts' phones saw it, oldest first; the last 1,000 are kept.\
                 {NOTE}{AUTH_NOTE}"
            ),
            request: None,
            parameters: vec![json!({
                "name": "chat",
                "in": "query",
                "required": false,
                "description": "Only this chat (a number or a JID); all chats when absent.",
                "schema": {"type": "string"},
                "example": "5511999999999",
            })],
            responses: [
                vec![success(
                    "The presence shown, oldest first.",
                    json!({"properties": {
                        "presence": {"type": "array", "items": {
                            "type": "object",
                            "required": ["chat", "state", "at"],
                            "properties": {
                                "chat": string(),
                                "state": {"type": "string", "enum": ["composing", "recording", "paused"]},
                                "at": {"type": "string", "format": "date-time"},
                            },
                        }},
                    }}),
                    json!({"presence": [
                        {"chat": "5511999999999@s.whatsapp.net", "state": "composing", "at": "2025-01-15T10:30:00.000Z"},
                    ]}),
                )],
                failures(),
            ]
            .concat(),
        },
    ]
}
