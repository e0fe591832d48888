//! `bench-webhooks`: figures for outgoing webhook delivery.
//!
//! Starts a control plane in-process on a fresh database (SQLite in a temp dir, or a new
//! PostgreSQL database when `DATABASE_URL` is set), a real HTTP receiver on loopback, and an
//! instance whose webhook points at it. Then:
//!
//! 1. **Backlog drain** — `--backlog N` deliveries (default 20,000) over 500 conversations are
//!    written straight into the outbox in a few transactions, the dispatcher is woken, and the
//!    receiver's arrivals give deliveries per second (first to last arrival).
//! 2. **Live latency** — events are reported through the signed engine endpoint
//!    (`POST /webhooks/instance/{uuid}/incoming`) at `--rate R` per second (default 500) for
//!    `--duration S` seconds (default 10); for each, the time from sending the report to the
//!    first delivery attempt reaching the receiver: p50, p99, max.
//!
//! ```text
//! cargo build --release -p zapini-e2e --bin bench-webhooks
//! target/release/bench-webhooks [--backlog 20000] [--rate 500] [--duration 10]
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test target/release/bench-webhooks
//! ```
//!
//! It prints figures and asserts nothing about timing. `BENCH_WEBHOOKS_TIMELINE=<file>` also
//! writes each live event's latency and its report's, in the order sent.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use control_plane::db::entities::{webhook_delivery, webhook_endpoint};
use control_plane::webhooks::events::render;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;
use zapini_e2e::bench::percentile;
use zapini_e2e::procfs::{memory, mib};
use zapini_e2e::receiver::Receiver;
use zapini_e2e::{Api, ControlPlane, NODE_SECRET, config, sign_report};

struct Args {
    backlog: usize,
    rate: u32,
    duration: Duration,
    /// `--tenant-concurrency N`: the webhook slots one tenant may hold (default: the
    /// control plane's default).
    tenant_concurrency: Option<usize>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        backlog: 20_000,
        rate: 500,
        duration: Duration::from_secs(10),
        tenant_concurrency: None,
    };
    for (flag, value) in zapini_e2e::bench::flags()? {
        match flag.as_str() {
            "--backlog" => args.backlog = value.parse()?,
            "--rate" => args.rate = value.parse()?,
            "--duration" => args.duration = Duration::from_secs(value.parse()?),
            "--tenant-concurrency" => args.tenant_concurrency = Some(value.parse()?),
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

/// This process's RSS.
fn rss() -> String {
    memory(std::process::id()).map_or_else(|_| "?".to_owned(), |m| mib(m.rss))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let mut cfg = config(dir.path()).await?;
    // Production-like delivery settings; only loopback and plain HTTP are allowed for the
    // local receiver.
    let defaults = control_plane::Config::for_data_dir(dir.path());
    cfg.webhooks.timeout = defaults.webhooks.timeout;
    cfg.webhooks.retry_schedule = defaults.webhooks.retry_schedule.clone();
    cfg.webhooks.tenant_concurrency = args
        .tenant_concurrency
        .unwrap_or(defaults.webhooks.tenant_concurrency);
    let db_url = cfg.database_url();
    let backend = if db_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let cp = ControlPlane::start(cfg).await?;
    let api = Api::default();
    let token = api.login(&cp).await;
    let (id, uuid) = api.create_instance(&cp, &token, "bench").await;
    let receiver = Receiver::start().await;
    let (status, body) = api
        .call(
            reqwest::Method::PUT,
            &cp.url(&format!("/instances/{id}/webhook")),
            Some(&token),
            None,
            Some(json!({"webhook_url": receiver.url, "webhook_secret": "bench-secret-0001", "events": ["message.received"]})),
        )
        .await;
    anyhow::ensure!(status == 201, "PUT webhook: {body}");
    println!("bench-webhooks: {backend}, receiver on loopback");

    // 1. Backlog drain.
    let db = sea_orm::Database::connect(&db_url).await?;
    let endpoint = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::InstanceId.eq(id))
        .one(&db)
        .await?
        .context("endpoint row")?;
    let instance_row = control_plane::db::entities::instance::Entity::find_by_id(id)
        .one(&db)
        .await?
        .context("instance row")?;
    let now = Utc::now();
    let rows: Vec<webhook_delivery::ActiveModel> = (0..args.backlog)
        .map(|i| {
            let data = json!({
                "message_id": Uuid::new_v4(),
                "whatsapp_message_id": format!("B{i:07}"),
                "sender_number": format!("5511{:09}", i % 500),
                "sender_name": "Bench",
                "content": format!("backlog message {i}"),
                "media_type": null,
                "media_url": null,
                "timestamp": control_plane::webhooks::events::timestamp(now),
                "conversation_id": 1 + (i % 500),
            });
            webhook_delivery::ActiveModel {
                uuid: Set(Uuid::now_v7()),
                tenant_id: Set(instance_row.tenant_id),
                instance_id: Set(id),
                instance_uuid: Set(uuid),
                endpoint_id: Set(endpoint.id),
                event: Set("message.received".into()),
                ordering_key: Set(format!("5511{:09}@s.whatsapp.net", i % 500)),
                payload: Set(render("message.received", uuid, now, &data)),
                status: Set("pending".into()),
                attempts: Set(0),
                next_attempt_at: Set(now),
                leased_until: Set(None),
                lease_owner: Set(None),
                last_status_code: Set(None),
                last_error: Set(None),
                last_latency_ms: Set(None),
                created_at: Set(now),
                delivered_at: Set(None),
                updated_at: Set(now),
                ..Default::default()
            }
        })
        .collect();
    let insert_started = Instant::now();
    {
        use sea_orm::TransactionTrait;
        let txn = db.begin().await?;
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<_> = rows.by_ref().take(400).collect();
            webhook_delivery::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
    }
    let started = Instant::now();
    println!(
        "backlog: {} deliveries queued in {:.2} s",
        args.backlog,
        insert_started.elapsed().as_secs_f64()
    );
    let rss_before = rss();
    let log = receiver
        .wait_until(Duration::from_secs(600), "the backlog delivered", |log| {
            log.iter().filter(|r| r.ok()).count() >= args.backlog
        })
        .await;
    let first = log
        .first()
        .map(|r| r.at)
        .unwrap_or_else(std::time::Instant::now);
    let last = log.last().map(|r| r.at).unwrap_or(first);
    let span = last.duration_since(first).as_secs_f64().max(1e-9);
    println!(
        "backlog drain: {} deliveries in {:.2} s = {:.0} deliveries/s (first arrival {:.0} ms after queueing; process RSS {} -> {})",
        args.backlog,
        span,
        args.backlog as f64 / span,
        first.duration_since(started.into_std()).as_secs_f64() * 1000.0,
        rss_before,
        rss()
    );

    // The dispatcher records outcomes after the arrivals: the live phase starts once the
    // whole backlog is recorded as delivered, so it measures steady state, not the drain's
    // last bookkeeping.
    let recorded = tokio::time::Instant::now();
    loop {
        let done = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.eq("delivered"))
            .count(&db)
            .await?;
        if done >= args.backlog as u64 {
            break;
        }
        anyhow::ensure!(
            recorded.elapsed() < Duration::from_secs(120),
            "the backlog's outcomes were not recorded: {done} of {}",
            args.backlog
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    println!(
        "backlog outcomes recorded {:.0} ms after the last arrival",
        last.elapsed().as_secs_f64() * 1000.0
    );

    // 2. Live: event -> first attempt at a fixed rate.
    // Whether the runtime itself stalls (a blocked worker): a 5 ms timer that comes late.
    let probe_for = args.duration + Duration::from_secs(1);
    let lag_probe = tokio::spawn(async move {
        let mut worst = Vec::new();
        let start = std::time::Instant::now();
        loop {
            let before = std::time::Instant::now();
            tokio::time::sleep(Duration::from_millis(5)).await;
            let late = before.elapsed().as_secs_f64() * 1000.0 - 5.0;
            if late > 20.0 {
                worst.push((start.elapsed().as_secs_f64(), late));
            }
            if start.elapsed() > probe_for {
                return worst;
            }
        }
    });
    let already = log.len();
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(64)
        .build()?;
    let sent: Arc<std::sync::Mutex<HashMap<String, std::time::Instant>>> = Arc::default();
    let total = (f64::from(args.rate) * args.duration.as_secs_f64()) as usize;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(args.rate)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        ticker.tick().await;
        let client = client.clone();
        let url = cp.url(&format!("/webhooks/instance/{uuid}/incoming"));
        let sent = sent.clone();
        tasks.spawn(async move {
            let wa_id = format!("L{i:07}");
            let jid = format!("5512{:09}@s.whatsapp.net", i % 200);
            let body = serde_json::to_vec(&json!({
                "key": {"remoteJid": jid, "fromMe": false, "id": wa_id},
                "message": {"conversation": format!("live message {i}")},
                "pushName": "Bench"
            }))
            .expect("json");
            let (ts, sig) = sign_report(NODE_SECRET, &body);
            let start = std::time::Instant::now();
            sent.lock().expect("lock").insert(wa_id.clone(), start);
            let resp = client
                .post(url)
                .header("content-type", "application/json")
                .header("x-webhook-timestamp", ts)
                .header("x-webhook-signature", sig)
                .body(body)
                .send()
                .await;
            let ok = matches!(resp, Ok(r) if r.status().is_success());
            (ok, start.elapsed().as_secs_f64() * 1000.0, wa_id)
        });
    }
    let mut failed_reports = 0;
    let mut report_ms = Vec::new();
    let mut report_of: HashMap<String, f64> = HashMap::new();
    while let Some(result) = tasks.join_next().await {
        match result {
            Ok((true, ms, id)) => {
                report_ms.push(ms);
                report_of.insert(id, ms);
            }
            _ => failed_reports += 1,
        }
    }
    report_ms.sort_by(f64::total_cmp);
    let expected = total - failed_reports;
    let log = receiver
        .wait_until(
            Duration::from_secs(120),
            "the live events delivered",
            |log| log.len() >= already + expected,
        )
        .await;
    let sent = std::mem::take(&mut *sent.lock().expect("lock"));
    let mut first_attempt: HashMap<String, std::time::Instant> = HashMap::new();
    for r in &log[already..] {
        let id = r.json()["data"]["whatsapp_message_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        first_attempt.entry(id).or_insert(r.at);
    }
    let mut latencies: Vec<f64> = first_attempt
        .iter()
        .filter_map(|(id, at)| {
            sent.get(id)
                .map(|s| at.duration_since(*s).as_secs_f64() * 1000.0)
        })
        .collect();
    // Each event's latency in the order sent, for finding when the slow ones happened.
    if let Ok(path) = std::env::var("BENCH_WEBHOOKS_TIMELINE") {
        let mut by_id: Vec<(&String, f64)> = first_attempt
            .iter()
            .filter_map(|(id, at)| {
                sent.get(id)
                    .map(|s| (id, at.duration_since(*s).as_secs_f64() * 1000.0))
            })
            .collect();
        by_id.sort_by(|a, b| a.0.cmp(b.0));
        let lines: Vec<String> = by_id
            .iter()
            .map(|(id, ms)| format!("{id} {ms:.1} {:.1}", report_of.get(*id).unwrap_or(&0.0)))
            .collect();
        std::fs::write(&path, lines.join("\n"))?;
    }
    let lags: Vec<String> = lag_probe
        .await
        .unwrap_or_default()
        .iter()
        .map(|(at, ms)| format!("{ms:.0} ms at {at:.2} s"))
        .collect();
    println!(
        "runtime: a 5 ms timer came more than 20 ms late {} times during the live phase{}{}",
        lags.len(),
        if lags.is_empty() { "" } else { ": " },
        lags.join(", ")
    );
    latencies.sort_by(f64::total_cmp);
    println!(
        "live: {} events at {}/s over {} s ({} reports failed): event -> first attempt p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms (the signed report itself: p50 {:.1} ms, p99 {:.1} ms)",
        latencies.len(),
        args.rate,
        args.duration.as_secs(),
        failed_reports,
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(0.0),
        percentile(&report_ms, 0.50),
        percentile(&report_ms, 0.99),
    );
    drop(cp);
    zapini_e2e::drop_database(&db_url).await?;
    Ok(())
}
