//! One example body per event. Where the reference shows one (`message.received`,
//! `message.sent`, `message.status`, `instance.connected`, the `qr` fields) it is the
//! reference's, completed with the fields we send beyond it; the others are written in the
//! same voice. A test validates each against its schema.

use serde_json::{Value, json};

use crate::webhooks::events::Kind;

const INSTANCE: &str = "550e8400-e29b-41d4-a716-446655440000";

/// `(envelope timestamp, data)` of an occurrence of `kind` delivered as `event`.
fn data(event: &str, kind: Kind) -> (&'static str, Value) {
    match kind {
        Kind::MessageReceived => (
            "2025-01-15T10:30:00+00:00",
            json!({
                "message_id": "055f01b2-da7b-476b-9a5d-dcecb3fe510c",
                "whatsapp_message_id": "3EB0ABC123456789",
                "sender_number": "5511999999999",
                "sender_name": "John Doe",
                "content": "Hello, I need help!",
                "media_type": null,
                "media_url": null,
                "timestamp": "2025-01-15T10:30:00+00:00",
                "conversation_id": 123,
                "message_type": "text",
                "chat_jid": "5511999999999@s.whatsapp.net",
                "is_group": false,
                "quoted_message_id": null,
            }),
        ),
        Kind::MessageSent => (
            "2025-01-15T10:31:00+00:00",
            json!({
                "message_id": "f4a2e8c9-7b3d-4e5f-8a1c-2d9e6f0a3b7c",
                "whatsapp_message_id": "3EB0ABC123456789",
                "recipient_number": "5511888888888",
                "content": "Thanks for contacting us!",
                "media_type": null,
                "media_url": null,
                "timestamp": "2025-01-15T10:31:00+00:00",
                "conversation_id": 123,
                "message_type": "text",
                "chat_jid": "5511888888888@s.whatsapp.net",
                "is_group": false,
                "quoted_message_id": null,
            }),
        ),
        Kind::MessageStatus => (
            "2025-01-15T10:32:00+00:00",
            json!({
                "message_id": "f4a2e8c9-7b3d-4e5f-8a1c-2d9e6f0a3b7c",
                "whatsapp_message_id": "3EB0ABC123456789",
                "previous_status": "sent",
                "new_status": "delivered",
                "recipient_number": "5511888888888",
                "timestamp": "2025-01-15T10:32:00+00:00",
                "conversation_id": 123,
            }),
        ),
        Kind::MessageReaction => (
            "2025-01-15T10:33:00+00:00",
            json!({
                "message_id": "f4a2e8c9-7b3d-4e5f-8a1c-2d9e6f0a3b7c",
                "whatsapp_message_id": "3EB0ABC123456789",
                "reaction": "👍",
                "removed": false,
                "sender_number": "5511888888888",
                "from_me": false,
                "chat_jid": "5511888888888@s.whatsapp.net",
                "conversation_id": 123,
                "timestamp": "2025-01-15T10:33:00+00:00",
            }),
        ),
        Kind::MessageDeleted => (
            "2025-01-15T10:34:00+00:00",
            json!({
                "message_id": "055f01b2-da7b-476b-9a5d-dcecb3fe510c",
                "whatsapp_message_id": "3EB0ABC123456789",
                "conversation_id": 123,
                "from_me": false,
                "timestamp": "2025-01-15T10:34:00+00:00",
            }),
        ),
        Kind::MessageEdited => (
            "2025-01-15T10:34:00+00:00",
            json!({
                "message_id": "055f01b2-da7b-476b-9a5d-dcecb3fe510c",
                "whatsapp_message_id": "3EB0ABC123456789",
                "conversation_id": 123,
                "from_me": false,
                "timestamp": "2025-01-15T10:34:00+00:00",
                "content": "Hello, I need help with my order!",
            }),
        ),
        Kind::Connection => {
            let (previous, new, reason) = match event {
                "instance.disconnected" => ("connected", "disconnected", json!("logged_out")),
                "connection.update" => ("pending", "qr_ready", Value::Null),
                _ => ("qr_ready", "connected", Value::Null),
            };
            (
                "2025-01-15T10:00:00+00:00",
                json!({
                    "previous_status": previous,
                    "new_status": new,
                    "phone_number": if new == "qr_ready" { Value::Null } else { json!("5511999999999") },
                    "reason": reason,
                }),
            )
        }
        Kind::Qr => (
            "2025-01-15T10:30:00+00:00",
            json!({
                "qr": "2@ABC123...",
                "qr_image": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg...",
                "generated_at": "2025-01-15T10:30:00+00:00",
                "expires_at": "2025-01-15T10:31:00+00:00",
            }),
        ),
        Kind::ContactUpdate => (
            "2025-01-15T10:35:00+00:00",
            json!({
                "contact_id": "8d3c0f5e-2b1a-4c7d-9e6f-0a1b2c3d4e5f",
                "jid": "5511999999999@s.whatsapp.net",
                "phone_number": "5511999999999",
                "name": null,
                "push_name": "John Doe",
                "profile_picture_url": null,
                "timestamp": "2025-01-15T10:35:00+00:00",
            }),
        ),
        Kind::GroupUpdate => (
            "2025-01-15T10:36:00+00:00",
            json!({
                "group_jid": "120363000000000000@g.us",
                "subject": "Support team",
                "action": "add",
                "participants": ["5511777777777@s.whatsapp.net"],
                "participant_numbers": ["5511777777777"],
                "conversation_id": 124,
                "timestamp": "2025-01-15T10:36:00+00:00",
            }),
        ),
        Kind::Appointment => {
            let (action, previous, status, sent) = match event {
                "appointment.created" => ("created", Value::Null, "scheduled", Value::Null),
                "appointment.reminder_sent" => (
                    "reminder_sent",
                    Value::Null,
                    "confirmed",
                    json!("2026-05-01T09:30:00+00:00"),
                ),
                _ => ("confirmed", json!("scheduled"), "confirmed", Value::Null),
            };
            let mut data = json!({
                "action": action,
                "previous_status": previous,
                "appointment": {
                    "uuid": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
                    "instance_id": INSTANCE,
                    "title": "Consultation with John Doe",
                    "description": null,
                    "client_name": "John Doe",
                    "client_phone": "5511999999999",
                    "client_email": "john@example.com",
                    "starts_at": "2026-05-01T10:00:00+00:00",
                    "ends_at": "2026-05-01T11:00:00+00:00",
                    "duration_minutes": 60,
                    "status": status,
                    "color": "#3b82f6",
                    "reminder_minutes": 30,
                    "location": "Online - Google Meet",
                    "notes": null,
                    "reminder_sent_at": sent,
                    "confirmed_at": if status == "confirmed" { json!("2026-04-30T18:00:00+00:00") } else { Value::Null },
                    "completed_at": null,
                    "cancelled_at": null,
                    "created_at": "2026-01-01T00:00:00+00:00",
                    "updated_at": "2026-04-30T18:00:00+00:00",
                },
            });
            if action == "reminder_sent" {
                data["reminder"] = json!({
                    "whatsapp_message_id": "3EB0ABC123456789",
                    "recipient_number": "5511999999999",
                    "content": "Hi, John Doe! Reminder: Consultation with John Doe on 01/05/2026 at 10:00. Location: Online - Google Meet.",
                });
            }
            let at = match action {
                "created" => "2026-01-01T00:00:00+00:00",
                "reminder_sent" => "2026-05-01T09:30:00+00:00",
                _ => "2026-04-30T18:00:00+00:00",
            };
            (at, data)
        }
        Kind::Lead => {
            let action = event.strip_prefix("lead.").unwrap_or("created");
            let column = json!({"uuid": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "name": "New Lead", "color": "#3B82F6"});
            let (status, closed_at) = match action {
                "won" => ("won", json!("2025-01-15T10:40:00Z")),
                "lost" => ("lost", json!("2025-01-15T10:40:00Z")),
                _ => ("open", Value::Null),
            };
            (
                "2025-01-15T10:40:00+00:00",
                json!({
                    "action": action,
                    "lead": {
                        "uuid": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
                        "board_uuid": "6fa459ea-ee8a-4ca4-894e-db77e160355e",
                        "title": "John Doe - Pro Plan",
                        "phone_number": "5511999999999",
                        "email": "john@example.com",
                        "value": "299.00",
                        "value_formatted": "R$ 299,00",
                        "currency": "BRL",
                        "priority": "high",
                        "priority_label": "High",
                        "source": "api",
                        "status": status,
                        "ai_score": null,
                        "is_open": status == "open",
                        "is_won": status == "won",
                        "is_lost": status == "lost",
                        "position": 0,
                        "column": column,
                        "contact": null,
                        "conversation": null,
                        "lost_reason": if status == "lost" { json!("Chose a competitor") } else { Value::Null },
                        "closed_at": closed_at,
                        "created_at": "2025-01-15T10:30:00Z",
                        "updated_at": "2025-01-15T10:40:00Z",
                    },
                    "changes": if action == "updated" {
                        json!([{"field": "value", "old_value": "299.00", "new_value": "349.00"}])
                    } else {
                        json!([])
                    },
                    "from_column": if action == "moved" { json!({"uuid": "0e8f5c1a-3b2d-4e6f-8a9b-1c2d3e4f5a6b", "name": "Contacted", "color": "#8B5CF6"}) } else { Value::Null },
                    "to_column": if action == "moved" { column } else { Value::Null },
                    "timestamp": "2025-01-15T10:40:00+00:00",
                }),
            )
        }
    }
}

/// The whole body of an example delivery of `event`.
pub fn envelope(event: &str, kind: Kind) -> Value {
    let (timestamp, data) = data(event, kind);
    json!({
        "event": event,
        "instance_uuid": INSTANCE,
        "timestamp": timestamp,
        "data": data,
    })
}
