//! Audio transcription: jobs queued per message (on request, or automatically for instances
//! with auto-transcribe on), run by a background worker through an OpenAI-compatible
//! speech-to-text endpoint (`POST {base_url}/audio/transcriptions`, multipart `file` +
//! `model`). Statuses move `pending` -> `processing` -> `completed` | `failed`; a failed
//! attempt is retried (after about 2, 4, … seconds, jittered) until `ZAPINI_TRANSCRIPTION_MAX_ATTEMPTS`.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use secrecy::ExposeSecret;
use serde::Serialize;
use zapini_shared::netguard;

use super::Services;
use super::message_types::TranscriptionFields;
use crate::config::TranscriptionSettings;
use crate::db::entities::{instance, instance_inbox_setting, message, message_transcription};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};

/// The speech-to-text API's file limit (25 MB): audio over it is refused while downloading.
const AUDIO_LIMIT: usize = 25 * 1024 * 1024;

/// What `GET`/`POST …/transcription` answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TranscriptionView {
    /// The message's WhatsApp id.
    pub message_id: String,
    #[serde(flatten)]
    pub fields: TranscriptionFields,
}

/// A `transcription_language` as given: `None` leaves it, `Some(None)` (null or blank)
/// clears it (detect), else a language code such as `pt` or `en` (letters and `-`, at most
/// 16), lower-cased.
pub fn parse_transcription_language(
    given: Option<Option<String>>,
) -> AppResult<Option<Option<String>>> {
    match given {
        Some(Some(l)) => {
            let l = l.trim().to_ascii_lowercase();
            if l.is_empty() {
                Ok(Some(None))
            } else if l.len() > 16 || !l.chars().all(|c| c.is_ascii_alphabetic() || c == '-') {
                Err(AppError::validation(
                    "transcription_language",
                    "The transcription_language must be a language code such as pt or en.",
                ))
            } else {
                Ok(Some(Some(l)))
            }
        }
        other => Ok(other),
    }
}

/// An instance's inbox settings.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InboxSettings {
    /// The instance's UUID.
    pub instance_id: uuid::Uuid,
    /// Transcribe incoming audio messages automatically.
    pub auto_transcribe: bool,
    /// The language code given to the speech-to-text provider (null: detect, or the server's
    /// default).
    pub transcription_language: Option<String>,
}

fn is_audio(m: &message::Model) -> bool {
    m.message_type == "audio" || m.message_type == "voice"
}

/// Queues transcriptions for newly received audio messages of an instance with
/// auto-transcribe on; returns whether any were queued. Runs inside the ingest transaction.
pub(crate) async fn queue_auto<C: ConnectionTrait>(
    conn: &C,
    instance: &instance::Model,
    wa_ids: &[String],
) -> AppResult<bool> {
    let on = instance_inbox_setting::Entity::find_by_id(instance.id)
        .one(conn)
        .await?
        .is_some_and(|s| s.auto_transcribe);
    if !on {
        return Ok(false);
    }
    let ids: Vec<i64> = message::Entity::find()
        .select_only()
        .column(message::Column::Id)
        .filter(message::Column::InstanceId.eq(instance.id))
        .filter(message::Column::WaMessageId.is_in(wa_ids.to_vec()))
        .into_tuple()
        .all(conn)
        .await?;
    if ids.is_empty() {
        return Ok(false);
    }
    let now = Utc::now();
    message_transcription::Entity::insert_many(ids.into_iter().map(|id| {
        message_transcription::ActiveModel {
            message_id: Set(id),
            tenant_id: Set(instance.tenant_id),
            status: Set("pending".into()),
            text: Set(None),
            language: Set(None),
            error: Set(None),
            attempts: Set(0),
            leased_until: Set(None),
            completed_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
    }))
    .on_conflict(
        OnConflict::column(message_transcription::Column::MessageId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(true)
}

/// A language code from what a provider reports (`pt`, or Whisper's `portuguese`).
fn language_code(raw: &str) -> String {
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

impl Services {
    async fn audio_message(&self, caller: &Caller, reference: &str) -> AppResult<message::Model> {
        let (m, _, _) = self.find_message(caller, reference).await?;
        if !is_audio(&m) {
            return Err(AppError::validation(
                "message",
                "Only audio messages can be transcribed.",
            ));
        }
        Ok(m)
    }

    pub async fn get_transcription(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<TranscriptionView> {
        let m = self.audio_message(caller, reference).await?;
        let row = message_transcription::Entity::find_by_id(m.id)
            .one(&self.db)
            .await?;
        Ok(TranscriptionView {
            message_id: m.wa_message_id,
            fields: row.as_ref().map(Into::into).unwrap_or_default(),
        })
    }

    /// Queues a transcription (a failed one is queued again); returns the current state and
    /// whether it was queued now.
    pub async fn request_transcription(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<(TranscriptionView, bool)> {
        let m = self.audio_message(caller, reference).await?;
        let existing = message_transcription::Entity::find_by_id(m.id)
            .one(&self.db)
            .await?;
        let queue = existing.as_ref().is_none_or(|t| t.status == "failed");
        if queue {
            let now = Utc::now();
            let _permit = self.write_gate.enter().await;
            message_transcription::Entity::insert(message_transcription::ActiveModel {
                message_id: Set(m.id),
                tenant_id: Set(m.tenant_id),
                status: Set("pending".into()),
                text: Set(None),
                language: Set(None),
                error: Set(None),
                attempts: Set(0),
                leased_until: Set(None),
                completed_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            })
            .on_conflict(
                OnConflict::column(message_transcription::Column::MessageId)
                    .update_columns([
                        message_transcription::Column::Status,
                        message_transcription::Column::Text,
                        message_transcription::Column::Error,
                        message_transcription::Column::Attempts,
                        message_transcription::Column::LeasedUntil,
                        message_transcription::Column::CompletedAt,
                        message_transcription::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
            drop(_permit);
            self.transcription_signal.notify_one();
        }
        let view = self.get_transcription(caller, reference).await?;
        Ok((view, queue))
    }

    pub async fn inbox_settings(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<InboxSettings> {
        let inst = self.find_instance(caller, reference).await?;
        let s = instance_inbox_setting::Entity::find_by_id(inst.id)
            .one(&self.db)
            .await?;
        Ok(InboxSettings {
            instance_id: inst.uuid,
            auto_transcribe: s.as_ref().is_some_and(|s| s.auto_transcribe),
            transcription_language: s.and_then(|s| s.transcription_language),
        })
    }

    pub async fn set_inbox_settings(
        &self,
        caller: &Caller,
        reference: &str,
        auto_transcribe: Option<bool>,
        language: Option<Option<String>>,
    ) -> AppResult<InboxSettings> {
        let current = self.inbox_settings(caller, reference).await?;
        let inst = self.find_instance(caller, reference).await?;
        let row = instance_inbox_setting::ActiveModel {
            instance_id: Set(inst.id),
            auto_transcribe: Set(auto_transcribe.unwrap_or(current.auto_transcribe)),
            transcription_language: Set(language.unwrap_or(current.transcription_language)),
            updated_at: Set(Utc::now()),
        };
        let _permit = self.write_gate.enter().await;
        instance_inbox_setting::Entity::insert(row)
            .on_conflict(
                OnConflict::column(instance_inbox_setting::Column::InstanceId)
                    .update_columns([
                        instance_inbox_setting::Column::AutoTranscribe,
                        instance_inbox_setting::Column::TranscriptionLanguage,
                        instance_inbox_setting::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.db)
            .await?;
        drop(_permit);
        self.inbox_settings(caller, reference).await
    }

    /// Claims the next due job: pending, or processing with an expired lease (a worker died).
    async fn claim_transcription(
        &self,
        lease: Duration,
    ) -> AppResult<Option<message_transcription::Model>> {
        let now = Utc::now();
        let candidates = message_transcription::Entity::find()
            .filter(message_transcription::Column::Status.is_in(["pending", "processing"]))
            .filter(
                Condition::any()
                    .add(message_transcription::Column::LeasedUntil.is_null())
                    .add(message_transcription::Column::LeasedUntil.lt(now)),
            )
            .order_by_asc(message_transcription::Column::UpdatedAt)
            .limit(8)
            .all(&self.db)
            .await?;
        for job in candidates {
            let until = now + chrono::Duration::from_std(lease).unwrap_or_default();
            let _permit = self.write_gate.enter().await;
            let claimed = message_transcription::Entity::update_many()
                .col_expr(
                    message_transcription::Column::Status,
                    Expr::value("processing"),
                )
                .col_expr(
                    message_transcription::Column::LeasedUntil,
                    Expr::value(until),
                )
                .col_expr(
                    message_transcription::Column::Attempts,
                    Expr::value(job.attempts + 1),
                )
                .col_expr(message_transcription::Column::UpdatedAt, Expr::value(now))
                .filter(message_transcription::Column::MessageId.eq(job.message_id))
                .filter(message_transcription::Column::Attempts.eq(job.attempts))
                .filter(message_transcription::Column::Status.is_in(["pending", "processing"]))
                .exec(&self.db)
                .await?
                .rows_affected;
            if claimed == 1 {
                return Ok(Some(message_transcription::Model {
                    attempts: job.attempts + 1,
                    ..job
                }));
            }
        }
        Ok(None)
    }

    /// The audio bytes of a message: fetched from its media URL (through the SSRF guard).
    async fn audio_of(&self, m: &message::Model) -> Result<(Vec<u8>, String, String), SttError> {
        let media = m.media.clone().unwrap_or_default();
        let mime = media["mime_type"]
            .as_str()
            .filter(|s| !s.is_empty())
            .unwrap_or("audio/ogg")
            .to_owned();
        let filename = media["filename"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map_or_else(|| format!("{}.ogg", m.uuid), str::to_owned);
        // The media library first: a copy kept before, or the node's engine (as
        // `GET /messages/{uuid}/media` does).
        let library = match crate::media::message_media::serve(self, m).await {
            Ok((_, _, reader)) => read_all(reader, AUDIO_LIMIT as u64).await,
            Err(e) => Err(e.to_string()),
        };
        let library_error = match library {
            Ok(bytes) => return Ok((bytes, filename, mime)),
            Err(e) => e,
        };
        // Else the URL the engine reported (an external engine's media link).
        let Some(url) = crate::media::message_media::external_source(&media)
            .or_else(|| media["url"].as_str())
            .filter(|s| !s.is_empty())
        else {
            return Err(SttError {
                message: format!(
                    "The audio of this message is not available to download ({library_error})."
                ),
                retry: false,
            });
        };
        let allow_private = self.config.allow_private_urls;
        let url = netguard::check_url(url, true, allow_private).map_err(|e| SttError {
            message: format!("media url refused: {e}"),
            retry: false,
        })?;
        let client = netguard::client_builder(
            allow_private,
            Duration::from_secs(10),
            Duration::from_secs(60),
        )
        .redirect(netguard::redirect_policy(3))
        .build()
        .map_err(|e| SttError {
            message: e.to_string(),
            retry: true,
        })?;
        let resp = client.get(url).send().await.map_err(|e| SttError {
            message: format!("downloading the audio failed: {e}"),
            retry: true,
        })?;
        if !resp.status().is_success() {
            return Err(SttError {
                message: format!("downloading the audio answered {}", resp.status().as_u16()),
                retry: resp.status().is_server_error(),
            });
        }
        let too_large = || SttError {
            message: format!("The audio is larger than {} MB.", AUDIO_LIMIT >> 20),
            retry: false,
        };
        if resp
            .content_length()
            .is_some_and(|len| len > AUDIO_LIMIT as u64)
        {
            return Err(too_large());
        }
        // Streamed through the limit: an endless or oversized body stops at 25 MB.
        let capped = netguard::read_capped(resp, AUDIO_LIMIT)
            .await
            .map_err(|e| SttError {
                message: format!("downloading the audio failed: {e}"),
                retry: true,
            })?;
        if capped.truncated {
            return Err(too_large());
        }
        Ok((capped.bytes, filename, mime))
    }

    async fn run_transcription(
        &self,
        client: &SttClient,
        job: message_transcription::Model,
    ) -> AppResult<()> {
        let Some(m) = message::Entity::find_by_id(job.message_id)
            .one(&self.db)
            .await?
        else {
            return Ok(());
        };
        let language = instance_inbox_setting::Entity::find_by_id(m.instance_id)
            .one(&self.db)
            .await?
            .and_then(|s| s.transcription_language);
        let result = if self.config.transcription.api_key.is_none() {
            Err(SttError {
                message: "No speech-to-text API key is configured (ZAPINI_TRANSCRIPTION_API_KEY)."
                    .into(),
                retry: false,
            })
        } else {
            match self.audio_of(&m).await {
                Ok((audio, filename, mime)) => {
                    client
                        .transcribe(audio, &filename, &mime, language.as_deref())
                        .await
                }
                Err(e) => Err(e),
            }
        };
        let now = Utc::now();
        let mut update = message_transcription::Entity::update_many()
            .col_expr(message_transcription::Column::UpdatedAt, Expr::value(now));
        update = match result {
            Ok((text, lang)) => update
                .col_expr(
                    message_transcription::Column::Status,
                    Expr::value("completed"),
                )
                .col_expr(message_transcription::Column::Text, Expr::value(text))
                .col_expr(message_transcription::Column::Language, Expr::value(lang))
                .col_expr(
                    message_transcription::Column::Error,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(message_transcription::Column::CompletedAt, Expr::value(now))
                .col_expr(
                    message_transcription::Column::LeasedUntil,
                    Expr::value(Option::<chrono::DateTime<Utc>>::None),
                ),
            Err(e) => {
                let last = !e.retry
                    || u32::try_from(job.attempts).unwrap_or(u32::MAX)
                        >= self.config.transcription.max_attempts;
                tracing::info!(message = m.id, error = %e.message, last, "transcription attempt failed");
                // About 2^attempts seconds (2, 4, … up to 1024), jittered.
                let backoff = zapini_shared::backoff::Backoff::nth(
                    Duration::from_secs(2),
                    Duration::from_secs(1024),
                    u32::try_from(job.attempts.clamp(1, 10) - 1).unwrap_or(0),
                );
                let backoff = chrono::Duration::from_std(backoff).unwrap_or_default();
                update
                    .col_expr(
                        message_transcription::Column::Status,
                        Expr::value(if last { "failed" } else { "pending" }),
                    )
                    .col_expr(message_transcription::Column::Error, Expr::value(e.message))
                    .col_expr(
                        message_transcription::Column::LeasedUntil,
                        Expr::value((!last).then(|| now + backoff)),
                    )
            }
        };
        let _permit = self.write_gate.enter().await;
        update
            .filter(message_transcription::Column::MessageId.eq(job.message_id))
            .filter(message_transcription::Column::Attempts.eq(job.attempts))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// The worker: runs due jobs one at a time until `stop`, woken by new jobs or every
    /// second (for retries that come due).
    pub async fn run_transcriptions(self, mut stop: tokio::sync::watch::Receiver<bool>) {
        let client = match SttClient::new(self.config.transcription.clone()) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "transcription client could not be built; worker not started");
                return;
            }
        };
        let lease = self.config.transcription.timeout + Duration::from_secs(90);
        loop {
            if *stop.borrow() {
                return;
            }
            match self.claim_transcription(lease).await {
                Ok(Some(job)) => {
                    if let Err(e) = self.run_transcription(&client, job).await {
                        tracing::warn!(error = %e, "transcription job could not be recorded");
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "claiming transcription jobs failed"),
            }
            tokio::select! {
                _ = self.transcription_signal.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
        }
    }
}

/// Reads a stored file whole, refusing more than `limit` bytes.
async fn read_all(reader: crate::media::storage::Reader, limit: u64) -> Result<Vec<u8>, String> {
    use futures::StreamExt;
    if reader.size > limit {
        return Err(format!(
            "the audio is larger than {} MB",
            limit / (1024 * 1024)
        ));
    }
    let mut body = reader.body;
    let mut out = Vec::with_capacity(reader.size as usize);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if (out.len() + chunk.len()) as u64 > limit {
            return Err(format!(
                "the audio is larger than {} MB",
                limit / (1024 * 1024)
            ));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
