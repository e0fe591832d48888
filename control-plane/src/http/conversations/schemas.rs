//! The response data the conversation routes build themselves (the services' views are
//! described where they are defined), and schema pieces the inbox's bodies share. Component
//! names carry a prefix: they live in one namespace with every other route's schemas.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use uuid::Uuid;

use crate::service::inbox::{AutomationStatus, TagRef};

/// Descriptions several operations share in their `#[utoipa::path]`.
pub(super) const CONVERSATION_ID: &str = "The conversation's UUID";
pub(super) const CONVERSATION_404: &str = "No such conversation for this token (`NOT_FOUND`)";
pub(super) const INSTANCE_403: &str =
    "`instance_id` names another instance than the `sk_` token's (`INSTANCE_FORBIDDEN`)";
pub(super) const INSTANCE_404: &str =
    "`instance_id` names no instance of the tenant (`INSTANCE_NOT_FOUND`)";

/// What `str::trim` removes (Unicode `White_Space`), as a regex class body: the patterns of
/// the document say "blank" and "not blank" with it rather than with `\s`, which differs
/// (it lacks U+0085 and has U+FEFF). Attribute patterns must be literals: they spell it out.
pub(in crate::http) const WHITE_SPACE: &str =
    r"\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// A string with something else than white space.
const NOT_BLANK: &str =
    r"[^\t\n\x0B\f\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]";

/// `POST /conversations/{id}/archive`.
#[derive(Serialize, ToSchema)]
pub struct ConversationArchived {
    pub archived_id: Uuid,
    /// When it was archived (archiving an archived conversation keeps the first time).
    #[schema(format = DateTime, example = "2025-12-29T12:00:00.000000Z")]
    pub archived_at: String,
}

/// `DELETE /conversations/{id}/archive`.
#[derive(Serialize, ToSchema)]
pub struct ConversationRestored {
    pub conversation_id: Uuid,
    /// Always `true`.
    pub restored: bool,
}

/// `DELETE /conversations/{id}`.
#[derive(Serialize, ToSchema)]
pub struct ConversationDeleted {
    /// The id as the request gave it.
    pub conversation_id: String,
    /// Always `true`.
    pub deleted: bool,
}

/// `PUT /conversations/{id}/tags`: the conversation's tags now, by name.
#[derive(Serialize, ToSchema)]
pub struct ConversationTagList {
    pub tags: Vec<TagRef>,
}

/// `POST /conversations/automation/bulk-pause`.
#[derive(Serialize, ToSchema)]
pub struct BulkPauseResult {
    /// Conversations paused now.
    pub paused: usize,
    /// Already paused, or their instance has no active automation.
    pub skipped: usize,
    /// Unknown ids, or conversations of another tenant or instance.
    pub errors: usize,
}

/// `POST /conversations/automation/bulk-resume`.
#[derive(Serialize, ToSchema)]
pub struct BulkResumeResult {
    /// Conversations resumed now (and unarchived).
    pub resumed: usize,
    /// Not paused, or their instance has no active automation.
    pub skipped: usize,
    /// Unknown ids, conversations of another tenant or instance, or paused conversations that
    /// are not archived (resuming requires archiving first).
    pub errors: usize,
}

/// `POST /chat/conversations/{id}/pause-automation`.
#[derive(Serialize, ToSchema)]
pub struct ChatAutomationPaused {
    pub conversation_id: Uuid,
    /// Always `true`.
    pub automation_paused: bool,
    #[schema(value_type = AutomationStatus)]
    pub automation_status: &'static str,
    #[schema(format = DateTime)]
    pub paused_at: Option<String>,
    /// The user's name, or `API token <name>` for an `sk_` token.
    pub paused_by: Option<String>,
    pub reason: Option<String>,
}

/// `POST /chat/conversations/{id}/resume-automation`.
#[derive(Serialize, ToSchema)]
pub struct ChatAutomationResumed {
    pub conversation_id: Uuid,
    /// Always `false`.
    pub automation_paused: bool,
    #[schema(value_type = AutomationStatus)]
    pub automation_status: &'static str,
    #[schema(format = DateTime)]
    pub resumed_at: String,
}

/// An `instance_id` in a body: the instance's numeric id or its UUID (a string), as
/// `messages::instance_ref` reads it. Not listed as required: an `sk_` token implies it, and one
/// schema cannot depend on the token kind.
pub(in crate::http) fn instance_ref_schema() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .pattern(Some(NOT_BLANK))
                .description(Some("The instance's UUID (or its numeric id as a string).")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                // Ids are positive (anything else is 404); the bound keeps an integral float
                // such as `139.0` exact even where serde_json parses floats without
                // `float_roundtrip` (release builds).
                .minimum(Some(1))
                .maximum(Some(i64::from(i32::MAX)))
                .description(Some("The instance's numeric id.")),
        )
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Null)
                .description(Some("The same as leaving it out.")),
        )
        .description(Some(
            "The instance: its numeric id or UUID. Required with a user token (without it the \
             answer is 422); with an instance token (`sk_`) it may be left out or null: the \
             token's own instance.",
        ))
        .examples(["550e8400-e29b-41d4-a716-446655440000"])
        .into()
}

/// An `instance_id` from a body, an integral float (`139.0`, which JSON Schema counts as an
/// integer) read as that integer, for `messages::instance_ref`.
pub(in crate::http) fn instance_value(v: Option<Value>) -> Option<Value> {
    match v {
        Some(Value::Number(n)) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 => {
                Some(Value::from(f as i64))
            }
            _ => Some(Value::Number(n)),
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn white_space_is_what_trim_removes() {
        let listed = [
            '\t', '\n', '\u{b}', '\u{c}', '\r', ' ', '\u{85}', '\u{a0}', '\u{1680}', '\u{2028}',
            '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}',
        ];
        let in_class = |c: char| listed.contains(&c) || ('\u{2000}'..='\u{200a}').contains(&c);
        for c in (0..=0x10_FFFF).filter_map(char::from_u32) {
            assert_eq!(c.is_whitespace(), in_class(c), "{c:?}");
        }
        assert_eq!(NOT_BLANK, format!("[^{WHITE_SPACE}]"));
    }

    #[test]
    fn integral_floats_are_integers() {
        assert_eq!(instance_value(Some(json!(139.0))), Some(json!(139)));
        assert_eq!(instance_value(Some(json!(-8.0))), Some(json!(-8)));
        assert_eq!(instance_value(Some(json!(1.5))), Some(json!(1.5)));
        assert_eq!(instance_value(Some(json!(1e300))), Some(json!(1e300)));
        assert_eq!(instance_value(Some(json!("7"))), Some(json!("7")));
        assert_eq!(instance_value(None), None);
    }
}
