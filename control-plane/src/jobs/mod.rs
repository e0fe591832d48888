//! The durable scheduler (DESIGN §7): jobs are rows with a due time in one table
//! (`scheduled_jobs`, one row per kind and subject), claimed with leases as webhook
//! deliveries are. A control plane that dies mid-job leaves a lease that runs out; the job is
//! then claimed again (here or by another replica), so every job is attempted until it is
//! done, and a handler makes its side effect idempotent (the reminder's send carries a
//! client reference the node deduplicates).
//!
//! This module owns the table's life: [`schedule`] (insert or move a job, inside the
//! caller's transaction), [`cancel`], [`remove`], the worker loop ([`Services::run_jobs`]) and the claim.
//! What a kind does is its owner's: [`Services::run_job`] dispatches by kind.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

use zapini_shared::backoff::Backoff;

use crate::db::entities::scheduled_job;
use crate::error::AppResult;
use crate::service::Services;

/// The appointment reminder (subject: the appointment's UUID).
pub const APPOINTMENT_REMINDER: &str = "appointment_reminder";

/// How often the worker looks for due jobs.
const TICK: Duration = Duration::from_millis(500);
/// How long a claim holds a job; a handler is cut off well before.
const LEASE: Duration = Duration::from_secs(60);
const HANDLER_TIMEOUT: Duration = Duration::from_secs(40);
/// Jobs handled at once by one worker.
const PARALLEL: usize = 16;
/// A job that keeps failing is given up after this many claims.
pub const MAX_ATTEMPTS: i32 = 10;

/// What came of running a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Handled (or nothing left to do): never run again unless scheduled again.
    Done,
    /// Not now: run again at this time (the lease is given back).
    Retry(DateTime<Utc>, String),
    /// Given up, with why.
    Failed(String),
}

/// Inserts the job (`kind`, `subject`) due at `due_at`, or moves the existing one there and
/// makes it pending again (attempts reset, any lease dropped: a worker holding it can no
/// longer mark it done). Call it inside the transaction of the change that needs the job.
pub async fn schedule<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    subject: &str,
    tenant_id: Option<i64>,
    due_at: DateTime<Utc>,
) -> AppResult<()> {
    let now = Utc::now();
    let row = scheduled_job::ActiveModel {
        kind: Set(kind.to_owned()),
        subject: Set(subject.to_owned()),
        tenant_id: Set(tenant_id),
        due_at: Set(due_at),
        lease_owner: Set(None),
        lease_until: Set(None),
        attempts: Set(0),
        done: Set(false),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    scheduled_job::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([scheduled_job::Column::Kind, scheduled_job::Column::Subject])
                .update_columns([
                    scheduled_job::Column::DueAt,
                    scheduled_job::Column::LeaseOwner,
                    scheduled_job::Column::LeaseUntil,
                    scheduled_job::Column::Attempts,
                    scheduled_job::Column::Done,
                    scheduled_job::Column::LastError,
                    scheduled_job::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// Marks the job done without running it (nothing happens when there is none). A worker
/// holding it can no longer mark it otherwise.
pub async fn cancel<C: ConnectionTrait>(conn: &C, kind: &str, subject: &str) -> AppResult<()> {
    scheduled_job::Entity::update_many()
        .col_expr(scheduled_job::Column::Done, Expr::value(true))
        .col_expr(
            scheduled_job::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            scheduled_job::Column::LeaseUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(scheduled_job::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(scheduled_job::Column::Kind.eq(kind))
        .filter(scheduled_job::Column::Subject.eq(subject))
        .filter(scheduled_job::Column::Done.eq(false))
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes the job (`kind`, `subject`) (its subject is gone). A worker holding it can no
/// longer mark it.
pub async fn remove<C: ConnectionTrait>(conn: &C, kind: &str, subject: &str) -> AppResult<()> {
    scheduled_job::Entity::delete_many()
        .filter(scheduled_job::Column::Kind.eq(kind))
        .filter(scheduled_job::Column::Subject.eq(subject))
        .exec(conn)
        .await?;
    Ok(())
}

/// The job (`kind`, `subject`), if any.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    kind: &str,
    subject: &str,
) -> AppResult<Option<scheduled_job::Model>> {
    Ok(scheduled_job::Entity::find()
        .filter(scheduled_job::Column::Kind.eq(kind))
        .filter(scheduled_job::Column::Subject.eq(subject))
        .one(conn)
        .await?)
}

impl Services {
    /// The worker: until `stop`, claims due jobs every [`TICK`] and runs them.
    pub async fn run_jobs(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let owner = format!("jobs-{}", crate::crypto::random_secret(12));
        let permits = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
        loop {
            if *stop.borrow() {
                return;
            }
            let room = permits.available_permits();
            if room > 0 {
                match self.claim_jobs(&owner, room).await {
                    Ok(jobs) => {
                        for job in jobs {
                            let Ok(permit) = permits.clone().acquire_owned().await else {
                                return;
                            };
                            let services = self.clone();
                            let owner = owner.clone();
                            tokio::spawn(async move {
                                let (id, kind) = (job.id, job.kind.clone());
                                if let Err(e) = services.handle_job(&owner, job).await {
                                    tracing::warn!(error = %e, job = id, kind, "scheduled job failed");
                                }
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming scheduled jobs failed"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(TICK) => {}
                _ = stop.changed() => {}
            }
        }
    }

    /// Leases up to `limit` due jobs (not done, no live lease), oldest due first.
    pub(crate) async fn claim_jobs(
        &self,
        owner: &str,
        limit: usize,
    ) -> AppResult<Vec<scheduled_job::Model>> {
        let now = Utc::now();
        let free = || {
            Condition::any()
                .add(scheduled_job::Column::LeaseUntil.is_null())
                .add(scheduled_job::Column::LeaseUntil.lt(now))
        };
        let ids: Vec<i64> = scheduled_job::Entity::find()
            .select_only()
            .column(scheduled_job::Column::Id)
            .filter(scheduled_job::Column::Done.eq(false))
            .filter(scheduled_job::Column::DueAt.lte(now))
            .filter(free())
            .order_by_asc(scheduled_job::Column::DueAt)
            .limit(limit as u64)
            .into_tuple()
            .all(&self.db)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let until = now + chrono::Duration::from_std(LEASE).unwrap_or_default();
        {
            let _permit = self.write_gate.enter().await;
            scheduled_job::Entity::update_many()
                .col_expr(scheduled_job::Column::LeaseOwner, Expr::value(owner))
                .col_expr(scheduled_job::Column::LeaseUntil, Expr::value(until))
                .col_expr(
                    scheduled_job::Column::Attempts,
                    Expr::col(scheduled_job::Column::Attempts).add(1),
                )
                .col_expr(scheduled_job::Column::UpdatedAt, Expr::value(now))
                .filter(scheduled_job::Column::Id.is_in(ids.clone()))
                .filter(scheduled_job::Column::Done.eq(false))
                .filter(free())
                .exec(&self.db)
                .await?;
        }
        // What another replica won in between is not ours.
        Ok(scheduled_job::Entity::find()
            .filter(scheduled_job::Column::Id.is_in(ids))
            .filter(scheduled_job::Column::LeaseOwner.eq(owner))
            .filter(scheduled_job::Column::Done.eq(false))
            .order_by_asc(scheduled_job::Column::DueAt)
            .all(&self.db)
            .await?)
    }

    /// Runs one claimed job and records its outcome (only while the claim is still ours: a
    /// job moved or cancelled meanwhile keeps its new state).
    pub(crate) async fn handle_job(&self, owner: &str, job: scheduled_job::Model) -> AppResult<()> {
        let outcome = match tokio::time::timeout(HANDLER_TIMEOUT, self.run_job(&job)).await {
            Ok(Ok(o)) => o,
            Ok(Err(e)) => Outcome::Retry(backoff(job.attempts), e.to_string()),
            Err(_) => Outcome::Retry(backoff(job.attempts), "timed out".into()),
        };
        let outcome = match outcome {
            Outcome::Retry(_, why) if job.attempts >= MAX_ATTEMPTS => Outcome::Failed(why),
            o => o,
        };
        self.finish_job(owner, job.id, &outcome).await
    }

    /// Dispatches by kind. An unknown kind (from a newer version) is left to it: retried later.
    async fn run_job(&self, job: &scheduled_job::Model) -> AppResult<Outcome> {
        match job.kind.as_str() {
            APPOINTMENT_REMINDER => self.run_appointment_reminder(job).await,
            other => Ok(Outcome::Retry(
                Utc::now() + chrono::Duration::minutes(10),
                format!("unknown job kind {other}"),
            )),
        }
    }

    async fn finish_job(&self, owner: &str, id: i64, outcome: &Outcome) -> AppResult<()> {
        let now = Utc::now();
        let mut q = scheduled_job::Entity::update_many()
            .col_expr(
                scheduled_job::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                scheduled_job::Column::LeaseUntil,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(scheduled_job::Column::UpdatedAt, Expr::value(now));
        q = match outcome {
            Outcome::Done => q
                .col_expr(scheduled_job::Column::Done, Expr::value(true))
                .col_expr(
                    scheduled_job::Column::LastError,
                    Expr::value(Option::<String>::None),
                ),
            Outcome::Retry(at, why) => q
                .col_expr(scheduled_job::Column::DueAt, Expr::value(*at))
                .col_expr(scheduled_job::Column::LastError, Expr::value(clip(why))),
            Outcome::Failed(why) => q
                .col_expr(scheduled_job::Column::Done, Expr::value(true))
                .col_expr(scheduled_job::Column::LastError, Expr::value(clip(why))),
        };
        let _permit = self.write_gate.enter().await;
        q.filter(scheduled_job::Column::Id.eq(id))
            .filter(scheduled_job::Column::LeaseOwner.eq(owner))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

fn clip(s: &str) -> String {
    s.chars().take(500).collect()
}

/// 5 s, 10 s, 20 s, … up to 10 minutes.
pub fn backoff(attempts: i32) -> DateTime<Utc> {
    let delay = Backoff::nth_exact(
        Duration::from_secs(5),
        Duration::from_secs(600),
        (attempts.clamp(1, 8) - 1) as u32,
    );
    Utc::now() + chrono::Duration::seconds(delay.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let at = |n| (backoff(n) - Utc::now()).num_seconds();
        assert!((4..=5).contains(&at(1)), "{}", at(1));
        assert!((9..=10).contains(&at(2)));
        assert!(at(7) <= 600 && at(7) >= 300);
        assert!(at(100) <= 600);
    }
}
