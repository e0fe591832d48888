//! The Groups API through the instance's node: list, create, metadata, subject and
//! description, participants and admins, leave, invite links. Group JIDs and participants are
//! parsed here (a 422 names the field); what WhatsApp refuses comes back as a 403 (not an
//! admin), a 404 (no such group, or no such participant) or a 422 with each participant's
//! reason. Group changes reach conversations and webhooks through the node's events.

use serde::Serialize;
use serde_json::{Value, json};
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::jid::Jid;

use super::Services;
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::grpc::client::{NodeClient, NodeGroup, NodeParticipantResult};

/// `participants[i]` as the reference shows it: `{"jid", "admin": "superadmin"|"admin"|null}`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParticipantView {
    #[schema(example = "5511987654321@s.whatsapp.net")]
    pub jid: String,
    /// `superadmin`, `admin`, or `null` for a plain member.
    #[schema(value_type = Option<String>, pattern = "^(superadmin|admin)$", example = "superadmin")]
    pub admin: Option<&'static str>,
}

/// A group as listed.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupSummary {
    #[schema(example = "120363001234567890@g.us")]
    pub jid: String,
    #[schema(example = "Marketing Team")]
    pub subject: String,
    #[schema(example = "5511987654321@s.whatsapp.net")]
    pub owner: Option<String>,
    /// The number of participants.
    #[schema(example = 25)]
    pub size: usize,
    #[schema(example = "Team discussions")]
    pub description: Option<String>,
}

/// A group's metadata.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupView {
    #[schema(example = "120363001234567890@g.us")]
    pub jid: String,
    #[schema(example = "Marketing Team")]
    pub subject: String,
    #[schema(example = "Team discussions")]
    pub description: Option<String>,
    #[schema(example = "5511987654321@s.whatsapp.net")]
    pub owner: Option<String>,
    pub participants: Vec<ParticipantView>,
    /// The number of participants.
    #[schema(example = 25)]
    pub size: usize,
    #[schema(format = DateTime)]
    pub created_at: Option<String>,
}

/// One participant's outcome of a membership or role change.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParticipantResult {
    #[schema(example = "5511987654321@s.whatsapp.net")]
    pub jid: String,
    pub success: bool,
    /// Why WhatsApp refused this participant.
    pub error: Option<String>,
}

/// `{"participants": […]}`: each participant's outcome (some may have failed).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ParticipantsOutcome {
    pub participants: Vec<ParticipantResult>,
}

/// A membership or role change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantChange {
    Add,
    Remove,
    Promote,
    Demote,
}

impl ParticipantChange {
    fn action(self) -> &'static str {
        match self {
            ParticipantChange::Add => "add",
            ParticipantChange::Remove => "remove",
            ParticipantChange::Promote => "promote",
            ParticipantChange::Demote => "demote",
        }
    }

    pub fn done_message(self) -> &'static str {
        match self {
            ParticipantChange::Add => "Participants added",
            ParticipantChange::Remove => "Participants removed",
            ParticipantChange::Promote => "Participants promoted to admin",
            ParticipantChange::Demote => "Participants demoted",
        }
    }
}

/// Parses a group JID from the path: `120363…@g.us`, or the bare id.
pub fn parse_group_jid(raw: &str) -> AppResult<Jid> {
    let raw = raw.trim();
    let jid = if raw.contains('@') {
        Jid::parse(raw)
    } else {
        Jid::group(raw)
    };
    match jid {
        Ok(j) if j.is_group() => Ok(j),
        Ok(_) => Err(AppError::validation(
            "jid",
            format!("The jid `{raw}` is not a group JID (like 120363001234567890@g.us)."),
        )),
        Err(e) => Err(AppError::Client(e.into_error_body("jid"))),
    }
}

/// Parses `participants`: phone numbers or user JIDs, at least one, at most 1024.
pub fn parse_participants(raw: Option<Vec<Value>>) -> AppResult<Vec<Jid>> {
    let raw = raw.ok_or_else(|| {
        AppError::validation("participants", "The participants field is required.")
    })?;
    if raw.is_empty() || raw.len() > 1024 {
        return Err(AppError::validation(
            "participants",
            "The participants field must list between 1 and 1024 phone numbers.",
        ));
    }
    let mut out: Vec<Jid> = Vec::with_capacity(raw.len());
    for (i, v) in raw.iter().enumerate() {
        let field = format!("participants.{i}");
        let Some(s) = v.as_str() else {
            return Err(AppError::validation(
                &field,
                format!("The {field} field must be a phone number or a JID."),
            ));
        };
        let jid =
            Jid::parse_recipient(s).map_err(|e| AppError::Client(e.into_error_body(&field)))?;
        if !jid.is_user() && !jid.is_lid() {
            return Err(AppError::validation(
                &field,
                format!("The {field} field must be a person's number, not {jid}."),
            ));
        }
        let jid = jid.without_device();
        if !out.contains(&jid) {
            out.push(jid);
        }
    }
    Ok(out)
}

fn admin_role(is_admin: bool, is_super: bool) -> Option<&'static str> {
    match (is_admin, is_super) {
        (_, true) => Some("superadmin"),
        (true, false) => Some("admin"),
        (false, false) => None,
    }
}

fn view(g: NodeGroup) -> GroupView {
    GroupView {
        size: g.participants.len(),
        participants: g
            .participants
            .into_iter()
            .map(|(jid, a, s)| ParticipantView {
                jid,
                admin: admin_role(a, s),
            })
            .collect(),
        jid: g.jid,
        subject: g.subject,
        description: g.description,
        owner: g.owner,
        created_at: (g.created_at_ms > 0)
            .then(|| chrono::DateTime::from_timestamp_millis(g.created_at_ms))
            .flatten()
            .map(zapini_shared::time::format_secs),
    }
}

/// Each participant's outcome; every one failing is an error: 404 when none was a member
/// (for remove/promote/demote), else 422 with each reason.
fn participant_outcome(
    change: ParticipantChange,
    results: Vec<NodeParticipantResult>,
) -> AppResult<ParticipantsOutcome> {
    let list: Vec<ParticipantResult> = results
        .iter()
        .map(|r| ParticipantResult {
            jid: r.jid.clone(),
            success: r.ok,
            error: r.error.clone(),
        })
        .collect();
    if !results.is_empty() && results.iter().all(|r| !r.ok) {
        let details: serde_json::Map<String, Value> = results
            .iter()
            .enumerate()
            .map(|(i, r)| {
                (
                    format!("participants.{i}"),
                    json!([format!(
                        "{}: {}",
                        r.jid,
                        r.error.as_deref().unwrap_or("refused")
                    )]),
                )
            })
            .collect();
        let none_member = change != ParticipantChange::Add
            && results
                .iter()
                .all(|r| r.error.as_deref() == Some("not a participant"));
        let body = if none_member {
            ErrorBody::new(
                ErrorCode::NotFound,
                "Participant not found: none of the participants is a member of the group.",
            )
        } else {
            ErrorBody::new(
                ErrorCode::ValidationError,
                format!(
                    "No participant could be {}ed.",
                    change.action().trim_end_matches('e')
                ),
            )
        };
        return Err(AppError::Client(body.with_details(Value::Object(details))));
    }
    Ok(ParticipantsOutcome { participants: list })
}

impl Services {
    async fn group_node(&self, caller: &Caller, instance: &str) -> AppResult<NodeClient> {
        let inst = self.find_instance(caller, instance).await?;
        self.require_node(&inst).await
    }

    pub async fn list_groups(
        &self,
        caller: &Caller,
        instance: &str,
    ) -> AppResult<Vec<GroupSummary>> {
        let node = self.group_node(caller, instance).await?;
        Ok(node
            .list_groups()
            .await?
            .into_iter()
            .map(|g| GroupSummary {
                size: g.participants.len(),
                jid: g.jid,
                subject: g.subject,
                owner: g.owner,
                description: g.description,
            })
            .collect())
    }

    pub async fn create_group(
        &self,
        caller: &Caller,
        instance: &str,
        subject: &str,
        participants: Vec<Jid>,
    ) -> AppResult<GroupView> {
        let node = self.group_node(caller, instance).await?;
        let participants = participants.iter().map(Jid::to_string).collect();
        Ok(view(node.create_group(subject, participants).await?))
    }

    pub async fn group_metadata(
        &self,
        caller: &Caller,
        instance: &str,
        group: &Jid,
    ) -> AppResult<GroupView> {
        let node = self.group_node(caller, instance).await?;
        Ok(view(node.get_group(&group.to_string()).await?))
    }

    pub async fn update_group(
        &self,
        caller: &Caller,
        instance: &str,
        group: &Jid,
        subject: Option<String>,
        description: Option<String>,
    ) -> AppResult<GroupView> {
        let node = self.group_node(caller, instance).await?;
        Ok(view(
            node.update_group(&group.to_string(), subject, description)
                .await?,
        ))
    }

    pub async fn change_participants(
        &self,
        caller: &Caller,
        instance: &str,
        group: &Jid,
        change: ParticipantChange,
        participants: Vec<Jid>,
    ) -> AppResult<ParticipantsOutcome> {
        let node = self.group_node(caller, instance).await?;
        let results = node
            .update_participants(
                &group.to_string(),
                change.action(),
                participants.iter().map(Jid::to_string).collect(),
            )
            .await?;
        participant_outcome(change, results)
    }

    pub async fn leave_group(&self, caller: &Caller, instance: &str, group: &Jid) -> AppResult<()> {
        let node = self.group_node(caller, instance).await?;
        node.leave_group(&group.to_string()).await
    }

    /// (code, link); `revoke` resets the link first.
    pub async fn group_invite(
        &self,
        caller: &Caller,
        instance: &str,
        group: &Jid,
        revoke: bool,
    ) -> AppResult<(String, String)> {
        let node = self.group_node(caller, instance).await?;
        node.invite_link(&group.to_string(), revoke).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_jids() {
        assert!(parse_group_jid("120363001234567890@g.us").is_ok());
        assert_eq!(
            parse_group_jid("120363001234567890").unwrap().to_string(),
            "120363001234567890@g.us"
        );
        assert!(parse_group_jid("5511999999999@s.whatsapp.net").is_err());
        assert!(parse_group_jid("abc@g.us").is_err());
    }

    #[test]
    fn participants_are_people() {
        let p =
            parse_participants(Some(vec![json!("5511987654321"), json!("5511987654321")])).unwrap();
        assert_eq!(p.len(), 1);
        assert!(parse_participants(Some(vec![json!("120363001234567890@g.us")])).is_err());
        assert!(parse_participants(Some(vec![])).is_err());
        assert!(parse_participants(None).is_err());
        assert!(parse_participants(Some(vec![json!(5)])).is_err());
    }
}
