//! Audio transcription through a local fake of an OpenAI-compatible speech-to-text server:
//! on request and automatically (per instance), statuses, failures, and the fields in
//! message history.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use reqwest::Method;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::assert_error;
use crate::inbox_setup::Inbox;

/// One request: (authorization, model, language, file bytes, file name).
type Call = (String, String, Option<String>, Vec<u8>, String);

#[derive(Clone, Default)]
struct Seen {
    calls: Arc<Mutex<Vec<Call>>>,
    /// What a webhook bot on the same fake server was sent.
    bot: Arc<Mutex<Vec<Value>>>,
}

async fn bot(State(seen): State<Seen>, axum::Json(body): axum::Json<Value>) -> axum::Json<Value> {
    seen.bot.lock().unwrap().push(body);
    axum::Json(json!({"reply": "Entendi!"}))
}

const AUDIO: &[u8] = b"OggS-fake-audio-bytes";

async fn transcribe(
    State(seen): State<Seen>,
    headers: HeaderMap,
    mut form: Multipart,
) -> (StatusCode, axum::Json<Value>) {
    let (mut model, mut language, mut file, mut name) =
        (String::new(), None, Vec::new(), String::new());
    while let Ok(Some(field)) = form.next_field().await {
        match field.name().unwrap_or_default().to_owned().as_str() {
            "model" => model = field.text().await.unwrap(),
            "language" => language = Some(field.text().await.unwrap()),
            "file" => {
                name = field.file_name().unwrap_or_default().to_owned();
                file = field.bytes().await.unwrap().to_vec();
            }
            _ => {}
        }
    }
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    seen.calls
        .lock()
        .unwrap()
        .push((auth, model, language, file.clone(), name));
    if file != AUDIO {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": {"message": "Invalid file format."}})),
        );
    }
    (
        StatusCode::OK,
        axum::Json(json!({"text": " Olá, tudo bem? ", "language": "portuguese", "duration": 2.0})),
    )
}

async fn fake_server() -> (String, Seen) {
    let seen = Seen::default();
    let app = axum::Router::new()
        .route("/v1/audio/transcriptions", post(transcribe))
        .route("/bot", post(bot))
        .route("/audio/good.ogg", get(|| async { AUDIO.to_vec() }))
        .route("/audio/bad.ogg", get(|| async { b"not audio".to_vec() }))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

async fn audio(t: &Inbox, id: &str, url: &str) {
    let jid = "5511900000001@s.whatsapp.net";
    t.report_to(
        &t.uuid,
        "incoming",
        json!({
            "remoteJid": jid,
            "message": {"audioMessage": {"url": url, "mimetype": "audio/ogg; codecs=opus", "ptt": true, "seconds": 2}},
            "messageTimestamp": chrono::Utc::now().timestamp(),
            "pushName": "Maria",
            "key": {"remoteJid": jid, "fromMe": false, "id": id}
        }),
    )
    .await;
}

async fn wait_status(t: &Inbox, id: &str, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let body = t
            .get(&format!("/api/v1/chat/messages/{id}/transcription"))
            .await;
        if body["data"]["transcription_status"] == want {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never {want}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn transcription_on_request_and_automatic() {
    let (base, seen) = fake_server().await;
    let t = Inbox::with_config(|c| {
        c.allow_private_urls = true;
        c.transcription.base_url = format!("{base}/v1");
        c.transcription.api_key = Some(SecretString::from("sk-test-key"));
        c.transcription.model = "whisper-large-v3".into();
    })
    .await;
    audio(&t, "AUD1", &format!("{base}/audio/good.ogg")).await;
    t.inbound("5511900000001", "TXT1", "plain text").await;

    let none = t.get("/api/v1/chat/messages/AUD1/transcription").await;
    assert_eq!(none["data"]["message_id"], "AUD1");
    assert_eq!(none["data"]["transcription_status"], Value::Null);
    assert_eq!(none["data"]["audio_transcription"], Value::Null);

    let (status, body) = t
        .call(
            Method::POST,
            "/api/v1/chat/messages/AUD1/transcription",
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Transcription queued successfully.");
    assert!(matches!(
        body["data"]["transcription_status"].as_str(),
        Some("pending" | "processing" | "completed")
    ));
    let done = wait_status(&t, "AUD1", "completed").await;
    assert_eq!(done["data"]["audio_transcription"], "Olá, tudo bem?");
    assert_eq!(done["data"]["transcription_language"], "pt");
    assert_eq!(done["data"]["transcription_error"], Value::Null);
    assert!(
        done["data"]["transcription_completed_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    {
        let calls = seen.calls.lock().unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].0, "Bearer sk-test-key");
        assert_eq!(calls[0].1, "whisper-large-v3");
        assert_eq!(calls[0].3, AUDIO);
    }
    // Asking again returns the existing one.
    let (_, again) = t
        .call(Method::POST, "/chat/messages/AUD1/transcription", None)
        .await;
    assert_eq!(again["message"], "Transcription already completed.");
    assert_eq!(again["data"]["audio_transcription"], "Olá, tudo bem?");
    // History carries the fields.
    let c = t.conversation_of("5511900000001").await;
    let h = t.get(&format!("/conversations/{c}/messages")).await;
    let m = h["data"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["unique_id"] == "AUD1")
        .unwrap()
        .clone();
    assert_eq!(m["message_type"], "voice");
    assert_eq!(m["transcription_status"], "completed");
    assert_eq!(m["audio_transcription"], "Olá, tudo bem?");

    // A text message cannot be transcribed; an unknown one is 404.
    let resp = t
        .app
        .post("/chat/messages/TXT1/transcription", &t.token, json!({}))
        .await;
    assert_error(resp, 422, "VALIDATION_ERROR").await;
    let resp = t
        .app
        .get("/chat/messages/NOPE/transcription", &t.token)
        .await;
    assert_error(resp, 404, "NOT_FOUND").await;

    // A provider refusal fails the job with its message; asking again requeues it.
    audio(&t, "AUD2", &format!("{base}/audio/bad.ogg")).await;
    t.call(Method::POST, "/chat/messages/AUD2/transcription", None)
        .await;
    let failed = wait_status(&t, "AUD2", "failed").await;
    assert!(
        failed["data"]["transcription_error"]
            .as_str()
            .unwrap()
            .contains("Invalid file format"),
        "{failed}"
    );
    let (_, requeued) = t
        .call(Method::POST, "/chat/messages/AUD2/transcription", None)
        .await;
    assert_eq!(requeued["message"], "Transcription queued successfully.");

    // Auto-transcribe: new audio is transcribed without asking, with the instance language.
    let (status, body) = t
        .call(
            Method::PUT,
            &format!("/instances/{}/inbox-settings", t.uuid),
            Some(json!({"auto_transcribe": true, "transcription_language": "pt"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["auto_transcribe"], true);
    audio(&t, "AUD3", &format!("{base}/audio/good.ogg")).await;
    wait_status(&t, "AUD3", "completed").await;
    let last = seen.calls.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.2.as_deref(), Some("pt"));
    t.app.stop().await;
}

#[tokio::test]
async fn transcription_without_a_key_fails_clearly() {
    let t = Inbox::with_config(|c| c.allow_private_urls = true).await;
    audio(&t, "AUD9", "http://127.0.0.1:9/a.ogg").await;
    t.call(Method::POST, "/chat/messages/AUD9/transcription", None)
        .await;
    let failed = wait_status(&t, "AUD9", "failed").await;
    assert!(
        failed["data"]["transcription_error"]
            .as_str()
            .unwrap()
            .contains("ZAPINI_TRANSCRIPTION_API_KEY"),
        "{failed}"
    );
    t.app.stop().await;
}

#[tokio::test]
async fn an_automation_answers_a_voice_note_from_its_transcript() {
    let (base, seen) = fake_server().await;
    let t = Inbox::with_config(|c| {
        c.allow_private_urls = true;
        c.transcription.base_url = format!("{base}/v1");
        c.transcription.api_key = Some(SecretString::from("sk-test-key"));
    })
    .await;
    let (status, body) = t
        .call(
            Method::PUT,
            &format!("/instances/{}/inbox-settings", t.uuid),
            Some(json!({"auto_transcribe": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = t
        .call(
            Method::POST,
            "/api/v1/automation/integrations",
            Some(json!({
                "instance_id": t.uuid, "name": "Voice bot", "integration_type": "webhook",
                "settings": {"debounce_ms": 0}, "config": {"url": format!("{base}/bot")},
            })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    audio(&t, "VOICE1", &format!("{base}/audio/good.ogg")).await;
    // The turn waits for the transcript, then the bot reads it as the contact's text.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let call = loop {
        if let Some(c) = seen.bot.lock().unwrap().first().cloned() {
            break c;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the bot was never called"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(call["text"], "Olá, tudo bem?", "{call}");
    assert_eq!(seen.calls.lock().unwrap().len(), 1, "transcribed once");
    t.app.stop().await;
}
