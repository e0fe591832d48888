//! The Kanban actions of an External Function (`create_lead`, `update_lead`): the lead's
//! fields from the configured templates and the call's body, then the Kanban service's own
//! create or update, acting as the function's instance.

use serde_json::{Map, Value, json};
use uuid::Uuid;
use zapini_shared::phone::PhoneNumber;

use super::{bounded, optional_text, templated, valid_email};
use crate::crm::external::model::{ActionType, Config};
use crate::crm::kanban::{Actor, LeadPatch, NewLead, Priority};
use crate::domain::{InstanceId, TenantId};
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// What `create_lead` and `update_lead` hand to the Kanban service.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadCall {
    /// The function's instance (the default board is this instance's).
    pub instance_id: InstanceId,
    /// `update_lead`: the lead to change.
    pub lead_uuid: Option<Uuid>,
    pub board_uuid: Option<Uuid>,
    pub column_uuid: Option<Uuid>,
    pub title: Option<String>,
    pub phone_number: Option<String>,
    pub email: Option<String>,
    pub value: Option<f64>,
    pub priority: Option<String>,
    pub notes: Option<String>,
    /// Who acts, for the lead's activity: `External function <name>`.
    pub actor: String,
}

impl Services {
    /// `create_lead`: a lead on the function's instance (its default board unless the config
    /// names one of that instance's boards).
    pub(super) async fn external_create_lead(
        &self,
        tenant: TenantId,
        call: LeadCall,
    ) -> AppResult<Value> {
        let title = call.title.clone().unwrap_or_default();
        let mut lead = NewLead::titled(
            title,
            "external_function",
            Actor::external_function(call.actor.clone()),
        );
        lead.instance_id = Some(call.instance_id);
        lead.board_uuid = call.board_uuid;
        lead.column_uuid = call.column_uuid;
        lead.phone_number = call.phone_number.clone();
        lead.email = call.email.clone();
        lead.value = lead_value(call.value)?;
        lead.priority = lead_priority(call.priority.as_deref())?;
        lead.notes = call.notes.clone();
        let view = self.create_lead(tenant, lead).await?;
        serde_json::to_value(view).map_err(|e| AppError::internal(e.to_string()))
    }

    /// `update_lead`: a lead of the function's instance (another instance's is 404); the
    /// config's `notes` are added as a note.
    pub(super) async fn external_update_lead(
        &self,
        tenant: TenantId,
        call: LeadCall,
    ) -> AppResult<Value> {
        let lead_uuid = call
            .lead_uuid
            .ok_or_else(|| AppError::validation("lead_uuid", "The lead_uuid field is required."))?;
        let patch = LeadPatch {
            title: call.title.clone(),
            phone_number: call.phone_number.clone().map(Some),
            email: call.email.clone().map(Some),
            value: lead_value(call.value)?.map(Some),
            priority: lead_priority(call.priority.as_deref())?,
            note: call.notes.clone(),
            actor: Some(Actor::external_function(call.actor.clone())),
            ..LeadPatch::default()
        };
        let view = self
            .update_instance_lead(tenant, call.instance_id, lead_uuid, patch)
            .await?;
        serde_json::to_value(view).map_err(|e| AppError::internal(e.to_string()))
    }
}

/// A call's `value` as exact money (422 naming `value`).
fn lead_value(value: Option<f64>) -> AppResult<Option<rust_decimal::Decimal>> {
    value
        .map(|v| {
            crate::crm::kanban::money::parse_value("value", &json!(v))
                .map(|cents| rust_decimal::Decimal::new(cents, 2))
                .map_err(|m| AppError::validation("value", m))
        })
        .transpose()
}

/// A call's `priority` (422 naming `priority`).
fn lead_priority(priority: Option<&str>) -> AppResult<Option<Priority>> {
    priority
        .map(|p| {
            Priority::parse(p.trim()).ok_or_else(|| {
                AppError::validation("priority", "One of low, medium, high, urgent.")
            })
        })
        .transpose()
}

/// The lead fields of a call: the configured templates (`title`, `notes`) and the body's
/// `phone`, `email`, `value`, `priority` (which wins over the configured one), and for
/// `update_lead` its `lead_uuid`.
pub(super) fn lead_call(
    action: ActionType,
    config: &Config,
    fields: &Map<String, Value>,
    instance_id: InstanceId,
    actor: String,
) -> AppResult<LeadCall> {
    let lead_uuid = if action == ActionType::UpdateLead {
        let raw = optional_text(fields, "lead_uuid")?.ok_or_else(|| {
            AppError::validation(
                "lead_uuid",
                "The lead_uuid field is required: the lead to update.",
            )
        })?;
        Some(
            Uuid::parse_str(raw.trim())
                .map_err(|_| AppError::validation("lead_uuid", "The lead_uuid must be a UUID."))?,
        )
    } else {
        None
    };
    let title = bounded(
        "title",
        templated(fields, config.title.as_deref(), "title")?,
        255,
    )?;
    if action == ActionType::CreateLead && title.is_none() {
        return Err(AppError::validation(
            "title",
            "The lead's title is empty once the template is filled: send non-empty values.",
        ));
    }
    let email = bounded("email", optional_text(fields, "email")?, 255)?;
    if let Some(e) = &email
        && !valid_email(e)
    {
        return Err(AppError::validation(
            "email",
            "The email must be a valid email address.",
        ));
    }
    let phone_number = match optional_text(fields, "phone")? {
        Some(p) => Some(PhoneNumber::parse_field("phone", &p)?.as_str().to_owned()),
        None => None,
    };
    let value = match fields.get("value") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let n = v
                .as_f64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse::<f64>().ok()))
                .filter(|n| n.is_finite() && *n >= 0.0 && *n < 1e13)
                .ok_or_else(|| {
                    AppError::validation("value", "The value must be a non-negative number.")
                })?;
            Some(n)
        }
    };
    let priority = match optional_text(fields, "priority")? {
        Some(p) => {
            let p = p.trim().to_ascii_lowercase();
            if !crate::crm::external::model::PRIORITIES.contains(&p.as_str()) {
                return Err(AppError::validation(
                    "priority",
                    "The priority must be one of: low, medium, high, urgent.",
                ));
            }
            Some(p)
        }
        None => config.priority.clone(),
    };
    Ok(LeadCall {
        instance_id,
        lead_uuid,
        board_uuid: config.board_uuid,
        column_uuid: config.column_uuid,
        title,
        phone_number,
        email,
        value,
        priority,
        notes: bounded(
            "notes",
            templated(fields, config.notes.as_deref(), "notes")?,
            10_000,
        )?,
        actor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lead_fields_come_from_templates_and_the_body() {
        let config = Config {
            title: Some("Order {{order_id}}".into()),
            priority: Some("high".into()),
            ..Config::default()
        };
        let fields =
            serde_json::json!({"order_id": 7, "phone": "+55 11 99999-0000", "value": "299.5"});
        let call = lead_call(
            ActionType::CreateLead,
            &config,
            fields.as_object().unwrap(),
            InstanceId(3),
            "x".into(),
        )
        .unwrap();
        assert_eq!(call.title.as_deref(), Some("Order 7"));
        assert_eq!(call.phone_number.as_deref(), Some("5511999990000"));
        assert_eq!(call.value, Some(299.5));
        assert_eq!(call.priority.as_deref(), Some("high"));
        let e = lead_call(
            ActionType::UpdateLead,
            &config,
            fields.as_object().unwrap(),
            InstanceId(3),
            "x".into(),
        )
        .unwrap_err();
        assert!(matches!(e, AppError::Client(b) if b.details["lead_uuid"].is_array()));
        let e = lead_call(
            ActionType::CreateLead,
            &config,
            serde_json::json!({}).as_object().unwrap(),
            InstanceId(3),
            "x".into(),
        )
        .unwrap_err();
        assert!(matches!(e, AppError::Client(b) if b.details["order_id"].is_array()));
    }
}
