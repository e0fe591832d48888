//! `bench-send`: figures for the send-message hot path of a real `instance-node` process.
//!
//! Starts a control plane in-process (SQLite in a temp dir), creates a sandbox instance and an
//! `sk_` token, spawns the `instance-node` binary as a child process, pairs it through the
//! sandbox and then measures:
//!
//! - the node's idle RSS once connected;
//! - an open loop at `--rate R` requests per second for `--duration SECS`, latency measured
//!   from each request's scheduled start (so queueing in the node shows up, no coordinated
//!   omission);
//! - then a closed loop of `--concurrency N` clients sending back to back for
//!   `--duration SECS` (after a 2 s warm-up): throughput and latency percentiles;
//! - the node's RSS: its peak during the closed loop, and `--settle` seconds (30) after it,
//!   with when it came back under twice the idle figure.
//!
//! Run it in release mode next to a release `instance-node`:
//!
//! ```text
//! cargo build --release -p instance-node -p zapini-e2e --bin bench-send --bin instance-node
//! target/release/bench-send [--concurrency 32] [--duration 10] [--rate 1000] [--send-ack written]
//! ```
//!
//! `ZAPINI_NODE_BIN` overrides where the node binary is looked up. `--send-ack MODE` sets the
//! node's `ZAPINI_SEND_ACK` (`written`, the default, `synced` or `none`); otherwise the node
//! inherits the environment. `--receipts auto|manual` sets `ZAPINI_SANDBOX_RECEIPTS` (`auto`,
//! as users run the sandbox: every send gets scheduled delivered and read receipts). This prints figures; it asserts nothing about timing.
#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use tokio::time::Instant;
use zapini_e2e::bench::percentile;
use zapini_e2e::process::free_port;
use zapini_e2e::procfs::{
    RssPeak, cpu_percent, cpu_ticks, host_busy_percent, host_ticks, load_average, memory, mib, ms,
    thousands,
};
use zapini_e2e::{Api, ControlPlane, config, eventually, node_bin, node_credential};

mod load;

use load::{OpenLoop, Sender, closed_loop, open_loop};

const WARMUP: Duration = Duration::from_secs(2);
const PAIR_PHONE: &str = "5511999990000";
const RECIPIENT: &str = "5511988887777";

struct Args {
    concurrency: usize,
    duration: Duration,
    rate: u32,
    /// `ZAPINI_SEND_ACK` for the node; `None` leaves the environment alone.
    send_ack: Option<String>,
    /// `ZAPINI_SANDBOX_RECEIPTS` for the node: `auto` (the default, as users run it: every
    /// send gets delivered and read receipts a few seconds later) or `manual`.
    receipts: String,
    /// How long the node's RSS is followed after the closed loop.
    settle: Duration,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        concurrency: 32,
        duration: Duration::from_secs(10),
        rate: 1000,
        send_ack: None,
        receipts: "auto".to_owned(),
        settle: Duration::from_secs(30),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--concurrency" | "-c" => {
                args.concurrency = value("--concurrency")?
                    .parse()
                    .context("--concurrency must be a positive integer")?;
            }
            "--duration" | "-d" => {
                let secs: f64 = value("--duration")?
                    .parse()
                    .context("--duration must be a number of seconds")?;
                if !(secs > 0.0 && secs.is_finite()) {
                    bail!("--duration must be positive");
                }
                args.duration = Duration::from_secs_f64(secs);
            }
            "--rate" | "-r" => {
                args.rate = value("--rate")?
                    .parse()
                    .context("--rate must be a positive integer (requests per second)")?;
            }
            "--send-ack" => {
                let mode = value("--send-ack")?;
                if !matches!(mode.as_str(), "written" | "synced" | "none") {
                    bail!("--send-ack must be written, synced or none");
                }
                args.send_ack = Some(mode);
            }
            "--receipts" => {
                let mode = value("--receipts")?;
                if !matches!(mode.as_str(), "auto" | "manual") {
                    bail!("--receipts must be auto or manual");
                }
                args.receipts = mode;
            }
            "--settle" => {
                args.settle = Duration::from_secs(
                    value("--settle")?
                        .parse()
                        .context("--settle must be a number of seconds")?,
                );
            }
            "--help" | "-h" => {
                println!(
                    "usage: bench-send [--concurrency N (32)] [--duration SECS (10)] [--rate R (1000)] [--send-ack written|synced|none] [--receipts auto|manual (auto)] [--settle SECS (30)]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if args.concurrency == 0 || args.rate == 0 {
        bail!("--concurrency and --rate must be at least 1");
    }
    Ok(args)
}

/// The node child process; killed (and reaped) when dropped, including on panic.
struct NodeProcess {
    child: Child,
}

impl NodeProcess {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Fails when the child has already exited.
    fn check_alive(&mut self) -> anyhow::Result<()> {
        match self.child.try_wait()? {
            Some(status) => bail!("instance-node exited early: {status}"),
            None => Ok(()),
        }
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find_node_bin() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("ZAPINI_NODE_BIN") {
        Some(p) => Some(PathBuf::from(p)),
        None => node_bin(),
    };
    match path {
        Some(p) if p.is_file() => Ok(p),
        Some(p) => bail!(
            "the instance-node binary {} does not exist; build it with `cargo build --release -p instance-node` (or point ZAPINI_NODE_BIN at it)",
            p.display()
        ),
        None => bail!(
            "no instance-node binary next to bench-send; build it with `cargo build --release -p instance-node` (same target dir), or set ZAPINI_NODE_BIN"
        ),
    }
}

async fn get_json(http: &reqwest::Client, url: &str, token: Option<&str>) -> Option<(u16, Value)> {
    let mut req = http.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.ok()?;
    let status = resp.status().as_u16();
    let text = resp.text().await.ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let node_path = find_node_bin()?;
    let workers = std::env::var("ZAPINI_WORKER_THREADS").unwrap_or_else(|_| "2".into());
    // What the node will run with: the flag, else what it inherits.
    let send_ack = match (&args.send_ack, std::env::var("ZAPINI_SEND_ACK").ok()) {
        (Some(mode), _) => mode.clone(),
        (None, Some(mode)) if !mode.trim().is_empty() => mode.trim().to_owned(),
        (None, _) => match std::env::var("ZAPINI_DURABLE_SENDS").ok().as_deref() {
            Some(v) if !v.trim().is_empty() => format!("ZAPINI_DURABLE_SENDS={v} (deprecated)"),
            _ => "written (default)".to_owned(),
        },
    };
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    eprintln!("node binary: {}", node_path.display());

    // Control plane, instance, tokens.
    let dir = tempfile::tempdir()?;
    let cfg = config(dir.path()).await?;
    let db_url = cfg.database_url();
    let cp = ControlPlane::start(cfg).await?;
    let api = Api::default();
    let user = api.login(&cp).await;
    let (id, uuid) = api.create_instance(&cp, &user, "bench").await;
    let sk = api.create_sk_token(&cp, &user, id).await;
    let (status, body) = api
        .call(
            reqwest::Method::PUT,
            &cp.url(&format!("/api/v1/instances/{id}")),
            Some(&user),
            None,
            Some(json!({"daily_limit": 1_000_000})),
        )
        .await;
    if status != 200 {
        bail!("raising the daily limit: HTTP {status}: {body}");
    }

    // The node, as a child process.
    let port = free_port();
    let node_dir = dir.path().join("node");
    std::fs::create_dir_all(&node_dir)?;
    let mut command = Command::new(&node_path);
    if let Some(mode) = &args.send_ack {
        command.env("ZAPINI_SEND_ACK", mode);
    }
    let mut node = NodeProcess {
        child: command
            .env("ZAPINI_INSTANCE_ID", uuid.to_string())
            .env("ZAPINI_NODE_CREDENTIAL", node_credential(uuid))
            .env("ZAPINI_CONTROL_PLANE_GRPC", cp.grpc_url())
            .env("ZAPINI_CONTROL_PLANE_URL", &cp.base)
            .env("ZAPINI_DATA_DIR", &node_dir)
            .env("ZAPINI_ENGINE", "sandbox")
            .env("ZAPINI_HTTP_ADDR", format!("127.0.0.1:{port}"))
            .env("ZAPINI_NODE_GRPC_ADDR", "127.0.0.1:0")
            .env("ZAPINI_SANDBOX_RECEIPTS", &args.receipts)
            // It measures the node's capacity, not the edge's rate limits.
            .env("ZAPINI_EDGE_RATE_LIMIT_PER_TOKEN", "0")
            .env("ZAPINI_EDGE_RATE_LIMIT_PER_ADDR", "0")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("spawning {}", node_path.display()))?,
    };
    let pid = node.pid();
    let node_base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;

    let wait = Duration::from_secs(30);
    let started = Instant::now();
    while get_json(&http, &format!("{node_base}/health"), None)
        .await
        .is_none_or(|(s, _)| s != 200)
    {
        node.check_alive()?;
        if started.elapsed() > wait {
            bail!("the node's /health did not answer 200 within {wait:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let qr_url = cp.url(&format!("/api/v1/instances/{id}/qr"));
    let started = Instant::now();
    loop {
        node.check_alive()?;
        if let Some((200, body)) = get_json(&http, &qr_url, Some(&user)).await
            && body["data"]["status"] == "qr_ready"
        {
            break;
        }
        if started.elapsed() > wait {
            let last = get_json(&http, &qr_url, Some(&user)).await;
            bail!("the node did not register (qr_ready) within {wait:?}; last answer: {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Pair through the sandbox.
    let (status, body) = api
        .call(
            reqwest::Method::POST,
            &format!("{node_base}/sandbox/scan"),
            Some(&sk),
            None,
            Some(json!({"phone_number": PAIR_PHONE, "push_name": "bench"})),
        )
        .await;
    if status != 200 {
        bail!("POST /sandbox/scan: HTTP {status}: {body}");
    }
    let status_url = format!("{node_base}/status");
    eventually(wait, "node /status connected", || async {
        match get_json(&http, &status_url, Some(&sk)).await {
            Some((200, body)) if body["status"] == "connected" => Some(()),
            _ => None,
        }
    })
    .await;

    tokio::time::sleep(Duration::from_secs(3)).await;
    node.check_alive()?;
    let idle = memory(pid)?;
    println!(
        "idle node RSS: {} (VmHWM {}; anon {}, file {}; {} threads)",
        mib(idle.rss),
        mib(idle.hwm),
        mib(idle.anon),
        mib(idle.file),
        idle.threads
    );

    // Load.
    let sender = Sender::new(port, &sk)?;
    // One request first so a broken send path fails fast with its answer.
    if let Err(e) = sender.send().await {
        bail!("the first POST /send-message failed: {e}");
    }

    // The fixed-rate run first, on a quiet system: the closed loop's burst leaves the control
    // plane ingesting a backlog for a while, which would distort it.
    println!("open loop: {} req/s for {:?} ...", args.rate, args.duration);
    let open_load = load_average();
    let host_before = host_ticks()?;
    let cpu_before = cpu_ticks(pid)?;
    let OpenLoop {
        outcome: mut open,
        in_flight_max: open_in_flight,
        start_lags_us: mut lags,
    } = open_loop(&sender, args.rate, args.duration).await?;
    let open_cpu = cpu_percent(cpu_ticks(pid)? - cpu_before, open.elapsed);
    let open_host = host_busy_percent(host_before, host_ticks()?);
    let (o50, o90, o99, omax) = open.percentiles();
    println!(
        "  {} ok in {:.2} s = {:.0} req/s; p50 {} p90 {} p99 {} max {}; errors {}; max in flight {}; node CPU {:.0}% of a core; host {:.0}% busy, load {}",
        open.latencies_us.len(),
        open.elapsed.as_secs_f64(),
        open.rate(),
        ms(o50),
        ms(o90),
        ms(o99),
        ms(omax),
        open.errors,
        open_in_flight,
        open_cpu,
        open_host,
        open_load
    );
    lags.sort_unstable();
    println!(
        "  load generator start lag (included above): p50 {} p99 {} max {}",
        ms(percentile(&lags, 0.50)),
        ms(percentile(&lags, 0.99)),
        ms(lags.last().copied().unwrap_or(0))
    );
    if let Some(e) = &open.first_error {
        println!("  first error: {e}");
    }
    node.check_alive()?;

    println!(
        "closed loop: {} clients, {:?} warm-up, {:?} measured ...",
        args.concurrency, WARMUP, args.duration
    );
    let closed_load = load_average();
    let host_before = host_ticks()?;
    let cpu_before = cpu_ticks(pid)?;
    let peak = RssPeak::follow(pid, Duration::from_millis(50));
    let mut closed = closed_loop(&sender, args.concurrency, args.duration).await;
    let under_load = peak.stop();
    let closed_host = host_busy_percent(host_before, host_ticks()?);
    // Includes the warm-up: CPU is read around the whole loop.
    let closed_cpu = cpu_percent(cpu_ticks(pid)? - cpu_before, closed.elapsed + WARMUP);
    let (c50, c90, c99, cmax) = closed.percentiles();
    println!(
        "  {} ok in {:.2} s = {:.0} req/s; p50 {} p90 {} p99 {} max {}; errors {}; node CPU {:.0}% of a core; host {:.0}% busy, load {}",
        closed.latencies_us.len(),
        closed.elapsed.as_secs_f64(),
        closed.rate(),
        ms(c50),
        ms(c90),
        ms(c99),
        ms(cmax),
        closed.errors,
        closed_cpu,
        closed_host,
        closed_load
    );
    if let Some(e) = &closed.first_error {
        println!("  first error: {e}");
    }
    node.check_alive()?;
    let after = memory(pid)?;
    println!(
        "  node RSS: peak under load {} (anon {}), right after {} (VmHWM {}; {} threads)",
        mib(under_load.rss),
        mib(under_load.anon),
        mib(after.rss),
        mib(after.hwm),
        after.threads
    );
    // After the burst: how soon the node gives the memory back (the figure that decides how
    // many numbers fit on a host).
    let settle_start = Instant::now();
    let mut back_under_twice_idle = None;
    while settle_start.elapsed() < args.settle {
        tokio::time::sleep(Duration::from_secs(1)).await;
        node.check_alive()?;
        let now = memory(pid)?;
        if back_under_twice_idle.is_none() && now.rss < 2 * idle.rss {
            back_under_twice_idle = Some(settle_start.elapsed());
        }
    }
    let settled = memory(pid)?;
    println!(
        "  node RSS {:?} after the load: {} (anon {}); under twice idle ({}) {}",
        args.settle,
        mib(settled.rss),
        mib(settled.anon),
        mib(2 * idle.rss),
        back_under_twice_idle.map_or_else(
            || "not within the wait".to_owned(),
            |d| format!("after {:.0} s", d.as_secs_f64())
        )
    );

    let mut summary = String::new();
    let _ = writeln!(
        summary,
        "\nzapini bench-send (sandbox engine, loopback, {workers} node workers, {cores} cores; control plane and load generator in one process; host busy % includes them)"
    );
    let _ = writeln!(summary, "{:<24}{send_ack}", "send ack:");
    let _ = writeln!(summary, "{:<24}{}", "idle node RSS:", mib(idle.rss));
    let _ = writeln!(
        summary,
        "{:<24}{:>7} req/s  p50 {}  p90 {}  p99 {}  max {}  errors {}  node CPU {:.0}%  host busy {:.0}%",
        format!("closed loop c={}:", args.concurrency),
        thousands(closed.rate().round() as u64),
        ms(c50),
        ms(c90),
        ms(c99),
        ms(cmax),
        closed.errors,
        closed_cpu,
        closed_host
    );
    let _ = writeln!(
        summary,
        "{:<24}{:>7} req/s  p50 {}  p90 {}  p99 {}  max {}  errors {}  node CPU {:.0}%  host busy {:.0}%",
        format!("open loop {} req/s:", thousands(u64::from(args.rate))),
        thousands(open.rate().round() as u64),
        ms(o50),
        ms(o90),
        ms(o99),
        ms(omax),
        open.errors,
        open_cpu,
        open_host
    );
    let _ = writeln!(summary, "{:<24}{}", "sandbox receipts:", args.receipts);
    let _ = writeln!(
        summary,
        "{:<24}{} (anon {})",
        "node RSS under load:",
        mib(under_load.rss),
        mib(under_load.anon)
    );
    let _ = writeln!(
        summary,
        "{:<24}{} (anon {}; VmHWM {})",
        format!("node RSS {} s after:", args.settle.as_secs()),
        mib(settled.rss),
        mib(settled.anon),
        mib(settled.hwm)
    );
    print!("{summary}");

    drop(node);
    cp.stop().await;
    zapini_e2e::drop_database(&db_url).await?;
    Ok(())
}
