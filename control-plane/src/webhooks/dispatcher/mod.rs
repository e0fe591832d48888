//! The dispatcher: claims due deliveries from the outbox, sends them, and records every
//! attempt. It owns the delivery guarantees:
//!
//! - **At least once.** A delivery is claimed with a lease (`leased_until`), not removed; if
//!   this process dies mid-attempt the lease runs out and any replica claims it again. The
//!   body and `X-Webhook-Delivery-Id` are the same on every attempt, so receivers dedupe.
//! - **In order per conversation.** Deliveries share an ordering key (the chat) per endpoint;
//!   a delivery is only claimed when no older one of its stream is in flight or waiting for
//!   a retry, and a claimed stream is sent one by one, stopping at the first failure.
//! - **Bounded.** At most `concurrency` attempts overall and `endpoint_concurrency` per
//!   endpoint, each with a timeout; failures follow the retry schedule with jitter; `410 Gone`
//!   or a long run of failures disables the endpoint with the reason recorded on it.
//! - **Fair.** A tenant holds at most `tenant_concurrency` of the slots: while it does, its
//!   deliveries are not claimed (so they neither take slots nor crowd other tenants out of a
//!   claim), and one tenant's slow endpoints cannot hold up everyone else's.
//!
//! Results are written by one task in batches (one transaction per batch), which is what lets
//! SQLite keep up with thousands of deliveries a second.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, Statement,
};
use tokio::sync::{Semaphore, mpsc, watch};
use uuid::Uuid;
use zapini_shared::netguard;

use super::{PENDING, Signal};
use crate::config::WebhookSettings;
use crate::crypto::SecretBox;
use crate::db::entities::{webhook_delivery, webhook_endpoint};
use crate::live::LiveBus;

mod claim;
mod record;
#[cfg(test)]
use self::claim::{into_streams, placeholders, ranked_streams};
mod send;
mod streams;
use streams::{Handover, Streams, Taken};

use record::{release_in, retention, write_outcomes};

/// Conditions a claimable delivery meets (alias `d`): due, pending, not leased, its endpoint
/// on, and no older delivery of its stream held by another dispatcher or waiting for a retry.
/// Placeholders: pending, now, now, true, pending, now, owner, now.
const CLAIMABLE: &str = "d.status = ? AND d.next_attempt_at <= ? \
       AND (d.leased_until IS NULL OR d.leased_until < ?) \
       AND d.endpoint_id IN (SELECT e.id FROM webhook_endpoints e \
                             WHERE e.is_active = ? AND e.disabled_at IS NULL) \
       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
             WHERE p.endpoint_id = d.endpoint_id AND p.ordering_key = d.ordering_key \
               AND p.status = ? AND p.id < d.id \
               AND ((p.leased_until IS NOT NULL AND p.leased_until >= ? \
                     AND (p.lease_owner IS NULL OR p.lease_owner <> ?)) \
                    OR p.next_attempt_at > ?))";
use send::attempt;

/// Deliveries claimed per scan.
const CLAIM_BATCH: u64 = 512;
/// Deliveries of one stream claimed together; the rest wait for the next scan. Bounds the
/// lease a claim needs (the stream is sent one by one).
const MAX_STREAM: usize = 16;
/// Outcomes written per transaction.
const WRITE_BATCH: usize = 1024;
/// Longest wait between scans when nothing signals (other replicas' events, retries).
const IDLE_POLL: Duration = Duration::from_millis(500);
/// Response bytes kept for the log when an attempt fails.
const ERROR_BODY_CHARS: usize = 300;

pub const USER_AGENT: &str = "Zapini-Webhook/1.0";

/// What one attempt came to.
#[derive(Debug)]
enum Outcome {
    Delivered {
        id: i64,
        endpoint_id: i64,
        whose: Whose,
        status: u16,
        latency_ms: i32,
    },
    /// Failed; retried at `next_at`, or marked failed when `next_at` is `None`.
    Failed {
        id: i64,
        endpoint_id: i64,
        whose: Whose,
        ordering_key: String,
        instance_id: i64,
        attempt: i32,
        status: Option<u16>,
        latency_ms: i32,
        error: String,
        next_at: Option<DateTime<Utc>>,
        gone: bool,
    },
    /// Claimed but not attempted (an earlier delivery of the stream failed): unlease.
    Release { ids: Vec<i64> },
}

/// The tenant and instance of a delivery, for the dashboard's live news once its outcome is
/// recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Whose {
    tenant_id: i64,
    instance_uuid: Uuid,
}

impl Whose {
    fn of(d: &webhook_delivery::Model) -> Whose {
        Whose {
            tenant_id: d.tenant_id,
            instance_uuid: d.instance_uuid,
        }
    }
}

/// An endpoint as the attempts need it.
struct Target {
    url: Result<reqwest::Url, String>,
    secret: Result<String, String>,
    previous_secret: Option<String>,
    permits: Arc<Semaphore>,
}

type StreamKey = (i64, String);

struct Inner {
    db: DatabaseConnection,
    gate: crate::db::WriteGate,
    /// Lease owner of this process's claims.
    owner: String,
    streams: Streams,
    settings: WebhookSettings,
    secrets: SecretBox,
    client: reqwest::Client,
    signal: Signal,
    allow_private: bool,
    global: Arc<Semaphore>,
    endpoint_permits: Mutex<HashMap<i64, Arc<Semaphore>>>,
    /// Streams being delivered per tenant (their slots in use).
    tenant_running: Mutex<HashMap<i64, usize>>,
    /// Tells the dashboard's delivery logs that outcomes were recorded.
    live: LiveBus,
}

/// One tenant slot, given back when the stream's task ends.
struct TenantSlot {
    inner: Arc<Inner>,
    tenant: i64,
}

impl Drop for TenantSlot {
    fn drop(&mut self) {
        let mut running = lock(&self.inner.tenant_running);
        if let Some(n) = running.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                running.remove(&self.tenant);
            }
        }
    }
}

impl Inner {
    /// Takes a slot for `tenant` unless it holds its share already.
    fn tenant_slot(self: &Arc<Self>, tenant: i64) -> Option<TenantSlot> {
        let mut running = lock(&self.tenant_running);
        let n = running.entry(tenant).or_default();
        if *n >= self.settings.tenant_concurrency {
            return None;
        }
        *n += 1;
        Some(TenantSlot {
            inner: self.clone(),
            tenant,
        })
    }

    /// Tenants holding their whole share: their deliveries wait, unclaimed.
    fn saturated_tenants(&self) -> Vec<i64> {
        let cap = self.settings.tenant_concurrency;
        let mut ids: Vec<i64> = lock(&self.tenant_running)
            .iter()
            .filter(|&(_, n)| *n >= cap)
            .map(|(t, _)| *t)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// Delivers the outbox. Start one per control-plane process with [`Dispatcher::run`].
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

impl Dispatcher {
    pub fn new(
        db: DatabaseConnection,
        gate: crate::db::WriteGate,
        settings: WebhookSettings,
        secrets: SecretBox,
        signal: Signal,
        allow_private: bool,
        live: LiveBus,
    ) -> anyhow::Result<Dispatcher> {
        let builder = netguard::client_builder(
            allow_private,
            settings.timeout.min(Duration::from_secs(5)),
            settings.timeout,
        )
        .user_agent(USER_AGENT)
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(settings.endpoint_concurrency)
        .tcp_nodelay(true)
        // A webhook answers; it does not send us elsewhere. A 3xx is a failed attempt.
        .redirect(reqwest::redirect::Policy::none());
        Ok(Dispatcher {
            inner: Arc::new(Inner {
                db,
                gate,
                owner: Uuid::new_v4().to_string(),
                streams: Streams::default(),
                global: Arc::new(Semaphore::new(settings.concurrency)),
                settings,
                secrets,
                client: builder.build()?,
                signal,
                allow_private,
                endpoint_permits: Mutex::new(HashMap::new()),
                tenant_running: Mutex::new(HashMap::new()),
                live,
            }),
        })
    }

    /// Delivers until `stop` turns true. Attempts in flight when it does are abandoned; their
    /// leases run out and the next start delivers them again.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        if self.inner.db.get_database_backend() == DbBackend::Sqlite {
            // The embedded database has exactly one control plane: leases left behind are a
            // previous run's (a crash), so its deliveries go out now instead of at expiry.
            if let Err(e) = release_all(&self.inner.db).await {
                tracing::warn!(error = %e, "webhook dispatcher: releasing stale leases failed");
            }
        }
        let (tx, rx) = mpsc::channel::<Outcome>(WRITE_BATCH * 4);
        let writer = tokio::spawn(write_outcomes(self.inner.clone(), rx));
        let retention = tokio::spawn(retention(self.inner.clone(), stop.clone()));
        loop {
            if *stop.borrow() {
                break;
            }
            let claim_started = std::time::Instant::now();
            self.inner.streams.claim_starts();
            let saturated = self.inner.saturated_tenants();
            let claimed = match self.claim(&saturated).await {
                Ok(c) => {
                    tracing::trace!(
                        streams = c.len(),
                        us = claim_started.elapsed().as_micros() as u64,
                        "webhook dispatcher: claimed"
                    );
                    c
                }
                Err(e) => {
                    tracing::warn!(error = %e, "webhook dispatcher: claiming deliveries failed");
                    Vec::new()
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = self.inner.signal.notified() => {
                        tracing::trace!("webhook dispatcher: woken");
                        // Let commits that are ready to signal too land first, so a burst
                        // becomes one claim; no timer (a sleep costs a scheduler tick or more
                        // on a busy host, and every event waits for it).
                        tokio::task::yield_now().await;
                    }
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            let targets = match self.targets(&claimed).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook dispatcher: loading endpoints failed");
                    let ids = claimed.iter().flatten().map(|d| d.id).collect();
                    let _ = tx.send(Outcome::Release { ids }).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            for stream in claimed {
                let Some(first) = stream.first() else {
                    continue;
                };
                let key: StreamKey = (first.endpoint_id, first.ordering_key.clone());
                let first_tenant = first.tenant_id;
                let Some(target) = targets.get(&first.endpoint_id).cloned() else {
                    continue;
                };
                let mut taken = match self.inner.streams.hand_over(&key, stream) {
                    Handover::Queued => continue,
                    Handover::Release(ids) => {
                        let _ = tx.send(Outcome::Release { ids }).await;
                        continue;
                    }
                    Handover::Start(taken) => taken,
                };
                let Some(slot) = self.inner.tenant_slot(first_tenant) else {
                    // The tenant holds its share: hand the stream back for a later claim.
                    let ids = self.inner.streams.give_back(&key, &mut taken);
                    let _ = tx.send(Outcome::Release { ids }).await;
                    continue;
                };
                let Ok(permit) = self.inner.global.clone().acquire_owned().await else {
                    break;
                };
                let inner = self.inner.clone();
                let tx = tx.clone();
                tokio::spawn(async move {
                    deliver_stream(&inner, &target, key, taken, &tx).await;
                    drop(permit);
                    drop(slot);
                });
            }
        }
        drop(tx);
        retention.abort();
        let _ = writer.await;
    }

    async fn targets(
        &self,
        claimed: &[Vec<webhook_delivery::Model>],
    ) -> anyhow::Result<HashMap<i64, Arc<Target>>> {
        let mut ids: Vec<i64> = claimed
            .iter()
            .filter_map(|s| s.first().map(|d| d.endpoint_id))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let endpoints = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Id.is_in(ids))
            .all(&self.inner.db)
            .await?;
        let now = Utc::now();
        let settings = &self.inner.settings;
        Ok(endpoints
            .into_iter()
            .map(|e| {
                let url =
                    netguard::check_url(&e.url, settings.allow_http, self.inner.allow_private)
                        .map_err(|r| format!("webhook URL refused: it {r}"));
                let secret = self.inner.secrets.open(&e.secret_enc).map_err(|err| {
                    format!(
                        "webhook secret cannot be decrypted ({err}); was ZAPINI_SECRET_KEY changed?"
                    )
                });
                let previous_secret = match (&e.previous_secret_enc, e.previous_secret_until) {
                    (Some(sealed), Some(until)) if until > now => {
                        self.inner.secrets.open(sealed).ok()
                    }
                    _ => None,
                };
                let permits = self.endpoint_permits(e.id);
                (
                    e.id,
                    Arc::new(Target {
                        url,
                        secret,
                        previous_secret,
                        permits,
                    }),
                )
            })
            .collect())
    }

    fn endpoint_permits(&self, endpoint_id: i64) -> Arc<Semaphore> {
        let mut map = self
            .inner
            .endpoint_permits
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(endpoint_id)
            .or_insert_with(|| Arc::new(Semaphore::new(self.inner.settings.endpoint_concurrency)))
            .clone()
    }
}

/// An update that hands deliveries back (no lease, no owner).
fn unlease() -> sea_orm::UpdateMany<webhook_delivery::Entity> {
    webhook_delivery::Entity::update_many()
        .col_expr(
            webhook_delivery::Column::LeasedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            webhook_delivery::Column::LeaseOwner,
            Expr::value(Option::<String>::None),
        )
}

async fn release_all(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    unlease()
        .filter(webhook_delivery::Column::LeasedUntil.is_not_null())
        .exec(db)
        .await?;
    Ok(())
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends a stream one delivery at a time, taking deliveries handed to it meanwhile, until
/// its queue is empty or an attempt fails.
async fn deliver_stream(
    inner: &Inner,
    target: &Target,
    key: StreamKey,
    mut taken: Taken,
    tx: &mpsc::Sender<Outcome>,
) {
    while let Some(delivery) = inner.streams.next(&key, &mut taken) {
        let outcome = {
            let Ok(_permit) = target.permits.acquire().await else {
                inner.streams.give_back(&key, &mut taken);
                return;
            };
            attempt(inner, target, &delivery).await
        };
        if let Outcome::Failed { .. } = outcome {
            // Hold the stream until the writer has recorded the failure; hand back the rest.
            let ids = inner.streams.failed(&key, &mut taken);
            let _ = tx.send(outcome).await;
            if !ids.is_empty() {
                let _ = tx.send(Outcome::Release { ids }).await;
            }
            return;
        }
        if tx.send(outcome).await.is_err() {
            inner.streams.give_back(&key, &mut taken);
            return;
        }
    }
}

#[cfg(test)]
mod tests;
