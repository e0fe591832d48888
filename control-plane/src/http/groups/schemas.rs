//! The Groups API's bodies, answers and shared error descriptions, as the OpenAPI document
//! shows them.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{AnyOfBuilder, ArrayBuilder, ObjectBuilder, Schema, Type};

use crate::service::groups::{GroupSummary, GroupView};

/// WhatsApp's limits on subjects and descriptions.
pub(super) const MAX_SUBJECT: usize = 100;
pub(super) const MAX_DESCRIPTION: usize = 2048;

/// `participants`: 1 to 1024 phone numbers with country code or people's JIDs (duplicates
/// count once).
fn participants_schema() -> ArrayBuilder {
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(
                    r"^\+?[1-9][0-9]{7,14}$|^[1-9][0-9]{7,14}@s\.whatsapp\.net$|^[0-9]{6,20}@lid$",
                ))
                .description(Some("A phone number with country code, or a person's JID.")),
        )
        .min_items(Some(1))
        .max_items(Some(1024))
        .description(Some(
            "Phone numbers with country code, or people's JIDs (1 to 1024; duplicates count once).",
        ))
        .examples([serde_json::json!(["5511987654321", "5511976543210"])])
}

/// A non-blank subject of at most 100 characters.
fn subject_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_SUBJECT))
        .pattern(Some(r"\S"))
        .description(Some(
            "The group's name: not blank, at most 100 characters (surrounding spaces are trimmed).",
        ))
        .examples(["My New Group"])
}

/// `POST /instances/{id}/groups`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = CreateGroupBody)]
pub struct CreateBody {
    #[schema(schema_with = subject_schema, required = true)]
    pub(super) subject: Option<Value>,
    #[schema(schema_with = participants_schema, required = true)]
    pub(super) participants: Option<Vec<Value>>,
}

/// `PATCH`/`PUT /instances/{id}/groups/{jid}`: a subject and/or a description.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = UpdateGroupFields)]
pub struct UpdateBody {
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100, pattern = r"\S", example = "New Group Name")]
    pub(super) subject: Option<Value>,
    /// The new description (at most 2048 characters; empty clears it).
    #[schema(value_type = Option<String>, max_length = 2048, example = "Updated description")]
    pub(super) description: Option<Value>,
}

/// The body of a group update: at least one of `subject` and `description`, not null.
pub struct UpdateGroupBody;

impl utoipa::PartialSchema for UpdateGroupBody {
    fn schema() -> RefOr<Schema> {
        let fields = <UpdateBody as utoipa::PartialSchema>::schema();
        let present = |name: &str| {
            ObjectBuilder::new()
                .required(name)
                .property(name, ObjectBuilder::new().schema_type(Type::String))
        };
        let one = AnyOfBuilder::new()
            .item(present("subject"))
            .item(present("description"))
            .description(Some("Send a subject and/or a description."));
        RefOr::T(Schema::AllOf(
            utoipa::openapi::schema::AllOfBuilder::new()
                .item(fields)
                .item(one)
                .build(),
        ))
    }
}

impl utoipa::ToSchema for UpdateGroupBody {}

/// `POST`/`DELETE …/participants` and `…/admins`.
#[derive(Deserialize, utoipa::ToSchema)]
#[schema(as = GroupParticipantsBody)]
pub struct ParticipantsBody {
    #[schema(schema_with = participants_schema, required = true)]
    pub(super) participants: Option<Vec<Value>>,
}

/// `{"groups": […], "total": n}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct GroupList {
    pub groups: Vec<GroupSummary>,
    pub total: usize,
}

/// `{"group": …, "message": "Group created successfully"}`, as the reference shows it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedGroup {
    pub group: GroupView,
    #[schema(example = "Group created successfully")]
    pub message: &'static str,
}

/// A group's invite link.
#[derive(Serialize, utoipa::ToSchema)]
pub struct InviteData {
    #[schema(example = "AbCdEfGhIjKl")]
    pub code: String,
    #[schema(example = "https://chat.whatsapp.com/AbCdEfGhIjKl")]
    pub invite_link: String,
}

/// The new invite link after a revoke.
#[derive(Serialize, utoipa::ToSchema)]
pub struct RevokedInvite {
    #[schema(example = "MnOpQrStUvWx")]
    pub new_code: String,
    #[schema(example = "https://chat.whatsapp.com/MnOpQrStUvWx")]
    pub new_invite_link: String,
}

/// The path of one group's routes (`/instances/{id}/groups/{jid}…`), for the document; the
/// handlers take it as a `(id, jid)` tuple.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub(super) struct GroupPath {
    /// Instance: numeric id or UUID
    #[param(example = "777")]
    id: String,
    /// The group: `120363001234567890@g.us`, or the bare id
    #[param(
        pattern = r"^[0-9]{6,24}(-[0-9]{6,12})?(@g\.us)?$",
        example = "120363001234567890@g.us"
    )]
    jid: String,
}

pub(super) const E400: &str = "Malformed JSON (`INVALID_JSON`, `BAD_REQUEST`), or the engine does not support groups (`BAD_REQUEST`).";
pub(super) const E403: &str = "An instance token used for another instance (`INSTANCE_FORBIDDEN`), or WhatsApp refused the operation, e.g. not an admin (`FORBIDDEN`).";
pub(super) const E404: &str =
    "No such instance in the tenant (`INSTANCE_NOT_FOUND`), or no such group (`NOT_FOUND`).";
pub(super) const E404_PARTICIPANTS: &str = "No such instance (`INSTANCE_NOT_FOUND`), no such group, or none of the participants is a member (`NOT_FOUND`).";
pub(super) const E409: &str =
    "The instance is not connected to WhatsApp (`INSTANCE_NOT_CONNECTED`).";
pub(super) const E422: &str = "`jid` is not a group JID, a field is missing or invalid, or WhatsApp refused the values (`VALIDATION_ERROR`).";
pub(super) const E422_PARTICIPANTS: &str = "`jid` is not a group JID, `participants` is missing or invalid, or no participant could be changed: `details` gives each one's reason (`VALIDATION_ERROR`).";
pub(super) const E503: &str = "The instance's node is not running or unreachable (`NODE_UNAVAILABLE`), WhatsApp is briefly unavailable, or a dependency is (`SERVICE_UNAVAILABLE`); retry.";
pub(super) const E504: &str = "The instance's node did not answer in time (`GATEWAY_TIMEOUT`).";
