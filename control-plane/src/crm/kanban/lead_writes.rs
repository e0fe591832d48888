//! The one create and the one update of a lead every entry point goes through: the fields
//! checked again whoever calls, the row and its place in the column, each change on the
//! timeline with its old and new value, and the `lead.*` event, in one transaction.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use uuid::Uuid;

use super::Scope;
use super::events::{FieldChange, LeadEvent, queue};
use super::model::{Actor, LeadPatch, LeadStatus, MAX_NAME, NewLead, Priority};
use super::money::{cents_to_string, decimal_to_cents};
use super::moves::count_in_column;
use super::store::{Entry, boards_of, record};
use super::views::LeadView;
use crate::db::TenantScoped;
use crate::db::entities::{conversation, kanban_board, kanban_lead};
use crate::error::{AppError, AppResult};
use crate::service::Services;

fn title_of(title: &str) -> AppResult<String> {
    let t = title.trim();
    if t.is_empty() {
        return Err(AppError::validation(
            "title",
            "The title field is required.",
        ));
    }
    if t.chars().count() > MAX_NAME {
        return Err(AppError::validation(
            "title",
            format!("The title may not be greater than {MAX_NAME} characters."),
        ));
    }
    Ok(t.to_owned())
}

/// A number as digits with country code (any caller's input is checked again here).
fn phone_of(p: &str) -> AppResult<String> {
    zapini_shared::phone::PhoneNumber::parse(p)
        .map(|n| n.into_string())
        .map_err(|e| {
            AppError::validation(
                "phone_number",
                format!("The phone_number field is invalid: {e}."),
            )
        })
}

fn email_of(e: &str) -> AppResult<String> {
    let e = e.trim();
    if zapini_shared::email::looks_like_email(e) && e.chars().count() <= MAX_NAME {
        Ok(e.to_owned())
    } else {
        Err(AppError::validation(
            "email",
            "The email must be a valid email address.",
        ))
    }
}

fn json_text(v: &Option<Value>) -> Option<String> {
    v.as_ref().map(Value::to_string)
}

impl Services {
    pub(super) async fn create_lead_in(&self, scope: Scope, input: NewLead) -> AppResult<LeadView> {
        let money = self.kanban_gate(scope).await?;
        let title = title_of(&input.title)?;
        let mut input = input;
        input.phone_number = input.phone_number.as_deref().map(phone_of).transpose()?;
        input.email = input.email.as_deref().map(email_of).transpose()?;
        let value_cents = input
            .value
            .map(|d| decimal_to_cents("value", d))
            .transpose()
            .map_err(|m| AppError::validation("value", m))?;
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        if let Some(appointment) = input.appointment_id
            && let Some(existing) = kanban_lead::Entity::scoped(scope.tenant)
                .filter(kanban_lead::Column::AppointmentId.eq(appointment))
                .one(&txn)
                .await?
        {
            if existing.deleted_at.is_none() {
                return self.lead_view(&txn, &existing, &money).await;
            }
            // A deleted lead gives its appointment up to the new one.
            let mut a: kanban_lead::ActiveModel = existing.into();
            a.appointment_id = Set(None);
            a.update(&txn).await?;
        }
        let board = match input.board_uuid {
            Some(u) => boards_of(scope)
                .filter(kanban_board::Column::Uuid.eq(u))
                .one(&txn)
                .await?
                .ok_or_else(super::store::board_not_found)?,
            None => {
                let Some(instance) = input.instance_id.or(scope.instance) else {
                    return Err(AppError::validation(
                        "board_uuid",
                        "The board_uuid field is required (or instance_id, for the instance's default board).",
                    ));
                };
                self.default_board(&txn, scope.tenant.0, instance).await?
            }
        };
        if let Some(i) = input.instance_id
            && i.0 != board.instance_id
        {
            return Err(AppError::validation(
                "board_uuid",
                "The board belongs to another instance than instance_id.",
            ));
        }
        let columns = self.columns_of(&txn, board.id).await?;
        let column = match input.column_uuid {
            Some(u) => columns.iter().find(|c| c.uuid == u).ok_or_else(|| {
                AppError::validation(
                    "column_uuid",
                    "The column_uuid is not a column of the board.",
                )
            })?,
            None => columns
                .first()
                .ok_or_else(|| AppError::validation("board_uuid", "The board has no column."))?,
        }
        .clone();
        let (contact_id, conversation_id) = match input.conversation_id {
            Some(id) => match conversation::Entity::find_by_id(id).one(&txn).await? {
                Some(c) if c.instance_id == board.instance_id => (c.contact_id, Some(c.id)),
                _ => {
                    self.link_ids(&txn, board.instance_id, input.phone_number.as_deref())
                        .await?
                }
            },
            None => {
                self.link_ids(&txn, board.instance_id, input.phone_number.as_deref())
                    .await?
            }
        };
        let position = count_in_column(&txn, column.id, None).await?;
        let now = Utc::now();
        let lead = kanban_lead::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(board.tenant_id),
            instance_id: Set(board.instance_id),
            board_id: Set(board.id),
            column_id: Set(column.id),
            position: Set(position),
            title: Set(title),
            phone_number: Set(input.phone_number),
            email: Set(input.email),
            value_cents: Set(value_cents),
            priority: Set(input
                .priority
                .unwrap_or(Priority::Medium)
                .as_str()
                .to_owned()),
            status: Set(LeadStatus::Open.as_str().to_owned()),
            source: Set(input.source),
            custom_fields: Set(input.custom_fields.map(Value::Object)),
            contact_id: Set(contact_id),
            conversation_id: Set(conversation_id),
            appointment_id: Set(input.appointment_id),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        record(
            &txn,
            &lead,
            &input.actor,
            Entry::new("created").values(None, Some(column.name.clone())),
            now,
        )
        .await?;
        if let Some(n) = input.notes.filter(|n| !n.trim().is_empty()) {
            record(
                &txn,
                &lead,
                &input.actor,
                Entry::new("note").content(Some(n)),
                now,
            )
            .await?;
        }
        let view = self.lead_view(&txn, &lead, &money).await?;
        let queued = queue(
            &txn,
            lead.instance_id,
            vec![LeadEvent::new("created", view.clone(), now)],
            now,
        )
        .await?;
        txn.commit().await?;
        drop(permit);
        if queued {
            self.webhook_signal.notify();
        }
        self.live_news(lead.tenant_id, lead.instance_id, crate::live::Topic::Crm)
            .await;
        Ok(view)
    }

    pub(super) async fn update_lead_in(
        &self,
        scope: Scope,
        reference: &str,
        patch: LeadPatch,
    ) -> AppResult<LeadView> {
        let money = self.kanban_gate(scope).await?;
        let actor = patch.actor.clone().unwrap_or_else(Actor::system);
        let (txn, permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let lead = self.find_lead(&txn, scope, reference).await?;
        let mut a: kanban_lead::ActiveModel = lead.clone().into();
        let mut changes: Vec<FieldChange> = Vec::new();
        let mut change = |field: &str, old: Option<String>, new: Option<String>| {
            if old != new {
                changes.push(FieldChange {
                    field: field.to_owned(),
                    old_value: old,
                    new_value: new,
                });
                true
            } else {
                false
            }
        };
        if let Some(t) = patch.title {
            let t = title_of(&t)?;
            if change("title", Some(lead.title.clone()), Some(t.clone())) {
                a.title = Set(t);
            }
        }
        let phone = patch
            .phone_number
            .map(|p| p.as_deref().map(phone_of).transpose())
            .transpose()?;
        let email = patch
            .email
            .map(|e| e.as_deref().map(email_of).transpose())
            .transpose()?;
        if let Some(p) = phone
            && change("phone_number", lead.phone_number.clone(), p.clone())
        {
            let (contact, conv) = self.link_ids(&txn, lead.instance_id, p.as_deref()).await?;
            a.contact_id = Set(contact);
            a.conversation_id = Set(conv);
            a.phone_number = Set(p);
        }
        if let Some(e) = email
            && change("email", lead.email.clone(), e.clone())
        {
            a.email = Set(e);
        }
        if let Some(v) = patch.value {
            let cents = v
                .map(|d| decimal_to_cents("value", d))
                .transpose()
                .map_err(|m| AppError::validation("value", m))?;
            if change(
                "value",
                lead.value_cents.map(cents_to_string),
                cents.map(cents_to_string),
            ) {
                a.value_cents = Set(cents);
            }
        }
        if let Some(p) = patch.priority
            && change(
                "priority",
                Some(lead.priority.clone()),
                Some(p.as_str().to_owned()),
            )
        {
            a.priority = Set(p.as_str().to_owned());
        }
        if let Some(c) = patch.custom_fields {
            let new = c.map(Value::Object);
            if change(
                "custom_fields",
                json_text(&lead.custom_fields),
                json_text(&new),
            ) {
                a.custom_fields = Set(new);
            }
        }
        let now = Utc::now();
        let mut events = Vec::new();
        let mut saved = lead.clone();
        if !changes.is_empty() {
            a.updated_at = Set(now);
            saved = a.update(&txn).await?;
            for c in &changes {
                let field: &str = &c.field;
                record(
                    &txn,
                    &saved,
                    &actor,
                    Entry::change(field, c.old_value.clone(), c.new_value.clone()),
                    now,
                )
                .await?;
            }
        }
        if let Some(n) = patch.note.filter(|n| !n.trim().is_empty()) {
            record(
                &txn,
                &saved,
                &actor,
                Entry::new("note").content(Some(n)),
                now,
            )
            .await?;
        }
        let mut moved = None;
        if let Some(col) = patch.column_uuid {
            let (m, from, to) = self.relocate(&txn, &saved, col, None, &actor).await?;
            if from.id != to.id {
                moved = Some((from, to));
            }
            saved = m;
        }
        let view = self.lead_view(&txn, &saved, &money).await?;
        if !changes.is_empty() {
            let mut e = LeadEvent::new("updated", view.clone(), now);
            e.changes = changes;
            events.push(e);
        }
        if let Some((from, to)) = moved {
            let mut e = LeadEvent::new("moved", view.clone(), now);
            e.from_column = Some((&from).into());
            e.to_column = Some((&to).into());
            events.push(e);
        }
        let queued = queue(&txn, saved.instance_id, events, now).await?;
        txn.commit().await?;
        drop(permit);
        if queued {
            self.webhook_signal.notify();
        }
        self.live_news(saved.tenant_id, saved.instance_id, crate::live::Topic::Crm)
            .await;
        Ok(view)
    }
}
