//! The AI agent's built-in Kanban tools, offered when the tenant has Kanban enabled (an AI
//! Function of the same name takes precedence): `create_lead` puts the conversation's contact
//! on the instance's default board (source `ai_agent`, linked to the conversation), and
//! `move_lead` moves the conversation's latest open lead to a column named by the model.
//! Neither writes the AI Functions execution log; both leave their timeline entries.

use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use uuid::Uuid;

use super::Scope;
use super::model::{Actor, NewLead, Priority};
use crate::automation::functions::{ExecContext, ExecOutcome, ToolSpec};
use crate::db::entities::{
    automation_integration, contact, conversation, kanban_board, kanban_lead,
};
use crate::domain::{InstanceId, TenantId};
use crate::error::{AppError, AppResult};
use crate::service::Services;
use crate::webhooks::payloads::number_of;

pub const CREATE_LEAD: &str = "create_lead";
pub const MOVE_LEAD: &str = "move_lead";

impl Services {
    /// The Kanban tools for an agent integration, leaving out names in `taken`.
    pub async fn kanban_agent_tools(
        &self,
        integration_id: i64,
        taken: &[ToolSpec],
    ) -> AppResult<Vec<ToolSpec>> {
        let Some(integration) = automation_integration::Entity::find_by_id(integration_id)
            .one(&self.db)
            .await?
        else {
            return Ok(Vec::new());
        };
        if !self
            .tenant_features(TenantId(integration.tenant_id))
            .await?
            .kanban_enabled
        {
            return Ok(Vec::new());
        }
        let columns: Vec<String> = match kanban_board::Entity::find()
            .filter(kanban_board::Column::InstanceId.eq(integration.instance_id))
            .order_by_desc(kanban_board::Column::IsDefault)
            .order_by_asc(kanban_board::Column::Id)
            .one(&self.db)
            .await?
        {
            Some(b) => self
                .columns_of(&self.db, b.id)
                .await?
                .into_iter()
                .map(|c| c.name)
                .collect(),
            None => Vec::new(),
        };
        let mut move_description =
            "Move this contact's sales lead to another stage (column) of the pipeline, when the conversation shows it progressed.".to_owned();
        if !columns.is_empty() {
            move_description.push_str(&format!(" The columns are: {}.", columns.join(", ")));
        }
        let specs = vec![
            ToolSpec {
                name: CREATE_LEAD.into(),
                description: "Register this contact as a sales lead on the pipeline when they show buying interest (once per contact).".into(),
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "title": {"type": "string", "description": "A short title: the contact's name and what they want."},
                        "value": {"type": "number", "description": "The deal's estimated value, when known."},
                        "priority": {"type": "string", "enum": ["low", "medium", "high", "urgent"]},
                        "notes": {"type": "string", "description": "What the contact asked for."}
                    },
                    "required": ["title"]
                }),
                collect_from_user: Vec::new(),
            },
            ToolSpec {
                name: MOVE_LEAD.into(),
                description: move_description,
                parameters: json!({
                    "type": "object",
                    "properties": {
                        "column": {"type": "string", "description": "The name of the column to move the lead to."}
                    },
                    "required": ["column"]
                }),
                collect_from_user: Vec::new(),
            },
        ];
        Ok(specs
            .into_iter()
            .filter(|s| !taken.iter().any(|t| t.name == s.name))
            .collect())
    }

    /// Runs a Kanban tool for the agent; `None` when `name` is not one (or Kanban is off).
    pub async fn run_kanban_tool(
        &self,
        integration_id: i64,
        name: &str,
        arguments: Value,
        ctx: ExecContext,
    ) -> AppResult<Option<ExecOutcome>> {
        if name != CREATE_LEAD && name != MOVE_LEAD {
            return Ok(None);
        }
        let Some(integration) = automation_integration::Entity::find_by_id(integration_id)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let tenant = TenantId(integration.tenant_id);
        if !self.tenant_features(tenant).await?.kanban_enabled {
            return Ok(None);
        }
        let actor = Actor::ai_agent(Some(integration.name.clone()));
        let result = match ctx.conversation_id {
            None => Err(AppError::validation(
                "conversation",
                "The tool needs a conversation.",
            )),
            Some(conv_id) => match conversation::Entity::find_by_id(conv_id)
                .one(&self.db)
                .await?
            {
                Some(conv) if conv.tenant_id == tenant.0 => {
                    if name == CREATE_LEAD {
                        self.agent_create_lead(tenant, &conv, arguments, actor)
                            .await
                    } else {
                        self.agent_move_lead(tenant, &conv, arguments, actor).await
                    }
                }
                _ => Err(AppError::validation(
                    "conversation",
                    "The conversation is gone.",
                )),
            },
        };
        Ok(Some(match result {
            Ok(v) => ExecOutcome {
                execution_uuid: Uuid::new_v4(),
                ok: true,
                http_status: None,
                result: v,
                error: None,
            },
            Err(e) => {
                let message = e.to_string();
                ExecOutcome {
                    execution_uuid: Uuid::new_v4(),
                    ok: false,
                    http_status: None,
                    result: json!({"error": message}),
                    error: Some(message),
                }
            }
        }))
    }

    async fn agent_create_lead(
        &self,
        tenant: TenantId,
        conv: &conversation::Model,
        args: Value,
        actor: Actor,
    ) -> AppResult<Value> {
        let contact = match conv.contact_id {
            Some(id) => contact::Entity::find_by_id(id).one(&self.db).await?,
            None => None,
        };
        let phone = contact
            .as_ref()
            .and_then(|c| c.phone_number.clone())
            .or_else(|| (!conv.is_group).then(|| number_of(&conv.chat_jid)))
            .filter(|p| zapini_shared::phone::PhoneNumber::parse(p).is_ok());
        let fallback_title = contact
            .as_ref()
            .and_then(|c| c.name.clone().or(c.push_name.clone()))
            .or(conv.display_name.clone())
            .unwrap_or_else(|| "WhatsApp lead".to_owned());
        let title = args
            .get("title")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| t.chars().take(super::model::MAX_NAME).collect())
            .unwrap_or(fallback_title);
        let mut lead = NewLead::titled(title, "ai_agent", actor);
        lead.instance_id = Some(InstanceId(conv.instance_id));
        lead.conversation_id = Some(conv.id);
        lead.phone_number = phone;
        lead.email = contact.as_ref().and_then(|c| c.email.clone());
        lead.priority = args
            .get("priority")
            .and_then(Value::as_str)
            .and_then(Priority::parse);
        lead.notes = args
            .get("notes")
            .and_then(Value::as_str)
            .map(|n| n.chars().take(super::model::MAX_TEXT).collect());
        if let Some(v) = args.get("value").filter(|v| !v.is_null()) {
            let cents = super::money::parse_value("value", v)
                .map_err(|m| AppError::validation("value", m))?;
            lead.value = Some(rust_decimal::Decimal::new(cents, 2));
        }
        let view = self
            .create_lead_in(
                Scope {
                    tenant,
                    instance: Some(InstanceId(conv.instance_id)),
                },
                lead,
            )
            .await?;
        Ok(json!({"ok": true, "lead": view}))
    }

    async fn agent_move_lead(
        &self,
        tenant: TenantId,
        conv: &conversation::Model,
        args: Value,
        actor: Actor,
    ) -> AppResult<Value> {
        let column = args
            .get("column")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or_else(|| AppError::validation("column", "Name the column to move the lead to."))?
            .to_owned();
        let mut linked = Condition::any().add(kanban_lead::Column::ConversationId.eq(conv.id));
        if !conv.is_group {
            linked = linked.add(kanban_lead::Column::PhoneNumber.eq(number_of(&conv.chat_jid)));
        }
        let lead = kanban_lead::Entity::find()
            .filter(kanban_lead::Column::TenantId.eq(tenant.0))
            .filter(kanban_lead::Column::InstanceId.eq(conv.instance_id))
            .filter(kanban_lead::Column::DeletedAt.is_null())
            .filter(kanban_lead::Column::Status.eq("open"))
            .filter(linked)
            .order_by_desc(kanban_lead::Column::Id)
            .one(&self.db)
            .await?
            .ok_or_else(|| {
                AppError::validation("lead", "This contact has no open lead: create one first.")
            })?;
        let columns = self.columns_of(&self.db, lead.board_id).await?;
        let target = columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(&column))
            .ok_or_else(|| {
                let names: Vec<&str> = columns.iter().map(|c| c.name.as_str()).collect();
                AppError::validation(
                    "column",
                    format!(
                        "No column named {column:?}; the columns are: {}.",
                        names.join(", ")
                    ),
                )
            })?;
        let view = self
            .move_lead_in(
                Scope {
                    tenant,
                    instance: Some(InstanceId(conv.instance_id)),
                },
                &lead.uuid.to_string(),
                target.uuid,
                None,
                &actor,
            )
            .await?;
        Ok(json!({"ok": true, "lead": view}))
    }
}
