//! Running a flow for a turn: the session's snapshot of the definition (editing the flow does
//! not move running sessions), its state, the turn's text as the answer (or a timer), then
//! the flow's actions: replies to send, tags and contact fields set at once, and what its
//! final status means for the session (end, hand-off, an AI agent taking over, a timer).

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use super::engine::{Outcome, TurnInput};
use crate::automation::flow::{FlowAction, FlowContext, FlowState, FlowStatus, Resume, advance};
use crate::automation::plan::{After, Reply};
use crate::db::TenantScoped;
use crate::db::entities::{
    automation_integration, automation_session, contact, conversation, conversation_tag, instance,
    tag,
};
use crate::error::AppResult;
use crate::service::Services;

impl Services {
    /// `input = None`: a timer turn (a wait step or a question's timeout came due).
    pub(crate) async fn run_flow_turn(
        &self,
        inst: &instance::Model,
        conv: &conversation::Model,
        contact: Option<&contact::Model>,
        s: &automation_session::Model,
        input: Option<&TurnInput>,
    ) -> AppResult<Outcome> {
        let Some(snapshot) = s.snapshot.as_ref() else {
            // A flow saved without a definition does not answer.
            return Ok(Outcome::default());
        };
        let flow = self.load_flow(snapshot)?;
        let mut state: FlowState = s
            .state
            .get("flow")
            .cloned()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        // A flow that ended (a person handed the conversation back): start over.
        if state.ended && input.is_some() {
            state = FlowState::default();
        }
        let ctx = FlowContext {
            contact_name: contact
                .and_then(|c| c.name.clone().or(c.push_name.clone()))
                .or(conv.display_name.clone()),
            contact_phone: conv
                .chat_jid
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned(),
            now: Utc::now(),
        };
        let resume = match input {
            Some(i) => Resume::Message {
                text: i.text.clone(),
                kind: i.kind.clone(),
            },
            None => Resume::Timer,
        };
        let out = advance(&flow, &mut state, Some(resume), &ctx, &self.outbound).await;
        let mut outcome = Outcome {
            as_written: true,
            ..Outcome::default()
        };
        for action in out.actions {
            match action {
                FlowAction::Text(text) => outcome.replies.push(Reply::Text { text }),
                FlowAction::Media {
                    media_type,
                    media_id,
                    url,
                    caption,
                    filename,
                } => outcome.replies.push(Reply::Media {
                    media_type,
                    url,
                    media_id,
                    caption,
                    filename,
                }),
                FlowAction::AddTag(name) => self.flow_tag(inst, conv, &name, true).await?,
                FlowAction::RemoveTag(name) => self.flow_tag(inst, conv, &name, false).await?,
                FlowAction::SetContactField { field, value } => {
                    self.flow_contact_field(contact, &field, value).await?;
                }
            }
        }
        let mut wake: Option<DateTime<Utc>> = None;
        match out.status {
            FlowStatus::WaitingForUser { timeout_at, .. } => wake = timeout_at,
            FlowStatus::Sleeping { until, .. } => wake = Some(until),
            FlowStatus::Ended { message } => {
                outcome
                    .replies
                    .extend(message.map(|text| Reply::Text { text }));
                outcome.after = After::Close {
                    reason: "ended".into(),
                };
            }
            FlowStatus::HandOff { message } => {
                outcome
                    .replies
                    .extend(message.map(|text| Reply::Text { text }));
                outcome.after = After::Pause {
                    reason: "handoff".into(),
                };
            }
            FlowStatus::ToAgent {
                integration,
                message,
            } => {
                outcome
                    .replies
                    .extend(message.map(|text| Reply::Text { text }));
                match automation_integration::Entity::scoped(crate::domain::TenantId(
                    inst.tenant_id,
                ))
                .filter(automation_integration::Column::Uuid.eq(integration))
                .one(&self.db)
                .await?
                {
                    Some(i) => outcome.switch_to = Some(("integration".into(), i.id)),
                    None => {
                        outcome.after = After::Pause {
                            reason: "handoff_target_missing".into(),
                        }
                    }
                }
            }
        }
        let mut st = s.state.clone();
        if !st.is_object() {
            st = json!({});
        }
        if let Some(o) = st.as_object_mut() {
            o.insert(
                "flow".into(),
                serde_json::to_value(&state).unwrap_or(Value::Null),
            );
        }
        outcome.state = Some(st);
        outcome.wake_at = wake;
        Ok(outcome)
    }

    /// Adds (or removes) a tag by name on the conversation; an unknown tag is created.
    async fn flow_tag(
        &self,
        inst: &instance::Model,
        conv: &conversation::Model,
        name: &str,
        add: bool,
    ) -> AppResult<()> {
        let tenant = crate::domain::TenantId(inst.tenant_id);
        let now = Utc::now();
        let _permit = self.write_gate.enter().await;
        let existing = tag::Entity::scoped(tenant)
            .filter(tag::Column::Name.eq(name))
            .one(&self.db)
            .await?;
        let t = match (existing, add) {
            (Some(t), _) => t,
            (None, false) => return Ok(()),
            (None, true) => {
                use sea_orm::ActiveModelTrait;
                tag::ActiveModel {
                    uuid: Set(uuid::Uuid::new_v4()),
                    tenant_id: Set(inst.tenant_id),
                    name: Set(name.to_owned()),
                    color: Set("#3B82F6".into()),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(&self.db)
                .await?
            }
        };
        if add {
            conversation_tag::Entity::insert(conversation_tag::ActiveModel {
                conversation_id: Set(conv.id),
                tag_id: Set(t.id),
                created_at: Set(now),
            })
            .on_conflict(
                OnConflict::columns([
                    conversation_tag::Column::ConversationId,
                    conversation_tag::Column::TagId,
                ])
                .do_nothing()
                .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        } else {
            conversation_tag::Entity::delete_many()
                .filter(conversation_tag::Column::ConversationId.eq(conv.id))
                .filter(conversation_tag::Column::TagId.eq(t.id))
                .exec(&self.db)
                .await?;
        }
        Ok(())
    }

    async fn flow_contact_field(
        &self,
        contact: Option<&contact::Model>,
        field: &str,
        value: String,
    ) -> AppResult<()> {
        let Some(c) = contact else {
            return Ok(());
        };
        let column = match field {
            "name" => contact::Column::Name,
            "email" => contact::Column::Email,
            "company" => contact::Column::Company,
            "notes" => contact::Column::Notes,
            _ => return Ok(()),
        };
        let value: String = value.chars().take(1000).collect();
        let _permit = self.write_gate.enter().await;
        contact::Entity::update_many()
            .col_expr(column, Expr::value(value))
            .col_expr(contact::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(contact::Column::Id.eq(c.id))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}
