//! The transcription worker: claims due jobs with a lease, fetches the audio (from the media
//! library or the node, else the engine's link through the SSRF guard), calls the
//! speech-to-text client and records the outcome, retrying with backoff.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use zapini_shared::netguard;

use super::stt::{SttClient, SttError};
use crate::db::entities::{instance_inbox_setting, message, message_transcription};
use crate::error::AppResult;
use crate::service::Services;

/// The speech-to-text API's file limit (25 MB): audio over it is refused while downloading.
const AUDIO_LIMIT: usize = 25 * 1024 * 1024;

impl Services {
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
        let library = match crate::service::media::message_media::serve(self, m).await {
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
