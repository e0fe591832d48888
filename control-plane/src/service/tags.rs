//! Tags: tenant-scoped labels (unique name, `#RRGGBB` color) assigned to conversations.
//! Deleting a tag removes it from every conversation (the link rows cascade).
//!
//! Tags belong to the whole tenant: an `sk_` token may read them and assign them to its
//! instance's conversations, but not create, change or delete them, and the
//! `conversations_count` it sees counts its instance's conversations only.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::{ErrorBody, ErrorCode};
use zapini_shared::time::format_secs;

use super::Services;
use super::inbox::TagRef;
use crate::db::TenantScoped;
use crate::db::entities::{conversation, conversation_tag, tag};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};

/// A tag.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TagView {
    pub id: Uuid,
    #[schema(example = "VIP")]
    pub name: String,
    /// `#rrggbb`.
    #[schema(example = "#f59e0b")]
    pub color: String,
    /// Conversations with this tag (for an `sk_` token, of its instance only).
    pub conversations_count: u64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// A tag name: trimmed, 1 to 50 characters.
pub fn parse_tag_name(raw: &str) -> Result<String, ErrorBody> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(ErrorBody::validation("name", "The name field is required."));
    }
    if name.chars().count() > 50 {
        return Err(ErrorBody::validation(
            "name",
            "The name may not be greater than 50 characters.",
        ));
    }
    Ok(name.to_owned())
}

/// A color as `#RRGGBB` (hex digits in either case; stored lower-case).
pub fn parse_color(raw: &str) -> Result<String, ErrorBody> {
    let c = raw.trim();
    let ok = c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|ch| ch.is_ascii_hexdigit());
    if !ok {
        return Err(ErrorBody::validation(
            "color",
            "The color must be a hex color code like #3b82f6.",
        ));
    }
    Ok(c.to_ascii_lowercase())
}

fn duplicate_name(name: &str) -> AppError {
    AppError::Client(
        ErrorBody::new(
            ErrorCode::DuplicateEntry,
            format!("A tag named \"{name}\" already exists."),
        )
        .with_details(serde_json::json!({"name": ["The name has already been taken."]})),
    )
}

/// Tags are the tenant's: only user tokens change them.
fn require_user(caller: &Caller) -> AppResult<()> {
    match caller {
        Caller::User { .. } => Ok(()),
        Caller::Instance { .. } => Err(AppError::forbidden(
            "Tags belong to the whole account: instance tokens (sk_) can read them but not create, change or delete them; use a user token.",
        )),
    }
}

impl Services {
    async fn tag_counts(&self, caller: &Caller, ids: Vec<i64>) -> AppResult<HashMap<i64, u64>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut query = conversation_tag::Entity::find()
            .select_only()
            .column(conversation_tag::Column::TagId)
            .column_as(conversation_tag::Column::ConversationId.count(), "n")
            .filter(conversation_tag::Column::TagId.is_in(ids));
        if let Some(bound) = caller.bound_instance() {
            let own = sea_orm::sea_query::Query::select()
                .column(conversation::Column::Id)
                .from(conversation::Entity)
                .and_where(conversation::Column::InstanceId.eq(bound.0))
                .to_owned();
            query = query.filter(conversation_tag::Column::ConversationId.in_subquery(own));
        }
        let rows: Vec<(i64, i64)> = query
            .group_by(conversation_tag::Column::TagId)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(id, n)| (id, u64::try_from(n).unwrap_or(0)))
            .collect())
    }

    async fn tag_views(&self, caller: &Caller, rows: Vec<tag::Model>) -> AppResult<Vec<TagView>> {
        let counts = self
            .tag_counts(caller, rows.iter().map(|t| t.id).collect())
            .await?;
        Ok(rows
            .into_iter()
            .map(|t| TagView {
                id: t.uuid,
                conversations_count: counts.get(&t.id).copied().unwrap_or(0),
                name: t.name,
                color: t.color,
                created_at: format_secs(t.created_at),
                updated_at: format_secs(t.updated_at),
            })
            .collect())
    }

    async fn find_tag(&self, caller: &Caller, reference: &str) -> AppResult<tag::Model> {
        let not_found = || AppError::not_found(ErrorCode::NotFound, "Tag");
        let uuid = Uuid::parse_str(reference.trim()).map_err(|_| not_found())?;
        tag::Entity::scoped(caller.tenant())
            .filter(tag::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
            .ok_or_else(not_found)
    }

    async fn name_taken(
        &self,
        caller: &Caller,
        name: &str,
        except: Option<i64>,
    ) -> AppResult<bool> {
        let mut q = tag::Entity::scoped(caller.tenant()).filter(tag::Column::Name.eq(name));
        if let Some(id) = except {
            q = q.filter(tag::Column::Id.ne(id));
        }
        Ok(q.one(&self.db).await?.is_some())
    }

    pub async fn list_tags(&self, caller: &Caller) -> AppResult<Vec<TagView>> {
        let mut rows = tag::Entity::scoped(caller.tenant())
            .order_by_asc(tag::Column::Id)
            .all(&self.db)
            .await?;
        // By name, ignoring case, the same on every database whatever its collation.
        rows.sort_by_cached_key(|t| t.name.to_lowercase());
        self.tag_views(caller, rows).await
    }

    pub async fn get_tag(&self, caller: &Caller, reference: &str) -> AppResult<TagView> {
        let t = self.find_tag(caller, reference).await?;
        Ok(self.tag_views(caller, vec![t]).await?.remove(0))
    }

    pub async fn create_tag(
        &self,
        caller: &Caller,
        name: String,
        color: String,
    ) -> AppResult<TagView> {
        require_user(caller)?;
        if self.name_taken(caller, &name, None).await? {
            return Err(duplicate_name(&name));
        }
        let now = Utc::now();
        let saved = {
            let _permit = self.write_gate.enter().await;
            tag::ActiveModel {
                uuid: Set(Uuid::new_v4()),
                tenant_id: Set(caller.tenant().0),
                name: Set(name.clone()),
                color: Set(color),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            }
            .insert(&self.db)
            .await
        };
        let saved = match saved {
            Ok(t) => t,
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                return Err(duplicate_name(&name));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(self.tag_views(caller, vec![saved]).await?.remove(0))
    }

    pub async fn update_tag(
        &self,
        caller: &Caller,
        reference: &str,
        name: Option<String>,
        color: Option<String>,
    ) -> AppResult<TagView> {
        require_user(caller)?;
        let t = self.find_tag(caller, reference).await?;
        if let Some(n) = &name
            && self.name_taken(caller, n, Some(t.id)).await?
        {
            return Err(duplicate_name(n));
        }
        let mut a: tag::ActiveModel = t.into();
        if let Some(n) = name.clone() {
            a.name = Set(n);
        }
        if let Some(c) = color {
            a.color = Set(c);
        }
        a.updated_at = Set(Utc::now());
        let saved = {
            let _permit = self.write_gate.enter().await;
            a.update(&self.db).await
        };
        let saved = match saved {
            Ok(t) => t,
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                return Err(duplicate_name(&name.unwrap_or_default()));
            }
            Err(e) => return Err(e.into()),
        };
        Ok(self.tag_views(caller, vec![saved]).await?.remove(0))
    }

    pub async fn delete_tag(&self, caller: &Caller, reference: &str) -> AppResult<()> {
        require_user(caller)?;
        let t = self.find_tag(caller, reference).await?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        conversation_tag::Entity::delete_many()
            .filter(conversation_tag::Column::TagId.eq(t.id))
            .exec(&txn)
            .await?;
        tag::Entity::delete_by_id(t.id).exec(&txn).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Replaces a conversation's tags with `tag_ids` (all must be the tenant's; an unknown one
    /// is a 422 naming it). An empty list clears them.
    pub async fn set_conversation_tags(
        &self,
        caller: &Caller,
        reference: &str,
        tag_ids: Vec<Uuid>,
    ) -> AppResult<Vec<TagRef>> {
        let c = self.find_conversation(caller, reference).await?;
        let tags = if tag_ids.is_empty() {
            Vec::new()
        } else {
            tag::Entity::scoped(caller.tenant())
                .filter(tag::Column::Uuid.is_in(tag_ids.clone()))
                .all(&self.db)
                .await?
        };
        if let Some(missing) = tag_ids.iter().find(|u| !tags.iter().any(|t| t.uuid == **u)) {
            return Err(AppError::validation(
                "tag_ids",
                format!("The tag_ids field names an unknown tag: {missing}."),
            ));
        }
        let now = Utc::now();
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        conversation_tag::Entity::delete_many()
            .filter(conversation_tag::Column::ConversationId.eq(c.id))
            .exec(&txn)
            .await?;
        if !tags.is_empty() {
            conversation_tag::Entity::insert_many(tags.iter().map(|t| {
                conversation_tag::ActiveModel {
                    conversation_id: Set(c.id),
                    tag_id: Set(t.id),
                    created_at: Set(now),
                }
            }))
            .exec_without_returning(&txn)
            .await?;
        }
        crate::db::entities::conversation::Entity::update_many()
            .col_expr(
                crate::db::entities::conversation::Column::UpdatedAt,
                Expr::value(now),
            )
            .filter(crate::db::entities::conversation::Column::Id.eq(c.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        drop(_permit);
        self.conversation_news(&c).await;
        let mut out: Vec<TagRef> = tags
            .into_iter()
            .map(|t| TagRef {
                id: t.uuid,
                name: t.name,
                color: t.color,
            })
            .collect();
        out.sort_by_cached_key(|t| t.name.to_lowercase());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors() {
        assert_eq!(parse_color("#F59E0B").unwrap(), "#f59e0b");
        for bad in ["f59e0b", "#f59e0", "#f59e0bb", "#g59e0b", "", "red"] {
            assert!(parse_color(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn names() {
        assert_eq!(parse_tag_name("  VIP ").unwrap(), "VIP");
        assert!(parse_tag_name(" ").is_err());
        assert!(parse_tag_name(&"x".repeat(51)).is_err());
        assert!(parse_tag_name(&"é".repeat(50)).is_ok());
    }
}
