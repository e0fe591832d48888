//! What every operation shares, added once instead of on each handler: the error responses
//! the middleware and extractors give (401, 413, 415, 422, 429, 500, 503), unique operation
//! ids for the `/api/v1` copies, the security schemes and the tag list.

use serde_json::{Map, Value, json};
use utoipa::PartialSchema;
use zapini_shared::envelope::{MessageOnly, Meta, Pagination};
use zapini_shared::error::{ErrorBody, ErrorCode, ErrorEnvelope};

const METHODS: &[&str] = &["get", "put", "post", "delete", "patch", "head", "options"];

/// Adds the shared responses to every operation (keeping any the handler declared itself)
/// and makes operation ids unique across the two URL forms.
pub fn finish_operations(doc: &mut Value) {
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    // One handler can serve two methods (`PUT` and `PATCH`): the second gets its method
    // appended, so that every operation id stays unique.
    let mut seen = std::collections::HashSet::new();
    for (path, item) in paths.iter_mut() {
        let v1 = path.starts_with("/api/v1/");
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for method in METHODS {
            let Some(op) = item.get_mut(*method).and_then(Value::as_object_mut) else {
                continue;
            };
            if let Some(Value::String(id)) = op.get_mut("operationId") {
                if v1 {
                    id.push_str("_v1");
                }
                if !seen.insert(id.clone()) {
                    id.push('_');
                    id.push_str(method);
                }
            }
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_none_or(|reqs| {
                    reqs.iter()
                        .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
                });
            let has_body = op.contains_key("requestBody");
            let has_query = op
                .get("parameters")
                .and_then(Value::as_array)
                .is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("responses is an object");
            let mut shared: Vec<(&str, &str)> = vec![("500", "InternalError")];
            if secured {
                shared.extend([
                    ("401", "Unauthenticated"),
                    ("429", "RateLimited"),
                    ("503", "Unavailable"),
                ]);
            }
            if has_body {
                shared.extend([
                    ("400", "BadRequest"),
                    ("413", "PayloadTooLarge"),
                    ("415", "UnsupportedMediaType"),
                    ("422", "ValidationFailed"),
                ]);
            }
            if has_query {
                shared.push(("422", "ValidationFailed"));
            }
            for (status, name) in shared {
                responses
                    .entry(status)
                    .or_insert_with(|| json!({"$ref": format!("#/components/responses/{name}")}));
            }
        }
    }
}

/// An error response whose description lists the codes it can carry.
pub fn error_response(summary: &str, codes: &[ErrorCode]) -> Value {
    let listed: Vec<String> = codes.iter().map(|c| format!("`{}`", c.as_str())).collect();
    let example = codes.first().map(|c| {
        json!({"success": false, "error": {"code": c.as_str(), "message": c.default_message(), "details": {}}})
    });
    let mut media = json!({"schema": {"$ref": "#/components/schemas/ErrorEnvelope"}});
    if let Some(example) = example {
        media["example"] = example;
    }
    json!({
        "description": format!("{summary} ({})", listed.join(", ")),
        "content": {"application/json": media},
    })
}

/// Schemas, shared responses and security schemes.
pub fn add_components(doc: &mut Value) {
    let components = doc
        .as_object_mut()
        .expect("the document is an object")
        .entry("components")
        .or_insert_with(|| json!({}));
    let schemas = object_at(components, "schemas");
    for (name, schema) in [
        ("ErrorEnvelope", ErrorEnvelope::schema()),
        ("ErrorBody", ErrorBody::schema()),
        ("ErrorCode", ErrorCode::schema()),
        ("MessageOnly", MessageOnly::schema()),
        ("Meta", Meta::schema()),
        ("Pagination", Pagination::schema()),
    ] {
        schemas
            .entry(name)
            .or_insert_with(|| serde_json::to_value(schema).unwrap_or_default());
    }

    let mut rate_limited = error_response(
        "Too many requests; retry after the number of seconds in `Retry-After`",
        &[
            ErrorCode::RateLimitExceeded,
            ErrorCode::DailyLimitExceeded,
            ErrorCode::TooManyLoginAttempts,
        ],
    );
    rate_limited["headers"] = json!({"Retry-After": {
        "description": "Seconds to wait before retrying.",
        "schema": {"type": "integer", "minimum": 0},
    }});
    let responses = object_at(components, "responses");
    for (name, response) in [
        (
            "Unauthenticated",
            error_response(
                "Missing, invalid, expired or revoked token",
                &[ErrorCode::Unauthenticated, ErrorCode::TokenExpired],
            ),
        ),
        ("RateLimited", rate_limited),
        (
            "InternalError",
            error_response("Unexpected failure", &[ErrorCode::InternalError]),
        ),
        (
            "Unavailable",
            error_response(
                "A dependency (database, cache) is briefly unavailable; retry",
                &[ErrorCode::ServiceUnavailable],
            ),
        ),
        (
            "BadRequest",
            error_response(
                "The body is not well-formed JSON",
                &[ErrorCode::InvalidJson, ErrorCode::BadRequest],
            ),
        ),
        (
            "PayloadTooLarge",
            error_response(
                "The body is larger than this server accepts",
                &[ErrorCode::PayloadTooLarge],
            ),
        ),
        (
            "UnsupportedMediaType",
            error_response(
                "The body is not sent as `application/json`",
                &[ErrorCode::UnsupportedMediaType],
            ),
        ),
        (
            "ValidationFailed",
            error_response(
                "A field or query parameter is missing or invalid; `details` names each one",
                &[ErrorCode::ValidationError],
            ),
        ),
    ] {
        responses.entry(name).or_insert(response);
    }

    let schemes = object_at(components, "securitySchemes");
    schemes.insert(
        "user_token".into(),
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "{id}|{secret}",
            "description": "A user token from `POST /auth/login`: reaches every instance of the user's tenant.",
        }),
    );
    schemes.insert(
        "instance_token".into(),
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "sk_…",
            "description": "An instance token (`sk_…`, from `POST /instances/{id}/tokens`): reaches only its own instance.",
        }),
    );
    schemes.insert(
        "function_key".into(),
        json!({
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "xfn_…",
            "description": "An External Function's key (from its create or regenerate-key answer), as `Authorization: Bearer {key}` or `X-Api-Key: {key}`: calls that function only.",
        }),
    );
    schemes.insert(
        "node_signature".into(),
        json!({
            "type": "apiKey",
            "in": "header",
            "name": "X-Webhook-Signature",
            "description": "Engine reports: hex HMAC-SHA256 of `{X-Webhook-Timestamp}.{body}` with the instance's engine secret.",
        }),
    );
    schemes.insert(
        "metrics_token".into(),
        json!({
            "type": "http",
            "scheme": "bearer",
            "description": "`ZAPINI_METRICS_TOKEN`: `/metrics` on the API port answers only to it.",
        }),
    );
    schemes.insert(
        "node_secret".into(),
        json!({
            "type": "http",
            "scheme": "bearer",
            "description": "The node secret shared by the control plane and the nodes it launches.",
        }),
    );
}

fn object_at<'a>(parent: &'a mut Value, key: &str) -> &'a mut Map<String, Value> {
    parent
        .as_object_mut()
        .expect("an object")
        .entry(key)
        .or_insert_with(|| json!({}))
        .as_object_mut()
        .expect("an object")
}

/// The tags, in the order the reference presents its sections.
pub fn tags() -> Value {
    let tags: &[(&str, &str)] = &[
        ("Auth", "Log in, the current user, log out, refresh."),
        (
            "Instances",
            "WhatsApp numbers: create, list, update, delete, statistics.",
        ),
        (
            "Connection",
            "QR code, pairing code, status, disconnect, reconnect, logout.",
        ),
        ("Messages", "Send text and media."),
        ("Media", "The media library and the media of messages."),
        (
            "Groups",
            "WhatsApp groups: create, update, participants, admins, invites.",
        ),
        (
            "Conversations",
            "The inbox: conversations, history, read state, archive, tags, automation control.",
        ),
        (
            "Chat",
            "The chat API: conversations, messages, edits, reactions, transcriptions.",
        ),
        (
            "Contacts",
            "The tenant's contacts, with CSV import and export.",
        ),
        ("Tags", "Labels for conversations."),
        (
            "Automation",
            "Flows, integrations and an instance's inbox settings.",
        ),
        (
            "AI Functions",
            "Tools an AI Agent integration calls: configure, test, and their execution log.",
        ),
        (
            "Calendar",
            "Appointments: a range, status transitions, WhatsApp reminders, leads from them.",
        ),
        (
            "External Functions",
            "Endpoints outside systems call with a key of their own to act on WhatsApp: configure, keys, the call, its log.",
        ),
        (
            "Kanban",
            "Sales pipelines: boards, columns, leads, their timeline and AI qualification.",
        ),
        (
            "Webhooks",
            "An instance's webhook, its deliveries and replays.",
        ),
        ("Tokens", "An instance's `sk_` tokens."),
        (
            "Instance API",
            "Served by the instance's node at `instance-{id}.<domain>`.",
        ),
        ("Health", "Liveness and readiness."),
        ("Documentation", "This document and its interactive page."),
        (
            "Internal",
            "Called by the platform's own nodes and engines, not by integrations.",
        ),
    ];
    Value::Array(
        tags.iter()
            .map(|(name, description)| json!({"name": name, "description": description}))
            .collect(),
    )
}
