//! Recording what attempts came to: outcomes written in batches (one transaction each),
//! endpoint health (failing streaks, disabling), and retention of old deliveries.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use tokio::sync::{mpsc, watch};
use zapini_shared::backoff::Backoff;

use super::super::{DELIVERED, FAILED, PENDING};
use super::{Inner, Outcome, WRITE_BATCH, Whose, unlease};
use crate::db::entities::{webhook_attempt, webhook_delivery, webhook_endpoint};
use crate::live::{THROTTLE_GAP, Topic};

/// Writes outcomes in batches: one transaction per batch.
pub(super) async fn write_outcomes(inner: Arc<Inner>, mut rx: mpsc::Receiver<Outcome>) {
    let mut batch = Vec::with_capacity(WRITE_BATCH);
    while rx.recv_many(&mut batch, WRITE_BATCH).await > 0 {
        let mut backoff = Backoff::new(Duration::from_millis(50), Duration::from_secs(5));
        loop {
            match write_batch(&inner, &batch).await {
                Ok(()) => {
                    // Failures are recorded: their streams wait on the retry time now.
                    inner
                        .streams
                        .recorded(batch.iter().filter_map(|outcome| match outcome {
                            Outcome::Failed {
                                endpoint_id,
                                ordering_key,
                                ..
                            } => Some((*endpoint_id, ordering_key.clone())),
                            _ => None,
                        }));
                    announce(&inner, &batch);
                    break;
                }
                Err(e) => {
                    // Nothing is lost while this fails: the rows stay leased and pending,
                    // and are delivered again once their lease runs out.
                    tracing::warn!(error = %e, "webhook dispatcher: recording attempts failed; retrying");
                    tokio::time::sleep(backoff.next_delay()).await;
                    if backoff.at_max() && rx.is_closed() {
                        break;
                    }
                }
            }
        }
        batch.clear();
        inner.signal.notify();
    }
}

/// Tells the dashboard which instances' delivery logs changed (throttled per instance: a
/// burst of deliveries is a few news a second).
fn announce(inner: &Inner, batch: &[Outcome]) {
    if !inner.live.is_watched() {
        return;
    }
    let mut seen: Vec<Whose> = Vec::new();
    for outcome in batch {
        let whose = match outcome {
            Outcome::Delivered { whose, .. } | Outcome::Failed { whose, .. } => *whose,
            Outcome::Release { .. } => continue,
        };
        if !seen.contains(&whose) {
            seen.push(whose);
            inner.live.instance_throttled(
                whose.tenant_id,
                whose.instance_uuid,
                Topic::Delivery,
                THROTTLE_GAP,
            );
        }
    }
}

async fn write_batch(inner: &Inner, batch: &[Outcome]) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let (txn, _permit) = crate::db::begin_write(&inner.db, &inner.gate).await?;
    let mut attempts = Vec::new();
    let mut delivered: Vec<(i64, u16, i32)> = Vec::new();
    let mut healthy: Vec<i64> = Vec::new();
    let mut failing: Vec<i64> = Vec::new();
    let mut gone: Vec<i64> = Vec::new();
    let mut released: Vec<i64> = Vec::new();
    for outcome in batch {
        match outcome {
            Outcome::Delivered {
                id,
                endpoint_id,
                whose: _,
                status,
                latency_ms,
            } => {
                // A success is recorded on the delivery row itself; only failed attempts
                // get a log row each (half the writes at thousands of deliveries a second).
                delivered.push((*id, *status, *latency_ms));
                healthy.push(*endpoint_id);
            }
            Outcome::Failed {
                id,
                endpoint_id,
                whose: _,
                ordering_key: _,
                instance_id,
                attempt,
                status,
                latency_ms,
                error,
                next_at,
                gone: is_gone,
            } => {
                if *is_gone {
                    gone.push(*endpoint_id);
                } else {
                    failing.push(*endpoint_id);
                }
                attempts.push(attempt_row(
                    *id,
                    *instance_id,
                    *attempt,
                    *status,
                    *latency_ms,
                    Some(error.clone()),
                    now,
                ));
                let mut update = unlease()
                    .col_expr(webhook_delivery::Column::Attempts, Expr::value(*attempt))
                    .col_expr(
                        webhook_delivery::Column::LastStatusCode,
                        Expr::value(status.map(i32::from)),
                    )
                    .col_expr(
                        webhook_delivery::Column::LastError,
                        Expr::value(error.clone()),
                    )
                    .col_expr(
                        webhook_delivery::Column::LastLatencyMs,
                        Expr::value(*latency_ms),
                    )
                    .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now));
                update = match next_at {
                    Some(at) => {
                        update.col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(*at))
                    }
                    None => update.col_expr(webhook_delivery::Column::Status, Expr::value(FAILED)),
                };
                update
                    .filter(webhook_delivery::Column::Id.eq(*id))
                    .exec(&txn)
                    .await?;
            }
            Outcome::Release { ids } => released.extend_from_slice(ids),
        }
    }
    // Small statements on PostgreSQL: see `db::size_bounded_chunks` (each row adds two `CASE`
    // branches).
    let backend = inner.db.get_database_backend();
    for chunk in delivered.chunks(crate::db::rows_per_statement(backend, 200, 50)) {
        use sea_orm::sea_query::CaseStatement;
        let case = |value: &dyn Fn(&(i64, u16, i32)) -> i32| {
            let mut case = CaseStatement::new();
            for d in chunk {
                case = case.case(webhook_delivery::Column::Id.eq(d.0), Expr::value(value(d)));
            }
            case
        };
        let codes = case(&|d| i32::from(d.1));
        let latencies = case(&|d| d.2);
        unlease()
            .col_expr(webhook_delivery::Column::Status, Expr::value(DELIVERED))
            .col_expr(
                webhook_delivery::Column::Attempts,
                Expr::col(webhook_delivery::Column::Attempts).add(1),
            )
            .col_expr(webhook_delivery::Column::LastStatusCode, codes.into())
            .col_expr(webhook_delivery::Column::LastLatencyMs, latencies.into())
            .col_expr(
                webhook_delivery::Column::LastError,
                Expr::value(Option::<String>::None),
            )
            .col_expr(webhook_delivery::Column::DeliveredAt, Expr::value(now))
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_delivery::Column::Id.is_in(chunk.iter().map(|d| d.0)))
            .exec(&txn)
            .await?;
    }
    if !released.is_empty() {
        release_in(&txn, &released).await?;
    }
    for chunk in attempts.chunks(crate::db::rows_per_statement(backend, 400, 100)) {
        webhook_attempt::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&txn)
            .await?;
    }
    endpoint_health(inner, &txn, healthy, failing, gone, now).await?;
    txn.commit().await
}

pub(super) async fn release_in<C: sea_orm::ConnectionTrait>(
    conn: &C,
    ids: &[i64],
) -> Result<(), sea_orm::DbErr> {
    unlease()
        .filter(webhook_delivery::Column::Id.is_in(ids.to_vec()))
        .exec(conn)
        .await?;
    Ok(())
}

fn attempt_row(
    delivery_id: i64,
    instance_id: i64,
    attempt: i32,
    status: Option<u16>,
    latency_ms: i32,
    error: Option<String>,
    now: DateTime<Utc>,
) -> webhook_attempt::ActiveModel {
    webhook_attempt::ActiveModel {
        delivery_id: Set(delivery_id),
        instance_id: Set(instance_id),
        attempt: Set(attempt),
        status_code: Set(status.map(i32::from)),
        latency_ms: Set(latency_ms),
        error: Set(error),
        created_at: Set(now),
        ..Default::default()
    }
}

/// Success clears an endpoint's failing streak; failure starts one; a streak longer than
/// `disable_after`, or a `410 Gone`, disables the endpoint with the reason recorded.
async fn endpoint_health<C: sea_orm::ConnectionTrait>(
    inner: &Inner,
    conn: &C,
    mut healthy: Vec<i64>,
    mut failing: Vec<i64>,
    mut gone: Vec<i64>,
    now: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    for v in [&mut healthy, &mut failing, &mut gone] {
        v.sort_unstable();
        v.dedup();
    }
    if !healthy.is_empty() {
        webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(webhook_endpoint::Column::Id.is_in(healthy))
            .filter(webhook_endpoint::Column::FailingSince.is_not_null())
            .exec(conn)
            .await?;
    }
    if !failing.is_empty() {
        webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::FailingSince, Expr::value(now))
            .filter(webhook_endpoint::Column::Id.is_in(failing.clone()))
            .filter(webhook_endpoint::Column::FailingSince.is_null())
            .exec(conn)
            .await?;
        let limit = inner.settings.disable_after;
        let since = now - chrono::Duration::from_std(limit).unwrap_or_default();
        webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::DisabledAt, Expr::value(now))
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(format!(
                    "Disabled after {} without a successful delivery.",
                    human(limit)
                )),
            )
            .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_endpoint::Column::Id.is_in(failing))
            .filter(webhook_endpoint::Column::FailingSince.lt(since))
            .filter(webhook_endpoint::Column::DisabledAt.is_null())
            .exec(conn)
            .await?;
    }
    if !gone.is_empty() {
        webhook_endpoint::Entity::update_many()
            .col_expr(webhook_endpoint::Column::DisabledAt, Expr::value(now))
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value("Disabled because the endpoint answered 410 Gone."),
            )
            .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_endpoint::Column::Id.is_in(gone))
            .filter(webhook_endpoint::Column::DisabledAt.is_null())
            .exec(conn)
            .await?;
    }
    Ok(())
}

fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3_600 => format!("{} hours", s / 3_600),
        s => format!("{s} seconds"),
    }
}

/// Deletes delivered and failed deliveries (and their attempts) past the retention period.
pub(super) async fn retention(inner: Arc<Inner>, mut stop: watch::Receiver<bool>) {
    loop {
        let cutoff = Utc::now() - chrono::Duration::days(i64::from(inner.settings.retention_days));
        let old = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.ne(PENDING))
            .filter(webhook_delivery::Column::CreatedAt.lt(cutoff));
        let ids: Result<Vec<i64>, _> = old
            .select_only()
            .column(webhook_delivery::Column::Id)
            .limit(10_000)
            .into_tuple::<i64>()
            .all(&inner.db)
            .await;
        match ids {
            Ok(ids) if !ids.is_empty() => {
                let result = async {
                    webhook_attempt::Entity::delete_many()
                        .filter(webhook_attempt::Column::DeliveryId.is_in(ids.clone()))
                        .exec(&inner.db)
                        .await?;
                    webhook_delivery::Entity::delete_many()
                        .filter(webhook_delivery::Column::Id.is_in(ids))
                        .exec(&inner.db)
                        .await
                }
                .await;
                if let Err(e) = result {
                    tracing::warn!(error = %e, "webhook retention: delete failed");
                }
                continue;
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "webhook retention: query failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(600)) => {}
            _ = stop.changed() => return,
        }
    }
}
