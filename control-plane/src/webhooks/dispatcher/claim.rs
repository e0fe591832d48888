//! Claiming work: due deliveries whose stream is free are leased and grouped into streams in
//! id order (one statement on PostgreSQL that also shows what a concurrent replica won; a
//! select and a lease on SQLite), leaving out tenants that hold their whole share.

use super::*;

impl Dispatcher {
    /// Leases due deliveries whose stream is free, grouped into streams in id order.
    pub(super) async fn claim(
        &self,
        saturated: &[i64],
    ) -> anyhow::Result<Vec<Vec<webhook_delivery::Model>>> {
        if self.inner.db.get_database_backend() == DbBackend::Postgres {
            return self.claim_postgres(saturated).await;
        }
        let db = &self.inner.db;
        let now = Utc::now();
        let backend = db.get_database_backend();
        let sql = placeholders(
            backend,
            &format!(
                "SELECT * FROM webhook_deliveries d WHERE {CLAIMABLE}{} ORDER BY d.id LIMIT ?",
                excluding_tenants("d", saturated)
            ),
        );
        let mut values = self.claimable_values(now);
        values.push((CLAIM_BATCH as i64).into());
        let candidates = webhook_delivery::Entity::find()
            .from_raw_sql(Statement::from_sql_and_values(backend, sql, values))
            .all(db)
            .await?;
        let candidates = cap_streams(candidates);
        if candidates.is_empty() {
            return Ok(Vec::new());
        }
        let longest = longest_stream(&candidates);
        // Long enough for every attempt of the longest stream; a dead holder's deliveries are
        // picked up again soon after.
        let until = now
            + chrono::Duration::from_std(
                self.inner.settings.timeout * (longest as u32 + 1) + Duration::from_secs(5),
            )?;
        let owner = self.inner.owner.clone();
        let ids: Vec<i64> = candidates.iter().map(|d| d.id).collect();
        let (txn, permit) = crate::db::begin_write(db, &self.inner.gate).await?;
        let leased = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::LeasedUntil, Expr::value(until))
            .col_expr(
                webhook_delivery::Column::LeaseOwner,
                Expr::value(owner.clone()),
            )
            .filter(webhook_delivery::Column::Id.is_in(ids.clone()))
            .filter(webhook_delivery::Column::Status.eq(PENDING))
            .filter(
                Condition::any()
                    .add(webhook_delivery::Column::LeasedUntil.is_null())
                    .add(webhook_delivery::Column::LeasedUntil.lt(now)),
            )
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        drop(permit);
        let owned: std::collections::HashSet<i64> = if leased as usize == ids.len() {
            ids.into_iter().collect()
        } else {
            // Another replica won some of them: keep what we hold.
            webhook_delivery::Entity::find()
                .filter(webhook_delivery::Column::Id.is_in(ids))
                .filter(webhook_delivery::Column::LeaseOwner.eq(owner))
                .all(db)
                .await?
                .into_iter()
                .map(|d| d.id)
                .collect()
        };
        let (streams, lost) = into_streams(candidates, &owned);
        if !lost.is_empty() {
            let _permit = self.inner.gate.enter().await;
            release_in(db, &lost).await?;
        }
        Ok(streams)
    }

    fn claimable_values(&self, now: DateTime<Utc>) -> Vec<sea_orm::Value> {
        vec![
            PENDING.into(),
            now.into(),
            now.into(),
            true.into(),
            PENDING.into(),
            now.into(),
            self.inner.owner.clone().into(),
            now.into(),
        ]
    }

    /// PostgreSQL: finding, capping per stream and leasing is one statement (one round trip,
    /// no transaction). A stream is held back from its first row that waits for a retry or
    /// that another dispatcher holds (`held`, a handful of rows found by their own indexes);
    /// the oldest free rows are walked in id order and the walk stops after a batch. Each row
    /// is leased for as long as its stream's attempts can take.
    /// `rn` (the row's place among its stream's candidates) shows what a concurrent replica
    /// won: a stream is kept only up to its first missing place, and the rest handed back.
    async fn claim_postgres(
        &self,
        saturated: &[i64],
    ) -> anyhow::Result<Vec<Vec<webhook_delivery::Model>>> {
        use sea_orm::{ConnectionTrait, FromQueryResult};
        let db = &self.inner.db;
        let now = Utc::now();
        let per_attempt_ms = self.inner.settings.timeout.as_millis() as i64;
        // `'pending'` is inlined, not bound: the partial indexes only serve plans that know
        // the value (a generic plan for a prepared statement with `status = $1` would not).
        let sql = placeholders(
            DbBackend::Postgres,
            &format!(
                "WITH held AS MATERIALIZED ( \
               SELECT h.endpoint_id, h.ordering_key, MIN(h.id) AS first_id FROM ( \
                 SELECT endpoint_id, ordering_key, id FROM webhook_deliveries \
                   WHERE status = 'pending' AND next_attempt_at > ? \
                 UNION ALL \
                 SELECT endpoint_id, ordering_key, id FROM webhook_deliveries \
                   WHERE status = 'pending' AND lease_owner <> ? AND leased_until >= ?) h \
               GROUP BY h.endpoint_id, h.ordering_key), \
             cand AS ( \
               SELECT d.id, d.endpoint_id, d.ordering_key FROM webhook_deliveries d \
               LEFT JOIN held h ON h.endpoint_id = d.endpoint_id AND h.ordering_key = d.ordering_key \
               WHERE d.status = 'pending' AND d.next_attempt_at <= ? \
                 AND (d.leased_until IS NULL OR d.leased_until < ?) \
                 AND d.endpoint_id NOT IN (SELECT e.id FROM webhook_endpoints e \
                                           WHERE NOT e.is_active OR e.disabled_at IS NOT NULL) \
                 AND (h.first_id IS NULL OR d.id < h.first_id){} \
               ORDER BY d.id LIMIT ?), \
             ranked AS ( \
               SELECT id, \
                 ROW_NUMBER() OVER (PARTITION BY endpoint_id, ordering_key ORDER BY id) AS rn, \
                 LEAST(COUNT(*) OVER (PARTITION BY endpoint_id, ordering_key), ?) AS len \
               FROM cand) \
             UPDATE webhook_deliveries u \
             SET leased_until = ? + (? * (r.len + 1) + 5000) * INTERVAL '1 millisecond', \
                 lease_owner = ? \
             FROM ranked r \
             WHERE u.id = r.id AND r.rn <= ? AND u.status = 'pending' \
               AND (u.leased_until IS NULL OR u.leased_until < ?) \
             RETURNING u.*, r.rn",
                excluding_tenants("d", saturated)
            ),
        );
        let owner = self.inner.owner.clone();
        let cap = MAX_STREAM as i64;
        let values: Vec<sea_orm::Value> = vec![
            now.into(),
            owner.clone().into(),
            now.into(),
            now.into(),
            now.into(),
            (CLAIM_BATCH as i64).into(),
            cap.into(),
            now.into(),
            per_attempt_ms.into(),
            owner.into(),
            cap.into(),
            now.into(),
        ];
        let rows = db
            .query_all_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                sql,
                values,
            ))
            .await?;
        let mut won = Vec::with_capacity(rows.len());
        for row in rows {
            let rn: i64 = row.try_get("", "rn")?;
            won.push((webhook_delivery::Model::from_query_result(&row, "")?, rn));
        }
        let (streams, lost) = ranked_streams(won);
        if !lost.is_empty() {
            release_in(db, &lost).await?;
        }
        Ok(streams)
    }
}

/// `AND d.tenant_id NOT IN (...)` for the saturated tenants (ids are integers, inlined).
pub(super) fn excluding_tenants(alias: &str, tenants: &[i64]) -> String {
    if tenants.is_empty() {
        return String::new();
    }
    let ids: Vec<String> = tenants.iter().map(i64::to_string).collect();
    format!(" AND {alias}.tenant_id NOT IN ({})", ids.join(","))
}

/// `?` placeholders as the backend wants them (`$1`, `$2`... on PostgreSQL).
pub(super) fn placeholders(backend: DbBackend, sql: &str) -> String {
    match backend {
        DbBackend::Postgres => {
            let mut out = String::with_capacity(sql.len() + 16);
            let mut n = 0;
            for c in sql.chars() {
                if c == '?' {
                    n += 1;
                    out.push('$');
                    out.push_str(&n.to_string());
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => sql.to_owned(),
    }
}

/// Keeps at most [`MAX_STREAM`] deliveries per stream (the oldest).
pub(super) fn cap_streams(
    candidates: Vec<webhook_delivery::Model>,
) -> Vec<webhook_delivery::Model> {
    let mut counts: HashMap<(i64, String), usize> = HashMap::new();
    candidates
        .into_iter()
        .filter(|d| {
            let n = counts
                .entry((d.endpoint_id, d.ordering_key.clone()))
                .or_default();
            *n += 1;
            *n <= MAX_STREAM
        })
        .collect()
}

pub(super) fn longest_stream(candidates: &[webhook_delivery::Model]) -> usize {
    let mut counts: HashMap<(i64, &str), usize> = HashMap::new();
    for d in candidates {
        *counts
            .entry((d.endpoint_id, d.ordering_key.as_str()))
            .or_default() += 1;
    }
    counts.into_values().max().unwrap_or(1)
}

/// Groups candidates (in id order) into streams. A stream keeps only the prefix this
/// dispatcher holds: delivering past a delivery someone else holds would break the order, so
/// the rest is handed back (`lost`).
pub(super) fn into_streams(
    candidates: Vec<webhook_delivery::Model>,
    owned: &std::collections::HashSet<i64>,
) -> (Vec<Vec<webhook_delivery::Model>>, Vec<i64>) {
    let mut streams: Vec<Vec<webhook_delivery::Model>> = Vec::new();
    let mut index: HashMap<(i64, String), (usize, bool)> = HashMap::new();
    let mut lost = Vec::new();
    for d in candidates {
        let key = (d.endpoint_id, d.ordering_key.clone());
        let entry = index.entry(key).or_insert_with(|| {
            streams.push(Vec::new());
            (streams.len() - 1, false)
        });
        let is_owned = owned.contains(&d.id);
        if entry.1 || !is_owned {
            // The stream is broken at or before this delivery.
            entry.1 = true;
            if is_owned {
                lost.push(d.id);
            }
            continue;
        }
        streams[entry.0].push(d);
    }
    streams.retain(|s| !s.is_empty());
    (streams, lost)
}

/// Groups leased rows with their place among their stream's candidates (`rn`, from 1) into
/// streams in id order. A stream keeps the run of places 1, 2, 3... it holds; after a place
/// another dispatcher won, the rest is handed back (`lost`).
pub(super) fn ranked_streams(
    mut won: Vec<(webhook_delivery::Model, i64)>,
) -> (Vec<Vec<webhook_delivery::Model>>, Vec<i64>) {
    won.sort_by_key(|(d, _)| d.id);
    let mut streams: Vec<Vec<webhook_delivery::Model>> = Vec::new();
    let mut index: HashMap<(i64, String), usize> = HashMap::new();
    let mut lost = Vec::new();
    for (d, rn) in won {
        let key = (d.endpoint_id, d.ordering_key.clone());
        let slot = *index.entry(key).or_insert_with(|| {
            streams.push(Vec::new());
            streams.len() - 1
        });
        if rn == streams[slot].len() as i64 + 1 {
            streams[slot].push(d);
        } else {
            lost.push(d.id);
        }
    }
    streams.retain(|s| !s.is_empty());
    (streams, lost)
}
