//! Measures the real `instance-node` binary: idle RSS while registered, then open-loop
//! `POST /send-message` load at a fixed rate with latency percentiles, then RSS again.
//!
//! It runs a minimal in-process control plane (registration, lease, acks, every `sk_` token
//! allowed), starts the binary as a child process, pairs its sandbox and fires requests.
//!
//! ```text
//! cargo build --release -p instance-node --examples
//! target/release/examples/loadtest target/release/instance-node [rate=1000] [secs=10]
//! ```

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};
use zapini_proto::v1;
use zapini_proto::v1::control_plane_server::{ControlPlane, ControlPlaneServer};

/// The node credential (`ZAPINI_NODE_CREDENTIAL`); the fake control plane checks none.
const CREDENTIAL: &str = "10ad7e5710ad7e5710ad7e5710ad7e5710ad7e5710ad7e5710ad7e5710ad7e57";

struct Cp;

#[tonic::async_trait]
impl ControlPlane for Cp {
    async fn register(
        &self,
        _r: Request<v1::RegisterRequest>,
    ) -> Result<Response<v1::RegisterResponse>, Status> {
        Ok(Response::new(v1::RegisterResponse {
            lease_id: "lease".into(),
            lease_ttl_secs: 15,
            ..Default::default()
        }))
    }

    async fn renew_lease(
        &self,
        _r: Request<v1::RenewLeaseRequest>,
    ) -> Result<Response<v1::RenewLeaseResponse>, Status> {
        Ok(Response::new(v1::RenewLeaseResponse {
            renewed: true,
            lease_ttl_secs: 15,
        }))
    }

    type EventsStream = ReceiverStream<Result<v1::ControlMessage, Status>>;

    async fn events(
        &self,
        r: Request<Streaming<v1::NodeMessage>>,
    ) -> Result<Response<Self::EventsStream>, Status> {
        let mut inbound = r.into_inner();
        let (tx, rx) = mpsc::channel(64);
        tokio::spawn(async move {
            while let Ok(Some(msg)) = inbound.message().await {
                if let Some(v1::node_message::Kind::Event(ev)) = msg.kind {
                    let ack = v1::ControlMessage {
                        kind: Some(v1::control_message::Kind::Ack(v1::Ack {
                            up_to_seq: ev.seq,
                        })),
                    };
                    if tx.send(Ok(ack)).await.is_err() {
                        return;
                    }
                }
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }

    async fn authorize_token(
        &self,
        r: Request<v1::AuthorizeTokenRequest>,
    ) -> Result<Response<v1::AuthorizeTokenResponse>, Status> {
        Ok(Response::new(v1::AuthorizeTokenResponse {
            allowed: true,
            token_instance_uuid: r.into_inner().instance_uuid,
            ..Default::default()
        }))
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let bin = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/instance-node".into());
    let rate: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let secs: u64 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(10);
    // `send` (default) or `status`, to separate the send path from the HTTP/auth overhead.
    let status_only = args.get(4).is_some_and(|m| m == "status");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let cp_addr = listener.local_addr()?;
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(ControlPlaneServer::new(Cp))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    );

    let data = std::env::temp_dir().join(format!("zapini-loadtest-{}", std::process::id()));
    let http_port = free_port();
    let mut child = tokio::process::Command::new(&bin)
        .env("ZAPINI_INSTANCE_ID", uuid::Uuid::new_v4().to_string())
        .env("ZAPINI_NODE_CREDENTIAL", CREDENTIAL)
        .env("ZAPINI_CONTROL_PLANE_GRPC", format!("http://{cp_addr}"))
        .env("ZAPINI_HTTP_ADDR", format!("127.0.0.1:{http_port}"))
        .env("ZAPINI_DATA_DIR", &data)
        .env("ZAPINI_SANDBOX_RECEIPTS", "manual")
        .env("RUST_LOG", "warn")
        .env(
            "ZAPINI_SEND_ACK",
            std::env::var("ZAPINI_SEND_ACK").unwrap_or_else(|_| "written".into()),
        )
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child.id().unwrap_or(0);
    let base = format!("http://127.0.0.1:{http_port}");
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()?;

    // Wait for the QR (engine started after registration), then pair.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = client
            .get(format!("{base}/status"))
            .bearer_auth("sk_load")
            .send()
            .await;
        if let Ok(r) = r
            && let Ok(v) = r.json::<serde_json::Value>().await
            && v["status"] == "qr_ready"
        {
            break;
        }
        anyhow::ensure!(Instant::now() < deadline, "the node did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let r = client
        .post(format!("{base}/sandbox/scan"))
        .bearer_auth("sk_load")
        .json(&serde_json::json!({"phone_number": "5511900000001"}))
        .send()
        .await?;
    anyhow::ensure!(r.status() == 200, "pairing failed");

    tokio::time::sleep(Duration::from_secs(3)).await;
    println!("idle RSS (registered, paired): {} KiB", rss_kib(pid));

    // Warm up the connection pool.
    for _ in 0..200 {
        send(&client, &base).await;
    }

    let total = rate * secs;
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel::<(Duration, bool)>();
    let start = tokio::time::Instant::now();
    for i in 0..total {
        tokio::time::sleep_until(start + interval * i as u32).await;
        let client = client.clone();
        let base = base.clone();
        let tx = lat_tx.clone();
        tokio::spawn(async move {
            let t = Instant::now();
            let ok = if status_only {
                status(&client, &base).await
            } else {
                send(&client, &base).await
            };
            let _ = tx.send((t.elapsed(), ok));
        });
    }
    drop(lat_tx);
    let mut lats = Vec::with_capacity(total as usize);
    let mut errors = 0u64;
    while let Some((d, ok)) = lat_rx.recv().await {
        lats.push(d);
        if !ok {
            errors += 1;
        }
    }
    let elapsed = start.elapsed();
    lats.sort();
    let pct = |p: f64| lats[((lats.len() as f64 * p) as usize).min(lats.len() - 1)];
    println!(
        "{} requests in {:.1} s ({} errors): p50 {:?} p90 {:?} p99 {:?} p99.9 {:?} max {:?}",
        lats.len(),
        elapsed.as_secs_f64(),
        errors,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(0.999),
        lats.last().unwrap()
    );
    println!("RSS after load: {} KiB", rss_kib(pid));
    tokio::time::sleep(Duration::from_secs(5)).await;
    println!("RSS 5 s after load: {} KiB", rss_kib(pid));
    let _ = child.kill().await;
    let _ = std::fs::remove_dir_all(&data);
    Ok(())
}

async fn send(client: &reqwest::Client, base: &str) -> bool {
    match client
        .post(format!("{base}/send-message"))
        .bearer_auth("sk_load")
        .json(&serde_json::json!({"recipient": "5511999999999", "message": "load test"}))
        .send()
        .await
    {
        Ok(r) => r.status() == 200,
        Err(_) => false,
    }
}

async fn status(client: &reqwest::Client, base: &str) -> bool {
    match client
        .get(format!("{base}/status"))
        .bearer_auth("sk_load")
        .send()
        .await
    {
        Ok(r) => r.status() == 200,
        Err(_) => false,
    }
}
