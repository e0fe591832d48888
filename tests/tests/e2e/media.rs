//! The media library end to end: uploads (sniffed, per-type limits, malformed bodies), reads,
//! signed URLs, deletes, expiry, tenant isolation, sends by `media_id`, and received media
//! downloaded through `GET /messages/{uuid}/media`, on the sandbox engine.

use crate::support;

use std::time::Duration;

use base64::Engine as _;
use reqwest::Method;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use support::{Setup, T, paired, setup, setup_with};
use zapini_e2e::eventually;

const MB: usize = 1024 * 1024;
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06";
const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n";
const MP4: &[u8] = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom";
const MP3: &[u8] = b"ID3\x03\x00\x00\x00\x00\x00\x00";
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00";

/// A file of `size` bytes starting with `head`.
fn file(head: &[u8], size: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(head);
    v.extend((v.len()..size).map(|i| (i * 7 % 251) as u8));
    v.truncate(size);
    v
}

async fn upload(
    s: &Setup,
    token: &str,
    name: &str,
    data: Vec<u8>,
    kind: Option<&str>,
) -> (u16, Value) {
    let mut form = Form::new().part("file", Part::bytes(data).file_name(name.to_owned()));
    if let Some(k) = kind {
        form = form.text("type", k.to_owned());
    }
    let resp = s
        .api
        .client
        .post(s.cp.url("/api/v1/media/upload"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload sent");
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn fetch(
    s: &Setup,
    url: &str,
    token: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = s.api.client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_read_download_delete() {
    let s = setup().await;
    let data = file(PNG, 50_000);
    let (status, body) = upload(&s, &s.user, "holiday photo.png", data.clone(), None).await;
    assert_eq!(status, 201, "{body}");
    let m = &body["data"];
    let id = m["id"].as_str().unwrap();
    assert!(id.starts_with("media_") && id.len() >= 20, "{m}");
    assert_eq!(m["type"], "image");
    assert_eq!(m["mime_type"], "image/png");
    assert_eq!(m["size"], 50_000);
    assert_eq!(m["filename"], "holiday photo.png");
    let created = chrono::DateTime::parse_from_rfc3339(m["created_at"].as_str().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(m["expires_at"].as_str().unwrap()).unwrap();
    assert_eq!((expires - created).num_days(), 7, "{m}");

    let (status, got) = s.get(&format!("/api/v1/media/{id}"), &s.user).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["data"]["id"], id);
    // Signed afresh on each read: the same file, a new expiry.
    let path = |v: &Value| v.as_str().unwrap().split('?').next().unwrap().to_owned();
    assert_eq!(path(&got["data"]["url"]), path(&m["url"]));

    // The url is signed: it works without a token; a tampered one does not.
    let url = m["url"].as_str().unwrap();
    assert!(url.contains("signature="), "{url}");
    let (status, headers, bytes) = fetch(&s, url, None).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, data);
    assert_eq!(headers["content-type"], "image/png");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("holiday photo.png")
    );
    // Change the signature's last character (to another one: a signature may end in `0`).
    let last = if url.ends_with('0') { '1' } else { '0' };
    let tampered = format!("{}{last}", &url[..url.len() - 1]);
    let (status, _, body) = fetch(&s, &tampered, None).await;
    assert_eq!(status, 403);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "FORBIDDEN", "{body}");
    // Without the signature, the owner's token works.
    let bare = url.split('?').next().unwrap();
    assert_eq!(fetch(&s, bare, Some(&s.user)).await.0, 200);
    assert_eq!(fetch(&s, bare, None).await.0, 401);

    let (status, body) = s
        .send(
            Method::DELETE,
            &format!("/api/v1/media/{id}"),
            &s.user,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.get(&format!("/api/v1/media/{id}"), &s.user).await.0, 404);
    assert_eq!(fetch(&s, url, None).await.0, 404);
    let (status, body) = s
        .send(
            Method::DELETE,
            &format!("/api/v1/media/{id}"),
            &s.user,
            None,
        )
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "NOT_FOUND");
    // Nothing left in the data directory's media store.
    let leftover = walk(&s.dir.path().join("media"));
    assert!(leftover.is_empty(), "{leftover:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_per_type_and_formats() {
    let s = setup().await;
    // Exactly at the image limit: accepted.
    let (status, body) = upload(&s, &s.user, "big.png", file(PNG, 16 * MB), Some("image")).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["size"], 16 * MB);
    // Each limit plus one byte: 413, whatever the name says.
    for (head, name, limit, kind) in [
        (PNG, "a.png", 16 * MB, "image"),
        (MP4, "a.mp4", 64 * MB, "video"),
        (MP3, "a.mp3", 16 * MB, "audio"),
        (PDF, "a.pdf", 100 * MB, "document"),
    ] {
        let (status, body) = upload(&s, &s.user, name, file(head, limit + 1), None).await;
        assert_eq!(status, 413, "{kind}: {body}");
        assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE", "{body}");
        assert_eq!(body["error"]["details"]["type"], kind, "{body}");
        assert_eq!(
            body["error"]["details"]["max_bytes"], limit as u64,
            "{body}"
        );
    }
    // The type comes from the bytes, not the name.
    let (status, body) = upload(&s, &s.user, "report.jpg", file(PDF, 3000), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["type"], "document");
    assert_eq!(body["data"]["mime_type"], "application/pdf");
    let (status, body) = upload(&s, &s.user, "notes.txt", b"hello\nworld\n".to_vec(), None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["mime_type"], "text/plain");
    // A format the reference does not allow, even named .pdf.
    let (status, body) = upload(&s, &s.user, "invoice.pdf", file(EXE, 4000), None).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "VALIDATION_ERROR");
    assert!(body["error"]["details"]["file"].is_array(), "{body}");
    // A declared type that is not what the file is.
    let (status, body) = upload(&s, &s.user, "x.png", file(PDF, 3000), Some("image")).await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["details"]["type"][0]
            .as_str()
            .unwrap()
            .contains("document"),
        "{body}"
    );
    let (status, body) = upload(&s, &s.user, "x.png", file(PNG, 3000), Some("sticker")).await;
    assert_eq!(status, 422, "{body}");
    // Empty file, missing file, not multipart.
    assert_eq!(upload(&s, &s.user, "e.png", Vec::new(), None).await.0, 422);
    let resp = s
        .api
        .client
        .post(s.cp.url("/api/v1/media/upload"))
        .bearer_auth(&s.user)
        .multipart(Form::new().text("type", "image"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 422);
    let (status, body) = s
        .post("/api/v1/media/upload", &s.user, json!({"file": "x"}))
        .await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_multipart_body_is_a_400_and_leaves_nothing() {
    let s = setup().await;
    let mut body = Vec::new();
    body.extend_from_slice(b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n");
    body.extend_from_slice(&file(PDF, 200_000));
    // No closing boundary: the client went away mid-file.
    let resp = s
        .api
        .client
        .post(s.cp.url("/api/v1/media/upload"))
        .bearer_auth(&s.user)
        .header("content-type", "multipart/form-data; boundary=XyZ")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "BAD_REQUEST", "{body}");
    assert!(walk(&s.dir.path().join("media")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenants_and_instance_tokens_see_only_their_media() {
    let s = setup().await;
    let (status, body) = upload(&s, &s.user, "a.png", file(PNG, 1000), None).await;
    assert_eq!(status, 201);
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    let other = s.other_tenant("other@e2e.local").await;
    for (method, path) in [
        (Method::GET, format!("/api/v1/media/{id}")),
        (Method::DELETE, format!("/api/v1/media/{id}")),
        (Method::GET, format!("/api/v1/media/{id}/content")),
    ] {
        let (status, body) = s.send(method, &path, &other, None).await;
        assert_eq!(status, 404, "{path}: {body}");
    }
    // An sk_ token sees its own instance's uploads only.
    let (inst, _) = s.api.create_instance(&s.cp, &s.user, "a").await;
    let sk = s.api.create_sk_token(&s.cp, &s.user, inst).await;
    assert_eq!(s.get(&format!("/api/v1/media/{id}"), &sk).await.0, 404);
    let (status, body) = upload(&s, &sk, "b.png", file(PNG, 1000), None).await;
    assert_eq!(status, 201, "{body}");
    let own = body["data"]["id"].as_str().unwrap();
    assert_eq!(s.get(&format!("/api/v1/media/{own}"), &sk).await.0, 200);
    assert_eq!(s.get(&format!("/api/v1/media/{own}"), &s.user).await.0, 200);
    assert_eq!(
        s.get("/api/v1/media/media_doesnotexist", &s.user).await.0,
        404
    );
    assert_eq!(s.get("/api/v1/media/garbage", &s.user).await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_media_is_cleaned_up() {
    let s = setup_with(|c| {
        c.media.ttl = Duration::from_secs(1);
        c.media.cleanup_interval = Duration::from_millis(200);
    })
    .await;
    let (status, body) = upload(&s, &s.user, "a.png", file(PNG, 1000), None).await;
    assert_eq!(status, 201);
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(walk(&s.dir.path().join("media")).len(), 1);
    eventually(T, "the expired file removed", || async {
        let gone = s.get(&format!("/api/v1/media/{id}"), &s.user).await.0 == 404;
        (gone && walk(&s.dir.path().join("media")).is_empty()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_by_media_id_and_download_sent_and_received_media() {
    let s = setup().await;
    let p = paired(&s, "media", "5511999990001").await;
    let data = file(PDF, 300_000);
    let (status, body) = upload(&s, &s.user, "Monthly Report.pdf", data.clone(), None).await;
    assert_eq!(status, 201, "{body}");
    let media_id = body["data"]["id"].as_str().unwrap().to_owned();

    // Universal send with media_id: the node fetches the file from the control plane.
    let (status, body) = s
        .post(
            "/api/v1/messages/send-media",
            &s.user,
            json!({"instance_id": p.uuid.to_string(), "recipient": "+5511988887777",
                   "media_id": media_id, "caption": "Here it is"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Media sent successfully");
    let sent = &body["data"];
    assert_eq!(sent["message_type"], "document");
    let sent_uuid = sent["uuid"].as_str().unwrap();
    let (status, headers, bytes) = fetch(
        &s,
        &s.cp.url(&format!("/api/v1/messages/{sent_uuid}/media")),
        Some(&s.user),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(bytes, data);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(
        headers["content-disposition"]
            .to_str()
            .unwrap()
            .contains("Monthly Report.pdf")
    );

    // Media type that disagrees with the file, unknown ids, both sources.
    for (payload, field) in [
        (
            json!({"media_id": media_id, "media_type": "image"}),
            "media_type",
        ),
        (json!({"media_id": "media_nope"}), "media_id"),
        (
            json!({"media_id": media_id, "media_url": "https://example.com/a.pdf"}),
            "media_id",
        ),
    ] {
        let mut payload = payload;
        payload["instance_id"] = json!(p.id);
        payload["recipient"] = json!("5511988887777");
        let (status, body) = s
            .post("/api/v1/messages/send-media", &s.user, payload)
            .await;
        assert_eq!(status, 422, "{body}");
        assert!(body["error"]["details"][field].is_array(), "{body}");
    }
    // The instance host's own /send-media takes a media_id too.
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &p.node.url("/send-media"),
            Some(&p.sk),
            None,
            Some(json!({"recipient": "5511988887777", "media_id": media_id, "media_type": "document"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // Received media: the sandbox delivers a picture with these bytes.
    let picture = file(PNG, 70_000);
    let (status, body) = s
        .api
        .call(
            Method::POST,
            &p.node.url("/sandbox/inbound"),
            Some(&p.sk),
            None,
            Some(
                json!({"from": "5511977776666", "push_name": "Ana", "media": {
                "type": "image", "mime_type": "image/png", "caption": "look",
                "data": base64::engine::general_purpose::STANDARD.encode(&picture)}}),
            ),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (_, msgs) = support::conversation_where(
        &s,
        p.uuid,
        |c| c["chat_jid"] == "5511977776666@s.whatsapp.net",
        1,
    )
    .await;
    let received = &msgs[0];
    assert_eq!(received["message_type"], "image");
    let url = received["media"]["url"].as_str().unwrap();
    assert!(
        url.contains(&format!(
            "/messages/{}/media?expires=",
            received["uuid"].as_str().unwrap()
        )),
        "{url}"
    );
    let (status, headers, bytes) = fetch(&s, url, None).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, picture);
    assert_eq!(headers["content-type"], "image/png");
    // A second read comes from storage (the node is not asked again) and is the same.
    p.node.stop().await;
    let (status, _, again) = fetch(&s, url, None).await;
    assert_eq!(status, 200);
    assert_eq!(again, picture);
    // Another tenant's token: 404; a text message: 404.
    let other = s.other_tenant("other2@e2e.local").await;
    let bare = url.split('?').next().unwrap();
    assert_eq!(fetch(&s, bare, Some(&other)).await.0, 404);
    assert_eq!(fetch(&s, bare, Some(&s.user)).await.0, 200);
    let missing =
        s.cp.url(&format!("/api/v1/messages/{}/media", uuid::Uuid::new_v4()));
    assert_eq!(fetch(&s, &missing, Some(&s.user)).await.0, 404);
}

/// Signed URLs carry their expiry (`ZAPINI_MEDIA_URL_TTL_SECS`): until then they work without
/// a token; after it, and with the expiry or signature altered, they are a 403 in the
/// envelope, while the owner's token still works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_urls_expire() {
    let s = setup_with(|c| c.media.url_ttl = Duration::from_secs(3)).await;
    let data = file(PNG, 1_000);
    let (status, body) = upload(&s, &s.user, "soon.png", data.clone(), None).await;
    assert_eq!(status, 201, "{body}");
    let url = body["data"]["url"].as_str().unwrap().to_owned();
    let expires: i64 = url
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("expires="))
        .expect("the url names its expiry")
        .parse()
        .unwrap();
    assert!(expires > chrono::Utc::now().timestamp(), "{url}");
    let (status, _, bytes) = fetch(&s, &url, None).await;
    assert_eq!(status, 200);
    assert_eq!(bytes, data);
    // Moving the expiry breaks the signature.
    let later = url.replace(
        &format!("expires={expires}"),
        &format!("expires={}", expires + 86_400),
    );
    let (status, _, body) = fetch(&s, &later, None).await;
    assert_eq!(status, 403);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["code"], "FORBIDDEN");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not valid"),
        "{body}"
    );
    let message = eventually(T, "the url expires", || async {
        let (status, _, body) = fetch(&s, &url, None).await;
        (status != 200).then(|| (status, serde_json::from_slice::<Value>(&body).unwrap()))
    })
    .await;
    assert_eq!(message.0, 403, "{}", message.1);
    assert_eq!(message.1["error"]["code"], "FORBIDDEN");
    assert!(
        message.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired"),
        "{}",
        message.1
    );
    // The owner's token still reads it, and reading the media again gives a fresh URL.
    assert_eq!(fetch(&s, &url, Some(&s.user)).await.0, 200);
    let id = body_id(&url);
    let (_, again) = s.get(&format!("/api/v1/media/{id}"), &s.user).await;
    let fresh = again["data"]["url"].as_str().unwrap();
    assert_eq!(fetch(&s, fresh, None).await.0, 200);
}

/// The media id in a `/media/{id}/content` URL.
fn body_id(url: &str) -> &str {
    url.split("/media/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
}
