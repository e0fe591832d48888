//! The media library on an S3-compatible object store: a real S3 API server (moto's, from
//! PyPI) on loopback. It runs when `ZAPINI_TEST_S3_ENDPOINT` names a server (with an
//! existing or creatable bucket `zapini-test`), or when `moto_server` is on the PATH (or
//! named by `ZAPINI_TEST_MOTO`); otherwise it is not run (`#[ignore]`; `.ci/run` runs it with moto).

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use control_plane::config::{MediaStorageConfig, S3Settings};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use support::setup_with;
use zapini_e2e::eventually;

const BUCKET: &str = "zapini-test";

struct Moto(Child);

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An S3 endpoint: the configured one, or a moto server started for this test.
async fn endpoint() -> Option<(String, Option<Moto>)> {
    if let Ok(url) = std::env::var("ZAPINI_TEST_S3_ENDPOINT")
        && !url.is_empty()
    {
        return Some((url, None));
    }
    let bin = std::env::var("ZAPINI_TEST_MOTO").unwrap_or_else(|_| "moto_server".to_owned());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()?
        .port();
    let child = Command::new(&bin)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let moto = Moto(child);
    let url = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    eventually(Duration::from_secs(30), "moto server up", || async {
        client.get(&url).send().await.ok().map(|_| ())
    })
    .await;
    Some((url, Some(moto)))
}

async fn keys(client: &reqwest::Client, endpoint: &str) -> Vec<String> {
    let text = client
        .get(format!("{endpoint}/{BUCKET}?list-type=2"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.split("<Key>")
        .skip(1)
        .filter_map(|s| s.split("</Key>").next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs an S3-compatible server: ZAPINI_TEST_S3_ENDPOINT, or moto (ZAPINI_TEST_MOTO); .ci/run provides moto"]
async fn media_on_an_s3_compatible_store() {
    let Some((endpoint, _moto)) = endpoint().await else {
        panic!("no S3 server: set ZAPINI_TEST_S3_ENDPOINT or ZAPINI_TEST_MOTO (moto_server)");
    };
    let client = reqwest::Client::new();
    // Create the bucket (moto accepts unsigned requests); an existing one is fine.
    let _ = client
        .put(format!("{endpoint}/{BUCKET}"))
        .send()
        .await
        .unwrap();
    let s = setup_with(|c| {
        c.media.storage = MediaStorageConfig::S3(S3Settings {
            bucket: BUCKET.to_owned(),
            endpoint: Some(endpoint.clone()),
            region: "us-east-1".to_owned(),
            access_key_id: Some("test".to_owned()),
            secret_access_key: Some("test".to_owned().into()),
            allow_http: true,
            path_style: true,
        });
    })
    .await;
    let before = keys(&client, &endpoint).await.len();
    // 12 MiB: written as several multipart parts.
    let mut data = b"%PDF-1.7\n".to_vec();
    data.extend((0..12 * 1024 * 1024).map(|i| (i % 251) as u8));
    let resp = s
        .api
        .client
        .post(s.cp.url("/api/v1/media/upload"))
        .bearer_auth(&s.user)
        .multipart(Form::new().part("file", Part::bytes(data.clone()).file_name("big.pdf")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 201);
    let body: Value = resp.json().await.unwrap();
    let url = body["data"]["url"].as_str().unwrap().to_owned();
    let id = body["data"]["id"].as_str().unwrap().to_owned();
    assert_eq!(keys(&client, &endpoint).await.len(), before + 1);
    let got = client.get(&url).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.bytes().await.unwrap().to_vec(), data);
    // A truncated upload leaves nothing behind.
    let mut raw =
        b"--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.pdf\"\r\n\r\n"
            .to_vec();
    raw.extend_from_slice(&data[..7 * 1024 * 1024]);
    let resp = s
        .api
        .client
        .post(s.cp.url("/api/v1/media/upload"))
        .bearer_auth(&s.user)
        .header("content-type", "multipart/form-data; boundary=B")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(keys(&client, &endpoint).await.len(), before + 1);
    // Delete removes the object.
    let resp = s
        .api
        .client
        .delete(s.cp.url(&format!("/api/v1/media/{id}")))
        .bearer_auth(&s.user)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(keys(&client, &endpoint).await.len(), before);
}
