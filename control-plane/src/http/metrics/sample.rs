//! Figures read when `/metrics` is scraped: connected nodes, instances by status and engine,
//! the webhook outbox's depth and the age of its oldest pending delivery, database pools;
//! and the node targets `/metrics/targets` lists for Prometheus's HTTP service discovery.
//!
//! The queries are cheap: a `GROUP BY` over the instances, and a count and a first row of
//! the outbox's pending deliveries through its pending-only index. A failed query leaves its
//! gauges at their last value and is logged; the scrape still answers.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use crate::db::entities::{instance, instance_node, webhook_delivery};
use crate::service::Services;

/// Updates every sampled gauge.
pub async fn sample(services: &Services) {
    metrics::gauge!("zapini_nodes_connected").set(services.hub.streaming_count() as f64);
    pools(services);
    if let Err(e) = instances(services).await {
        tracing::warn!(error = %e, "metrics: cannot count instances");
    }
    if let Err(e) = outbox(&services.db).await {
        tracing::warn!(error = %e, "metrics: cannot read the webhook outbox");
    }
}

async fn instances(services: &Services) -> Result<(), sea_orm::DbErr> {
    let rows: Vec<(String, String, i64)> = instance::Entity::find()
        .select_only()
        .column(instance::Column::Status)
        .column(instance::Column::Engine)
        .column_as(instance::Column::Id.count(), "n")
        .group_by(instance::Column::Status)
        .group_by(instance::Column::Engine)
        .into_tuple()
        .all(&services.db)
        .await?;
    let mut seen = services
        .metrics
        .instance_series()
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    // A series this app reported before and no longer sees goes to 0 (another app in the
    // same process, as in tests, keeps its own).
    for (status, engine) in seen.iter() {
        if !rows.iter().any(|(s, e, _)| s == status && e == engine) {
            metrics::gauge!("zapini_instances", "status" => status.clone(), "engine" => engine.clone())
                .set(0.0);
        }
    }
    seen.clear();
    for (status, engine, n) in rows {
        metrics::gauge!("zapini_instances", "status" => status.clone(), "engine" => engine.clone())
            .set(n as f64);
        seen.push((status, engine));
    }
    Ok(())
}

async fn outbox(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    // `'pending'` is inlined, not bound: PostgreSQL's partial pending-only indexes serve only
    // plans that know the value (a prepared statement's generic plan would scan the table).
    let pending = || webhook_delivery::Entity::find().filter(Expr::cust("status = 'pending'"));
    let depth: Option<i64> = pending()
        .select_only()
        .column_as(webhook_delivery::Column::Id.count(), "n")
        .into_tuple()
        .one(db)
        .await?;
    let oldest: Option<chrono::DateTime<Utc>> = pending()
        .select_only()
        .column(webhook_delivery::Column::CreatedAt)
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(1)
        .into_tuple()
        .one(db)
        .await?;
    metrics::gauge!("zapini_webhook_outbox_pending").set(depth.unwrap_or(0) as f64);
    let age = oldest.map_or(0.0, |t| {
        (Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
    });
    metrics::gauge!("zapini_webhook_outbox_oldest_pending_age_seconds").set(age);
    Ok(())
}

fn pools(services: &Services) {
    pool("main", &services.db);
    if let Some(db) = services.metrics.dispatcher_db() {
        pool("dispatcher", db);
    }
}

/// Connections of one pool: in use, idle, and its maximum.
fn pool(name: &'static str, db: &DatabaseConnection) {
    let (size, idle, max) = match db.get_database_backend() {
        DbBackend::Sqlite => stats(db.get_sqlite_connection_pool()),
        DbBackend::Postgres => stats(db.get_postgres_connection_pool()),
        _ => return,
    };
    let in_use = size.saturating_sub(idle);
    metrics::gauge!("zapini_db_pool_connections", "pool" => name, "state" => "in_use")
        .set(in_use as f64);
    metrics::gauge!("zapini_db_pool_connections", "pool" => name, "state" => "idle")
        .set(idle as f64);
    metrics::gauge!("zapini_db_pool_max_connections", "pool" => name).set(max as f64);
}

fn stats<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> (u64, u64, u64) {
    (
        u64::from(pool.size()),
        pool.num_idle() as u64,
        u64::from(pool.options().get_max_connections()),
    )
}

/// Prometheus HTTP service discovery (`http_sd_configs`): one target per node holding a live
/// lease, at the address it registered (`host:port` of its `http_url`), labelled with its
/// instance. Nodes serve `/metrics` behind `ZAPINI_METRICS_TOKEN`.
pub async fn targets(services: &Services) -> Result<Value, sea_orm::DbErr> {
    let nodes = instance_node::Entity::find()
        .filter(instance_node::Column::LeaseExpiresAt.gt(Utc::now()))
        .order_by_asc(instance_node::Column::InstanceId)
        .all(&services.db)
        .await?;
    let ids: Vec<i64> = nodes.iter().map(|n| n.instance_id).collect();
    let uuids: std::collections::HashMap<i64, uuid::Uuid> = instance::Entity::find()
        .select_only()
        .column(instance::Column::Id)
        .column(instance::Column::Uuid)
        .filter(instance::Column::Id.is_in(ids))
        .into_tuple::<(i64, uuid::Uuid)>()
        .all(&services.db)
        .await?
        .into_iter()
        .collect();
    let groups = nodes
        .iter()
        .filter_map(|n| {
            let url = reqwest::Url::parse(&n.http_url).ok()?;
            let target = format!("{}:{}", url.host()?, url.port_or_known_default()?);
            Some(json!({
                "targets": [target],
                "labels": {
                    "__scheme__": url.scheme(),
                    "zapini_instance_id": n.instance_id.to_string(),
                    "zapini_instance_uuid": uuids.get(&n.instance_id).map(|u| u.to_string()).unwrap_or_default(),
                    "zapini_engine": n.engine,
                },
            }))
        })
        .collect();
    Ok(Value::Array(groups))
}
