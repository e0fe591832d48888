//! Examples for the OpenAPI document of the conversation routes: the reference's, completed
//! with the fields this server adds so that each example is a real answer's shape.

use serde_json::{Value, json};

const CONVERSATION: &str = "550e8400-e29b-41d4-a716-446655440045";
const INSTANCE: &str = "21ed5c9b-51a0-4569-85db-05433ea414b7";

fn pagination(total: u64, per_page: u64, last_page: u64) -> Value {
    json!({"pagination": {"total": total, "per_page": per_page, "current_page": 1, "last_page": last_page}})
}

fn conversation() -> Value {
    json!({
        "id": CONVERSATION,
        "instance_id": INSTANCE,
        "chat_jid": "5511999999999@s.whatsapp.net",
        "contact_number": "5511999999999",
        "contact_name": "John Doe",
        "display_name": "John Doe",
        "is_group": false,
        "profile_picture_url": "https://...",
        "last_message": "Ok, deal!",
        "last_message_at": "2025-01-15T10:30:00Z",
        "unread_count": 2,
        "is_archived": false,
        "archived_at": null,
        "automation_status": "active",
        "is_automation_active": true,
        "can_send_manual_message": false,
        "automation_paused_at": null,
        "created_at": "2025-01-10T08:00:00Z"
    })
}

pub fn conversation_list() -> Value {
    json!({"success": true, "data": [conversation()], "meta": pagination(100, 20, 5)})
}

pub fn chat_list() -> Value {
    let mut c = conversation();
    c["contact_number"] = json!("5521999999999");
    c["chat_jid"] = json!("5521999999999@s.whatsapp.net");
    c["last_message"] = json!("Hello!");
    c["last_message_at"] = json!("2025-12-16T10:00:00Z");
    c["unread_count"] = json!(3);
    c["tags"] =
        json!([{"id": "bf287f4d-037c-4280-8413-c7b7d08df5a0", "name": "VIP", "color": "#f59e0b"}]);
    c["instance"] =
        json!({"uuid": INSTANCE, "phone_number": "5511988887777", "status": "connected"});
    json!({"success": true, "data": [c], "meta": pagination(50, 15, 4)})
}

pub fn chat_messages() -> Value {
    json!({
        "success": true,
        "data": {
            "messages": [{
                "id": 456,
                "uuid": "7d3f9a52-0c1e-4b8e-9a51-3f2d1c0b9e87",
                "unique_id": "msg-abc-123",
                "message_id": "msg-abc-123",
                "conversation_id": CONVERSATION,
                "direction": "incoming",
                "is_from_me": false,
                "message_type": "text",
                "message_body": "Ola @5521999999999!",
                "media": null,
                "quoted_message_id": null,
                "mentioned_jids": ["5521999999999@s.whatsapp.net"],
                "sender_jid": "5521977776666@s.whatsapp.net",
                "sender_name": "Maria",
                "status": "read",
                "status_code": 4,
                "is_edited": false,
                "is_deleted": false,
                "timestamp": "2025-12-16T10:00:00.000Z",
                "created_at": "2025-12-16T10:00:00Z",
                "formatted_body": "Ola <span class=\"mention\" data-phone=\"5521999999999\">@John Doe</span>!",
                "grouped_reactions": [{
                    "emoji": "👍",
                    "count": 2,
                    "has_my_reaction": true,
                    "reactors": ["5521988887777", "5521966665555"],
                    "reactor_names": ["Carlos", "Ana"]
                }],
                "audio_transcription": null,
                "transcription_status": null,
                "transcription_language": null,
                "transcription_error": null,
                "transcription_completed_at": null
            }],
            "has_more": true,
            "oldest_id": 400,
            "newest_id": 456
        }
    })
}

pub fn marked_read() -> Value {
    json!({
        "success": true,
        "message": "Conversation marked as read.",
        "data": {"conversation_id": CONVERSATION, "unread_count": 0, "marked_messages": 2, "read_receipt_sent": true}
    })
}

pub fn archived() -> Value {
    json!({
        "success": true,
        "message": "Conversation archived.",
        "data": {"archived_id": CONVERSATION, "archived_at": "2025-12-29T12:00:00.000000Z"}
    })
}

pub fn restored() -> Value {
    json!({
        "success": true,
        "message": "Conversation restored.",
        "data": {"conversation_id": CONVERSATION, "restored": true}
    })
}

pub fn set_tags_body() -> Value {
    json!({"tag_ids": ["550e8400-e29b-41d4-a716-446655440001", "550e8400-e29b-41d4-a716-446655440002"]})
}

pub fn set_tags() -> Value {
    json!({
        "success": true,
        "message": "Conversation tags updated",
        "data": {"tags": [
            {"id": "550e8400-e29b-41d4-a716-446655440003", "name": "Important", "color": "#ef4444"},
            {"id": "550e8400-e29b-41d4-a716-446655440002", "name": "Support", "color": "#3b82f6"},
            {"id": "550e8400-e29b-41d4-a716-446655440001", "name": "VIP", "color": "#f59e0b"}
        ]}
    })
}

fn automation_state(status: &str, paused: bool) -> Value {
    let (at, by, reason) = if paused {
        (
            json!("2025-12-20T14:30:00Z"),
            json!("John Doe"),
            json!("Manual takeover for VIP client"),
        )
    } else {
        (Value::Null, Value::Null, Value::Null)
    };
    json!({
        "conversation_id": CONVERSATION,
        "automation_status": status,
        "is_automation_active": status == "active",
        "can_send_manual_message": status != "active",
        "automation_paused": paused,
        "paused_at": at,
        "paused_by": by,
        "pause_reason": reason
    })
}

pub fn automation() -> Value {
    json!({"success": true, "data": automation_state("active", false)})
}

pub fn pause_body() -> Value {
    json!({"reason": "Manual takeover for VIP client"})
}

pub fn chat_pause_body() -> Value {
    json!({"reason": "Manual takeover"})
}

pub fn paused() -> Value {
    json!({
        "success": true,
        "message": "Automation paused. You can now send messages manually.",
        "data": automation_state("paused", true)
    })
}

pub fn resumed() -> Value {
    json!({
        "success": true,
        "message": "Automation resumed. AI will handle this conversation.",
        "data": automation_state("active", false)
    })
}

pub fn resume_conflict() -> Value {
    json!({
        "success": false,
        "error": {
            "code": "CONFLICT",
            "message": "Archive the conversation before resuming automation: this closes the manual session. Resuming unarchives it.",
            "details": {"conversation_id": CONVERSATION, "is_archived": false}
        }
    })
}

pub fn bulk_body() -> Value {
    json!({"conversation_ids": [
        "550e8400-e29b-41d4-a716-446655440001",
        "550e8400-e29b-41d4-a716-446655440002",
        "550e8400-e29b-41d4-a716-446655440003"
    ]})
}

pub fn bulk_paused() -> Value {
    json!({
        "success": true,
        "message": "3 conversations paused",
        "data": {"paused": 3, "skipped": 0, "errors": 0}
    })
}
