//! The guarded client against real sockets: environment proxies are ignored, and capped
//! reading stops an endless body.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::{client_builder, read_capped};

/// Set in the child process of [`environment_proxies_do_not_route_guarded_clients`] to the
/// target's URL.
const CHILD: &str = "ZAPINI_NETGUARD_PROXY_CHILD";
const TEST: &str = "netguard::client_tests::environment_proxies_do_not_route_guarded_clients";

/// A plain HTTP/1.1 server on 127.0.0.1 that answers every request with `body`, counting
/// connections.
fn serve(body: &'static str) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(AtomicUsize::new(0));
    let count = hits.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, hits)
}

/// Runs in the child, whose environment names a proxy for every scheme: a plain client goes
/// through it (so the environment is really in effect), guarded clients do not.
fn child(target: &str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let plain = reqwest::Client::new();
        let via = plain
            .get(target)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert_eq!(via, "proxy", "the environment's proxy is in effect");
        for allow_private in [false, true] {
            let guarded = client_builder(
                allow_private,
                Duration::from_secs(5),
                Duration::from_secs(10),
            )
            .build()
            .unwrap();
            let got = guarded.get(target).send().await.unwrap();
            assert_eq!(got.text().await.unwrap(), "target", "{allow_private}");
        }
    });
}

#[test]
fn environment_proxies_do_not_route_guarded_clients() {
    if let Ok(target) = std::env::var(CHILD) {
        child(&target);
        return;
    }
    let (target, target_hits) = serve("target");
    let (proxy, proxy_hits) = serve("proxy");
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", TEST, "--nocapture", "--test-threads=1"])
        .env(CHILD, &target);
    for var in [
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ] {
        cmd.env(var, &proxy);
    }
    let out = cmd
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {log}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(log.contains("1 passed"), "the child ran the test: {log}");
    assert_eq!(
        proxy_hits.load(Ordering::SeqCst),
        1,
        "only the plain client used the proxy"
    );
    assert_eq!(
        target_hits.load(Ordering::SeqCst),
        2,
        "both guarded clients went direct"
    );
}

/// A server that answers `200` with a chunked body that never ends, counting the bytes it
/// managed to write.
async fn endless() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let written = Arc::new(AtomicUsize::new(0));
    let count = written.clone();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        conn.write_all(head.as_bytes()).await.unwrap();
        let chunk = format!("10000\r\n{}\r\n", "x".repeat(0x10000));
        while conn.write_all(chunk.as_bytes()).await.is_ok() {
            count.fetch_add(0x10000, Ordering::SeqCst);
        }
    });
    (url, written)
}

#[tokio::test]
async fn capped_reading_stops_an_endless_body() {
    let (url, written) = endless().await;
    let client = client_builder(true, Duration::from_secs(5), Duration::from_secs(60))
        .build()
        .unwrap();
    let resp = client.get(&url).send().await.unwrap();
    let capped = read_capped(resp, 100_000).await.unwrap();
    assert!(capped.truncated);
    assert_eq!(capped.bytes.len(), 100_000);
    assert!(capped.bytes.iter().all(|b| *b == b'x'));
    // Socket buffers take a few MB at most; the server's writes fail once we hang up.
    assert!(
        written.load(Ordering::SeqCst) < 32 << 20,
        "{} bytes written",
        written.load(Ordering::SeqCst)
    );

    let (small, _) = serve("short answer");
    let resp = client.get(&small).send().await.unwrap();
    let capped = read_capped(resp, 100_000).await.unwrap();
    assert_eq!(
        (capped.bytes.as_slice(), capped.truncated),
        (&b"short answer"[..], false)
    );
    let resp = client.get(&small).send().await.unwrap();
    let capped = read_capped(resp, 5).await.unwrap();
    assert_eq!(
        (capped.bytes.as_slice(), capped.truncated),
        (&b"short"[..], true)
    );
}
