//! Sending a planned turn: item by item through the instance's node, each send with its
//! client reference, skipping what a crashed attempt already sent, counting after each send,
//! then the session's close or pause. A node that is away postpones the turn (plan kept).

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};

use crate::automation::intake::ClientRef;
use crate::automation::plan::{Plan, Reply};
use crate::automation::settings::ReplyDelivery;
use crate::db::entities::{automation_session, automation_turn, conversation, instance, message};
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// Where a decided turn's replies go, as deciding it read them.
pub(crate) struct Target {
    pub inst: instance::Model,
    pub conv: conversation::Model,
    pub automation_uuid: uuid::Uuid,
}

/// What delivering a turn needs.
pub(crate) struct Loaded {
    pub session: automation_session::Model,
    pub conv: conversation::Model,
    pub inst: instance::Model,
    pub automation_uuid: uuid::Uuid,
}

/// A turn that failed to send is retried this many times (node unavailable), then fails.
const MAX_ATTEMPTS: i32 = 8;

impl Loaded {
    pub(crate) fn new(session: automation_session::Model, target: Target) -> Loaded {
        Loaded {
            session,
            conv: target.conv,
            inst: target.inst,
            automation_uuid: target.automation_uuid,
        }
    }
}

impl Services {
    /// Sends a planned turn's remaining items, then applies its `after` and marks it done.
    /// `loaded` is what deciding the turn already read (a plan taken up after a crash loads
    /// it).
    pub(crate) async fn deliver(
        &self,
        turn: automation_turn::Model,
        loaded: Option<Loaded>,
    ) -> AppResult<()> {
        let plan: Plan = serde_json::from_value(turn.plan.clone().unwrap_or_default())
            .map_err(|e| AppError::internal(e.to_string()))?;
        // Only a plan recorded by this very attempt can have nothing sent yet for sure.
        let fresh = loaded.is_some();
        let loaded = match loaded {
            Some(l) => l,
            None => match self.load_for_delivery(&turn, &plan).await? {
                Ok(l) => l,
                Err(why) => {
                    return self.set_turns(&[turn.id], "failed", Some(why.into())).await;
                }
            },
        };
        let Loaded {
            session,
            conv,
            inst,
            automation_uuid,
        } = loaded;
        let start = usize::try_from(turn.sent_count).unwrap_or(0);
        for (index, item) in plan.items.iter().enumerate().skip(start) {
            let client_ref = ClientRef {
                session_id: session.id,
                session_uuid: session.uuid,
                automation_kind: if session.automation_kind == "flow" {
                    "flow"
                } else {
                    "integration"
                },
                automation_uuid,
                turn_id: turn.id,
                index: index as u32,
            }
            .encode();
            // Sent before a crash but not counted: the node's event (or our record) has it.
            let already = !fresh
                && message::Entity::find()
                    .select_only()
                    .column(message::Column::Id)
                    .filter(message::Column::ConversationId.eq(conv.id))
                    .filter(message::Column::AutomationRef.eq(client_ref.as_str()))
                    .into_tuple::<i64>()
                    .one(&self.db)
                    .await?
                    .is_some();
            if already {
                self.count_sent(turn.id, index).await?;
                continue;
            }
            if index > start || start == 0 {
                self.pause_before(&inst, &conv.chat_jid, &plan.delivery, item)
                    .await;
            }
            match self
                .send_reply(&inst, &conv.chat_jid, item, &client_ref)
                .await
            {
                // The last item's count is written with the turn's completion.
                Ok(()) if index + 1 < plan.items.len() => self.count_sent(turn.id, index).await?,
                Ok(()) => {}
                Err(AppError::Client(body)) if !retryable(&body) => {
                    return self
                        .set_turns(&[turn.id], "failed", Some(body.message.clone()))
                        .await;
                }
                Err(e) => {
                    if turn.attempts >= MAX_ATTEMPTS {
                        return self
                            .set_turns(&[turn.id], "failed", Some(e.to_string()))
                            .await;
                    }
                    // The node is away: try again later, the plan and count kept.
                    let delay = zapini_shared::backoff::Backoff::nth(
                        Duration::from_millis(500),
                        Duration::from_secs(64),
                        u32::try_from(turn.attempts).unwrap_or(0),
                    );
                    return self.postpone_turns(&[turn.id], delay).await;
                }
            }
        }
        self.finish_session_turn(&session, &conv, &plan).await?;
        let _permit = self.write_gate.enter().await;
        automation_turn::Entity::update_many()
            .col_expr(automation_turn::Column::Status, Expr::value("done"))
            .col_expr(
                automation_turn::Column::SentCount,
                Expr::value(plan.items.len() as i32),
            )
            .col_expr(automation_turn::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(automation_turn::Column::Id.eq(turn.id))
            .exec(&self.bookkeeping_db)
            .await?;
        Ok(())
    }

    /// Reads what a planned turn's delivery needs; `Err` says why it cannot be delivered.
    async fn load_for_delivery(
        &self,
        turn: &automation_turn::Model,
        plan: &Plan,
    ) -> AppResult<Result<Loaded, &'static str>> {
        let Some(session) = automation_session::Entity::find_by_id(plan.session_id)
            .one(&self.db)
            .await?
        else {
            return Ok(Err("session gone"));
        };
        let Some(conv) = conversation::Entity::find_by_id(turn.conversation_id)
            .one(&self.db)
            .await?
        else {
            return Ok(Err("conversation gone"));
        };
        let Some(inst) = instance::Entity::find_by_id(turn.instance_id)
            .one(&self.db)
            .await?
        else {
            return Ok(Err("instance gone"));
        };
        let automation_uuid = self
            .automation_uuid(&session.automation_kind, session.automation_id)
            .await?;
        Ok(Ok(Loaded {
            session,
            conv,
            inst,
            automation_uuid,
        }))
    }

    async fn count_sent(&self, turn_id: i64, index: usize) -> AppResult<()> {
        let _permit = self.write_gate.enter().await;
        automation_turn::Entity::update_many()
            .col_expr(
                automation_turn::Column::SentCount,
                Expr::value(index as i32 + 1),
            )
            .col_expr(automation_turn::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(automation_turn::Column::Id.eq(turn_id))
            .exec(&self.bookkeeping_db)
            .await?;
        Ok(())
    }

    async fn automation_uuid(&self, kind: &str, id: i64) -> AppResult<uuid::Uuid> {
        use crate::db::entities::{automation_flow, automation_integration};
        Ok(if kind == "flow" {
            automation_flow::Entity::find_by_id(id)
                .one(&self.db)
                .await?
                .map(|f| f.uuid)
        } else {
            automation_integration::Entity::find_by_id(id)
                .one(&self.db)
                .await?
                .map(|i| i.uuid)
        }
        .unwrap_or_default())
    }

    /// Waits a reply's delay, showing "typing…" (or "recording audio…" before a voice note)
    /// in the chat meanwhile when the automation asks for it. The indicator is a courtesy: a
    /// node that cannot show it does not hold the reply back.
    async fn pause_before(
        &self,
        inst: &instance::Model,
        chat_jid: &str,
        delivery: &ReplyDelivery,
        item: &Reply,
    ) {
        let delay = delay_of(delivery, item);
        if delay.is_zero() {
            return;
        }
        if delivery.typing {
            let state = match item {
                Reply::Media { media_type, .. } if media_type == "audio" => "recording",
                _ => "composing",
            };
            let shown = match self.require_node_cached(inst).await {
                Ok(node) => node.set_presence(chat_jid, state).await,
                Err(e) => Err(e),
            };
            if let Err(e) = shown {
                tracing::debug!(error = %e, "typing indicator not shown");
            }
        }
        tokio::time::sleep(delay).await;
    }

    /// Sends one reply through the node, with its client reference.
    async fn send_reply(
        &self,
        inst: &instance::Model,
        chat_jid: &str,
        item: &Reply,
        client_ref: &str,
    ) -> AppResult<()> {
        use crate::grpc::client::NodeMedia;
        let node = self.require_node_cached(inst).await?;
        // The message is stored when the node's `message.sent` event (which carries the
        // client reference) is ingested: recording it here too would cost a write per reply.
        match item {
            Reply::Text { text } => {
                node.send_text(chat_jid, text, None, true, Some(client_ref))
                    .await?;
            }
            Reply::Media {
                media_type,
                url,
                media_id,
                caption,
                filename,
            } => {
                node.send_media(
                    chat_jid,
                    NodeMedia {
                        media_type: media_type.clone(),
                        url: url.clone().unwrap_or_default(),
                        mime_type: String::new(),
                        caption: caption.clone().unwrap_or_default(),
                        filename: filename.clone().unwrap_or_default(),
                        media_id: media_id.clone().unwrap_or_default(),
                    },
                    None,
                    true,
                    Some(client_ref),
                )
                .await?;
            }
        }
        Ok(())
    }
}

/// A node's refusal that a later attempt may not get (daily limit, bad media): not retried.
fn retryable(body: &zapini_shared::error::ErrorBody) -> bool {
    use zapini_shared::error::ErrorCode;
    matches!(
        body.code,
        ErrorCode::NodeUnavailable | ErrorCode::InstanceNotConnected
    )
}

/// The delay before a reply: per character, capped.
fn delay_of(delivery: &ReplyDelivery, item: &Reply) -> Duration {
    let chars = match item {
        Reply::Text { text } => text.chars().count(),
        Reply::Media { caption, .. } => caption.as_ref().map_or(0, |c| c.chars().count()),
    } as u64;
    Duration::from_millis(std::cmp::Ord::min(
        chars * u64::from(delivery.delay_per_char_ms),
        u64::from(delivery.max_delay_ms),
    ))
}
