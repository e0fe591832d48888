//! `bench-inbox`: list and history latency at scale.
//!
//! Starts a control plane in-process on a fresh database (SQLite in a temp dir, or a new
//! PostgreSQL database when `DATABASE_URL` is set), creates one tenant's instance, and seeds
//! it with bulk SQL inserts (one `INSERT … SELECT` over a generated series per table):
//! `--conversations N` conversations (default 100,000) with a contact each, and `--messages M`
//! messages (default 1,000,000): a tenth of them in one long conversation, the rest spread
//! evenly. Then it times real HTTP requests against the running server, one at a time:
//!
//! - list: `GET /api/v1/conversations` (page 1, random pages up to 50, `unread=true`,
//!   `format=chat`), `per_page=20`;
//! - history: `GET /api/v1/conversations/{uuid}/messages?limit=50` of random conversations,
//!   and of the long one at random `before_id` points.
//!
//! ```text
//! cargo build --release -p zapini-e2e --bin bench-inbox
//! target/release/bench-inbox [--conversations 100000] [--messages 1000000] [--requests 500]
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test target/release/bench-inbox
//! ```
//!
//! It prints p50/p99/max per request kind and asserts nothing about timing.
#![forbid(unsafe_code)]

use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use tokio::time::Instant;
use zapini_e2e::bench::percentile;
use zapini_e2e::{Api, ControlPlane, config};

struct Args {
    conversations: u64,
    messages: u64,
    requests: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        conversations: 100_000,
        messages: 1_000_000,
        requests: 500,
    };
    for (flag, value) in zapini_e2e::bench::flags()? {
        match flag.as_str() {
            "--conversations" => args.conversations = value.parse()?,
            "--messages" => args.messages = value.parse()?,
            "--requests" => args.requests = value.parse()?,
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    anyhow::ensure!(
        args.conversations >= 2,
        "--conversations must be at least 2"
    );
    Ok(args)
}

/// A tiny deterministic generator (xorshift), so runs pick the same pages.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

/// The SQL of one seeding step for the backend: a series `i` from 1 to `n` feeding `select`.
fn series_insert(backend: DbBackend, table_cols: &str, select: &str, n: u64) -> String {
    match backend {
        DbBackend::Postgres => {
            format!("INSERT INTO {table_cols} SELECT {select} FROM generate_series(1, {n}) AS s(i)")
        }
        _ => format!(
            "INSERT INTO {table_cols} WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n}) SELECT {select} FROM s"
        ),
    }
}

async fn seed(
    db: &sea_orm::DatabaseConnection,
    tenant: i64,
    instance: i64,
    conversations: u64,
    messages: u64,
) -> anyhow::Result<()> {
    let b = db.get_database_backend();
    let pg = b == DbBackend::Postgres;
    let uuid = if pg {
        "gen_random_uuid()"
    } else {
        "randomblob(16)"
    };
    // Timestamps: one second apart, ending now-ish; the same text format sqlx writes.
    let base = chrono::Utc::now().timestamp() - i64::try_from(messages).unwrap_or(0) - 10;
    let ts = |expr: &str| {
        if pg {
            format!("to_timestamp({base} + ({expr}))")
        } else {
            format!("strftime('%Y-%m-%d %H:%M:%S', {base} + ({expr}), 'unixepoch') || '+00:00'")
        }
    };
    let now = ts("0");
    let t = if pg { "true" } else { "1" };
    let f = if pg { "false" } else { "0" };
    let long = messages / 10;
    let rest = messages - long;
    let others = conversations - 1;
    let stmts = [
        series_insert(
            b,
            "contacts (uuid, tenant_id, instance_id, jid, phone_number, name, push_name, is_business, created_at, updated_at)",
            &format!(
                "{uuid}, {tenant}, {instance}, (5500000000000 + i) || '@s.whatsapp.net', \
                 CAST(5500000000000 + i AS TEXT), NULL, 'Contact ' || i, {f}, {now}, {now}"
            ),
            conversations,
        ),
        // Conversation i talks to contact i; its last message is at base + its number.
        series_insert(
            b,
            "conversations (uuid, tenant_id, instance_id, contact_id, chat_jid, is_group, display_name, last_message, last_message_at, unread_count, is_archived, automation_paused, created_at, updated_at)",
            &format!(
                "{uuid}, {tenant}, {instance}, i, (5500000000000 + i) || '@s.whatsapp.net', {f}, \
                 'Contact ' || i, 'message ' || i, {lm}, CASE WHEN i % 7 = 0 THEN 3 ELSE 0 END, \
                 CASE WHEN i % 50 = 0 THEN {t} ELSE {f} END, {f}, {now}, {now}",
                lm = ts("i * 10")
            ),
            conversations,
        ),
        // A tenth of the messages in conversation 1, the rest round-robin over the others.
        series_insert(
            b,
            "messages (uuid, tenant_id, instance_id, conversation_id, wa_message_id, from_me, sender_jid, sender_name, message_type, body, status, is_edited, is_deleted, sent_at, created_at, updated_at)",
            &format!(
                "{uuid}, {tenant}, {instance}, 1, 'L' || i, CASE WHEN i % 2 = 0 THEN {t} ELSE {f} END, \
                 NULL, NULL, 'text', 'long conversation message ' || i, 2, {f}, {f}, {st}, {now}, {now}",
                st = ts("i")
            ),
            long,
        ),
        series_insert(
            b,
            "messages (uuid, tenant_id, instance_id, conversation_id, wa_message_id, from_me, sender_jid, sender_name, message_type, body, status, is_edited, is_deleted, sent_at, created_at, updated_at)",
            &format!(
                "{uuid}, {tenant}, {instance}, 2 + (i % {others}), 'M' || i, CASE WHEN i % 2 = 0 THEN {t} ELSE {f} END, \
                 NULL, NULL, 'text', 'message body number ' || i, 3, {f}, {f}, {st}, {now}, {now}",
                st = ts("i")
            ),
            rest,
        ),
    ];
    for sql in stmts {
        let started = Instant::now();
        db.execute_unprepared(&sql).await?;
        println!(
            "  seeded {} in {:.1} s",
            sql.split_whitespace().nth(2).unwrap_or("?"),
            started.elapsed().as_secs_f64()
        );
    }
    // Fresh statistics and (PostgreSQL) a visibility map, as autovacuum after a bulk insert
    // (or SQLite's `PRAGMA optimize`) leaves a production database.
    db.execute_unprepared(if pg { "VACUUM ANALYZE" } else { "ANALYZE" })
        .await?;
    Ok(())
}

async fn time_requests(api: &Api, token: &str, urls: &[String]) -> anyhow::Result<(f64, f64, f64)> {
    let mut ms = Vec::with_capacity(urls.len());
    for url in urls {
        let started = Instant::now();
        let resp = api.client.get(url).bearer_auth(token).send().await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        ms.push(started.elapsed().as_secs_f64() * 1000.0);
        anyhow::ensure!(
            status.is_success(),
            "{url}: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    ms.sort_by(f64::total_cmp);
    Ok((
        percentile(&ms, 0.50),
        percentile(&ms, 0.99),
        *ms.last().unwrap_or(&0.0),
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let mut cfg = config(dir.path()).await?;
    cfg.rate_limit_requests = u32::MAX;
    let db_url = cfg.database_url();
    let backend = if db_url.starts_with("postgres") {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let cp = ControlPlane::start(cfg).await?;
    let api = Api::default();
    let token = api.login(&cp).await;
    let (id, _uuid) = api.create_instance(&cp, &token, "bench").await;
    println!(
        "bench-inbox: {backend}, {} conversations, {} messages",
        args.conversations, args.messages
    );
    let db = sea_orm::Database::connect(&db_url).await?;
    let tenant: i64 = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            format!("SELECT tenant_id FROM instances WHERE id = {id}"),
        ))
        .await?
        .context("instance row")?
        .try_get_by_index(0)?;
    let started = Instant::now();
    seed(&db, tenant, id, args.conversations, args.messages).await?;
    println!("  seeding took {:.1} s", started.elapsed().as_secs_f64());

    // Conversation UUIDs come from the API itself (a few list pages).
    let mut convs = Vec::new();
    for page in 1..=5 {
        let (status, body) = api
            .call(
                reqwest::Method::GET,
                &cp.url(&format!("/api/v1/conversations?per_page=100&page={page}")),
                Some(&token),
                None,
                None,
            )
            .await;
        anyhow::ensure!(status == 200, "list: {body}");
        convs.extend(
            body["data"]
                .as_array()
                .context("data")?
                .iter()
                .filter_map(|c| c["id"].as_str().map(str::to_owned)),
        );
    }
    let total = {
        let (_, body) = api
            .call(
                reqwest::Method::GET,
                &cp.url("/api/v1/conversations?per_page=1"),
                Some(&token),
                None,
                None,
            )
            .await;
        body["meta"]["pagination"]["total"].as_u64().unwrap_or(0)
    };
    println!("  the API lists {total} active conversations (every 50th is archived)");
    let long: String = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT id FROM messages WHERE conversation_id = 1 ORDER BY id DESC LIMIT 1".to_owned(),
        ))
        .await?
        .map(|r| r.try_get_by_index::<i64>(0))
        .transpose()?
        .map(|id| id.to_string())
        .context("long conversation")?;
    let long_newest: i64 = long.parse()?;
    let long_uuid = {
        let (_, body) = api
            .call(
                reqwest::Method::GET,
                &cp.url("/api/v1/conversations?search=5500000000001&per_page=100"),
                Some(&token),
                None,
                None,
            )
            .await;
        body["data"]
            .as_array()
            .context("data")?
            .iter()
            .find(|c| c["contact_number"] == "5500000000001")
            .and_then(|c| c["id"].as_str())
            .context("conversation 1")?
            .to_owned()
    };

    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let n = args.requests;
    let base = cp.url("/api/v1");
    let kinds: Vec<(&str, Vec<String>)> = vec![
        (
            "list, page 1",
            (0..n)
                .map(|_| format!("{base}/conversations?per_page=20"))
                .collect(),
        ),
        (
            "list, random page <= 50",
            (0..n)
                .map(|_| {
                    format!(
                        "{base}/conversations?per_page=20&page={}",
                        1 + rng.below(50)
                    )
                })
                .collect(),
        ),
        (
            "list, unread=true",
            (0..n)
                .map(|_| format!("{base}/conversations?per_page=20&unread=true"))
                .collect(),
        ),
        (
            "list, format=chat",
            (0..n)
                .map(|_| format!("{base}/conversations?per_page=20&format=chat"))
                .collect(),
        ),
        (
            "history, random conversation",
            (0..n)
                .map(|_| {
                    let c = &convs[usize::try_from(rng.below(convs.len() as u64)).unwrap_or(0)];
                    format!("{base}/conversations/{c}/messages?limit=50")
                })
                .collect(),
        ),
        (
            "history, long conversation, random before_id",
            (0..n)
                .map(|_| {
                    let before =
                        long_newest - i64::try_from(rng.below(args.messages / 10)).unwrap_or(0);
                    format!("{base}/conversations/{long_uuid}/messages?limit=50&before_id={before}")
                })
                .collect(),
        ),
        (
            "history, chat format",
            (0..n)
                .map(|_| format!("{base}/chat/conversations/{long_uuid}/messages?limit=50"))
                .collect(),
        ),
    ];
    // Warm-up: the first requests open pooled connections and fill caches.
    time_requests(&api, &token, &kinds[0].1[..20.min(n)]).await?;
    println!(
        "{:<48} {:>9} {:>9} {:>9}",
        "request (sequential, over loopback)", "p50 ms", "p99 ms", "max ms"
    );
    for (name, urls) in &kinds {
        let (p50, p99, max) = time_requests(&api, &token, urls).await?;
        println!("{name:<48} {p50:>9.2} {p99:>9.2} {max:>9.2}");
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
    cp.stop().await;
    zapini_e2e::drop_database(&db_url).await?;
    Ok(())
}
