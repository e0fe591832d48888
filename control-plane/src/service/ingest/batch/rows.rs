//! New contacts and conversations as rows, and their multi-row inserts that skip rows another
//! transaction created meanwhile (and read those instead).

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;
use zapini_shared::jid::Jid;

use crate::db::entities::{contact, conversation, instance};
use crate::error::AppResult;

/// Inserts contacts (multi-row statements) and returns the inserted rows, then those another
/// transaction created meanwhile, as they are now. Two writers can meet on a new contact (a
/// send's own record and the node's report of it): the second waits for the first to commit,
/// then takes its row instead of failing on the unique key.
pub(super) async fn create_contacts<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    rows: Vec<contact::ActiveModel>,
) -> AppResult<(Vec<contact::Model>, Vec<contact::Model>)> {
    let mut keys: HashSet<String> = rows
        .iter()
        .filter_map(|r| r.jid.try_as_ref().cloned())
        .collect();
    let max_bytes = crate::db::statement_bytes(conn.get_database_backend());
    let mut inserted = Vec::new();
    for chunk in crate::db::size_bounded_chunks(rows, 500, max_bytes, |_| 300) {
        inserted.extend(
            contact::Entity::insert_many(chunk)
                .on_conflict(
                    OnConflict::columns([contact::Column::InstanceId, contact::Column::Jid])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_with_returning(conn)
                .await?,
        );
    }
    for c in &inserted {
        keys.remove(&c.jid);
    }
    let mut found = Vec::new();
    if !keys.is_empty() {
        found = contact::Entity::find()
            .filter(contact::Column::InstanceId.eq(instance.id))
            .filter(contact::Column::Jid.is_in(keys))
            .all(conn)
            .await?;
    }
    Ok((inserted, found))
}

/// Inserts conversations like [`create_contacts`]; returns each one, inserted or found.
pub(super) async fn create_conversations<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    rows: Vec<conversation::ActiveModel>,
) -> AppResult<Vec<conversation::Model>> {
    let mut keys: HashSet<String> = rows
        .iter()
        .filter_map(|r| r.chat_jid.try_as_ref().cloned())
        .collect();
    let max_bytes = crate::db::statement_bytes(conn.get_database_backend());
    let mut out = Vec::new();
    for chunk in crate::db::size_bounded_chunks(rows, 500, max_bytes, |_| 400) {
        out.extend(
            conversation::Entity::insert_many(chunk)
                .on_conflict(
                    OnConflict::columns([
                        conversation::Column::InstanceId,
                        conversation::Column::ChatJid,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_with_returning(conn)
                .await?,
        );
    }
    for c in &out {
        keys.remove(&c.chat_jid);
    }
    if !keys.is_empty() {
        out.extend(
            conversation::Entity::find()
                .filter(conversation::Column::InstanceId.eq(instance.id))
                .filter(conversation::Column::ChatJid.is_in(keys))
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}

pub(super) fn contact_row(
    instance: &instance::Model,
    jid: &Jid,
    key: String,
    push_name: Option<String>,
) -> contact::ActiveModel {
    let now = Utc::now();
    contact::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        tenant_id: Set(instance.tenant_id),
        instance_id: Set(instance.id),
        jid: Set(key),
        phone_number: Set(jid.phone_number().map(|p| p.into_string())),
        name: Set(None),
        push_name: Set(push_name),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

pub(super) fn conversation_row(
    instance: &instance::Model,
    chat: &Jid,
    key: String,
    contact_id: Option<i64>,
    display_name: Option<String>,
) -> conversation::ActiveModel {
    let now = Utc::now();
    conversation::ActiveModel {
        uuid: Set(Uuid::new_v4()),
        tenant_id: Set(instance.tenant_id),
        instance_id: Set(instance.id),
        contact_id: Set(contact_id),
        chat_jid: Set(key),
        is_group: Set(chat.is_group()),
        display_name: Set(display_name),
        last_message: Set(None),
        last_message_at: Set(None),
        unread_count: Set(0),
        is_archived: Set(false),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}
