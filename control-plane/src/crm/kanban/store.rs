//! The scoped finders every Kanban use-case starts from (another tenant's or instance's row
//! is 404), the timeline writer, and the building of lead views: columns, boards, and the
//! contact and conversation of each lead's number, read in batches.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;
use zapini_shared::error::ErrorCode;

use super::Scope;
use super::model::Actor;
use super::views::{LeadView, LinkedContact, LinkedConversation, Links, MoneyFormat};
use crate::db::TenantScoped;
use crate::db::entities::{
    contact, conversation, instance_token, kanban_board, kanban_column, kanban_lead,
    kanban_lead_activity, user,
};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;

pub(super) fn board_not_found() -> AppError {
    AppError::not_found(ErrorCode::NotFound, "Board")
}

pub(super) fn column_not_found() -> AppError {
    AppError::not_found(ErrorCode::NotFound, "Column")
}

pub(super) fn lead_not_found() -> AppError {
    AppError::not_found(ErrorCode::NotFound, "Lead")
}

/// A path's UUID; anything else names nothing (404).
pub(super) fn path_uuid(reference: &str, missing: fn() -> AppError) -> AppResult<Uuid> {
    Uuid::parse_str(reference.trim()).map_err(|_| missing())
}

pub(super) fn boards_of(scope: Scope) -> Select<kanban_board::Entity> {
    let mut q = kanban_board::Entity::scoped(scope.tenant);
    if let Some(i) = scope.instance {
        q = q.filter(kanban_board::Column::InstanceId.eq(i.0));
    }
    q
}

pub(super) fn leads_of(scope: Scope) -> Select<kanban_lead::Entity> {
    let mut q =
        kanban_lead::Entity::scoped(scope.tenant).filter(kanban_lead::Column::DeletedAt.is_null());
    if let Some(i) = scope.instance {
        q = q.filter(kanban_lead::Column::InstanceId.eq(i.0));
    }
    q
}

/// The phone JID of a number (`5511999999999@s.whatsapp.net`).
pub(super) fn phone_jid(digits: &str) -> String {
    format!("{digits}@s.whatsapp.net")
}

/// One timeline entry.
pub(super) struct Entry<'a> {
    pub kind: &'static str,
    pub field: Option<&'a str>,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub content: Option<String>,
}

impl<'a> Entry<'a> {
    pub fn new(kind: &'static str) -> Entry<'a> {
        Entry {
            kind,
            field: None,
            old_value: None,
            new_value: None,
            content: None,
        }
    }

    pub fn change(field: &'a str, old: Option<String>, new: Option<String>) -> Entry<'a> {
        Entry {
            kind: "updated",
            field: Some(field),
            old_value: old,
            new_value: new,
            content: None,
        }
    }

    pub fn values(mut self, old: Option<String>, new: Option<String>) -> Self {
        self.old_value = old;
        self.new_value = new;
        self
    }

    pub fn content(mut self, content: Option<String>) -> Self {
        self.content = content;
        self
    }
}

pub(super) async fn record<C: ConnectionTrait>(
    conn: &C,
    lead: &kanban_lead::Model,
    actor: &Actor,
    entry: Entry<'_>,
    at: DateTime<Utc>,
) -> AppResult<kanban_lead_activity::Model> {
    Ok(kanban_lead_activity::ActiveModel {
        uuid: Set(Uuid::now_v7()),
        tenant_id: Set(lead.tenant_id),
        lead_id: Set(lead.id),
        kind: Set(entry.kind.to_owned()),
        field: Set(entry.field.map(str::to_owned)),
        old_value: Set(entry.old_value),
        new_value: Set(entry.new_value),
        content: Set(entry.content),
        actor_type: Set(actor.kind.to_owned()),
        actor_name: Set(actor.name.clone()),
        created_at: Set(at),
        ..Default::default()
    }
    .insert(conn)
    .await?)
}

impl Services {
    /// The gate, and the tenant's money settings.
    pub(super) async fn kanban_gate(&self, scope: Scope) -> AppResult<MoneyFormat> {
        let f = self.require_kanban(scope.tenant).await?;
        Ok(MoneyFormat {
            currency: f.currency,
            locale: f.locale,
        })
    }

    /// Who is calling, named: the user's name, or the `sk_` token's.
    pub(super) async fn actor_of(&self, caller: &Caller) -> AppResult<Actor> {
        let mut a = Actor::of_caller(caller);
        a.name = match caller {
            Caller::User { user, .. } => user::Entity::find_by_id(user.0)
                .one(&self.db)
                .await?
                .map(|u| u.name),
            Caller::Instance { token_id, .. } => instance_token::Entity::find_by_id(*token_id)
                .one(&self.db)
                .await?
                .map(|t| t.name),
        };
        Ok(a)
    }

    pub(super) async fn find_board<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: Scope,
        reference: &str,
    ) -> AppResult<kanban_board::Model> {
        let uuid = path_uuid(reference, board_not_found)?;
        boards_of(scope)
            .filter(kanban_board::Column::Uuid.eq(uuid))
            .one(conn)
            .await?
            .ok_or_else(board_not_found)
    }

    /// A column and its board.
    pub(super) async fn find_column<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: Scope,
        reference: &str,
    ) -> AppResult<(kanban_column::Model, kanban_board::Model)> {
        let uuid = path_uuid(reference, column_not_found)?;
        let column = kanban_column::Entity::scoped(scope.tenant)
            .filter(kanban_column::Column::Uuid.eq(uuid))
            .one(conn)
            .await?
            .ok_or_else(column_not_found)?;
        let board = boards_of(scope)
            .filter(kanban_board::Column::Id.eq(column.board_id))
            .one(conn)
            .await?
            .ok_or_else(column_not_found)?;
        Ok((column, board))
    }

    pub(super) async fn find_lead<C: ConnectionTrait>(
        &self,
        conn: &C,
        scope: Scope,
        reference: &str,
    ) -> AppResult<kanban_lead::Model> {
        let uuid = path_uuid(reference, lead_not_found)?;
        leads_of(scope)
            .filter(kanban_lead::Column::Uuid.eq(uuid))
            .one(conn)
            .await?
            .ok_or_else(lead_not_found)
    }

    /// The board's columns by position.
    pub(super) async fn columns_of<C: ConnectionTrait>(
        &self,
        conn: &C,
        board_id: i64,
    ) -> AppResult<Vec<kanban_column::Model>> {
        Ok(kanban_column::Entity::find()
            .filter(kanban_column::Column::BoardId.eq(board_id))
            .order_by_asc(kanban_column::Column::Position)
            .order_by_asc(kanban_column::Column::Id)
            .all(conn)
            .await?)
    }

    /// The contact and conversation of `phone` (digits) on `instance_id`, as row ids.
    pub(super) async fn link_ids<C: ConnectionTrait>(
        &self,
        conn: &C,
        instance_id: i64,
        phone: Option<&str>,
    ) -> AppResult<(Option<i64>, Option<i64>)> {
        let Some(phone) = phone else {
            return Ok((None, None));
        };
        let jid = phone_jid(phone);
        let contact = contact::Entity::find()
            .select_only()
            .column(contact::Column::Id)
            .filter(contact::Column::InstanceId.eq(instance_id))
            .filter(contact::Column::Jid.eq(jid.clone()))
            .into_tuple::<i64>()
            .one(conn)
            .await?;
        let conversation = conversation::Entity::find()
            .select_only()
            .column(conversation::Column::Id)
            .filter(conversation::Column::InstanceId.eq(instance_id))
            .filter(conversation::Column::ChatJid.eq(jid))
            .into_tuple::<i64>()
            .one(conn)
            .await?;
        Ok((contact, conversation))
    }

    /// Views of `leads`: their boards' and columns' names, and their links (stored, else
    /// the contact and conversation of their number, which may have appeared since).
    pub(super) async fn lead_views<C: ConnectionTrait>(
        &self,
        conn: &C,
        leads: &[kanban_lead::Model],
        money: &MoneyFormat,
    ) -> AppResult<Vec<LeadView>> {
        if leads.is_empty() {
            return Ok(Vec::new());
        }
        let column_ids: Vec<i64> = leads.iter().map(|l| l.column_id).collect();
        let columns: HashMap<i64, kanban_column::Model> = kanban_column::Entity::find()
            .filter(kanban_column::Column::Id.is_in(column_ids))
            .all(conn)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let board_ids: Vec<i64> = leads.iter().map(|l| l.board_id).collect();
        let boards: HashMap<i64, Uuid> = kanban_board::Entity::find()
            .select_only()
            .column(kanban_board::Column::Id)
            .column(kanban_board::Column::Uuid)
            .filter(kanban_board::Column::Id.is_in(board_ids))
            .into_tuple::<(i64, Uuid)>()
            .all(conn)
            .await?
            .into_iter()
            .collect();
        let instance_ids: Vec<i64> = leads.iter().map(|l| l.instance_id).collect();
        let jids: Vec<String> = leads
            .iter()
            .filter_map(|l| l.phone_number.as_deref().map(phone_jid))
            .collect();
        let contact_ids: Vec<i64> = leads.iter().filter_map(|l| l.contact_id).collect();
        let conversation_ids: Vec<i64> = leads.iter().filter_map(|l| l.conversation_id).collect();
        let mut contacts: Vec<contact::Model> = Vec::new();
        if !contact_ids.is_empty() {
            contacts.extend(
                contact::Entity::find()
                    .filter(contact::Column::Id.is_in(contact_ids))
                    .all(conn)
                    .await?,
            );
        }
        let mut conversations: Vec<conversation::Model> = Vec::new();
        if !conversation_ids.is_empty() {
            conversations.extend(
                conversation::Entity::find()
                    .filter(conversation::Column::Id.is_in(conversation_ids))
                    .all(conn)
                    .await?,
            );
        }
        if !jids.is_empty() {
            contacts.extend(
                contact::Entity::find()
                    .filter(contact::Column::InstanceId.is_in(instance_ids.clone()))
                    .filter(contact::Column::Jid.is_in(jids.clone()))
                    .all(conn)
                    .await?,
            );
            conversations.extend(
                conversation::Entity::find()
                    .filter(conversation::Column::InstanceId.is_in(instance_ids))
                    .filter(conversation::Column::ChatJid.is_in(jids))
                    .all(conn)
                    .await?,
            );
        }
        let mut out = Vec::with_capacity(leads.len());
        for l in leads {
            let Some(column) = columns.get(&l.column_id) else {
                continue;
            };
            let jid = l.phone_number.as_deref().map(phone_jid);
            let contact = contacts
                .iter()
                .find(|c| Some(c.id) == l.contact_id)
                .or_else(|| {
                    contacts
                        .iter()
                        .find(|c| c.instance_id == l.instance_id && Some(&c.jid) == jid.as_ref())
                })
                .map(|c| LinkedContact {
                    id: c.uuid,
                    name: c.name.clone().or_else(|| c.push_name.clone()),
                    phone_number: c.phone_number.clone(),
                });
            let conversation = conversations
                .iter()
                .find(|c| Some(c.id) == l.conversation_id)
                .or_else(|| {
                    conversations.iter().find(|c| {
                        c.instance_id == l.instance_id && Some(&c.chat_jid) == jid.as_ref()
                    })
                })
                .map(|c| LinkedConversation {
                    id: c.uuid,
                    chat_jid: c.chat_jid.clone(),
                });
            out.push(LeadView::new(
                l,
                boards.get(&l.board_id).copied().unwrap_or_default(),
                column,
                Links {
                    contact,
                    conversation,
                },
                money,
            ));
        }
        Ok(out)
    }

    pub(super) async fn lead_view<C: ConnectionTrait>(
        &self,
        conn: &C,
        lead: &kanban_lead::Model,
        money: &MoneyFormat,
    ) -> AppResult<LeadView> {
        self.lead_views(conn, std::slice::from_ref(lead), money)
            .await?
            .pop()
            .ok_or_else(lead_not_found)
    }

    /// The conversation a lead is linked to (stored, else its number's), as a row.
    pub(super) async fn lead_conversation<C: ConnectionTrait>(
        &self,
        conn: &C,
        lead: &kanban_lead::Model,
    ) -> AppResult<Option<conversation::Model>> {
        let id = match lead.conversation_id {
            Some(id) => Some(id),
            None => {
                self.link_ids(conn, lead.instance_id, lead.phone_number.as_deref())
                    .await?
                    .1
            }
        };
        Ok(match id {
            Some(id) => conversation::Entity::find_by_id(id).one(conn).await?,
            None => None,
        })
    }
}
