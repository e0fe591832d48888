//! `POST /send-media`: fetching from a local file server with the reference's limits.

use crate::common;

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use common::{FakeCp, TestNode, error_code};
use serde_json::json;
use zapini_proto::v1;

/// Serves test files on port 0.
async fn file_server() -> SocketAddr {
    let app = Router::new()
        .route(
            "/photo.jpg",
            get(|| async { ([(header::CONTENT_TYPE, "image/jpeg")], vec![0xFFu8; 2048]) }),
        )
        .route(
            "/download",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], vec![1u8; 100]) }),
        )
        .route(
            "/report.pdf",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/octet-stream")],
                    vec![2u8; 500],
                )
            }),
        )
        .route(
            "/tool.exe",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "application/x-msdownload")],
                    vec![3u8; 10],
                )
            }),
        )
        .route(
            "/big.png",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    vec![0u8; 16 * 1024 * 1024 + 1],
                )
            }),
        )
        .route(
            "/chunked.png",
            get(|| async {
                // No Content-Length: the cap applies while streaming.
                let chunks = (0..17).map(|_| Ok::<_, std::io::Error>(vec![0u8; 1024 * 1024]));
                (
                    [(header::CONTENT_TYPE, "image/png")],
                    axum::body::Body::from_stream(futures::stream::iter(chunks)),
                )
                    .into_response()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn sends_media_fetched_from_a_url() {
    let cp = FakeCp::start().await;
    let files = file_server().await;
    let node = TestNode::paired(&cp).await;

    let (status, body) = node
        .post(
            "/send-media",
            json!({
                "recipient": "5511999999999",
                "media_url": format!("http://{files}/photo.jpg"),
                "media_type": "image",
                "caption": "Confira esta imagem!"
            }),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Media sent successfully");
    assert!(body["message_id"].is_string());

    // Aliases, a format known only from the Content-Type, a document named by its URL.
    let (status, body) = node
        .post("/send-media", json!({"to": "5511999999999", "url": format!("http://{files}/download"), "type": "image"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = node
        .post("/send-media", json!({"number": "5511999999999", "url": format!("http://{files}/report.pdf"), "type": "document", "filename": "Monthly_Report.pdf"}))
        .await;
    assert_eq!(status, 200, "{body}");

    cp.wait_until("three media messages", |s| {
        s.events
            .values()
            .filter(
                |e| matches!(&e.kind, Some(v1::event::Kind::MessageSent(m)) if m.media.is_some()),
            )
            .count()
            == 3
    })
    .await;
    let media: Vec<v1::Media> = cp
        .events()
        .into_iter()
        .filter_map(|e| match e.kind {
            Some(v1::event::Kind::MessageSent(m)) => m.media,
            _ => None,
        })
        .collect();
    assert_eq!(media[0].mime_type, "image/jpeg");
    assert_eq!(media[0].size, 2048);
    assert_eq!(media[0].caption, "Confira esta imagem!");
    assert_eq!(media[1].mime_type, "image/png");
    assert_eq!(media[2].mime_type, "application/pdf");
    assert_eq!(media[2].filename, "Monthly_Report.pdf");
    node.shutdown().await;
}

#[tokio::test]
async fn media_limits_and_errors() {
    let cp = FakeCp::start().await;
    let files = file_server().await;
    let node = TestNode::paired(&cp).await;
    let send = |url: String, kind: &str| json!({"recipient": "5511999999999", "media_url": url, "media_type": kind});

    let (status, body) = node
        .post(
            "/send-media",
            send(format!("http://{files}/big.png"), "image"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("16 MB"),
        "{body}"
    );

    let (status, body) = node
        .post(
            "/send-media",
            send(format!("http://{files}/chunked.png"), "image"),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = node
        .post(
            "/send-media",
            send(format!("http://{files}/tool.exe"), "document"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("pdf"),
        "{body}"
    );

    let (status, body) = node
        .post(
            "/send-media",
            send(format!("http://{files}/photo.jpg"), "video"),
        )
        .await;
    assert_eq!(status, 422, "{body}");

    let (status, body) = node
        .post(
            "/send-media",
            send(format!("http://{files}/missing.jpg"), "image"),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("could not be fetched")
    );

    let (status, body) = node
        .post(
            "/send-media",
            send("http://127.0.0.1:9/x.jpg".into(), "image"),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    let (status, body) = node
        .post(
            "/send-media",
            send(format!("http://{files}/photo.jpg"), "gif"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(body["error"]["details"]["media_type"].is_array(), "{body}");

    let (status, body) = node
        .post(
            "/send-media",
            json!({"recipient": "5511999999999", "media_type": "image"}),
        )
        .await;
    assert_eq!(status, 422);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("media_url")
    );

    let (status, body) = node
        .post(
            "/send-media",
            send("ftp://example.com/a.jpg".into(), "image"),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(error_code(&body), "VALIDATION_ERROR");
    node.shutdown().await;
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let cp = FakeCp::start().await;
    let files = file_server().await;
    let node = TestNode::start_with(&cp, |c| c.allow_private_urls = false).await;
    node.wait_ready(&cp).await;
    let (status, _) = node
        .post("/sandbox/scan", json!({"phone_number": "5511900000001"}))
        .await;
    assert_eq!(status, 200);
    for url in [
        format!("http://{files}/photo.jpg"),
        "http://localhost:1/photo.jpg".to_owned(),
        "http://169.254.169.254/latest/meta-data.jpg".to_owned(),
        "http://[::1]:8080/a.jpg".to_owned(),
    ] {
        let (status, body) = node
            .post(
                "/send-media",
                json!({"recipient": "5511999999999", "media_url": url, "media_type": "image"}),
            )
            .await;
        assert_eq!(status, 422, "{url}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("private"),
            "{body}"
        );
    }
    node.shutdown().await;
}
