//! `bench-automation`: the automation engine's overhead, from an incoming message to its
//! automated reply handed to the node.
//!
//! Starts a control plane in-process on a fresh database (SQLite in a temp dir, or a new
//! PostgreSQL database when `DATABASE_URL` is set), a paired sandbox node in-process, a fake
//! OpenAI-compatible model on loopback that answers at once, and an `ai_agent` integration
//! (debounce 0, no reply delay). Then:
//!
//! 1. **Open sessions** — one message to each of `--sessions N` conversations (default 1,000),
//!    until every one is answered: N open sessions.
//! 2. **Load** — messages at `--rate R` per second (default 200) spread over those
//!    conversations for `--duration S` seconds (default 20). For each message, the time from
//!    its arrival on the node (the sandbox stamps it) to the reply's send on the node (stamped
//!    by the sandbox when the node sends it): p50, p99, max, and how many were answered.
//!
//! ```text
//! cargo build --profile perf -p zapini-e2e --bin bench-automation
//! target/perf/bench-automation [--sessions 1000] [--rate 200] [--duration 20]
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test target/perf/bench-automation
//! ```
//!
//! It prints figures and asserts nothing about timing.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;
use tokio::time::Instant;
use zapini_e2e::bench::percentile;
use zapini_e2e::receiver::Receiver;
use zapini_e2e::{Api, ControlPlane, Node, config};

struct Args {
    sessions: usize,
    rate: u32,
    duration: Duration,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        sessions: 1_000,
        rate: 200,
        duration: Duration::from_secs(20),
    };
    for (flag, value) in zapini_e2e::bench::flags()? {
        match flag.as_str() {
            "--sessions" => args.sessions = value.parse()?,
            "--rate" => args.rate = value.parse()?,
            "--duration" => args.duration = Duration::from_secs(value.parse()?),
            other => anyhow::bail!("unknown flag {other}"),
        }
    }
    Ok(args)
}

fn number(i: usize) -> String {
    // Sandbox numbers ending in 0000 are "not on WhatsApp".
    format!("55119{:08}", 10_000_001 + i * 3)
}

/// Sends `count` messages at `rate` per second to conversations chosen by `pick`.
async fn inject(
    client: &reqwest::Client,
    node: &Node,
    sk: &str,
    count: usize,
    rate: u32,
    pick: impl Fn(usize) -> usize,
    prefix: &str,
) -> usize {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::with_capacity(count);
    for n in 0..count {
        tick.tick().await;
        let req = client
            .post(node.url("/sandbox/inbound"))
            .bearer_auth(sk)
            .json(&json!({"from": number(pick(n)), "message": format!("{prefix} {n}")}));
        tasks.push(tokio::spawn(async move {
            req.send().await.is_ok_and(|r| r.status().is_success())
        }));
    }
    let mut ok = 0;
    for t in tasks {
        ok += usize::from(t.await.unwrap_or(false));
    }
    ok
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let dir = tempfile::tempdir()?;
    let mut cfg = config(dir.path()).await?;
    cfg.rate_limit_requests = 10_000_000;
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
    let sk = api.create_sk_token(&cp, &token, id).await;
    let (status, body) = api
        .call(
            reqwest::Method::PUT,
            &cp.url(&format!("/api/v1/instances/{id}")),
            Some(&token),
            None,
            Some(json!({"daily_limit": 1_000_000})),
        )
        .await;
    anyhow::ensure!(status == 200, "daily limit: {body}");
    let mut node_cfg = cp.node_config(uuid, &dir.path().join("node"));
    node_cfg.edge.limits.per_token = 10_000_000;
    node_cfg.edge.limits.per_addr = 10_000_000;
    let node = Node::start(node_cfg).await?;
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = client
            .post(node.url("/sandbox/scan"))
            .bearer_auth(&sk)
            .json(&json!({"phone_number": "5511955550001"}))
            .send()
            .await?;
        if r.status().is_success() {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the node never offered a QR");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let model = Receiver::start().await;
    model.set_responder(|_| {
        serde_json::to_vec(&json!({
            "id": "x", "object": "chat.completion", "created": 1, "model": "fake",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 1, "total_tokens": 11}
        }))
        .unwrap_or_default()
    });
    let (status, body) = api
        .call(
            reqwest::Method::POST,
            &cp.url("/api/v1/automation/integrations"),
            Some(&token),
            None,
            Some(json!({
                "instance_id": uuid, "name": "bench agent", "integration_type": "ai_agent",
                "settings": {"debounce_ms": 0, "reply": {"split_paragraphs": false},
                             "loop_guard": {"max_replies_per_minute": 120, "max_instant_replies": 0}},
                "config": {"base_url": model.url.trim_end_matches("/webhook"), "model": "fake", "history_messages": 5}
            })),
        )
        .await;
    anyhow::ensure!(status == 201, "integration: {body}");
    println!(
        "bench-automation: {backend}, sandbox node in-process, fake model on loopback, {} sessions, {} msg/s for {} s",
        args.sessions,
        args.rate,
        args.duration.as_secs()
    );

    let db = sea_orm::Database::connect(&db_url).await?;
    let answered = |want: usize| {
        let db = db.clone();
        async move {
            use control_plane::db::entities::message;
            use sea_orm::PaginatorTrait;
            let n = message::Entity::find()
                .filter(message::Column::AutomationSessionId.is_not_null())
                .count(&db)
                .await
                .unwrap_or(0) as usize;
            n >= want
        }
    };
    // 1. Open the sessions.
    let started = Instant::now();
    let sent = inject(
        &client,
        &node,
        &sk,
        args.sessions,
        args.rate.max(200),
        |n| n,
        "open",
    )
    .await;
    anyhow::ensure!(
        sent == args.sessions,
        "only {sent} of the opening messages were taken"
    );
    let deadline = Instant::now() + Duration::from_secs(120);
    while !answered(args.sessions).await {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the opening messages were not all answered"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "open: {} sessions opened and answered in {:.1} s",
        args.sessions,
        started.elapsed().as_secs_f64()
    );

    // 2. Load.
    let count = (args.duration.as_secs_f64() * f64::from(args.rate)) as usize;
    let sessions = args.sessions;
    let load_started = Instant::now();
    let sent = inject(
        &client,
        &node,
        &sk,
        count,
        args.rate,
        |n| (n * 7) % sessions,
        "load",
    )
    .await;
    let offered = load_started.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(120);
    while !answered(args.sessions + sent).await && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Pair each load message with the reply that follows it in its conversation.
    use control_plane::db::entities::message;
    let rows = message::Entity::find()
        .order_by_asc(message::Column::Id)
        .all(&db)
        .await?;
    let mut pending: HashMap<i64, chrono::DateTime<chrono::Utc>> = HashMap::new();
    let mut latencies = Vec::new();
    for m in rows {
        if !m.from_me {
            if m.body.as_deref().is_some_and(|b| b.starts_with("load ")) {
                pending.insert(m.conversation_id, m.sent_at);
            }
        } else if m.automation_session_id.is_some()
            && let Some(at) = pending.remove(&m.conversation_id)
        {
            latencies.push((m.sent_at - at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    latencies.sort_by(|a, b| a.total_cmp(b));
    let max = latencies.last().copied().unwrap_or(0.0);
    println!(
        "load: {sent} messages in {offered:.1} s ({:.0}/s offered), {} answered",
        sent as f64 / offered,
        latencies.len()
    );
    println!(
        "message → reply on the node: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        max
    );
    node.stop().await;
    cp.stop().await;
    if let Ok(url) = std::env::var("DATABASE_URL")
        && url.starts_with("postgres")
    {
        zapini_e2e::drop_database(&db_url).await.ok();
    }
    Ok(())
}
