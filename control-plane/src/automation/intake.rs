//! What an ingest transaction hands to the automation engine, in that same transaction:
//! - an incoming message of an automated instance becomes a turn (unique per message, so a
//!   replay adds nothing), due after the debounce;
//! - a message a person sent (from the phone, or through the API) in a conversation whose
//!   session stops on a human pauses that session and the conversation;
//! - a message our automation sent is recognised by its client reference (see [`ClientRef`]).

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::active::active_automations;
use crate::db::entities::{automation_session, automation_turn, conversation, instance};
use crate::error::AppResult;

/// The client reference an automated send carries to the node and back in its
/// `message.sent` event: `auto:<session id>:<session uuid>:<f|i>:<automation uuid>:<turn>:<index>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRef {
    pub session_id: i64,
    pub session_uuid: Uuid,
    /// `flow` or `integration`.
    pub automation_kind: &'static str,
    pub automation_uuid: Uuid,
    pub turn_id: i64,
    pub index: u32,
}

impl ClientRef {
    pub fn encode(&self) -> String {
        format!(
            "auto:{}:{}:{}:{}:{}:{}",
            self.session_id,
            self.session_uuid.simple(),
            if self.automation_kind == "flow" {
                "f"
            } else {
                "i"
            },
            self.automation_uuid.simple(),
            self.turn_id,
            self.index
        )
    }

    pub fn parse(s: &str) -> Option<ClientRef> {
        let mut it = s.strip_prefix("auto:")?.split(':');
        let session_id = it.next()?.parse().ok()?;
        let session_uuid = Uuid::parse_str(it.next()?).ok()?;
        let automation_kind = match it.next()? {
            "f" => "flow",
            "i" => "integration",
            _ => return None,
        };
        let automation_uuid = Uuid::parse_str(it.next()?).ok()?;
        let turn_id = it.next()?.parse().ok()?;
        let index = it.next()?.parse().ok()?;
        if it.next().is_some() {
            return None;
        }
        Some(ClientRef {
            session_id,
            session_uuid,
            automation_kind,
            automation_uuid,
            turn_id,
            index,
        })
    }
}

/// Which automation sent a message (in history and `message.sent` webhooks).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = SentByAutomation)]
pub struct SentBy {
    /// The automation session.
    pub session_id: Uuid,
    /// `flow` or `integration`.
    #[schema(example = "integration")]
    pub automation_type: &'static str,
    /// The flow's or integration's UUID.
    pub automation_id: Uuid,
}

impl SentBy {
    /// From a stored message's automation reference.
    pub fn of(automation_ref: Option<&str>) -> Option<SentBy> {
        let r = ClientRef::parse(automation_ref?)?;
        Some(SentBy {
            session_id: r.session_uuid,
            automation_type: r.automation_kind,
            automation_id: r.automation_uuid,
        })
    }
}

/// Incoming messages older than this are not answered.
pub const STALE_AFTER: Duration = Duration::hours(1);

/// Collected while a batch is applied.
#[derive(Debug, Default)]
pub struct Intake {
    /// Incoming messages: (WhatsApp id, conversation id, received at).
    incoming: Vec<(String, i64, DateTime<Utc>)>,
    /// Messages a person sent: (conversation id, sent at).
    human: Vec<(i64, DateTime<Utc>)>,
}

/// What the transaction did for automations (acted on after the commit).
#[derive(Debug, Default)]
pub struct IntakeOutcome {
    pub queued_turns: bool,
    /// Chats whose automation was paused because a person answered.
    pub paused_chats: Vec<String>,
}

impl Intake {
    /// An incoming message. One older than [`STALE_AFTER`] (a history sync, a long outage)
    /// is stored but not answered.
    pub fn incoming(&mut self, wa_id: &str, conversation_id: i64, at: DateTime<Utc>) {
        if at >= Utc::now() - STALE_AFTER {
            self.incoming.push((wa_id.to_owned(), conversation_id, at));
        }
    }

    pub fn human(&mut self, conversation_id: i64, at: DateTime<Utc>) {
        self.human.push((conversation_id, at));
    }

    pub fn is_empty(&self) -> bool {
        self.incoming.is_empty() && self.human.is_empty()
    }

    /// Writes the turns and the human take-overs. The messages are inserted already.
    pub async fn flush<C: ConnectionTrait>(
        self,
        conn: &C,
        instance: &instance::Model,
    ) -> AppResult<IntakeOutcome> {
        let mut out = IntakeOutcome::default();
        if self.is_empty() {
            return Ok(out);
        }
        let automations = active_automations(conn, instance.id).await?;
        if automations.is_empty() {
            return Ok(out);
        }
        let now = Utc::now();
        let convs: Vec<i64> = self
            .incoming
            .iter()
            .map(|i| i.1)
            .chain(self.human.iter().map(|h| h.0))
            .collect();
        let sessions = automation_session::Entity::find()
            .filter(automation_session::Column::ConversationId.is_in(convs))
            .filter(automation_session::Column::Status.ne("closed"))
            .all(conn)
            .await?;
        let settings_of = |s: &automation_session::Model| {
            automations
                .iter()
                .find(|a| a.kind == s.automation_kind && a.id == s.automation_id)
                .map(|a| &a.settings)
        };
        // A person answered: the sessions that stop on a human pause.
        for (conv_id, at) in &self.human {
            for s in sessions.iter().filter(|s| {
                s.conversation_id == *conv_id && s.status == "active" && *at >= s.created_at
            }) {
                if !settings_of(s).is_none_or(|st| st.stop_on_human) {
                    continue;
                }
                pause_for_human(conn, s, now).await?;
                if let Some(c) = conversation::Entity::find_by_id(*conv_id).one(conn).await? {
                    out.paused_chats.push(c.chat_jid);
                }
            }
        }
        // Incoming messages: one turn each, due after the debounce of the automation that
        // holds the conversation (or the longest of the instance's, before one does).
        let longest = automations
            .iter()
            .map(|a| a.settings.debounce_ms)
            .max()
            .unwrap_or(0);
        let wa_ids: Vec<String> = self.incoming.iter().map(|i| i.0.clone()).collect();
        let ids = message_ids(conn, instance.id, wa_ids).await?;
        let mut rows = Vec::new();
        for (wa_id, conv_id, _at) in &self.incoming {
            let debounce = sessions
                .iter()
                .find(|s| s.conversation_id == *conv_id && s.status == "active")
                .and_then(settings_of)
                .map_or(longest, |s| s.debounce_ms);
            let Some(&message_id) = ids.get(wa_id) else {
                continue;
            };
            rows.push(automation_turn::ActiveModel {
                tenant_id: Set(instance.tenant_id),
                instance_id: Set(instance.id),
                conversation_id: Set(*conv_id),
                message_id: Set(Some(message_id)),
                status: Set("pending".into()),
                not_before: Set(now + Duration::milliseconds(i64::from(debounce))),
                attempts: Set(0),
                sent_count: Set(0),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            });
        }
        if !rows.is_empty() {
            automation_turn::Entity::insert_many(rows)
                .on_conflict(
                    OnConflict::column(automation_turn::Column::MessageId)
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(conn)
                .await?;
            out.queued_turns = true;
        }
        Ok(out)
    }
}

/// The row ids of messages by WhatsApp id.
async fn message_ids<C: ConnectionTrait>(
    conn: &C,
    instance_id: i64,
    wa_ids: Vec<String>,
) -> AppResult<std::collections::HashMap<String, i64>> {
    use crate::db::entities::message;
    use sea_orm::QuerySelect;
    let in_list = crate::db::rows_per_statement(conn.get_database_backend(), 500, 200);
    let mut out = std::collections::HashMap::new();
    for chunk in wa_ids.chunks(in_list) {
        let rows: Vec<(String, i64)> = message::Entity::find()
            .select_only()
            .column(message::Column::WaMessageId)
            .column(message::Column::Id)
            .filter(message::Column::InstanceId.eq(instance_id))
            .filter(message::Column::WaMessageId.is_in(chunk.to_vec()))
            .into_tuple()
            .all(conn)
            .await?;
        out.extend(rows);
    }
    Ok(out)
}

/// Pauses a session and its conversation because a person answered.
async fn pause_for_human<C: ConnectionTrait>(
    conn: &C,
    s: &automation_session::Model,
    now: DateTime<Utc>,
) -> AppResult<()> {
    mark_paused(
        conn,
        s.id,
        s.conversation_id,
        "human_reply",
        "human reply",
        "A person answered in this conversation.",
        now,
    )
    .await
}

/// Marks a session paused with `reason`, and its conversation's automation paused by `by` with
/// `why` (what people read), in the caller's transaction.
pub(crate) async fn mark_paused<C: sea_orm::ConnectionTrait>(
    conn: &C,
    session_id: i64,
    conversation_id: i64,
    reason: &str,
    by: &str,
    why: &str,
    now: DateTime<Utc>,
) -> AppResult<()> {
    automation_session::Entity::update_many()
        .col_expr(automation_session::Column::Status, Expr::value("paused"))
        .col_expr(automation_session::Column::PauseReason, Expr::value(reason))
        .col_expr(automation_session::Column::UpdatedAt, Expr::value(now))
        .filter(automation_session::Column::Id.eq(session_id))
        .exec(conn)
        .await?;
    conversation::Entity::update_many()
        .col_expr(conversation::Column::AutomationPaused, Expr::value(true))
        .col_expr(conversation::Column::AutomationPausedAt, Expr::value(now))
        .col_expr(conversation::Column::AutomationPausedBy, Expr::value(by))
        .col_expr(
            conversation::Column::AutomationPauseReason,
            Expr::value(why),
        )
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
        .filter(conversation::Column::Id.eq(conversation_id))
        .filter(conversation::Column::AutomationPaused.eq(false))
        .exec(conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_refs_round_trip() {
        let r = ClientRef {
            session_id: 42,
            session_uuid: Uuid::new_v4(),
            automation_kind: "integration",
            automation_uuid: Uuid::new_v4(),
            turn_id: 7,
            index: 2,
        };
        let s = r.encode();
        assert!(s.len() <= 128, "{s}");
        assert_eq!(ClientRef::parse(&s), Some(r));
        assert_eq!(ClientRef::parse("auto:1:x"), None);
        assert_eq!(ClientRef::parse("manual"), None);
    }
}
