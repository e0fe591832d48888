//! Connection control and sends that go through an instance's node, plus reading what the
//! pipeline stored (conversations and their messages).

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;
use zapini_shared::ids::InstanceRef;
use zapini_shared::jid::Jid;
use zapini_shared::status::{InstanceStatus, MessageStatus};
use zapini_shared::time::{format_millis, format_secs};

use super::Services;
use super::ingest::InMessage;
use crate::db::entities::{contact, conversation, instance, message};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::grpc::client::{NodeMedia, NodeStatus};

/// The QR code of an instance (`GET /instances/{id}/qr`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct QrView {
    #[schema(value_type = InstanceStatus)]
    pub status: String,
    /// The QR code as a PNG data URL, while `status` is `qr_ready`.
    #[schema(example = "data:image/png;base64,...")]
    pub qr_code: Option<String>,
    /// The QR code's text, for rendering it yourself.
    #[schema(example = "2@...")]
    pub qr_code_text: Option<String>,
    #[schema(format = DateTime, example = "2025-01-15T10:30:00Z")]
    pub qr_generated_at: Option<String>,
    /// The code expired; a new one is on its way (codes rotate as WhatsApp's do).
    pub qr_expired: bool,
    #[schema(example = "QR code ready to scan")]
    pub message: String,
}

/// The connection status of an instance.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StatusView {
    #[schema(example = 777)]
    pub id: i64,
    pub uuid: Uuid,
    #[schema(value_type = InstanceStatus)]
    pub status: String,
    pub connected: bool,
    #[schema(example = "5511999999999")]
    pub phone_number: Option<String>,
    /// The WhatsApp profile name (real-time answers only).
    pub name: Option<String>,
    /// The phone's platform, e.g. `android` (real-time answers only).
    pub platform: Option<String>,
    /// Why the status last changed (`logged_out`, `unreachable`, `requested`, …).
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub last_activity_at: Option<String>,
    /// True when the answer comes from the node just now, false when from the database.
    pub realtime: bool,
}

/// A message in the chat-optimised shape of the reference.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MessageView {
    pub id: i64,
    pub uuid: Uuid,
    /// WhatsApp's message id (same as `message_id`).
    #[schema(example = "3EB0ABC123456789")]
    pub unique_id: String,
    #[schema(example = "3EB0ABC123456789")]
    pub message_id: String,
    /// The conversation's UUID.
    pub conversation_id: Uuid,
    #[schema(value_type = String, pattern = "^(incoming|outgoing)$", example = "outgoing")]
    pub direction: &'static str,
    pub is_from_me: bool,
    /// `text`, `image`, `video`, `audio`, `document`, …
    #[schema(example = "image")]
    pub message_type: String,
    pub message_body: Option<String>,
    /// The media's details (`url`: Zapini's signed URL of the file, `mime_type`, `size`,
    /// `caption`, `filename`, …), for media messages.
    #[schema(value_type = Option<Object>)]
    pub media: Option<serde_json::Value>,
    pub quoted_message_id: Option<String>,
    pub mentioned_jids: Vec<String>,
    pub sender_jid: Option<String>,
    pub sender_name: Option<String>,
    #[schema(value_type = String, pattern = "^(pending|sent|delivered|read|played)$", example = "sent")]
    pub status: &'static str,
    /// 1 pending, 2 sent, 3 delivered, 4 read, 5 played.
    #[schema(minimum = 1, maximum = 5, example = 2)]
    pub status_code: i16,
    pub is_edited: bool,
    pub is_deleted: bool,
    #[schema(format = DateTime, example = "2025-01-15T10:30:00.000Z")]
    pub timestamp: String,
    #[schema(format = DateTime, example = "2025-01-15T10:30:00Z")]
    pub created_at: String,
    /// Present on a message an automation sent: which one, in which session.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub sent_by_automation: Option<crate::automation::intake::SentBy>,
}

/// What to send through a node.
pub enum Outgoing {
    Text {
        text: String,
    },
    Media {
        media_type: String,
        /// Empty when sending a library file.
        url: String,
        caption: String,
        filename: String,
        /// A library file (`media_…`) instead of `url`; the node fetches it from us.
        library: Option<Box<crate::db::entities::media::Model>>,
    },
}

pub fn message_view(
    m: &message::Model,
    conversation: Uuid,
    urls: &crate::media::MediaUrls,
) -> MessageView {
    let status = u8::try_from(m.status)
        .ok()
        .and_then(MessageStatus::from_code)
        .unwrap_or(MessageStatus::Pending);
    MessageView {
        id: m.id,
        uuid: m.uuid,
        unique_id: m.wa_message_id.clone(),
        message_id: m.wa_message_id.clone(),
        conversation_id: conversation,
        direction: if m.from_me { "outgoing" } else { "incoming" },
        is_from_me: m.from_me,
        message_type: m.message_type.clone(),
        message_body: m.body.clone(),
        media: super::message_media::shown_media(urls, &m.message_type, m.uuid, m.media.as_ref()),
        quoted_message_id: m.quoted_id.clone(),
        mentioned_jids: m
            .mentioned_jids
            .as_ref()
            .and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default(),
        sender_jid: m.sender_jid.clone(),
        sender_name: m.sender_name.clone(),
        status: status.as_str(),
        status_code: m.status,
        is_edited: m.is_edited,
        is_deleted: m.is_deleted,
        timestamp: format_millis(m.sent_at),
        created_at: format_secs(m.created_at),
        sent_by_automation: crate::automation::intake::SentBy::of(m.automation_ref.as_deref()),
    }
}

fn ms_to_dt(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms)
        .single()
        .unwrap_or_else(Utc::now)
}

impl Services {
    pub async fn instance_qr(&self, caller: &Caller, reference: &str) -> AppResult<QrView> {
        let inst = self.find_instance(caller, reference).await?;
        let node = self.require_node(&inst).await?;
        let qr = node.qr().await?;
        let now_ms = Utc::now().timestamp_millis();
        let (message, expired) = match qr.status.as_str() {
            "connected" => ("Instance is already connected".to_owned(), false),
            "qr_ready" if qr.expires_at_ms > 0 && qr.expires_at_ms <= now_ms => {
                ("QR code expired; a new one is on its way".to_owned(), true)
            }
            "qr_ready" => ("QR code ready to scan".to_owned(), false),
            _ => (
                "QR code not available yet; try again in a moment".to_owned(),
                false,
            ),
        };
        Ok(QrView {
            status: qr.status,
            qr_code: qr.png_data_url,
            qr_code_text: qr.code,
            qr_generated_at: (qr.generated_at_ms > 0)
                .then(|| format_secs(ms_to_dt(qr.generated_at_ms))),
            qr_expired: expired,
            message,
        })
    }

    pub async fn instance_status(
        &self,
        caller: &Caller,
        reference: &str,
        realtime: bool,
    ) -> AppResult<StatusView> {
        let inst = self.find_instance(caller, reference).await?;
        if !realtime {
            return Ok(StatusView {
                id: inst.id,
                uuid: inst.uuid,
                connected: inst.status == InstanceStatus::Connected.as_str(),
                status: inst.status.clone(),
                phone_number: inst.phone_number.clone(),
                name: None,
                platform: None,
                reason: inst.status_reason.clone(),
                last_activity_at: inst.last_activity_at.map(format_secs),
                realtime: false,
            });
        }
        let node = self.require_node(&inst).await?;
        let st = node.status_within(Duration::from_secs(5)).await?;
        self.store_live_status(inst, st).await
    }

    /// Stores what the node just reported and shows it.
    async fn store_live_status(
        &self,
        inst: instance::Model,
        st: NodeStatus,
    ) -> AppResult<StatusView> {
        if let Ok(status) = st.status.parse::<InstanceStatus>() {
            let mut update = instance::Entity::update_many()
                .col_expr(instance::Column::Status, Expr::value(status.as_str()))
                .col_expr(
                    instance::Column::StatusReason,
                    Expr::value(st.reason.clone()),
                );
            if let Some(phone) = &st.phone_number {
                update = update.col_expr(instance::Column::PhoneNumber, Expr::value(phone.clone()));
            }
            update
                .filter(instance::Column::Id.eq(inst.id))
                .exec(&self.db)
                .await?;
            self.live
                .instance(inst.tenant_id, inst.uuid, super::live::Topic::Status);
        }
        Ok(StatusView {
            id: inst.id,
            uuid: inst.uuid,
            connected: st.status == InstanceStatus::Connected.as_str(),
            status: st.status,
            phone_number: st.phone_number.or(inst.phone_number),
            name: st.push_name,
            platform: st.platform,
            reason: st.reason,
            last_activity_at: inst.last_activity_at.map(format_secs),
            realtime: true,
        })
    }

    /// A pairing code for linking by phone number instead of the QR code.
    pub async fn instance_pair_code(
        &self,
        caller: &Caller,
        reference: &str,
        phone: &zapini_shared::phone::PhoneNumber,
    ) -> AppResult<String> {
        let inst = self.find_instance(caller, reference).await?;
        let node = self.require_node(&inst).await?;
        node.pair_code(phone.as_str()).await
    }

    /// Ends the WhatsApp session through the node: the next start needs a new scan.
    pub async fn instance_logout(&self, caller: &Caller, reference: &str) -> AppResult<StatusView> {
        let inst = self.find_instance(caller, reference).await?;
        let node = self.require_node(&inst).await?;
        let st = node.logout().await?;
        self.store_live_status(inst, st).await
    }

    /// `disconnect` or `reconnect` through the node.
    pub async fn instance_connection(
        &self,
        caller: &Caller,
        reference: &str,
        connect: bool,
    ) -> AppResult<StatusView> {
        let inst = self.find_instance(caller, reference).await?;
        let node = self.require_node(&inst).await?;
        let st = if connect {
            node.reconnect().await?
        } else {
            node.disconnect().await?
        };
        self.store_live_status(inst, st).await
    }

    /// Resolves the instance of a universal send: `instance_id` when given, else the one an
    /// `sk_` token is bound to.
    pub async fn send_target(
        &self,
        caller: &Caller,
        instance_id: Option<&str>,
    ) -> AppResult<instance::Model> {
        match (instance_id, caller) {
            (Some(r), _) => self.find_instance(caller, r).await,
            (None, Caller::Instance { instance_uuid, .. }) => {
                self.find_instance(caller, &instance_uuid.to_string()).await
            }
            (None, Caller::User { .. }) => Err(AppError::validation(
                "instance_id",
                "The instance_id field is required.",
            )),
        }
    }

    /// Sends through the instance's node and stores the message at once.
    pub async fn send_through_node(
        &self,
        inst: &instance::Model,
        recipient: &str,
        outgoing: Outgoing,
        reply_to: Option<&str>,
    ) -> AppResult<MessageView> {
        let to = Jid::parse_recipient(recipient)
            .map_err(|e| AppError::Client(e.into_error_body("recipient")))?;
        let sent_today = self.sent_today_count(inst.id).await?;
        if sent_today >= i64::from(inst.daily_limit) {
            return Err(AppError::Client(
                zapini_shared::error::ErrorBody::new(
                    ErrorCode::DailyLimitExceeded,
                    format!(
                        "Daily limit of {} messages reached for this instance; it resets at 00:00 UTC.",
                        inst.daily_limit
                    ),
                )
                .with_details(serde_json::json!({
                    "daily_limit": inst.daily_limit,
                    "messages_sent_today": sent_today,
                })),
            ));
        }
        let to_str = to.without_device().to_string();
        // The control plane has the authoritative automation state (and can name the
        // conversation); the node is told to skip its own copy of the check.
        self.check_manual_send(inst, &to_str).await?;
        let node = self.require_node(inst).await?;
        let (sent, record) = match outgoing {
            Outgoing::Text { text } => {
                let sent = node.send_text(&to_str, &text, reply_to, true, None).await?;
                (
                    sent,
                    InMessage {
                        message_type: "text".into(),
                        text,
                        ..InMessage::default()
                    },
                )
            }
            Outgoing::Media {
                media_type,
                url,
                caption,
                filename,
                library,
            } => {
                let filename = match (&library, filename.is_empty()) {
                    (Some(m), true) if media_type == "document" => m.filename.clone(),
                    _ => filename,
                };
                let sent = node
                    .send_media(
                        &to_str,
                        NodeMedia {
                            media_type: media_type.clone(),
                            url: url.clone(),
                            mime_type: library
                                .as_ref()
                                .map(|m| m.mime_type.clone())
                                .unwrap_or_default(),
                            caption: caption.clone(),
                            filename: filename.clone(),
                            media_id: library
                                .as_ref()
                                .map(|m| m.public_id.clone())
                                .unwrap_or_default(),
                        },
                        reply_to,
                        true,
                        None,
                    )
                    .await?;
                let media = match &library {
                    Some(m) => serde_json::json!({
                        "media_id": m.public_id,
                        "mime_type": m.mime_type,
                        "size": m.size,
                        "caption": (!caption.is_empty()).then_some(caption),
                        "filename": (!filename.is_empty()).then_some(filename),
                    }),
                    None => serde_json::json!({
                        "url": url,
                        "caption": (!caption.is_empty()).then_some(caption),
                        "filename": (!filename.is_empty()).then_some(filename),
                    }),
                };
                (
                    sent,
                    InMessage {
                        message_type: media_type,
                        media: Some(media),
                        ..InMessage::default()
                    },
                )
            }
        };
        let record = InMessage {
            id: sent.message_id,
            chat_jid: to_str,
            sender_jid: String::new(),
            from_me: true,
            quoted_id: reply_to.unwrap_or_default().to_owned(),
            timestamp: ms_to_dt(sent.timestamp_ms),
            ..record
        };
        // The node's own message.sent event may be ingested at the same moment; the insert is
        // idempotent, so a refused concurrent write is simply retried.
        let row = super::retry_write("recording a sent message", || {
            self.record_message(inst, record.clone())
        })
        .await?;
        let conv = conversation::Entity::find_by_id(row.conversation_id)
            .one(&self.db)
            .await?
            .map_or(Uuid::nil(), |c| c.uuid);
        Ok(message_view(&row, conv, &self.media_urls))
    }

    /// Counts for `/instances/{id}/stats`.
    pub(crate) async fn instance_counts(&self, instance_id: i64) -> AppResult<(i64, i64)> {
        let conversations = conversation::Entity::find()
            .filter(conversation::Column::InstanceId.eq(instance_id))
            .count(&self.db)
            .await?;
        let contacts = contact::Entity::find()
            .filter(contact::Column::InstanceId.eq(instance_id))
            .count(&self.db)
            .await?;
        Ok((conversations as i64, contacts as i64))
    }

    /// Edge routing: the node HTTP base serving an instance named by id or UUID (any tenant:
    /// the node authenticates the request itself).
    pub async fn node_route(&self, reference: &str) -> AppResult<Option<String>> {
        if let Some(hit) = self.route_cache.get(reference) {
            return Ok(hit);
        }
        let Ok(parsed) = InstanceRef::parse(reference) else {
            return Ok(None);
        };
        let query = instance::Entity::find();
        let inst = match parsed {
            InstanceRef::Numeric(id) => query.filter(instance::Column::Id.eq(id)),
            InstanceRef::Uuid(u) => query.filter(instance::Column::Uuid.eq(u)),
        }
        .one(&self.db)
        .await?;
        let url = match inst {
            Some(inst) => self.node_of(&inst).await?.map(|n| n.http_url),
            None => None,
        };
        self.route_cache.insert(reference.to_owned(), url.clone());
        Ok(url)
    }

    /// Edge routing for the apex: the node of the instance an `sk_` token belongs to.
    /// The token is looked up once per cache period; the node authenticates every request.
    pub async fn node_route_for_token(&self, token: &str) -> AppResult<Option<String>> {
        let key = format!(
            "sk:{}",
            zapini_shared::signing::sha256_hex(token.as_bytes())
        );
        if let Some(hit) = self.route_cache.get(&key) {
            return Ok(hit);
        }
        let route = match self.authenticate(token).await {
            Ok(Caller::Instance { instance_uuid, .. }) => {
                self.node_route(&instance_uuid.to_string()).await?
            }
            _ => None,
        };
        self.route_cache.insert(key, route.clone());
        Ok(route)
    }
}
