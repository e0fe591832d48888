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
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use tokio::time::Instant;
use zapini_e2e::{Api, ControlPlane, config, eventually, node_bin, node_credential};

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

/// Memory figures of a process from `/proc/<pid>/status`, in KiB (threads: a count).
struct Memory {
    rss: u64,
    hwm: u64,
    anon: u64,
    file: u64,
    threads: u64,
}

fn memory(pid: u32) -> anyhow::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    let field = |name: &str| -> anyhow::Result<u64> {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .with_context(|| format!("{name} missing from /proc/{pid}/status"))?;
        line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .with_context(|| format!("parsing {line:?}"))
    };
    Ok(Memory {
        rss: field("VmRSS:")?,
        hwm: field("VmHWM:")?,
        anon: field("RssAnon:")?,
        file: field("RssFile:")?,
        threads: field("Threads:")?,
    })
}

/// The highest RSS a process reaches while followed (sampled every 50 ms).
struct RssPeak {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Memory>,
}

impl RssPeak {
    fn follow(pid: u32) -> RssPeak {
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            let mut peak = Memory {
                rss: 0,
                hwm: 0,
                anon: 0,
                file: 0,
                threads: 0,
            };
            loop {
                if let Ok(m) = memory(pid)
                    && m.rss > peak.rss
                {
                    peak = m;
                }
                tokio::select! {
                    _ = &mut stopped => return peak,
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
        });
        RssPeak { stop, task }
    }

    async fn stop(self) -> Memory {
        let _ = self.stop.send(());
        self.task.await.expect("the RSS sampler does not panic")
    }
}

/// CPU time (user + system) a process has used so far, from `/proc/<pid>/stat`, in clock
/// ticks (100 per second on Linux).
fn cpu_ticks(pid: u32) -> anyhow::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("malformed /proc/<pid>/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after the name.
    let field = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .context("short /proc/<pid>/stat")?
            .parse()
            .context("parsing /proc/<pid>/stat")
    };
    Ok(field(11)? + field(12)?)
}

/// Busy and total CPU time of the whole host so far, from the first line of `/proc/stat`, in
/// clock ticks summed over all cores.
fn host_ticks() -> anyhow::Result<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").context("reading /proc/stat")?;
    let line = stat.lines().next().context("empty /proc/stat")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|v| v.parse().context("parsing /proc/stat"))
        .collect::<anyhow::Result<_>>()?;
    // user nice system idle iowait irq softirq steal (guest time is already in user).
    let total: u64 = ticks.iter().take(8).sum();
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    Ok((total - idle, total))
}

/// Share of the host's CPU (all cores) that was busy between two [`host_ticks`] readings.
fn host_busy_percent(before: (u64, u64), after: (u64, u64)) -> f64 {
    let total = after.1.saturating_sub(before.1).max(1);
    after.0.saturating_sub(before.0) as f64 / total as f64 * 100.0
}

/// The 1-minute load average.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

/// Share of one core a process used between two [`cpu_ticks`] readings `elapsed` apart.
fn cpu_percent(ticks: u64, elapsed: Duration) -> f64 {
    ticks as f64 / 100.0 / elapsed.as_secs_f64() * 100.0
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
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

/// Latencies (µs) and errors of one run.
#[derive(Default)]
struct Outcome {
    latencies_us: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
    elapsed: Duration,
}

impl Outcome {
    fn merge(&mut self, other: Outcome) {
        self.latencies_us.extend(other.latencies_us);
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    fn record(&mut self, result: Result<u32, String>) {
        match result {
            Ok(us) => self.latencies_us.push(us),
            Err(e) => {
                self.errors += 1;
                if self.first_error.is_none() {
                    self.first_error = Some(e);
                }
            }
        }
    }

    /// Successful requests per second over the measured window.
    fn rate(&self) -> f64 {
        self.latencies_us.len() as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile(sorted: &[u32], p: f64) -> u32 {
        if sorted.is_empty() {
            return 0;
        }
        let idx = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
        sorted[idx.min(sorted.len() - 1)]
    }

    /// `(p50, p90, p99, max)` in µs; sorts the samples.
    fn percentiles(&mut self) -> (u32, u32, u32, u32) {
        self.latencies_us.sort_unstable();
        let s = &self.latencies_us;
        (
            Self::percentile(s, 50.0),
            Self::percentile(s, 90.0),
            Self::percentile(s, 99.0),
            s.last().copied().unwrap_or(0),
        )
    }
}

fn ms(us: u32) -> String {
    let ms = f64::from(us) / 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else {
        format!("{ms:.1} ms")
    }
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The hot-path client: hyper 1 over HTTP/1.1 keep-alive, one connection per in-flight request.
#[derive(Clone)]
struct Sender {
    client: Client<HttpConnector, Full<Bytes>>,
    uri: Uri,
    auth: HeaderValue,
    body: Bytes,
}

impl Sender {
    fn new(port: u16, token: &str) -> anyhow::Result<Sender> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        Ok(Sender {
            client,
            uri: format!("http://127.0.0.1:{port}/send-message").parse()?,
            auth: HeaderValue::from_str(&format!("Bearer {token}"))?,
            body: Bytes::from(
                serde_json::to_vec(&json!({"recipient": RECIPIENT, "message": "bench"}))
                    .expect("json"),
            ),
        })
    }

    /// Sends one message; `Err` describes a non-200 answer or a transport failure.
    async fn send(&self) -> Result<(), String> {
        let req = Request::builder()
            .method(Method::POST)
            .uri(self.uri.clone())
            .header(AUTHORIZATION, self.auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(self.body.clone()))
            .map_err(|e| format!("building the request: {e}"))?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("transport: {e:?}"))?;
        let status = resp.status();
        // Read the whole body so the connection goes back to the pool.
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        if status.as_u16() == 200 {
            Ok(())
        } else {
            Err(format!("HTTP {status}: {}", String::from_utf8_lossy(&body)))
        }
    }
}

fn micros_since(start: Instant) -> u32 {
    u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX)
}

/// `concurrency` clients sending back to back: a warm-up, then `duration` measured.
async fn closed_loop(sender: &Sender, concurrency: usize, duration: Duration) -> Outcome {
    let measure_from = Instant::now() + WARMUP;
    let end = measure_from + duration;
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let sender = sender.clone();
        tasks.spawn(async move {
            let mut out = Outcome::default();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let result = sender.send().await;
                if t0 >= measure_from {
                    out.record(result.map(|()| micros_since(t0)));
                }
            }
            out
        });
    }
    let mut total = Outcome::default();
    while let Some(joined) = tasks.join_next().await {
        total.merge(joined.expect("closed-loop task"));
    }
    total.elapsed = Instant::now().saturating_duration_since(measure_from);
    total
}

/// What an open-loop run measured.
struct OpenLoop {
    outcome: Outcome,
    /// Most requests in flight at once.
    in_flight_max: u64,
    /// How late each request's task started running after its scheduled instant (µs): the
    /// load generator's own share of the latencies.
    start_lags_us: Vec<u32>,
}

/// Requests started on a fixed schedule of `rate` per second for `duration`, each timed from
/// its scheduled start, so time a request spends waiting for the node counts even when the
/// node falls behind.
///
/// The schedule is kept by a thread of its own that sleeps with `std::thread::sleep` (a
/// high-resolution timer) and spawns each request onto the runtime. Pacing with
/// `tokio::time::interval` instead started every request 0-1 ms late, because tokio's timers
/// fire on a 1 ms wheel; that lateness is a per-run phase offset which was counted as node
/// latency (p50 moved between ~0.6 and ~1.3 ms from one run to the next).
async fn open_loop(sender: &Sender, rate: u32, duration: Duration) -> anyhow::Result<OpenLoop> {
    let period = Duration::from_secs_f64(1.0 / f64::from(rate));
    let total = (duration.as_secs_f64() * f64::from(rate)).round() as u64;
    let in_flight_max = Arc::new(AtomicU64::new(0));
    let in_flight = Arc::new(AtomicU64::new(0));
    let results = Arc::new(Mutex::new(Outcome::default()));
    let lags = Arc::new(Mutex::new(Vec::with_capacity(total as usize)));
    let runtime = tokio::runtime::Handle::current();
    let (spawned_tx, spawned) = tokio::sync::oneshot::channel();
    let start = std::time::Instant::now();
    {
        let sender = sender.clone();
        let results = results.clone();
        let lags = lags.clone();
        let in_flight = in_flight.clone();
        let in_flight_max = in_flight_max.clone();
        std::thread::Builder::new()
            .name("bench-pacer".to_owned())
            .spawn(move || {
                let mut tasks = Vec::with_capacity(total as usize);
                for k in 0..total {
                    let scheduled = start + period.mul_f64(k as f64);
                    if let Some(wait) = scheduled.checked_duration_since(std::time::Instant::now())
                    {
                        std::thread::sleep(wait);
                    }
                    // Late wake-ups (a busy host) start the missed requests at once, each still
                    // timed from its own slot.
                    let scheduled = Instant::from_std(scheduled);
                    let sender = sender.clone();
                    let results = results.clone();
                    let lags = lags.clone();
                    let in_flight = in_flight.clone();
                    let in_flight_max = in_flight_max.clone();
                    let now = in_flight.fetch_add(1, Ordering::Relaxed) + 1;
                    in_flight_max.fetch_max(now, Ordering::Relaxed);
                    tasks.push(runtime.spawn(async move {
                        let lag = micros_since(scheduled);
                        let result = sender.send().await;
                        let us = micros_since(scheduled);
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                        results.lock().expect("results").record(result.map(|()| us));
                        lags.lock().expect("lags").push(lag);
                    }));
                }
                let _ = spawned_tx.send(tasks);
            })
            .context("starting the pacing thread")?;
    }
    let tasks = spawned.await.context("the pacing thread stopped early")?;
    for task in tasks {
        task.await.context("an open-loop request task")?;
    }
    let elapsed = start.elapsed();
    let mut outcome = std::mem::take(&mut *results.lock().expect("results"));
    outcome.elapsed = elapsed;
    let start_lags_us = std::mem::take(&mut *lags.lock().expect("lags"));
    Ok(OpenLoop {
        outcome,
        in_flight_max: in_flight_max.load(Ordering::Relaxed),
        start_lags_us,
    })
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
    let port = free_port()?;
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
        ms(Outcome::percentile(&lags, 50.0)),
        ms(Outcome::percentile(&lags, 99.0)),
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
    let peak = RssPeak::follow(pid);
    let mut closed = closed_loop(&sender, args.concurrency, args.duration).await;
    let under_load = peak.stop().await;
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
