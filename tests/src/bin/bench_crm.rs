//! `bench-crm`: the CRM's list queries on big data sets, through the real HTTP API.
//!
//! Starts a control plane in-process on a fresh database (SQLite in a temp dir, or a new
//! PostgreSQL database when `DATABASE_URL` is set), turns Kanban on for the tenant, makes one
//! instance with one board, then writes `--leads N` leads (default 100,000) on that board and
//! `--appointments M` appointments (default 50,000) in one month straight into the database
//! (in batches, then `VACUUM ANALYZE` on PostgreSQL, the state autovacuum keeps a live
//! database in: statistics and the visibility map index-only scans need).
//! Then, for each query below, `--requests R` requests (default 500) one after another after a
//! warm-up, and prints p50, p99 and max, and the requests per second of 8 clients at once:
//!
//! - the board's open leads (the default list), a later page, one column's leads, a search;
//! - the month's appointments (the default list), a later page, one status.
//!
//! ```text
//! cargo build --profile perf -p zapini-e2e --bin bench-crm
//! target/perf/bench-crm [--leads 100000] [--appointments 50000] [--requests 500]
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test target/perf/bench-crm
//! ```
//!
//! It prints figures and asserts nothing about timing.
#![forbid(unsafe_code)]

use std::time::Duration;

use anyhow::Context;
use chrono::{TimeZone, Utc};
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};
use serde_json::{Value, json};
use tokio::time::Instant;
use zapini_e2e::bench::percentile;
use zapini_e2e::{Api, ControlPlane, config};

struct Args {
    leads: usize,
    appointments: usize,
    requests: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        leads: 100_000,
        appointments: 50_000,
        requests: 500,
    };
    for (flag, value) in zapini_e2e::bench::flags()? {
        match flag.as_str() {
            "--leads" => args.leads = value.parse()?,
            "--appointments" => args.appointments = value.parse()?,
            "--requests" => args.requests = value.parse()?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

/// Rows per multi-row insert (well under SQLite's bound on parameters).
const BATCH: usize = 400;

async fn seed_leads(
    db: &sea_orm::DatabaseConnection,
    tenant: i64,
    instance: i64,
    board: i64,
    columns: &[i64],
    count: usize,
) -> anyhow::Result<()> {
    use control_plane::db::entities::kanban_lead;
    let start = Utc::now() - chrono::Duration::days(365);
    let mut rows = Vec::with_capacity(BATCH);
    for i in 0..count {
        let (status, closed) = match i % 10 {
            0 | 1 => ("won", true),
            2 => ("lost", true),
            _ => ("open", false),
        };
        let created = start + chrono::Duration::seconds(i as i64 * 300);
        let closed_at = closed.then(|| created + chrono::Duration::days((i % 30) as i64));
        rows.push(kanban_lead::ActiveModel {
            uuid: Set(uuid::Uuid::new_v4()),
            tenant_id: Set(tenant),
            instance_id: Set(instance),
            board_id: Set(board),
            column_id: Set(columns[i % columns.len()]),
            position: Set((i / columns.len()) as i64),
            title: Set(format!("Lead {i} - Pro Plan")),
            phone_number: Set(Some(format!("55119{:08}", 10_000_001 + i))),
            email: Set(Some(format!("lead{i}@example.com"))),
            value_cents: Set(Some(((i % 1000) as i64 + 1) * 1_000)),
            priority: Set(["low", "medium", "high", "urgent"][i % 4].to_owned()),
            status: Set(status.to_owned()),
            source: Set("api".to_owned()),
            custom_fields: Set(None),
            contact_id: Set(None),
            conversation_id: Set(None),
            appointment_id: Set(None),
            ai_score: Set(None),
            ai_summary: Set(None),
            ai_next_step: Set(None),
            ai_qualified_at: Set(None),
            lost_reason: Set(None),
            closed_at: Set(closed_at),
            close_seconds: Set(closed_at.map(|c| (c - created).num_seconds())),
            deleted_at: Set(None),
            created_at: Set(created),
            updated_at: Set(created),
            ..Default::default()
        });
        if rows.len() == BATCH || i + 1 == count {
            kanban_lead::Entity::insert_many(std::mem::take(&mut rows))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

async fn seed_appointments(
    db: &sea_orm::DatabaseConnection,
    tenant: i64,
    instance: i64,
    month_start: chrono::DateTime<Utc>,
    count: usize,
) -> anyhow::Result<()> {
    use control_plane::db::entities::appointment;
    // Spread over the month's first 28 days.
    let step = (28 * 24 * 3600) / count.max(1) as i64;
    let mut rows = Vec::with_capacity(BATCH);
    for i in 0..count {
        let starts = month_start + chrono::Duration::seconds(step * i as i64);
        rows.push(appointment::ActiveModel {
            uuid: Set(uuid::Uuid::new_v4()),
            tenant_id: Set(tenant),
            instance_id: Set(instance),
            title: Set(format!("Consultation {i}")),
            description: Set(None),
            client_name: Set(Some(format!("Client {i}"))),
            client_phone: Set(Some(format!("55119{:08}", 10_000_001 + i))),
            client_email: Set(None),
            starts_at: Set(starts),
            ends_at: Set(starts + chrono::Duration::minutes(60)),
            status: Set(["scheduled", "confirmed", "completed", "cancelled"][i % 4].to_owned()),
            color: Set("#3b82f6".to_owned()),
            reminder_minutes: Set(None),
            location: Set(Some("Online".to_owned())),
            notes: Set(None),
            reminder_sent_at: Set(None),
            confirmed_at: Set(None),
            completed_at: Set(None),
            cancelled_at: Set(None),
            created_at: Set(Utc::now()),
            updated_at: Set(Utc::now()),
            ..Default::default()
        });
        if rows.len() == BATCH || i + 1 == count {
            appointment::Entity::insert_many(std::mem::take(&mut rows))
                .exec(db)
                .await?;
        }
    }
    Ok(())
}

/// `requests` GETs one after another (after a warm-up): latencies in ms, sorted.
async fn measure(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    requests: usize,
    check: impl Fn(&Value) -> bool,
) -> anyhow::Result<Vec<f64>> {
    for _ in 0..20 {
        let body: Value = client
            .get(url)
            .bearer_auth(token)
            .send()
            .await?
            .json()
            .await?;
        anyhow::ensure!(check(&body), "{url}: unexpected answer {body}");
    }
    let mut out = Vec::with_capacity(requests);
    for _ in 0..requests {
        let t = Instant::now();
        let resp = client.get(url).bearer_auth(token).send().await?;
        anyhow::ensure!(resp.status().is_success(), "{url}: {}", resp.status());
        resp.bytes().await?;
        out.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out.sort_by(|a, b| a.total_cmp(b));
    Ok(out)
}

/// Requests per second of 8 clients asking at once for 3 s.
async fn throughput(client: &reqwest::Client, url: &str, token: &str) -> f64 {
    let until = Instant::now() + Duration::from_secs(3);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let client = client.clone();
        let url = url.to_owned();
        let token = token.to_owned();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < until {
                if let Ok(r) = client.get(&url).bearer_auth(&token).send().await
                    && r.status().is_success()
                    && r.bytes().await.is_ok()
                {
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap_or(0);
    }
    total as f64 / 3.0
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let mut cfg = config(dir.path()).await?;
    cfg.rate_limit_requests = 10_000_000;
    let db_url = cfg.database_url();
    let postgres = db_url.starts_with("postgres");
    let cp = ControlPlane::start(cfg).await?;
    let api = Api::default();
    let token = api.login(&cp).await;
    let (instance_id, instance_uuid) = api.create_instance(&cp, &token, "crm bench").await;
    let db = sea_orm::Database::connect(&db_url).await?;
    db.execute_unprepared("UPDATE tenants SET kanban_enabled = true")
        .await?;
    let (status, board) = api
        .call(
            reqwest::Method::POST,
            &cp.url("/api/v1/kanban/boards"),
            Some(&token),
            None,
            Some(json!({"name": "Sales Pipeline", "instance_id": instance_uuid})),
        )
        .await;
    anyhow::ensure!(status == 201, "board: {board}");
    let board_uuid = board["data"]["uuid"]
        .as_str()
        .context("board uuid")?
        .to_owned();
    let columns: Vec<Value> = board["data"]["columns"]
        .as_array()
        .context("board columns")?
        .clone();
    let board_row = {
        use control_plane::db::entities::kanban_board;
        use sea_orm::{ColumnTrait, QueryFilter};
        kanban_board::Entity::find()
            .filter(kanban_board::Column::Uuid.eq(uuid::Uuid::parse_str(&board_uuid)?))
            .one(&db)
            .await?
            .context("board row")?
    };
    let column_ids: Vec<i64> = {
        use control_plane::db::entities::kanban_column;
        use sea_orm::{ColumnTrait, QueryFilter, QueryOrder};
        kanban_column::Entity::find()
            .filter(kanban_column::Column::BoardId.eq(board_row.id))
            .order_by_asc(kanban_column::Column::Position)
            .all(&db)
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect()
    };
    let month_start = Utc
        .with_ymd_and_hms(2027, 3, 1, 0, 0, 0)
        .single()
        .context("month")?;
    let seeded = Instant::now();
    seed_leads(
        &db,
        board_row.tenant_id,
        instance_id,
        board_row.id,
        &column_ids,
        args.leads,
    )
    .await?;
    seed_appointments(
        &db,
        board_row.tenant_id,
        instance_id,
        month_start,
        args.appointments,
    )
    .await?;
    if postgres {
        db.execute_unprepared("VACUUM ANALYZE").await?;
    }
    println!(
        "bench-crm: {}, {} leads on one board and {} appointments in one month, written in {:.1} s; {} sequential requests per query",
        if postgres { "PostgreSQL" } else { "SQLite" },
        args.leads,
        args.appointments,
        seeded.elapsed().as_secs_f64(),
        args.requests
    );

    let client = reqwest::Client::new();
    let column = columns
        .get(2)
        .and_then(|c| c["uuid"].as_str())
        .context("a column")?;
    let leads = |query: &str| cp.url(&format!("/api/v1/kanban/boards/{board_uuid}/leads{query}"));
    let appointments = |query: &str| {
        cp.url(&format!(
            "/api/v1/calendar/appointments?instance_id={instance_uuid}&start=2027-03-01&end=2027-03-31{query}"
        ))
    };
    // One lead's number, as a user types it into the search box.
    let search = format!("55119{:08}", 10_000_001 + args.leads / 2);
    let has_data = |b: &Value| b["data"].as_array().is_some_and(|d| !d.is_empty());
    let queries: Vec<(&str, String)> = vec![
        ("leads: open, first page", leads("")),
        ("leads: open, page 50 of 20", leads("?page=50")),
        (
            "leads: one column, by position",
            leads(&format!("?column_uuid={column}&per_page=50")),
        ),
        (
            "leads: all statuses, 100 a page",
            leads("?status=all&per_page=100"),
        ),
        (
            "leads: search a number",
            leads(&format!("?search={search}&status=all")),
        ),
        ("appointments: the month, first page", appointments("")),
        (
            "appointments: the month, page 20 of 50",
            appointments("&page=20"),
        ),
        (
            "appointments: confirmed, 100 a page",
            appointments("&status=confirmed&per_page=100"),
        ),
    ];
    for (name, url) in &queries {
        let lat = measure(&client, url, &token, args.requests, has_data).await?;
        let rps = throughput(&client, url, &token).await;
        println!(
            "{name:<40} p50 {:>6.2} ms  p99 {:>6.2} ms  max {:>6.2} ms  {:>6.0} req/s (8 clients)",
            percentile(&lat, 0.50),
            percentile(&lat, 0.99),
            lat.last().copied().unwrap_or(0.0),
            rps
        );
    }
    cp.stop().await;
    if postgres {
        zapini_e2e::drop_database(&db_url).await.ok();
    }
    Ok(())
}
