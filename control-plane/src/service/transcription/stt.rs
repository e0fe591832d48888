//! The OpenAI-compatible speech-to-text client (`POST {base_url}/audio/transcriptions`,
//! multipart `file` + `model`) and what its failures say about retrying.

use std::time::Duration;

use secrecy::ExposeSecret;

use crate::config::TranscriptionSettings;

/// A language code from what a provider reports (`pt`, or Whisper's `portuguese`).
pub(super) fn language_code(raw: &str) -> String {
    let l = raw.trim().to_ascii_lowercase();
    let code = match l.as_str() {
        "english" => "en",
        "portuguese" => "pt",
        "spanish" => "es",
        "french" => "fr",
        "german" => "de",
        "italian" => "it",
        "dutch" => "nl",
        "russian" => "ru",
        "japanese" => "ja",
        "chinese" => "zh",
        "arabic" => "ar",
        "hindi" => "hi",
        other => other,
    };
    code.chars().take(16).collect()
}

/// Why a transcription attempt failed; `retry` says whether another attempt may succeed.
#[derive(Debug)]
pub struct SttError {
    pub message: String,
    pub retry: bool,
}

/// The OpenAI-compatible speech-to-text client.
#[derive(Clone)]
pub struct SttClient {
    http: reqwest::Client,
    settings: TranscriptionSettings,
}

impl SttClient {
    pub fn new(settings: TranscriptionSettings) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()?;
        Ok(SttClient { http, settings })
    }

    /// Transcribes `audio`; returns (text, language).
    pub async fn transcribe(
        &self,
        audio: Vec<u8>,
        filename: &str,
        mime: &str,
        language: Option<&str>,
    ) -> Result<(String, Option<String>), SttError> {
        let Some(key) = &self.settings.api_key else {
            return Err(SttError {
                message: "No speech-to-text API key is configured (ZAPINI_TRANSCRIPTION_API_KEY)."
                    .into(),
                retry: false,
            });
        };
        let part = reqwest::multipart::Part::bytes(audio)
            .file_name(filename.to_owned())
            .mime_str(mime)
            .unwrap_or_else(|_| reqwest::multipart::Part::bytes(Vec::new()));
        let mut form = reqwest::multipart::Form::new()
            .part("file", part)
            .text("model", self.settings.model.clone())
            .text("response_format", "verbose_json");
        if let Some(l) = language.or(self.settings.language.as_deref()) {
            form = form.text("language", l.to_owned());
        }
        let resp = self
            .http
            .post(format!("{}/audio/transcriptions", self.settings.base_url))
            .bearer_auth(key.expose_secret())
            .multipart(form)
            .send()
            .await
            .map_err(|e| SttError {
                message: format!("speech-to-text request failed: {e}"),
                retry: true,
            })?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        if !status.is_success() {
            let detail = body["error"]["message"]
                .as_str()
                .map_or_else(|| status.to_string(), str::to_owned);
            return Err(SttError {
                message: format!(
                    "speech-to-text provider answered {}: {detail}",
                    status.as_u16()
                ),
                retry: status.is_server_error() || status.as_u16() == 429,
            });
        }
        let text = body["text"].as_str().ok_or_else(|| SttError {
            message: "speech-to-text provider answered without `text`".into(),
            retry: false,
        })?;
        let lang = body["language"]
            .as_str()
            .map(language_code)
            .or_else(|| language.map(str::to_owned))
            .or_else(|| self.settings.language.clone());
        Ok((text.trim().to_owned(), lang))
    }
}
