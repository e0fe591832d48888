//! Connection control through an instance's node: the QR code, the pairing code, the live
//! status (stored as it is read), logout, disconnect and reconnect.

use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use uuid::Uuid;
use zapini_shared::status::InstanceStatus;
use zapini_shared::time::format_secs;

use super::{Services, datetime_from_millis};
use crate::db::entities::instance;
use crate::domain::Caller;
use crate::error::AppResult;
use crate::grpc::client::NodeStatus;

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
                .then(|| format_secs(datetime_from_millis(qr.generated_at_ms))),
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
                .instance(inst.tenant_id, inst.uuid, crate::live::Topic::Status);
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
}
