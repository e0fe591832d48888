//! `bench-media`: how much memory the real `control-plane` binary needs to take a 100 MB
//! document upload (and to serve it back). It starts the binary built next to this one (build
//! it first: `cargo build --release -p control-plane`) on a temp data dir, measures its idle
//! RSS, streams a 100 MB PDF to `POST /media/upload` while sampling the process's RSS every
//! 5 ms, then downloads it, and prints the figures. The bar: RSS growth under 32 MiB.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};
use zapini_e2e::process::free_port;
use zapini_e2e::procfs::{RssPeak, memory, mib};
use zapini_e2e::target_bin;

const SIZE: usize = 100 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bin = target_bin("control-plane").ok_or_else(|| {
        anyhow::anyhow!("build the control plane first: cargo build --release -p control-plane")
    })?;
    let dir = tempfile::tempdir()?;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut child = Command::new(&bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ZAPINI_DATA_DIR", dir.path())
        .env("ZAPINI_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("ZAPINI_GRPC_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("ZAPINI_LAUNCHER", "external")
        .env("ZAPINI_ADMIN_EMAIL", "bench@example.com")
        .env("ZAPINI_ADMIN_PASSWORD", "bench-password-1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()?;
    let pid = child.id();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let started = Instant::now();
    loop {
        if client.get(format!("{base}/health")).send().await.is_ok() {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(30),
            "control plane did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let login: Value = client
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": "bench@example.com", "password": "bench-password-1", "device_name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    let token = login["data"]["token"]
        .as_str()
        .ok_or_else(|| anyhow::anyhow!("login failed: {login}"))?
        .to_owned();

    // Warm up the upload path (allocator arenas, TLS-free HTTP stack, SQLite pages) with a
    // small file, then settle.
    let small = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(b"%PDF-1.7\nwarm-up".to_vec()).file_name("w.pdf"),
    );
    client
        .post(format!("{base}/api/v1/media/upload"))
        .bearer_auth(&token)
        .multipart(small)
        .send()
        .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = memory(pid)?.rss;

    // The document, generated as it is sent: the client holds 64 KiB at a time.
    let body = futures::stream::iter((0..SIZE / CHUNK).map(|i| {
        let mut chunk = vec![(i % 251) as u8; CHUNK];
        if i == 0 {
            chunk[..9].copy_from_slice(b"%PDF-1.7\n");
        }
        Ok::<Bytes, std::io::Error>(Bytes::from(chunk))
    }));
    let part =
        reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(body), SIZE as u64)
            .file_name("report.pdf");
    let form = reqwest::multipart::Form::new().part("file", part);
    let watch = RssPeak::follow(pid, Duration::from_millis(5));
    let t0 = Instant::now();
    let resp = client
        .post(format!("{base}/api/v1/media/upload"))
        .bearer_auth(&token)
        .multipart(form)
        .send()
        .await?;
    let status = resp.status();
    let uploaded: Value = resp.json().await?;
    let upload_secs = t0.elapsed().as_secs_f64();
    let upload_peak = watch.stop().rss;
    anyhow::ensure!(status == 201, "upload answered {status}: {uploaded}");

    // And back: streamed from storage.
    let url = uploaded["data"]["url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let watch = RssPeak::follow(pid, Duration::from_millis(5));
    let t0 = Instant::now();
    let mut resp = client.get(&url).send().await?;
    let mut got = 0usize;
    while let Some(chunk) = resp.chunk().await? {
        got += chunk.len();
    }
    let download_secs = t0.elapsed().as_secs_f64();
    let download_peak = watch.stop().rss;
    anyhow::ensure!(got == SIZE, "downloaded {got} bytes");

    println!(
        "control-plane {} (pid {pid}), SQLite and files under a temp dir",
        bin.display()
    );
    println!("idle RSS after a warm-up upload: {}", mib(idle));
    println!(
        "100 MiB document upload: {:.2} s ({:.0} MiB/s), peak RSS {}, growth {}",
        upload_secs,
        100.0 / upload_secs,
        mib(upload_peak),
        mib(upload_peak.saturating_sub(idle))
    );
    println!(
        "100 MiB download (signed url): {:.2} s ({:.0} MiB/s), peak RSS {}, growth {}",
        download_secs,
        100.0 / download_secs,
        mib(download_peak),
        mib(download_peak.saturating_sub(idle))
    );
    let growth = upload_peak.saturating_sub(idle);
    println!(
        "upload RSS growth {} the 32 MiB bar",
        if growth < 32 * 1024 {
            "is under"
        } else {
            "is OVER"
        }
    );
    let _ = child.kill();
    let _ = child.wait();
    Ok(())
}
