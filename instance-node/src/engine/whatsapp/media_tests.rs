//! Media downloads of the real engine against an HTTPS stand-in for WhatsApp's CDN on
//! 127.0.0.1: the files it serves are encrypted with the crate's own upload encryption, and
//! the handles come from mapping received messages, so the whole path (handle, the crate's
//! URL, fetch, MAC, decryption, our SHA-256 check and error mapping) runs as in production
//! except for the host.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use whatsapp_rust::download::{MediaHost, MediaRoute, MediaType};
use whatsapp_rust::types::message::{MessageInfo, MessageSource};
use whatsapp_rust::wacore::upload::{EncryptedMedia, encrypt_media};
use whatsapp_rust::waproto::buffa::MessageField;
use whatsapp_rust::waproto::whatsapp as wa;

use super::http_client::ReqwestHttp;
use super::map::{self, WaJid};
use super::media::{self, MediaHandle};
use crate::engine::EngineError;
use crate::engine::types::*;

/// What the CDN answers for a path.
#[derive(Clone)]
enum Blob {
    /// The bytes, served only with the right `token` (base64url of the encrypted SHA-256).
    File {
        token: String,
        body: Vec<u8>,
    },
    Status(StatusCode),
    /// `200` with a body that never ends.
    Endless,
}

#[derive(Clone, Default)]
struct Cdn {
    files: Arc<Mutex<HashMap<String, Blob>>>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl Cdn {
    fn put(&self, path: &str, blob: Blob) {
        self.files.lock().unwrap().insert(path.to_owned(), blob);
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(State(cdn): State<Cdn>, uri: Uri) -> Response {
    // Path and query only: over HTTP/2 (negotiated by ALPN) the URI is absolute.
    let target = uri
        .path_and_query()
        .map(ToString::to_string)
        .unwrap_or_default();
    cdn.requests.lock().unwrap().push(target);
    let token = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .find_map(|kv| kv.strip_prefix("token="))
        .map(str::to_owned);
    let blob = cdn.files.lock().unwrap().get(uri.path()).cloned();
    match blob {
        Some(Blob::File { token: t, body }) if token.as_deref() == Some(t.as_str()) => {
            (StatusCode::OK, body).into_response()
        }
        Some(Blob::File { .. }) => StatusCode::FORBIDDEN.into_response(),
        Some(Blob::Status(status)) => status.into_response(),
        Some(Blob::Endless) => {
            let chunks = futures::stream::repeat_with(|| {
                Ok::<_, std::convert::Infallible>(bytes::Bytes::from(vec![0u8; 64 * 1024]))
            });
            (StatusCode::OK, axum::body::Body::from_stream(chunks)).into_response()
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

struct TestCdn {
    cdn: Cdn,
    /// Trusts the CDN's certificate; reads at most `LIMIT` bytes of a response.
    client: reqwest::Client,
    http: Arc<ReqwestHttp>,
    route: MediaRoute,
}

/// The download cap of the test client (the default is 100 MB).
const LIMIT: u64 = 1024 * 1024;

/// The CDN on an HTTPS listener at 127.0.0.1, port 0, with a fresh self-signed certificate
/// for `localhost`, and an HTTP client that trusts it.
async fn start_cdn() -> TestCdn {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
        cert.cert.pem().into_bytes(),
        cert.signing_key.serialize_pem().into_bytes(),
    )
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let cdn = Cdn::default();
    let app = axum::Router::new().fallback(serve).with_state(cdn.clone());
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, tls)
            .serve(app.into_make_service())
            .await
            .unwrap();
    });
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", addr)
        .build()
        .unwrap();
    TestCdn {
        cdn,
        http: Arc::new(ReqwestHttp::with_client(client.clone(), LIMIT)),
        client,
        route: MediaRoute::unauthenticated(vec![MediaHost::new(format!(
            "localhost:{}",
            addr.port()
        ))]),
    }
}

impl TestCdn {
    async fn download(&self, handle: &MediaHandle) -> Result<bytes::Bytes, EngineError> {
        media::download_via(self.http.clone(), self.route.clone(), handle).await
    }
}

fn token(enc: &EncryptedMedia) -> String {
    URL_SAFE_NO_PAD.encode(enc.file_enc_sha256)
}

/// A received document with the encryption references of `enc`, mapped like any message.
fn received_document(enc: &EncryptedMedia, direct_path: &str, length: usize) -> MediaInfo {
    let msg = wa::Message {
        document_message: MessageField::some(wa::message::DocumentMessage {
            mimetype: Some("application/pdf".to_owned()),
            file_name: Some("invoice.pdf".to_owned()),
            direct_path: Some(direct_path.to_owned()),
            media_key: Some(enc.media_key.to_vec()),
            file_enc_sha256: Some(enc.file_enc_sha256.to_vec()),
            file_sha256: Some(enc.file_sha256.to_vec()),
            file_length: Some(length as u64),
            ..Default::default()
        }),
        ..Default::default()
    };
    let info = MessageInfo {
        source: MessageSource {
            chat: WaJid::pn("5511988887777"),
            sender: WaJid::pn("5511988887777"),
            ..Default::default()
        },
        id: "3EB0DOC".to_owned(),
        timestamp: Utc::now(),
        ..Default::default()
    };
    match map::message_event(&msg, &info) {
        Some(EngineEvent::MessageReceived(m)) => m.media.expect("a document has media"),
        other => panic!("expected MessageReceived, got {other:?}"),
    }
}

fn document_bytes() -> Vec<u8> {
    // Several AES blocks and not a multiple of 16, so padding is exercised.
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend((0..70_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    pdf
}

#[tokio::test]
async fn a_received_document_downloads_and_decrypts_to_the_original() {
    let cdn = start_cdn().await;
    let plain = document_bytes();
    let enc = encrypt_media(&plain, MediaType::Document).unwrap();
    let path = "/v/t62.7119-24/1234_5678_n.enc";
    cdn.cdn.put(
        path,
        Blob::File {
            token: token(&enc),
            body: enc.data_to_upload.clone(),
        },
    );
    let info = received_document(&enc, path, plain.len());
    let handle = MediaHandle::from_info(&info).unwrap();

    let got = cdn.download(&handle).await.unwrap();
    assert_eq!(got.as_ref(), plain.as_slice());
    let requests = cdn.cdn.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0], format!("{path}?token={}", token(&enc)));
}

#[tokio::test]
async fn a_tampered_file_is_refused_not_returned() {
    let cdn = start_cdn().await;
    let plain = document_bytes();
    let enc = encrypt_media(&plain, MediaType::Document).unwrap();
    let path = "/v/t62.7119-24/tampered.enc";
    let mut body = enc.data_to_upload.clone();
    body[100] ^= 0x01;
    cdn.cdn.put(
        path,
        Blob::File {
            token: token(&enc),
            body,
        },
    );
    let handle = MediaHandle::from_info(&received_document(&enc, path, plain.len())).unwrap();

    let err = cdn.download(&handle).await.unwrap_err();
    assert_eq!(
        err,
        EngineError::Temporary("the downloaded media failed verification".to_owned())
    );
}

#[tokio::test]
async fn a_file_that_decrypts_but_is_not_the_announced_one_is_refused() {
    // Encrypted with the message's key (so the MAC passes) but other bytes than the ones whose
    // SHA-256 the message announced.
    let cdn = start_cdn().await;
    let plain = document_bytes();
    let announced = encrypt_media(&plain, MediaType::Document).unwrap();
    let other = whatsapp_rust::wacore::upload::encrypt_media_with_key(
        b"something else entirely",
        MediaType::Document,
        Some(&announced.media_key),
    )
    .unwrap();
    let path = "/v/t62.7119-24/swapped.enc";
    cdn.cdn.put(
        path,
        Blob::File {
            token: token(&announced),
            body: other.data_to_upload,
        },
    );
    let handle = MediaHandle::from_info(&received_document(&announced, path, plain.len())).unwrap();

    let err = cdn.download(&handle).await.unwrap_err();
    assert_eq!(
        err,
        EngineError::Temporary("the downloaded media failed verification".to_owned())
    );
}

#[tokio::test]
async fn expired_or_unknown_media_is_not_found() {
    let cdn = start_cdn().await;
    let enc = encrypt_media(b"gone", MediaType::Document).unwrap();
    cdn.cdn
        .put("/v/t62.7119-24/expired.enc", Blob::Status(StatusCode::GONE));
    for path in [
        "/v/t62.7119-24/expired.enc",
        "/v/t62.7119-24/never-there.enc",
    ] {
        let handle = MediaHandle::from_info(&received_document(&enc, path, 4)).unwrap();
        let err = cdn.download(&handle).await.unwrap_err();
        assert!(
            matches!(err, EngineError::NotFound(_)),
            "{path}: expected NotFound, got {err:?}"
        );
    }
}

#[tokio::test]
async fn a_failing_cdn_is_a_temporary_failure() {
    let cdn = start_cdn().await;
    let enc = encrypt_media(b"later", MediaType::Document).unwrap();
    let path = "/v/t62.7119-24/busy.enc";
    cdn.cdn
        .put(path, Blob::Status(StatusCode::SERVICE_UNAVAILABLE));
    let handle = MediaHandle::from_info(&received_document(&enc, path, 5)).unwrap();
    let err = cdn.download(&handle).await.unwrap_err();
    assert!(
        matches!(err, EngineError::Temporary(_)),
        "expected Temporary, got {err:?}"
    );
}

fn info_with_url(url: Option<&str>) -> MediaInfo {
    MediaInfo {
        mime_type: "image/jpeg".to_owned(),
        caption: None,
        filename: None,
        size: 10,
        url: url.map(str::to_owned),
        sha256: None,
        duration_secs: None,
    }
}

#[test]
fn media_without_our_handle_is_not_found_and_a_broken_handle_is_invalid() {
    for url in [None, Some("https://example.com/a.jpg")] {
        assert!(matches!(
            MediaHandle::from_info(&info_with_url(url)),
            Err(EngineError::NotFound(_))
        ));
    }
    let json = |v: &str| format!("wa-media:{}", URL_SAFE_NO_PAD.encode(v));
    for url in [
        "wa-media:".to_owned(),
        "wa-media:not base64!".to_owned(),
        json("{\"v\":1}"),
        // A version this engine does not know.
        json(
            r#"{"v":2,"type":"image","direct_path":"/v/x.enc","media_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","enc_sha256":"AA","length":1}"#,
        ),
        // A media key that is not 32 bytes.
        json(
            r#"{"v":1,"type":"image","direct_path":"/v/x.enc","media_key":"AAAA","enc_sha256":"AA","length":1}"#,
        ),
    ] {
        match MediaHandle::from_info(&info_with_url(Some(&url))) {
            Err(EngineError::Invalid(why)) => assert!(why.contains("malformed media handle")),
            other => panic!("{url}: expected Invalid, got {other:?}"),
        }
    }
    let ok = json(
        r#"{"v":1,"type":"image","direct_path":"/v/x.enc","media_key":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA","enc_sha256":"AA","length":1}"#,
    );
    let handle = MediaHandle::from_info(&info_with_url(Some(&ok))).unwrap();
    assert_eq!(MediaHandle::parse(&handle.encode()).unwrap(), handle);
}

#[test]
fn a_handle_never_prints_its_key() {
    let enc = encrypt_media(b"secret", MediaType::Image).unwrap();
    let handle =
        MediaHandle::from_info(&received_document(&enc, "/v/t62.7119-24/k.enc", 6)).unwrap();
    let shown = format!("{handle:?}");
    assert!(shown.contains("/v/t62.7119-24/k.enc"), "{shown}");
    for secret in [
        URL_SAFE_NO_PAD.encode(enc.media_key),
        base64::engine::general_purpose::STANDARD.encode(enc.media_key),
        format!("{:?}", enc.media_key.to_vec()),
    ] {
        assert!(!shown.contains(&secret), "{shown}");
    }
}

/// A sender's message whose `directPath` would move the download to another host (with the
/// session's media auth) is not downloadable at all: the mapped media has no handle, a
/// handle carrying such a path does not parse, and nothing reaches any host.
#[tokio::test]
async fn a_direct_path_that_names_another_host_is_refused() {
    let cdn = start_cdn().await;
    let port = cdn.route.hosts[0]
        .hostname
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let enc = encrypt_media(b"%PDF-1.7 stolen?", MediaType::Document).unwrap();
    cdn.cdn.put(
        "/steal",
        Blob::File {
            token: token(&enc),
            body: enc.data_to_upload.clone(),
        },
    );
    let evil = format!("@localhost:{port}/steal");
    for path in [
        evil.as_str(),
        "v/t62.7119-24/relative.enc",
        "/v/t62\\evil.example/x.enc",
        "/v/t62.7119-24/x.enc#@evil.example",
        "/v/t62.7119-24/x .enc",
        "/v/t62.7119-24/x\n.enc",
        "",
    ] {
        let info = received_document(&enc, path, 16);
        assert_eq!(info.url, None, "{path:?} gives no download handle");
        assert!(matches!(
            MediaHandle::from_info(&info),
            Err(EngineError::NotFound(_))
        ));
        let crafted = format!(
            "wa-media:{}",
            URL_SAFE_NO_PAD.encode(
                serde_json::json!({"v": 1, "type": "document", "direct_path": path,
                    "media_key": URL_SAFE_NO_PAD.encode(enc.media_key),
                    "enc_sha256": URL_SAFE_NO_PAD.encode(enc.file_enc_sha256), "length": 16})
                .to_string()
            )
        );
        assert!(
            matches!(MediaHandle::parse(&crafted), Err(EngineError::Invalid(_))),
            "{path:?}"
        );
    }
    assert!(cdn.cdn.requests().is_empty(), "{:?}", cdn.cdn.requests());
    // Real paths (with their query) still work.
    let ok = "/v/t62.7119-24/1_2_n.enc?ccb=11-4&oh=01_Q5Aa&oe=65F0&_nc_sid=5e03e0";
    assert!(media::is_safe_direct_path(ok));
    assert!(MediaHandle::from_info(&received_document(&enc, ok, 16)).is_ok());
}

/// A CDN (or a host a message points to) that answers with more than the cap, or without
/// end, is refused once the cap is reached: memory stays bounded and the error says why.
#[tokio::test]
async fn a_download_over_the_size_cap_is_refused_while_it_streams() {
    let cdn = start_cdn().await;
    let plain: Vec<u8> = (0..(LIMIT as u32 + 50_000))
        .map(|i| (i % 251) as u8)
        .collect();
    let enc = encrypt_media(&plain, MediaType::Document).unwrap();
    let big = "/v/t62.7119-24/big.enc";
    cdn.cdn.put(
        big,
        Blob::File {
            token: token(&enc),
            body: enc.data_to_upload.clone(),
        },
    );
    let endless = "/v/t62.7119-24/endless.enc";
    cdn.cdn.put(endless, Blob::Endless);
    for path in [big, endless] {
        let handle = MediaHandle::from_info(&received_document(&enc, path, plain.len())).unwrap();
        let err = tokio::time::timeout(std::time::Duration::from_secs(20), cdn.download(&handle))
            .await
            .expect("the download stops at the cap")
            .unwrap_err();
        match err {
            EngineError::Invalid(why) => assert!(why.contains("1 MB limit"), "{why}"),
            other => panic!("{path}: expected Invalid, got {other:?}"),
        }
    }
    // Under the cap, the same client downloads.
    let small = ReqwestHttp::with_client(cdn.client.clone(), 100 * LIMIT);
    let handle = MediaHandle::from_info(&received_document(&enc, big, plain.len())).unwrap();
    let got = media::download_via(Arc::new(small), cdn.route.clone(), &handle)
        .await
        .unwrap();
    assert_eq!(got.len(), plain.len());
}

/// The engine's own client (the one the session uses for media) goes through the SSRF
/// guard: a media host that resolves to a loopback address is never connected to.
#[tokio::test]
async fn the_engines_http_client_refuses_private_media_hosts() {
    let cdn = start_cdn().await;
    let enc = encrypt_media(b"internal", MediaType::Document).unwrap();
    let path = "/v/t62.7119-24/internal.enc";
    cdn.cdn.put(
        path,
        Blob::File {
            token: token(&enc),
            body: enc.data_to_upload.clone(),
        },
    );
    let handle = MediaHandle::from_info(&received_document(&enc, path, 8)).unwrap();
    let guarded = ReqwestHttp::new(super::MediaLimits::default()).unwrap();
    let err = media::download_via(Arc::new(guarded), cdn.route.clone(), &handle)
        .await
        .unwrap_err();
    match err {
        EngineError::Invalid(why) => {
            assert!(
                why.contains("does not resolve to a public address"),
                "{why}"
            )
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
    assert!(cdn.cdn.requests().is_empty());
}
