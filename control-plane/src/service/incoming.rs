//! The incoming engine endpoints (`POST /webhooks/instance/{uuid}/incoming|status|qr|
//! connection|reaction`): an engine outside Zapini's nodes reports what its WhatsApp session
//! saw, in the reference's (Baileys-shaped) payloads, and it goes through the same ingest as
//! the nodes' gRPC stream — stored, counted and delivered to webhooks alike.
//!
//! The reference shows no authentication; we require one. Each request carries
//! `X-Webhook-Timestamp` (Unix seconds) and `X-Webhook-Signature`, the hex HMAC-SHA256 of
//! `{timestamp}.{body}` under either the node secret or the instance's own engine key,
//! `hex(HMAC-SHA256(node_secret, "zapini-incoming:" + instance_uuid))`, so an operator can
//! hand one engine one instance's key without the node secret. Timestamps more than five
//! minutes off are refused, which stops replays of captured requests.

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use serde_json::Value;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;
use zapini_shared::signing::{sign_hex, verify_timestamped_hex};

use super::Services;
use super::message_types::{EventKind, InMessage};
use crate::db::entities::instance;
use crate::error::{AppError, AppResult};

/// How far a signed timestamp may be from our clock.
const TOLERANCE_SECS: i64 = 300;

/// Which incoming endpoint was called.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    Incoming,
    Status,
    Qr,
    Connection,
    Reaction,
}

impl Report {
    pub fn parse(s: &str) -> Option<Report> {
        Some(match s {
            "incoming" => Report::Incoming,
            "status" => Report::Status,
            "qr" => Report::Qr,
            "connection" => Report::Connection,
            "reaction" => Report::Reaction,
            _ => return None,
        })
    }
}

fn invalid(field: &str, message: &str) -> AppError {
    AppError::validation(field, message.to_owned())
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for key in path {
        cur = cur.get(key)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

fn bool_at(v: &Value, path: &[&str]) -> bool {
    let mut cur = v;
    for key in path {
        match cur.get(key) {
            Some(next) => cur = next,
            None => return false,
        }
    }
    cur.as_bool().unwrap_or(false)
}

/// Unix seconds (or milliseconds, when the number is that large), as number or string.
fn time_of(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let v = v?;
    let n = v
        .as_i64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        .or_else(|| v.as_f64().map(|f| f as i64));
    match n {
        Some(n) if n > 100_000_000_000 => DateTime::from_timestamp_millis(n),
        Some(n) if n > 0 => DateTime::from_timestamp(n, 0),
        _ => v
            .as_str()
            .and_then(|s| zapini_shared::time::parse_rfc3339(s).ok()),
    }
}

/// What a Baileys-shaped `message` object holds: (type, text, quoted id, media, mentions).
type Content = (&'static str, String, String, Option<Value>, Vec<String>);

fn message_content(message: &Value) -> Option<Content> {
    if let Some(text) = message.get("conversation").and_then(Value::as_str) {
        return Some(("text", text.to_owned(), String::new(), None, Vec::new()));
    }
    let context = |m: &Value| {
        let quoted = str_at(m, &["contextInfo", "stanzaId"])
            .unwrap_or_default()
            .to_owned();
        let mentions = m
            .get("contextInfo")
            .and_then(|c| c.get("mentionedJid"))
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        (quoted, mentions)
    };
    if let Some(m) = message.get("extendedTextMessage").filter(|m| m.is_object()) {
        let (quoted, mentions) = context(m);
        let text = str_at(m, &["text"]).unwrap_or_default().to_owned();
        return Some(("text", text, quoted, None, mentions));
    }
    for (field, kind) in [
        ("imageMessage", "image"),
        ("videoMessage", "video"),
        ("audioMessage", "audio"),
        ("documentMessage", "document"),
        ("documentWithCaptionMessage", "document"),
        ("stickerMessage", "sticker"),
    ] {
        let Some(m) = message.get(field).filter(|m| m.is_object()) else {
            continue;
        };
        let (quoted, mentions) = context(m);
        let kind = if kind == "audio" && bool_at(m, &["ptt"]) {
            "voice"
        } else {
            kind
        };
        let media = serde_json::json!({
            "mime_type": str_at(m, &["mimetype"]),
            "caption": str_at(m, &["caption"]),
            "filename": str_at(m, &["fileName"]),
            "size": m.get("fileLength").and_then(|v| v.as_u64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))),
            "url": str_at(m, &["url"]),
            "duration_secs": m.get("seconds").and_then(Value::as_u64),
        });
        return Some((kind, String::new(), quoted, Some(media), mentions));
    }
    if let Some(m) = message.get("locationMessage").filter(|m| m.is_object()) {
        let media = serde_json::json!({
            "latitude": m.get("degreesLatitude"),
            "longitude": m.get("degreesLongitude"),
            "name": str_at(m, &["name"]),
            "address": str_at(m, &["address"]),
        });
        return Some((
            "location",
            String::new(),
            String::new(),
            Some(media),
            Vec::new(),
        ));
    }
    if let Some(m) = message.get("contactMessage").filter(|m| m.is_object()) {
        let media = serde_json::json!({
            "display_name": str_at(m, &["displayName"]),
            "vcard": str_at(m, &["vcard"]),
        });
        return Some((
            "contact",
            String::new(),
            String::new(),
            Some(media),
            Vec::new(),
        ));
    }
    None
}

/// Parses one report into the ingest's events, with a 422 naming what is missing.
pub fn parse_report(report: Report, body: &Value) -> AppResult<Vec<EventKind>> {
    if !body.is_object() {
        return Err(AppError::new(
            ErrorCode::BadRequest,
            "The body must be a JSON object.",
        ));
    }
    let now = Utc::now();
    Ok(match report {
        Report::Incoming => {
            let id = str_at(body, &["key", "id"])
                .ok_or_else(|| invalid("key.id", "The key.id field is required."))?;
            let chat = str_at(body, &["key", "remoteJid"])
                .or_else(|| str_at(body, &["remoteJid"]))
                .ok_or_else(|| invalid("remoteJid", "The remoteJid field is required."))?;
            let message = body
                .get("message")
                .filter(|m| m.is_object())
                .ok_or_else(|| invalid("message", "The message field is required."))?;
            let (kind, text, quoted, media, mentions) =
                message_content(message).ok_or_else(|| {
                    invalid(
                        "message",
                        "The message has no supported content (conversation, extendedTextMessage, imageMessage, videoMessage, audioMessage, documentMessage, stickerMessage, locationMessage, contactMessage).",
                    )
                })?;
            let from_me = bool_at(body, &["key", "fromMe"]);
            let participant =
                str_at(body, &["participant"]).or_else(|| str_at(body, &["key", "participant"]));
            vec![EventKind::Message(InMessage {
                id: id.to_owned(),
                chat_jid: chat.to_owned(),
                sender_jid: participant
                    .unwrap_or(if from_me { "" } else { chat })
                    .to_owned(),
                from_me,
                push_name: str_at(body, &["pushName"]).unwrap_or_default().to_owned(),
                message_type: kind.to_owned(),
                text,
                quoted_id: quoted,
                media,
                mentioned_jids: mentions,
                timestamp: time_of(body.get("messageTimestamp")).unwrap_or(now),
                client_ref: None,
            })]
        }
        Report::Status => {
            let id = str_at(body, &["key", "id"])
                .ok_or_else(|| invalid("key.id", "The key.id field is required."))?;
            let status = match body.get("status") {
                Some(Value::Number(n)) => n.as_u64().and_then(|n| u8::try_from(n).ok()),
                Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
                    "pending" => Some(1),
                    "sent" | "server_ack" => Some(2),
                    "delivered" | "delivery_ack" => Some(3),
                    "read" => Some(4),
                    "played" => Some(5),
                    other => other.parse().ok(),
                },
                _ => None,
            }
            .filter(|s| (1..=5).contains(s))
            .ok_or_else(|| {
                invalid(
                    "status",
                    "The status field must be 1 (pending), 2 (sent), 3 (delivered), 4 (read) or 5 (played).",
                )
            })?;
            vec![EventKind::Status {
                message_ids: vec![id.to_owned()],
                status,
            }]
        }
        Report::Qr => {
            let code =
                str_at(body, &["qr"]).ok_or_else(|| invalid("qr", "The qr field is required."))?;
            vec![EventKind::Qr {
                code: code.to_owned(),
                image: str_at(body, &["qr_image"]).unwrap_or_default().to_owned(),
                generated_at: time_of(body.get("generated_at")).unwrap_or(now),
                expires_at: None,
            }]
        }
        Report::Connection => {
            let status = str_at(body, &["status"])
                .ok_or_else(|| invalid("status", "The status field is required."))?;
            let (status, reason) = match status {
                "connected" | "qr_ready" | "disconnected" | "pending" => (status, ""),
                "offline" => ("disconnected", "offline"),
                _ => {
                    return Err(invalid(
                        "status",
                        "The status field must be connected, qr_ready, disconnected or offline.",
                    ));
                }
            };
            vec![EventKind::Connection {
                status: status.to_owned(),
                phone_number: str_at(body, &["phone_number"])
                    .unwrap_or_default()
                    .to_owned(),
                push_name: String::new(),
                reason: str_at(body, &["reason"]).unwrap_or(reason).to_owned(),
            }]
        }
        Report::Reaction => {
            let target = str_at(body, &["reaction", "key", "id"]).ok_or_else(|| {
                invalid("reaction.key.id", "The reaction.key.id field is required.")
            })?;
            let chat = str_at(body, &["key", "remoteJid"])
                .ok_or_else(|| invalid("key.remoteJid", "The key.remoteJid field is required."))?;
            let from_me = bool_at(body, &["key", "fromMe"]);
            vec![EventKind::Reaction {
                message_id: target.to_owned(),
                chat_jid: chat.to_owned(),
                sender_jid: str_at(body, &["senderJid"])
                    .unwrap_or(if from_me { "" } else { chat })
                    .to_owned(),
                emoji: body
                    .get("reaction")
                    .and_then(|r| r.get("text"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned(),
                from_me,
                timestamp: time_of(body.get("messageTimestamp")).unwrap_or(now),
            }]
        }
    })
}

impl Services {
    /// The key an external engine signs one instance's reports with.
    pub fn engine_key(&self, instance_uuid: Uuid) -> String {
        sign_hex(
            self.node_secret.expose_secret().as_bytes(),
            format!("zapini-incoming:{instance_uuid}").as_bytes(),
        )
    }

    /// Checks the signature, then ingests the report for the instance.
    pub async fn engine_report(
        &self,
        instance_uuid: &str,
        report: Report,
        timestamp: Option<&str>,
        signature: Option<&str>,
        body: &[u8],
    ) -> AppResult<()> {
        let unauthenticated = || {
            AppError::unauthenticated(
                "Sign engine reports: X-Webhook-Timestamp (Unix seconds) and X-Webhook-Signature (hex HMAC-SHA256 of `{timestamp}.{body}` with the node secret or the instance's engine key).",
            )
        };
        let uuid = Uuid::parse_str(instance_uuid.trim())
            .map_err(|_| AppError::not_found(ErrorCode::InstanceNotFound, "Instance"))?;
        let (Some(ts), Some(sig)) = (timestamp, signature) else {
            return Err(unauthenticated());
        };
        let ts: i64 = ts.trim().parse().map_err(|_| unauthenticated())?;
        let now = Utc::now().timestamp();
        let key = self.engine_key(uuid);
        let valid = [key.as_bytes(), self.node_secret.expose_secret().as_bytes()]
            .iter()
            .any(|k| verify_timestamped_hex(k, ts, body, sig, now, TOLERANCE_SECS));
        if !valid {
            return Err(unauthenticated());
        }
        let instance = self.instance_by_uuid(uuid).await?;
        let value: Value = crate::error::parse_json(body)?;
        let events = parse_report(report, &value)?;
        self.reports.submit(self, instance, events).await
    }
}

/// One report waiting to be applied.
struct Job {
    instance: instance::Model,
    events: Vec<EventKind>,
    done: tokio::sync::oneshot::Sender<AppResult<()>>,
}

/// Applies concurrent reports together. Each report would otherwise be its own transaction,
/// and every one of them updates the instance's counter rows, so they would queue on those
/// row locks one commit (one fsync) at a time. Instead, whoever finds the combiner free takes
/// every report waiting and applies them in one transaction per instance; the others just
/// wait for their answer. No task is spawned: a report is applied by a request that is
/// waiting anyway.
#[derive(Default)]
pub struct ReportCombiner {
    queue: std::sync::Mutex<Vec<Job>>,
    turn: tokio::sync::Mutex<()>,
}

impl ReportCombiner {
    async fn submit(
        &self,
        services: &Services,
        instance: instance::Model,
        events: Vec<EventKind>,
    ) -> AppResult<()> {
        let (done, mut answer) = tokio::sync::oneshot::channel();
        self.queue
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Job {
                instance,
                events,
                done,
            });
        let turn = self.turn.lock().await;
        if let Ok(result) = answer.try_recv() {
            // An earlier holder applied it.
            return result;
        }
        let jobs = std::mem::take(&mut *self.queue.lock().unwrap_or_else(|e| e.into_inner()));
        apply_jobs(services, jobs).await;
        drop(turn);
        answer
            .await
            .unwrap_or_else(|_| Err(AppError::internal("engine report dropped")))
    }
}

/// One transaction per instance for all its waiting reports; if that fails, each report on its
/// own, so one bad report cannot fail the others.
async fn apply_jobs(services: &Services, jobs: Vec<Job>) {
    let mut by_instance: Vec<(i64, Vec<Job>)> = Vec::new();
    for job in jobs {
        match by_instance
            .iter_mut()
            .find(|(id, _)| *id == job.instance.id)
        {
            Some((_, list)) => list.push(job),
            None => by_instance.push((job.instance.id, vec![job])),
        }
    }
    for (_, jobs) in by_instance {
        let instance = jobs[0].instance.clone();
        let all: Vec<EventKind> = jobs.iter().flat_map(|j| j.events.clone()).collect();
        let started = std::time::Instant::now();
        let together = super::retry_write("engine reports", || {
            services.ingest_external(&instance, all.clone())
        })
        .await;
        tracing::debug!(
            reports = jobs.len(),
            events = all.len(),
            ms = started.elapsed().as_secs_f64() * 1000.0,
            "engine reports applied"
        );
        if together.is_ok() || jobs.len() == 1 {
            let failure = together.err().map(|e| e.to_string());
            for job in jobs {
                let _ = job.done.send(match &failure {
                    None => Ok(()),
                    Some(message) => Err(AppError::internal(message.clone())),
                });
            }
            continue;
        }
        for job in jobs {
            let result = super::retry_write("engine report", || {
                services.ingest_external(&job.instance, job.events.clone())
            })
            .await;
            let _ = job.done.send(result);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reference_text_message() {
        let body = json!({
            "remoteJid": "5511999999999@s.whatsapp.net",
            "message": {"conversation": "Hello!"},
            "messageTimestamp": 1705312200,
            "pushName": "Customer Name",
            "key": {"remoteJid": "5511999999999@s.whatsapp.net", "fromMe": false, "id": "ABC123"}
        });
        let events = parse_report(Report::Incoming, &body).unwrap();
        let EventKind::Message(m) = &events[0] else {
            panic!("a message");
        };
        assert_eq!(m.id, "ABC123");
        assert_eq!(m.text, "Hello!");
        assert_eq!(m.message_type, "text");
        assert_eq!(m.push_name, "Customer Name");
        assert_eq!(m.sender_jid, "5511999999999@s.whatsapp.net");
        assert_eq!(m.timestamp.timestamp(), 1_705_312_200);
    }

    #[test]
    fn media_and_extended_text() {
        let body = json!({
            "key": {"remoteJid": "1@s.whatsapp.net", "id": "X"},
            "message": {"conversation": null, "imageMessage": {"caption": "look", "mimetype": "image/jpeg"}}
        });
        let EventKind::Message(m) = &parse_report(Report::Incoming, &body).unwrap()[0] else {
            panic!("a message");
        };
        assert_eq!(m.message_type, "image");
        assert_eq!(m.media.as_ref().unwrap()["caption"], "look");
        let body = json!({
            "key": {"remoteJid": "1@s.whatsapp.net", "id": "Y"},
            "message": {"extendedTextMessage": {"text": "see https://x", "contextInfo": {"stanzaId": "Q1"}}}
        });
        let EventKind::Message(m) = &parse_report(Report::Incoming, &body).unwrap()[0] else {
            panic!("a message");
        };
        assert_eq!(
            (m.text.as_str(), m.quoted_id.as_str()),
            ("see https://x", "Q1")
        );
    }

    #[test]
    fn statuses_and_errors() {
        let body = json!({"key": {"remoteJid": "1@s.whatsapp.net", "id": "M", "fromMe": true}, "status": 3});
        assert!(matches!(
            &parse_report(Report::Status, &body).unwrap()[0],
            EventKind::Status { status: 3, .. }
        ));
        let bad = json!({"key": {"id": "M"}, "status": 9});
        assert!(parse_report(Report::Status, &bad).is_err());
        assert!(parse_report(Report::Incoming, &json!({"message": {}})).is_err());
        assert!(parse_report(Report::Connection, &json!({"status": "sideways"})).is_err());
        assert!(matches!(
            &parse_report(Report::Connection, &json!({"status": "offline"})).unwrap()[0],
            EventKind::Connection { status, reason, .. } if status == "disconnected" && reason == "offline"
        ));
    }

    #[test]
    fn reaction_targets_the_reacted_message() {
        let body = json!({
            "key": {"remoteJid": "5511999999999@s.whatsapp.net", "id": "R1", "fromMe": false},
            "reaction": {"text": "👍", "key": {"id": "3EB0DEF987654321"}},
            "senderJid": "5511888888888@s.whatsapp.net"
        });
        let EventKind::Reaction {
            message_id,
            emoji,
            sender_jid,
            ..
        } = &parse_report(Report::Reaction, &body).unwrap()[0]
        else {
            panic!("a reaction");
        };
        assert_eq!(message_id, "3EB0DEF987654321");
        assert_eq!(emoji, "👍");
        assert_eq!(sender_jid, "5511888888888@s.whatsapp.net");
    }
}
