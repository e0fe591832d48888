//! The inbox read side and its small writes: listing conversations with every filter of the
//! reference, one conversation, archive/restore/delete and mark-read. Message history and the
//! chat format live in [`history`], automation control in [`automation`], sends that change
//! stored messages (edit, revoke, react) in [`actions`].

pub mod actions;
pub mod automation;
pub mod automation_entities;
pub mod history;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;
use zapini_shared::time::format_secs;

use super::Services;
use crate::db::TenantScoped;
use crate::db::entities::{contact, conversation, conversation_tag, instance, tag};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};

/// A tag as conversations show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TagRef {
    pub id: Uuid,
    #[schema(example = "VIP")]
    pub name: String,
    /// `#rrggbb`.
    #[schema(example = "#f59e0b")]
    pub color: String,
}

/// The instance block of the chat format.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = ConversationInstance)]
pub struct InstanceBrief {
    pub uuid: Uuid,
    /// The connected number (digits), once paired.
    pub phone_number: Option<String>,
    /// The instance's connection status (`connected`, `disconnected`, `qr_ready`, `pending`).
    pub status: String,
}

/// The values of `automation_status`, for the OpenAPI document ([`automation_status`] makes
/// them).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum AutomationStatus {
    Active,
    Paused,
    Inactive,
}

/// A conversation, as the inbox lists and shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ConversationView {
    pub id: Uuid,
    /// The instance's UUID.
    pub instance_id: Uuid,
    pub chat_jid: String,
    /// The contact's number (digits); null for a group.
    pub contact_number: Option<String>,
    /// The contact's saved name, or its WhatsApp push name.
    pub contact_name: Option<String>,
    /// The name to show: the contact's name, the conversation's, the push name, the number or
    /// the JID, the first there is.
    pub display_name: String,
    pub is_group: bool,
    pub profile_picture_url: Option<String>,
    /// A preview of the last message.
    pub last_message: Option<String>,
    #[schema(format = DateTime)]
    pub last_message_at: Option<String>,
    pub unread_count: i32,
    pub is_archived: bool,
    #[schema(format = DateTime)]
    pub archived_at: Option<String>,
    #[schema(value_type = AutomationStatus)]
    pub automation_status: &'static str,
    /// `automation_status` is `active`: manual sends are refused with `AUTOMATION_ACTIVE`.
    pub is_automation_active: bool,
    pub can_send_manual_message: bool,
    #[schema(format = DateTime)]
    pub automation_paused_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The conversation's tags, by name: with `include_tags=true`, on a single conversation,
    /// and in the chat shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub tags: Option<Vec<TagRef>>,
    /// Only in the chat shape.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub instance: Option<InstanceBrief>,
}

/// How much a conversation listing shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Standard {
        tags: bool,
    },
    /// The chat format: tags and the instance block.
    Chat,
}

#[derive(Debug, Default)]
pub struct ConversationFilter {
    pub instance: Option<String>,
    pub unread: Option<bool>,
    pub is_group: Option<bool>,
    pub search: Option<String>,
    pub tag_ids: Vec<Uuid>,
    pub untagged: bool,
    pub archived: bool,
    pub page: u64,
    pub per_page: u64,
}

pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
}

/// `automation_status` of a conversation: `active` when the instance has an active flow or
/// integration and the conversation is not paused, `paused` when a person took over, and
/// `inactive` when the instance has no active automation.
pub fn automation_status(instance_active: bool, paused: bool) -> &'static str {
    match (paused, instance_active) {
        (true, _) => "paused",
        (false, true) => "active",
        (false, false) => "inactive",
    }
}

use crate::db::listing::like_pattern;

impl Services {
    pub async fn list_conversations(
        &self,
        caller: &Caller,
        filter: ConversationFilter,
        shape: Shape,
    ) -> AppResult<Page<ConversationView>> {
        let tenant = caller.tenant();
        let mut query = conversation::Entity::scoped(tenant)
            .filter(conversation::Column::IsArchived.eq(filter.archived));
        let instance_filter = match (&filter.instance, caller.bound_instance()) {
            (Some(r), _) => Some(self.find_instance(caller, r).await?.id),
            (None, Some(bound)) => Some(bound.0),
            (None, None) => None,
        };
        if let Some(id) = instance_filter {
            query = query.filter(conversation::Column::InstanceId.eq(id));
        }
        match filter.unread {
            Some(true) => query = query.filter(conversation::Column::UnreadCount.gt(0)),
            Some(false) => query = query.filter(conversation::Column::UnreadCount.eq(0)),
            None => {}
        }
        if let Some(g) = filter.is_group {
            query = query.filter(conversation::Column::IsGroup.eq(g));
        }
        // Without a text or tag filter, the total is a sum of maintained counters.
        let counted = filter.search.as_deref().is_none_or(|s| s.trim().is_empty())
            && filter.tag_ids.is_empty()
            && !filter.untagged;
        if let Some(s) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            let pattern = like_pattern(s);
            let lower = |c: conversation::Column| Expr::expr(Func::lower(Expr::col(c)));
            let contact_lower = |c: contact::Column| Expr::expr(Func::lower(Expr::col(c)));
            let matching_contacts = Query::select()
                .column(contact::Column::Id)
                .from(contact::Entity)
                .and_where(contact::Column::TenantId.eq(tenant.0))
                .cond_where(
                    Condition::any()
                        .add(contact_lower(contact::Column::Name).like(pattern.clone()))
                        .add(contact_lower(contact::Column::PushName).like(pattern.clone()))
                        .add(contact::Column::PhoneNumber.like(pattern.clone())),
                )
                .to_owned();
            query = query.filter(
                Condition::any()
                    .add(lower(conversation::Column::DisplayName).like(pattern.clone()))
                    .add(conversation::Column::ChatJid.like(pattern))
                    .add(conversation::Column::ContactId.in_subquery(matching_contacts)),
            );
        }
        if !filter.tag_ids.is_empty() {
            let tag_rows: Vec<i64> = tag::Entity::scoped(tenant)
                .select_only()
                .column(tag::Column::Id)
                .filter(tag::Column::Uuid.is_in(filter.tag_ids.clone()))
                .into_tuple()
                .all(&self.db)
                .await?;
            let tagged = Query::select()
                .column(conversation_tag::Column::ConversationId)
                .from(conversation_tag::Entity)
                .and_where(conversation_tag::Column::TagId.is_in(tag_rows))
                .to_owned();
            query = query.filter(conversation::Column::Id.in_subquery(tagged));
        }
        if filter.untagged {
            let tagged = Query::select()
                .column(conversation_tag::Column::ConversationId)
                .from(conversation_tag::Entity)
                .to_owned();
            query = query.filter(conversation::Column::Id.not_in_subquery(tagged));
        }
        let total = if counted {
            self.counted_total(tenant.0, instance_filter, &filter)
                .await?
        } else {
            query.clone().count(&self.db).await?
        };
        let rows = query
            .order_by_desc(conversation::Column::LastMessageAt)
            .order_by_desc(conversation::Column::Id)
            .offset(crate::db::listing::offset(filter.page, filter.per_page))
            .limit(filter.per_page)
            .all(&self.db)
            .await?;
        let items = self.conversation_views(&rows, shape).await?;
        Ok(Page { items, total })
    }

    /// How many conversations match the instance, archived, `unread` and `is_group` filters,
    /// from the counters the database keeps (migration `m20261128_000001_conversation_counts`).
    async fn counted_total(
        &self,
        tenant: i64,
        instance: Option<i64>,
        filter: &ConversationFilter,
    ) -> AppResult<u64> {
        use crate::db::migrations::m20261128_000001_conversation_counts::BUCKETS;
        use sea_orm::{ConnectionTrait, Statement};
        let columns: Vec<&str> = BUCKETS
            .iter()
            .filter(|&&(_, archived, group, unread)| {
                archived == filter.archived
                    && filter.is_group.is_none_or(|g| g == group)
                    && filter.unread.is_none_or(|u| u == unread)
            })
            .map(|(c, ..)| *c)
            .collect();
        let backend = self.db.get_database_backend();
        let mut sql = format!(
            "SELECT CAST(COALESCE(SUM({}), 0) AS BIGINT) FROM conversation_counts WHERE tenant_id = $1",
            columns.join(" + ")
        );
        let mut values: Vec<sea_orm::Value> = vec![tenant.into()];
        if let Some(id) = instance {
            sql.push_str(" AND instance_id = $2");
            values.push(id.into());
        }
        if backend == sea_orm::DbBackend::Sqlite {
            sql = sql.replace('$', "?");
        }
        let row = self
            .db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        let total: i64 = match row {
            Some(r) => r.try_get_by_index(0)?,
            None => 0,
        };
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// Views of conversation rows: their contacts, instances, automation and (when asked)
    /// tags, each read in one query for the whole page.
    pub(crate) async fn conversation_views(
        &self,
        rows: &[conversation::Model],
        shape: Shape,
    ) -> AppResult<Vec<ConversationView>> {
        let contact_ids: Vec<i64> = rows.iter().filter_map(|c| c.contact_id).collect();
        let contacts: HashMap<i64, contact::Model> = if contact_ids.is_empty() {
            HashMap::new()
        } else {
            contact::Entity::find()
                .filter(contact::Column::Id.is_in(contact_ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|c| (c.id, c))
                .collect()
        };
        let mut instance_ids: Vec<i64> = rows.iter().map(|c| c.instance_id).collect();
        instance_ids.sort_unstable();
        instance_ids.dedup();
        let instances: HashMap<i64, instance::Model> = instance::Entity::find()
            .filter(instance::Column::Id.is_in(instance_ids.clone()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|i| (i.id, i))
            .collect();
        let automated = self.automated_instances(&instance_ids).await?;
        let with_tags = matches!(shape, Shape::Chat | Shape::Standard { tags: true });
        let mut tags = if with_tags {
            self.tags_of(rows.iter().map(|c| c.id).collect()).await?
        } else {
            HashMap::new()
        };
        Ok(rows
            .iter()
            .map(|c| {
                let inst = instances.get(&c.instance_id);
                let contact = c.contact_id.and_then(|id| contacts.get(&id));
                let number = contact.and_then(|k| k.phone_number.clone()).or_else(|| {
                    (!c.is_group).then(|| c.chat_jid.split('@').next().unwrap_or("").to_owned())
                });
                let contact_name =
                    contact.and_then(|k| k.name.clone().or_else(|| k.push_name.clone()));
                let active = automated.contains(&c.instance_id);
                let status = automation_status(active, c.automation_paused);
                ConversationView {
                    id: c.uuid,
                    instance_id: inst.map(|i| i.uuid).unwrap_or_default(),
                    chat_jid: c.chat_jid.clone(),
                    display_name: contact
                        .and_then(|k| k.name.clone())
                        .or_else(|| c.display_name.clone())
                        .or_else(|| contact_name.clone())
                        .or_else(|| number.clone())
                        .unwrap_or_else(|| c.chat_jid.clone()),
                    contact_number: number,
                    contact_name,
                    is_group: c.is_group,
                    profile_picture_url: contact.and_then(|k| k.profile_picture_url.clone()),
                    last_message: c.last_message.clone(),
                    last_message_at: c.last_message_at.map(format_secs),
                    unread_count: c.unread_count,
                    is_archived: c.is_archived,
                    archived_at: c.archived_at.map(format_secs),
                    automation_status: status,
                    is_automation_active: status == "active",
                    can_send_manual_message: status != "active",
                    automation_paused_at: c.automation_paused_at.map(format_secs),
                    created_at: format_secs(c.created_at),
                    tags: with_tags.then(|| tags.remove(&c.id).unwrap_or_default()),
                    instance: (shape == Shape::Chat).then(|| InstanceBrief {
                        uuid: inst.map(|i| i.uuid).unwrap_or_default(),
                        phone_number: inst.and_then(|i| i.phone_number.clone()),
                        status: inst.map(|i| i.status.clone()).unwrap_or_default(),
                    }),
                }
            })
            .collect())
    }

    /// The tags of each conversation, by name.
    pub(crate) async fn tags_of(
        &self,
        conversation_ids: Vec<i64>,
    ) -> AppResult<HashMap<i64, Vec<TagRef>>> {
        let mut out: HashMap<i64, Vec<TagRef>> = HashMap::new();
        if conversation_ids.is_empty() {
            return Ok(out);
        }
        let links = conversation_tag::Entity::find()
            .filter(conversation_tag::Column::ConversationId.is_in(conversation_ids))
            .all(&self.db)
            .await?;
        let tag_ids: HashSet<i64> = links.iter().map(|l| l.tag_id).collect();
        if tag_ids.is_empty() {
            return Ok(out);
        }
        let tags: HashMap<i64, tag::Model> = tag::Entity::find()
            .filter(tag::Column::Id.is_in(tag_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        for l in links {
            if let Some(t) = tags.get(&l.tag_id) {
                out.entry(l.conversation_id).or_default().push(TagRef {
                    id: t.uuid,
                    name: t.name.clone(),
                    color: t.color.clone(),
                });
            }
        }
        for v in out.values_mut() {
            v.sort_by_cached_key(|t| t.name.to_lowercase());
        }
        Ok(out)
    }

    /// A conversation of the caller's tenant (and of its instance, for an `sk_` token) by
    /// UUID; anything else is 404.
    pub(crate) async fn find_conversation(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<conversation::Model> {
        let not_found = || AppError::not_found(ErrorCode::NotFound, "Conversation");
        let uuid = Uuid::parse_str(reference.trim()).map_err(|_| not_found())?;
        let mut query = conversation::Entity::scoped(caller.tenant())
            .filter(conversation::Column::Uuid.eq(uuid));
        if let Some(bound) = caller.bound_instance() {
            query = query.filter(conversation::Column::InstanceId.eq(bound.0));
        }
        query.one(&self.db).await?.ok_or_else(not_found)
    }

    /// The key live news names a conversation by ([`LiveEvent::conversation`]), for pages
    /// that reload on news of one conversation.
    ///
    /// [`LiveEvent::conversation`]: crate::live::LiveEvent::conversation
    pub async fn live_conversation_key(&self, caller: &Caller, reference: &str) -> AppResult<i64> {
        Ok(self.find_conversation(caller, reference).await?.id)
    }

    /// The conversation of an instance the caller may use with one chat (a JID such as
    /// `5511988887777@s.whatsapp.net`), archived or not; `None` before its first message.
    pub async fn chat_conversation(
        &self,
        caller: &Caller,
        instance: &str,
        chat_jid: &str,
    ) -> AppResult<Option<ConversationView>> {
        let inst = self.find_instance(caller, instance).await?;
        let row = conversation::Entity::scoped(caller.tenant())
            .filter(conversation::Column::InstanceId.eq(inst.id))
            .filter(conversation::Column::ChatJid.eq(chat_jid))
            .one(&self.db)
            .await?;
        Ok(match row {
            Some(c) => self
                .conversation_views(std::slice::from_ref(&c), Shape::Standard { tags: false })
                .await?
                .pop(),
            None => None,
        })
    }

    /// Tells the dashboard a conversation changed (read, archived, tags, automation).
    pub(crate) async fn conversation_news(&self, c: &conversation::Model) {
        if !self.live.is_watched() {
            return;
        }
        let inst = instance::Entity::find_by_id(c.instance_id)
            .one(&self.db)
            .await
            .ok()
            .flatten();
        self.live.send(crate::live::LiveEvent {
            tenant_id: c.tenant_id,
            topic: crate::live::Topic::Message,
            instance: inst.map(|i| i.uuid),
            conversation: Some(c.id),
        });
    }

    pub async fn get_conversation(
        &self,
        caller: &Caller,
        reference: &str,
        shape: Shape,
    ) -> AppResult<ConversationView> {
        let c = self.find_conversation(caller, reference).await?;
        Ok(self
            .conversation_views(std::slice::from_ref(&c), shape)
            .await?
            .remove(0))
    }

    /// Archives a conversation; returns when.
    pub async fn archive_conversation(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<(Uuid, DateTime<Utc>)> {
        let c = self.find_conversation(caller, reference).await?;
        let now = Utc::now();
        let at = c.archived_at.filter(|_| c.is_archived).unwrap_or(now);
        let _permit = self.write_gate.enter().await;
        conversation::Entity::update_many()
            .col_expr(conversation::Column::IsArchived, Expr::value(true))
            .col_expr(conversation::Column::ArchivedAt, Expr::value(at))
            .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
            .filter(conversation::Column::Id.eq(c.id))
            .exec(&self.db)
            .await?;
        drop(_permit);
        self.conversation_news(&c).await;
        Ok((c.uuid, at))
    }

    /// Restores an archived conversation; one that is not archived is 404, as the reference
    /// asks for the UUID of an archived conversation.
    pub async fn restore_conversation(&self, caller: &Caller, reference: &str) -> AppResult<Uuid> {
        let c = self.find_conversation(caller, reference).await?;
        if !c.is_archived {
            return Err(AppError::new(
                ErrorCode::NotFound,
                "Archived conversation not found; list them with GET /conversations/archived.",
            ));
        }
        let _permit = self.write_gate.enter().await;
        unarchive(&self.db, c.id).await?;
        drop(_permit);
        self.conversation_news(&c).await;
        Ok(c.uuid)
    }

    /// Deletes a conversation with its messages (and their reactions, transcriptions, tags).
    pub async fn delete_conversation(&self, caller: &Caller, reference: &str) -> AppResult<()> {
        let c = self.find_conversation(caller, reference).await?;
        let _permit = self.write_gate.enter().await;
        conversation::Entity::delete_many()
            .filter(conversation::Column::Id.eq(c.id))
            .exec(&self.db)
            .await?;
        drop(_permit);
        self.conversation_news(&c).await;
        Ok(())
    }
}

pub(crate) async fn unarchive<C: sea_orm::ConnectionTrait>(conn: &C, id: i64) -> AppResult<()> {
    conversation::Entity::update_many()
        .col_expr(conversation::Column::IsArchived, Expr::value(false))
        .col_expr(
            conversation::Column::ArchivedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(conversation::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(conversation::Column::Id.eq(id))
        .exec(conn)
        .await?;
    Ok(())
}
