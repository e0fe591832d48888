//! The turn worker: claims due turns one conversation at a time (all of a conversation's due
//! turns together: that is the debounce), decides the answer once (`engine`), records the plan
//! before sending anything, then sends it item by item through the instance's node, moving
//! `sent_count` after each. Every send carries a client reference (turn and index) the node
//! remembers, and a message already stored with that reference is not sent again, so a turn
//! retried after a crash neither decides again nor sends twice. Leases expire: a control
//! plane killed mid-turn leaves a turn that another worker (or the restarted one) takes up.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, prelude::DateTimeUtc,
};

use crate::db::entities::{automation_session, automation_turn};
use crate::error::{AppError, AppResult};
use crate::service::Services;

use crate::automation::plan::Plan;

/// Conversations handled at once by one worker.
const PARALLEL: usize = 64;

/// A conversation's claimed turns (oldest first).
pub(crate) struct Claim {
    pub conversation_id: i64,
    pub turns: Vec<automation_turn::Model>,
}

impl Services {
    /// The worker: runs until `stop`, woken by new turns or every 200 ms (debounces that come
    /// due, leases that expire, sessions that expire).
    pub async fn run_automation(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let owner = format!("cp-{}", crate::crypto::random_secret(12));
        let permits = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
        // The first sweep runs at once: turns a previous process held are taken up as soon as
        // their lease ran out.
        let mut last_sweep = std::time::Instant::now()
            .checked_sub(Duration::from_secs(60))
            .unwrap_or_else(std::time::Instant::now);
        let mut last_wake = std::time::Instant::now();
        loop {
            if *stop.borrow() {
                return;
            }
            if last_sweep.elapsed() >= Duration::from_secs(5).min(self.config.automation_lease) {
                last_sweep = std::time::Instant::now();
                if let Err(e) = self.sweep_automation().await {
                    tracing::warn!(error = %e, "automation sweep failed");
                }
            }
            if last_wake.elapsed() >= Duration::from_millis(500) {
                last_wake = std::time::Instant::now();
                if let Err(e) = self.queue_timer_turns().await {
                    tracing::warn!(error = %e, "queueing automation timers failed");
                }
            }
            let room = permits.available_permits();
            if room > 0 {
                match self.claim_turns(&owner, room).await {
                    Ok(claims) => {
                        for claim in claims {
                            let Ok(permit) = permits.clone().acquire_owned().await else {
                                return;
                            };
                            let services = self.clone();
                            let owner = owner.clone();
                            tokio::spawn(async move {
                                let conv = claim.conversation_id;
                                let ids: Vec<i64> = claim.turns.iter().map(|t| t.id).collect();
                                let renewal =
                                    tokio::spawn(services.clone().renew_turn_lease(owner, ids));
                                let at = claim.turns.first().map(|t| (t.tenant_id, t.instance_id));
                                if let Err(e) = services.run_claim(claim).await {
                                    tracing::warn!(error = %e, conversation = conv, "automation turn failed");
                                }
                                // The dashboard's session list: a turn ran (its session
                                // opened, moved on, paused or closed).
                                if let Some((tenant, instance)) = at {
                                    services
                                        .live_news(tenant, instance, crate::live::Topic::Session)
                                        .await;
                                }
                                renewal.abort();
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming automation turns failed"),
                }
            }
            tokio::select! {
                _ = self.automation_signal.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Keeps a claim's lease while its turn runs (a bot or a model may take a while).
    async fn renew_turn_lease(self, owner: String, ids: Vec<i64>) {
        let every = self.config.automation_lease / 3;
        loop {
            tokio::time::sleep(every).await;
            let until = Utc::now()
                + chrono::Duration::from_std(self.config.automation_lease).unwrap_or_default();
            let _permit = self.write_gate.enter().await;
            let renewed = automation_turn::Entity::update_many()
                .col_expr(automation_turn::Column::LeaseUntil, Expr::value(until))
                .filter(automation_turn::Column::Id.is_in(ids.clone()))
                .filter(automation_turn::Column::Status.eq("running"))
                .filter(automation_turn::Column::LeaseOwner.eq(owner.as_str()))
                .exec(&self.bookkeeping_db)
                .await;
            if let Err(e) = renewed {
                tracing::warn!(error = %e, "renewing an automation turn's lease failed");
            }
        }
    }

    /// Gives expired leases back (a worker died mid-turn; the plan and `sent_count` stay)
    /// and closes sessions that expired.
    async fn sweep_automation(&self) -> AppResult<()> {
        let now = Utc::now();
        let _permit = self.write_gate.enter().await;
        automation_turn::Entity::update_many()
            .col_expr(automation_turn::Column::Status, Expr::value("pending"))
            .col_expr(
                automation_turn::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(automation_turn::Column::UpdatedAt, Expr::value(now))
            .filter(automation_turn::Column::Status.eq("running"))
            .filter(automation_turn::Column::LeaseUntil.lt(now))
            .exec(&self.bookkeeping_db)
            .await?;
        automation_session::Entity::update_many()
            .col_expr(automation_session::Column::Status, Expr::value("closed"))
            .col_expr(
                automation_session::Column::CloseReason,
                Expr::value("expired"),
            )
            .col_expr(automation_session::Column::ClosedAt, Expr::value(now))
            .col_expr(automation_session::Column::UpdatedAt, Expr::value(now))
            .filter(automation_session::Column::Status.eq("active"))
            .filter(automation_session::Column::ExpiresAt.lte(now))
            .exec(&self.bookkeeping_db)
            .await?;
        Ok(())
    }

    /// Sessions whose flow timer is due get a timer turn (once: the wake time is cleared in
    /// the same transaction).
    async fn queue_timer_turns(&self) -> AppResult<()> {
        let now = Utc::now();
        let due = automation_session::Entity::find()
            .filter(automation_session::Column::WakeAt.lte(now))
            .filter(automation_session::Column::Status.eq("active"))
            .limit(200)
            .all(&self.bookkeeping_db)
            .await?;
        let mut queued = false;
        for s in due {
            let (txn, _permit) =
                crate::db::begin_write(&self.bookkeeping_db, &self.write_gate).await?;
            let taken = automation_session::Entity::update_many()
                .col_expr(
                    automation_session::Column::WakeAt,
                    Expr::value(Option::<DateTimeUtc>::None),
                )
                .filter(automation_session::Column::Id.eq(s.id))
                .filter(automation_session::Column::WakeAt.eq(s.wake_at))
                .exec(&txn)
                .await?
                .rows_affected;
            if taken == 1 {
                use sea_orm::{ActiveModelTrait, ActiveValue::Set};
                automation_turn::ActiveModel {
                    tenant_id: Set(s.tenant_id),
                    instance_id: Set(s.instance_id),
                    conversation_id: Set(s.conversation_id),
                    message_id: Set(None),
                    status: Set("pending".into()),
                    not_before: Set(now),
                    attempts: Set(0),
                    session_id: Set(Some(s.id)),
                    sent_count: Set(0),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                }
                .insert(&txn)
                .await?;
                queued = true;
            }
            txn.commit().await?;
        }
        if queued {
            self.automation_signal.notify_one();
        }
        Ok(())
    }

    /// Claims the due turns of up to `limit` conversations: those whose newest pending turn
    /// is due (so a burst is answered after its last message) and that have no turn running.
    pub(crate) async fn claim_turns(&self, owner: &str, limit: usize) -> AppResult<Vec<Claim>> {
        let now = Utc::now();
        // Leases that ran out are taken up again at once (the sweep also does it).
        let due: Vec<(i64, DateTimeUtc)> = automation_turn::Entity::find()
            .select_only()
            .column(automation_turn::Column::ConversationId)
            .column_as(automation_turn::Column::NotBefore.max(), "due")
            .filter(automation_turn::Column::Status.eq("pending"))
            .group_by(automation_turn::Column::ConversationId)
            .having(Func::max(Expr::col(automation_turn::Column::NotBefore)).lte(now))
            .order_by_asc(Func::max(Expr::col(automation_turn::Column::NotBefore)))
            .limit(limit as u64 * 2)
            .into_tuple()
            .all(&self.bookkeeping_db)
            .await?;
        if due.is_empty() {
            return Ok(Vec::new());
        }
        let candidates: Vec<i64> = due.iter().map(|d| d.0).collect();
        let busy: Vec<i64> = automation_turn::Entity::find()
            .select_only()
            .column(automation_turn::Column::ConversationId)
            .filter(automation_turn::Column::ConversationId.is_in(candidates.clone()))
            .filter(automation_turn::Column::Status.eq("running"))
            .filter(automation_turn::Column::LeaseUntil.gte(now))
            .into_tuple()
            .all(&self.bookkeeping_db)
            .await?;
        let lease_until =
            now + chrono::Duration::from_std(self.config.automation_lease).unwrap_or_default();
        // One statement claims every chosen conversation's due turns.
        let chosen: Vec<i64> = candidates
            .into_iter()
            .filter(|c| !busy.contains(c))
            .take(limit)
            .collect();
        if chosen.is_empty() {
            return Ok(Vec::new());
        }
        let claimed = {
            let _permit = self.write_gate.enter().await;
            automation_turn::Entity::update_many()
                .col_expr(automation_turn::Column::Status, Expr::value("running"))
                .col_expr(automation_turn::Column::LeaseOwner, Expr::value(owner))
                .col_expr(
                    automation_turn::Column::LeaseUntil,
                    Expr::value(lease_until),
                )
                .col_expr(
                    automation_turn::Column::Attempts,
                    Expr::col(automation_turn::Column::Attempts).add(1),
                )
                .col_expr(automation_turn::Column::UpdatedAt, Expr::value(now))
                .filter(automation_turn::Column::ConversationId.is_in(chosen.clone()))
                .filter(automation_turn::Column::Status.eq("pending"))
                .filter(automation_turn::Column::NotBefore.lte(now))
                .exec(&self.bookkeeping_db)
                .await?
                .rows_affected
        };
        if claimed == 0 {
            return Ok(Vec::new());
        }
        let turns = automation_turn::Entity::find()
            .filter(automation_turn::Column::ConversationId.is_in(chosen))
            .filter(automation_turn::Column::Status.eq("running"))
            .filter(automation_turn::Column::LeaseOwner.eq(owner))
            .order_by_asc(automation_turn::Column::Id)
            .all(&self.bookkeeping_db)
            .await?;
        let mut claims: Vec<Claim> = Vec::new();
        for t in turns {
            match claims
                .iter_mut()
                .find(|c| c.conversation_id == t.conversation_id)
            {
                Some(c) => c.turns.push(t),
                None => claims.push(Claim {
                    conversation_id: t.conversation_id,
                    turns: vec![t],
                }),
            }
        }
        Ok(claims)
    }

    /// Runs one conversation's claimed turns.
    async fn run_claim(&self, claim: Claim) -> AppResult<()> {
        let mut turns = claim.turns;
        // A turn planned by an earlier attempt is finished first, as planned; the turns it
        // answered (older ones) are done with it, newer ones wait for the next claim.
        if let Some(pos) = turns.iter().position(|t| t.plan.is_some()) {
            let planned = turns[pos].clone();
            let newer: Vec<i64> = turns[pos + 1..].iter().map(|t| t.id).collect();
            let older: Vec<i64> = turns[..pos].iter().map(|t| t.id).collect();
            self.set_turns(&older, "merged", None).await?;
            self.set_turns(&newer, "pending", None).await?;
            return self.deliver(planned, None).await;
        }
        let leader = turns
            .pop()
            .ok_or_else(|| AppError::internal("empty claim"))?;
        let merged: Vec<i64> = turns.iter().map(|t| t.id).collect();
        match self.decide_turn(&leader, &turns).await? {
            super::engine::Decision::Skip(reason) => {
                let mut all = merged;
                all.push(leader.id);
                self.set_turns(&all, "skipped", Some(reason)).await
            }
            super::engine::Decision::Postpone(delay) => {
                let mut all = merged;
                all.push(leader.id);
                self.postpone_turns(&all, delay).await
            }
            super::engine::Decision::Answer(plan, session, target) => {
                let (planned, session) =
                    self.record_plan(&leader, &merged, &plan, *session).await?;
                let loaded = super::delivery::Loaded::new(session, *target);
                self.deliver(planned, Some(loaded)).await
            }
        }
    }

    pub(crate) async fn set_turns(
        &self,
        ids: &[i64],
        status: &str,
        error: Option<String>,
    ) -> AppResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let _permit = self.write_gate.enter().await;
        let mut q = automation_turn::Entity::update_many()
            .col_expr(automation_turn::Column::Status, Expr::value(status))
            .col_expr(automation_turn::Column::UpdatedAt, Expr::value(Utc::now()));
        if let Some(e) = error {
            q = q.col_expr(
                automation_turn::Column::Error,
                Expr::value(e.chars().take(500).collect::<String>()),
            );
        }
        if status == "pending" {
            q = q.col_expr(
                automation_turn::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            );
        }
        q.filter(automation_turn::Column::Id.is_in(ids.to_vec()))
            .exec(&self.bookkeeping_db)
            .await?;
        Ok(())
    }

    pub(crate) async fn postpone_turns(&self, ids: &[i64], delay: Duration) -> AppResult<()> {
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        let _permit = self.write_gate.enter().await;
        automation_turn::Entity::update_many()
            .col_expr(automation_turn::Column::Status, Expr::value("pending"))
            .col_expr(automation_turn::Column::NotBefore, Expr::value(at))
            .col_expr(
                automation_turn::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(automation_turn::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(automation_turn::Column::Id.is_in(ids.to_vec()))
            .exec(&self.bookkeeping_db)
            .await?;
        Ok(())
    }

    /// Records the plan on the leader and marks the turns it answers as merged, in one
    /// transaction with the session's counters.
    async fn record_plan(
        &self,
        leader: &automation_turn::Model,
        merged: &[i64],
        plan: &Plan,
        session: automation_session::ActiveModel,
    ) -> AppResult<(automation_turn::Model, automation_session::Model)> {
        use sea_orm::ActiveModelTrait;
        let now = Utc::now();
        let (txn, _permit) = crate::db::begin_write(&self.bookkeeping_db, &self.write_gate).await?;
        let plan_json =
            serde_json::to_value(plan).map_err(|e| AppError::internal(e.to_string()))?;
        automation_turn::Entity::update_many()
            .col_expr(
                automation_turn::Column::Plan,
                Expr::value(plan_json.clone()),
            )
            .col_expr(
                automation_turn::Column::SessionId,
                Expr::value(plan.session_id),
            )
            .col_expr(automation_turn::Column::UpdatedAt, Expr::value(now))
            .filter(automation_turn::Column::Id.eq(leader.id))
            .exec(&txn)
            .await?;
        if !merged.is_empty() {
            automation_turn::Entity::update_many()
                .col_expr(automation_turn::Column::Status, Expr::value("merged"))
                .col_expr(
                    automation_turn::Column::SessionId,
                    Expr::value(plan.session_id),
                )
                .col_expr(automation_turn::Column::UpdatedAt, Expr::value(now))
                .filter(automation_turn::Column::Id.is_in(merged.to_vec()))
                .exec(&txn)
                .await?;
        }
        let session = session.update(&txn).await?;
        txn.commit().await?;
        let mut t = leader.clone();
        t.plan = Some(plan_json);
        t.session_id = Some(plan.session_id);
        Ok((t, session))
    }
}
