//! The Instance API edge: node paths never go round between the control plane and a node (an
//! answer at once, hop markers, proxy timeouts), a node's errors keep their meaning through
//! the Universal API, and pacing refusals and the edge's rate limits answer 429 with
//! `Retry-After`.

use crate::support;

use std::time::{Duration, Instant};

use instance_node::engine::pacing::PacingConfig;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use support::{host, paired, paired_with, setup, setup_with};
use zapini_shared::node_routes;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// A client that gives up long before a loop would end by itself.
fn quick() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(3))
        .build()
        .unwrap()
}

struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Value,
    took: Duration,
}

async fn call(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> Answer {
    let mut req = client.request(method.clone(), url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let started = Instant::now();
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: no answer: {e}"));
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        took: started.elapsed(),
    }
}

fn retry_after(a: &Answer) -> u64 {
    a.headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Retry-After: {:?} {}", a.headers, a.body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_paths_answer_at_once_and_never_loop() {
    let s = setup().await;
    let p = paired(&s, "edge", "5511999990001").await;
    let instance_host = host(p.id);
    let client = quick();
    let before = open_fds();

    // Through the control plane (instance host and apex with the sk_ token) and on the node.
    let cases = [
        (
            Method::GET,
            "/send-message",
            405,
            "METHOD_NOT_ALLOWED",
            Some("POST"),
        ),
        (Method::GET, "/sandbox/no-such", 404, "NOT_FOUND", None),
        (
            Method::DELETE,
            "/status",
            405,
            "METHOD_NOT_ALLOWED",
            Some("GET, HEAD"),
        ),
    ];
    for (method, path, status, code, allow) in cases {
        for (base, host_header) in [
            (&s.cp.base, Some(instance_host.as_str())),
            (&s.cp.base, None),
            (&p.node.base, None),
        ] {
            let headers: Vec<(&str, &str)> = host_header.map(|h| ("host", h)).into_iter().collect();
            let a = call(
                &client,
                method.clone(),
                &format!("{base}{path}"),
                Some(&p.sk),
                &headers,
                None,
            )
            .await;
            let what = format!("{method} {base}{path} (host {host_header:?})");
            assert!(a.took < Duration::from_secs(1), "{what} took {:?}", a.took);
            assert_eq!(a.status, status, "{what}: {}", a.body);
            assert_eq!(a.body["success"], false, "{what}");
            assert_eq!(a.body["error"]["code"], code, "{what}: {}", a.body);
            assert_eq!(
                a.headers.get("allow").and_then(|v| v.to_str().ok()),
                allow,
                "{what}"
            );
        }
    }

    // Every node route, with a method it does not take: the node's own 405 with `Allow`.
    for route in node_routes::ROUTES {
        let method = if route.methods.contains(&"POST") {
            Method::PUT
        } else {
            Method::POST
        };
        let a = call(
            &client,
            method.clone(),
            &p.node.url(route.path),
            Some(&p.sk),
            &[],
            None,
        )
        .await;
        assert_eq!(a.status, 405, "{method} {}: {}", route.path, a.body);
        assert_eq!(
            a.headers["allow"].to_str().unwrap(),
            node_routes::allow_header(route)
        );
    }

    // Descriptors stay flat (a loop opened thousands within a second).
    let after = open_fds();
    assert!(
        after <= before + 32,
        "open descriptors went from {before} to {after}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hop_markers_stop_a_loop_and_forwarding_still_works() {
    let s = setup().await;
    let p = paired(&s, "hops", "5511999990002").await;
    let client = quick();
    let instance_host = host(p.id);

    // A node request that already went through the control plane is not proxied again.
    let a = call(
        &client,
        Method::GET,
        &s.cp.url("/status"),
        Some(&p.sk),
        &[("host", &instance_host), ("x-zapini-hop", "control-plane")],
        None,
    )
    .await;
    assert_eq!(a.status, 508, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "LOOP_DETECTED");

    // A request the node already forwarded is not forwarded again.
    let a = call(
        &client,
        Method::GET,
        &p.node.url("/api/v1/instances"),
        Some(&s.user),
        &[("x-zapini-hop", "control-plane, node")],
        None,
    )
    .await;
    assert_eq!(a.status, 508, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "LOOP_DETECTED");

    // Without markers both proxies work as before.
    let a = call(
        &client,
        Method::GET,
        &p.node.url("/api/v1/instances"),
        Some(&s.user),
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a = call(
        &client,
        Method::GET,
        &s.cp.url("/status"),
        Some(&p.sk),
        &[("host", &instance_host)],
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["status"], "connected", "{}", a.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_proxies_give_up_after_their_timeout() {
    let s = setup_with(|c| c.proxy_timeout_secs = 1).await;
    // A "control plane" that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            held.push(sock);
        }
    });
    let p = paired_with(&s, "timeout", "5511999990003", |c| {
        c.control_plane_url = reqwest::Url::parse(&format!("http://{silent_addr}")).unwrap();
        c.edge.proxy_timeout = Duration::from_secs(1);
        // The address the control plane proxies Instance API requests to.
        c.public_url = Some(format!("http://{silent_addr}"));
    })
    .await;
    let a = call(
        &quick(),
        Method::GET,
        &p.node.url("/api/v1/instances"),
        Some(&s.user),
        &[],
        None,
    )
    .await;
    assert_eq!(a.status, 504, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "GATEWAY_TIMEOUT");
    assert!(a.took < Duration::from_secs(3), "took {:?}", a.took);

    // The control plane's proxy to the node.
    let a = call(
        &quick(),
        Method::GET,
        &s.cp.url("/status"),
        Some(&p.sk),
        &[("host", &host(p.id))],
        None,
    )
    .await;
    assert_eq!(a.status, 504, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "GATEWAY_TIMEOUT");
    assert!(a.took < Duration::from_secs(3), "took {:?}", a.took);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unfetchable_media_url_keeps_its_code_through_the_universal_api() {
    let s = setup().await;
    let p = paired(&s, "media-errors", "5511999990004").await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/picture.png", closed.local_addr().unwrap());
    drop(closed);

    let node = call(
        &quick(),
        Method::POST,
        &p.node.url("/send-media"),
        Some(&p.sk),
        &[],
        Some(json!({"recipient": "5511988881111", "media_url": url, "media_type": "image"})),
    )
    .await;
    let (status, universal) = s
        .post(
            "/api/v1/messages/send-media",
            &s.user,
            json!({"instance_id": p.uuid.to_string(), "recipient": "5511988881111",
                   "media_url": url, "media_type": "image"}),
        )
        .await;
    assert!((400..500).contains(&node.status), "{}", node.body);
    assert_ne!(
        universal["error"]["code"], "INSTANCE_NOT_CONNECTED",
        "{universal}"
    );
    assert_eq!(status, node.status, "{universal}");
    assert_eq!(universal["error"]["code"], node.body["error"]["code"]);
    assert_eq!(universal["error"]["message"], node.body["error"]["message"]);
    assert_eq!(universal["error"]["details"], node.body["error"]["details"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_refusals_are_429_with_retry_after() {
    let s = setup().await;
    let p = paired_with(&s, "paced", "5511999990005", |c| {
        c.sandbox_pacing = true;
        c.whatsapp.pacing = PacingConfig {
            typing: false,
            recipient_gap: Duration::ZERO,
            instance_gap: Duration::ZERO,
            new_chats_per_hour: 1,
            ..PacingConfig::default()
        };
    })
    .await;
    let client = quick();
    let url = p.node.url("/send-message");
    let send = |to: &'static str| {
        call(
            &client,
            Method::POST,
            &url,
            Some(&p.sk),
            &[],
            Some(json!({"recipient": to, "message": "hi"})),
        )
    };
    let a = send("5511977771111").await;
    assert_eq!(a.status, 200, "{}", a.body);
    // A second new chat within the hour: refused, with the time until the hour is up.
    let a = send("5511977772222").await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "RATE_LIMIT_EXCEEDED");
    let secs = retry_after(&a);
    assert!((3000..=3600).contains(&secs), "{secs}");
    assert_eq!(a.body["error"]["details"]["retry_after"], secs);

    // The same through the Universal API.
    let resp = s
        .api
        .client
        .post(s.cp.url("/api/v1/chat/send"))
        .bearer_auth(&s.user)
        .json(&json!({"instance_id": p.uuid.to_string(), "recipient": "5511977773333", "message": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let secs: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3000..=3600).contains(&secs), "{secs}");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "RATE_LIMIT_EXCEEDED", "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_instance_api_is_rate_limited_per_token_address_and_failed_token() {
    let s = setup().await;
    let p = paired_with(&s, "limited", "5511999990006", |c| {
        c.edge.limits.per_token = 4;
        c.edge.limits.per_addr = 6;
        c.edge.limits.window = Duration::from_secs(3600);
        c.edge.limits.auth_failures_per_minute = 3;
    })
    .await;
    let client = quick();
    // Requests from loopback are counted by the address a proxy there forwarded for.
    let from = |addr: &'static str| [("x-forwarded-for", addr)];

    // Per token (the pairing scan used one of the four).
    for _ in 0..3 {
        let a = call(
            &client,
            Method::GET,
            &p.node.url("/status"),
            Some(&p.sk),
            &from("198.51.100.1"),
            None,
        )
        .await;
        assert_eq!(a.status, 200, "{}", a.body);
    }
    let a = call(
        &client,
        Method::GET,
        &p.node.url("/status"),
        Some(&p.sk),
        &from("198.51.100.2"),
        None,
    )
    .await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "RATE_LIMIT_EXCEEDED");
    assert!((1..=3600).contains(&retry_after(&a)));

    // Unknown tokens: after three rejections the address is refused before any check.
    for i in 0..3 {
        let a = call(
            &client,
            Method::GET,
            &p.node.url("/status"),
            Some(&format!("sk_unknown{i}")),
            &from("198.51.100.3"),
            None,
        )
        .await;
        assert_eq!(a.status, 401, "{}", a.body);
    }
    let a = call(
        &client,
        Method::GET,
        &p.node.url("/status"),
        Some("sk_unknown9"),
        &from("198.51.100.3"),
        None,
    )
    .await;
    assert_eq!(a.status, 429, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "RATE_LIMIT_EXCEEDED");
    assert!(retry_after(&a) <= 60);

    // Per client address, whatever the path (forwarded ones included).
    for _ in 0..6 {
        let a = call(
            &client,
            Method::GET,
            &p.node.url("/api/v1/health"),
            None,
            &from("198.51.100.4"),
            None,
        )
        .await;
        assert_ne!(a.status, 429, "{}", a.body);
    }
    let a = call(
        &client,
        Method::GET,
        &p.node.url("/api/v1/health"),
        None,
        &from("198.51.100.4"),
        None,
    )
    .await;
    assert_eq!(a.status, 429, "{}", a.body);
    retry_after(&a);
    // `/health` is never limited.
    let a = call(
        &client,
        Method::GET,
        &p.node.url("/health"),
        None,
        &from("198.51.100.4"),
        None,
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.body);
}
