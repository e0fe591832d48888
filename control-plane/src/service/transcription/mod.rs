//! Audio transcription: jobs queued per message (on request, or automatically for instances
//! with auto-transcribe on), run by a background worker ([`worker`]) through an
//! OpenAI-compatible speech-to-text endpoint ([`stt`]). Statuses move `pending` ->
//! `processing` -> `completed` | `failed`; a failed attempt is retried (after about 2, 4, …
//! seconds, jittered) until `ZAPINI_TRANSCRIPTION_MAX_ATTEMPTS`.

use chrono::Utc;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use serde::Serialize;

use super::Services;
use super::message_types::TranscriptionFields;
use crate::db::entities::{instance, instance_inbox_setting, message, message_transcription};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};

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

/// A job for a message's transcription, pending from `now` (new, or queued again after
/// failing).
fn pending_job(
    message_id: i64,
    tenant_id: i64,
    now: chrono::DateTime<Utc>,
) -> message_transcription::ActiveModel {
    message_transcription::ActiveModel {
        message_id: Set(message_id),
        tenant_id: Set(tenant_id),
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
    message_transcription::Entity::insert_many(
        ids.into_iter()
            .map(|id| pending_job(id, instance.tenant_id, now)),
    )
    .on_conflict(
        OnConflict::column(message_transcription::Column::MessageId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(conn)
    .await?;
    Ok(true)
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
            message_transcription::Entity::insert(pending_job(m.id, m.tenant_id, now))
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
}

mod stt;
#[cfg(test)]
mod tests;
mod worker;
