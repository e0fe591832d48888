//! Webhook use-cases: configure an instance's webhook (`PUT`/`GET`/`DELETE
//! /instances/{id}/webhook`), read its delivery log, and replay deliveries. Secrets are sealed
//! at rest and never shown again after the response that created them.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;
use zapini_shared::envelope::{Meta, PageRequest};
use zapini_shared::error::ErrorCode;
use zapini_shared::netguard::{self, UrlRefused};

use super::Services;
use crate::db::TenantScoped;
use crate::db::entities::{instance, webhook_attempt, webhook_delivery, webhook_endpoint};
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::live::Topic;
use crate::webhooks::{DELIVERED, FAILED, PENDING, Subscription, events::NAMES};

/// A `PUT /instances/{id}/webhook` body, parsed.
#[derive(Debug, Clone)]
pub struct WebhookInput {
    pub url: String,
    pub secret: Option<String>,
    pub events: Option<Vec<String>>,
    pub is_active: Option<bool>,
}

/// An instance's webhook.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebhookView {
    #[schema(example = 777)]
    pub instance_id: i64,
    pub instance_uuid: Uuid,
    #[schema(example = "https://your-server.com/webhook")]
    pub webhook_url: String,
    /// The events delivered; every event when the webhook was configured without a list.
    #[schema(value_type = Vec<String>, example = json!(["message.incoming", "message.status"]))]
    pub events: Vec<&'static str>,
    pub is_active: bool,
    /// `active`, `inactive` (turned off by the user) or `disabled` (by the platform).
    #[schema(value_type = String, pattern = "^(active|inactive|disabled)$", example = "active")]
    pub status: &'static str,
    /// The last characters of the secret.
    #[schema(example = "…here")]
    pub secret_hint: String,
    /// The full secret, only in the response that generated it (a new webhook configured
    /// without `webhook_secret`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub webhook_secret: Option<String>,
    /// Until then deliveries are signed with the previous secret too.
    #[schema(format = DateTime)]
    pub previous_secret_expires_at: Option<String>,
    /// Deliveries have failed since then.
    #[schema(format = DateTime)]
    pub failing_since: Option<String>,
    /// When the platform disabled the webhook (after failing for too long).
    #[schema(format = DateTime)]
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// One event's delivery to the webhook (its `id` is the `X-Webhook-Delivery` header).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    #[schema(example = "message.incoming")]
    pub event: String,
    /// `pending`, `delivered` or `failed`.
    #[schema(pattern = "^(pending|delivered|failed)$", example = "delivered")]
    pub status: String,
    #[schema(example = 1)]
    pub attempts: i32,
    /// The HTTP status of the last attempt.
    #[schema(example = 200)]
    pub last_status_code: Option<i32>,
    pub last_latency_ms: Option<i32>,
    pub last_error: Option<String>,
    /// When the next attempt is due (pending deliveries only).
    #[schema(format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
}

/// One attempt of a delivery.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    pub attempt: i32,
    /// The receiver's HTTP status; `null` when no answer came (timeout, refused connection).
    pub status_code: Option<i32>,
    pub latency_ms: i32,
    pub error: Option<String>,
    #[schema(format = DateTime)]
    pub attempted_at: String,
}

/// A delivery with the payload sent and every attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryDetail {
    #[serde(flatten)]
    pub delivery: DeliveryView,
    /// The JSON body sent (the event's payload).
    #[schema(value_type = Object)]
    pub payload: Value,
    pub attempts_log: Vec<AttemptView>,
}

/// Filters of the delivery log.
#[derive(Debug, Default, Clone)]
pub struct DeliveryFilter {
    pub status: Option<String>,
    pub event: Option<String>,
    pub since: Option<DateTime<Utc>>,
}

fn fmt(dt: DateTime<Utc>) -> String {
    zapini_shared::time::format_secs(dt)
}

fn refused(reason: UrlRefused) -> AppError {
    let message = match reason {
        UrlRefused::Private => {
            "The webhook_url must not point to a private, loopback, link-local or metadata address."
                .to_owned()
        }
        other => format!("The webhook_url {other}."),
    };
    AppError::validation("webhook_url", message)
}

fn webhook_not_found() -> AppError {
    AppError::new(
        ErrorCode::NotFound,
        "No webhook is configured for this instance.",
    )
}

fn delivery_not_found() -> AppError {
    AppError::not_found(ErrorCode::NotFound, "Webhook delivery")
}

impl Services {
    fn view(
        &self,
        instance: &instance::Model,
        e: &webhook_endpoint::Model,
        shown_secret: Option<String>,
    ) -> WebhookView {
        let secret = self.secrets.open(&e.secret_enc).unwrap_or_default();
        let now = Utc::now();
        WebhookView {
            instance_id: instance.id,
            instance_uuid: instance.uuid,
            webhook_url: e.url.clone(),
            events: Subscription::from_stored(e.events.as_deref()).names(),
            is_active: e.is_active,
            status: match (e.is_active, e.disabled_at.is_some()) {
                (_, true) => "disabled",
                (true, false) => "active",
                (false, false) => "inactive",
            },
            secret_hint: crate::crypto::mask(&secret),
            webhook_secret: shown_secret,
            previous_secret_expires_at: e
                .previous_secret_until
                .filter(|until| *until > now && e.previous_secret_enc.is_some())
                .map(fmt),
            failing_since: e.failing_since.map(fmt),
            disabled_at: e.disabled_at.map(fmt),
            disabled_reason: e.disabled_reason.clone(),
            created_at: fmt(e.created_at),
            updated_at: fmt(e.updated_at),
        }
    }

    async fn endpoint_of(
        &self,
        instance: &instance::Model,
    ) -> AppResult<Option<webhook_endpoint::Model>> {
        Ok(
            webhook_endpoint::Entity::scoped(crate::domain::TenantId(instance.tenant_id))
                .filter(webhook_endpoint::Column::InstanceId.eq(instance.id))
                .one(&self.db)
                .await?,
        )
    }

    /// Creates or replaces the instance's webhook. Returns the view and whether it was
    /// created. A new secret replaces the old one, which keeps signing (as the previous
    /// secret) for the configured overlap; a PUT that does not turn the webhook off also
    /// re-enables one the platform disabled.
    pub async fn put_webhook(
        &self,
        caller: &Caller,
        reference: &str,
        input: WebhookInput,
    ) -> AppResult<(WebhookView, bool)> {
        let instance = self.find_instance(caller, reference).await?;
        let settings = &self.config.webhooks;
        let url = input.url.trim();
        if url.is_empty() {
            return Err(AppError::validation(
                "webhook_url",
                "The webhook_url field is required.",
            ));
        }
        if url.len() > 2048 {
            return Err(AppError::validation(
                "webhook_url",
                "The webhook_url must not be longer than 2048 characters.",
            ));
        }
        let url = netguard::check_url(url, settings.allow_http, self.config.allow_private_urls)
            .map_err(refused)?
            .to_string();
        if let Some(secret) = &input.secret {
            let len = secret.chars().count();
            if !(8..=256).contains(&len) || secret.trim() != secret {
                return Err(AppError::validation(
                    "webhook_secret",
                    "The webhook_secret must be 8 to 256 characters, without surrounding spaces.",
                ));
            }
        }
        let subscription = match &input.events {
            None => None,
            Some(names) => Some(Subscription::parse(names).map_err(|unknown| {
                AppError::Client(
                    zapini_shared::ErrorBody::validation(
                        "events",
                        format!("Unknown event(s): {}.", unknown.join(", ")),
                    )
                    .with_details(serde_json::json!({
                        "events": [format!("Unknown event(s): {}.", unknown.join(", "))],
                        "allowed_events": NAMES.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
                    })),
                )
            })?),
        };
        let now = Utc::now();
        let existing = self.endpoint_of(&instance).await?;
        let (model, created, shown) = match existing {
            None => {
                let (secret, shown) = match input.secret {
                    Some(s) => (s, None),
                    None => {
                        let s = format!("whsec_{}", crate::crypto::random_secret(32));
                        (s.clone(), Some(s))
                    }
                };
                let active = webhook_endpoint::ActiveModel {
                    tenant_id: Set(instance.tenant_id),
                    instance_id: Set(instance.id),
                    url: Set(url),
                    secret_enc: Set(self.secrets.seal(&secret)),
                    previous_secret_enc: Set(None),
                    previous_secret_until: Set(None),
                    events: Set(subscription.and_then(|s| s.to_stored())),
                    is_active: Set(input.is_active.unwrap_or(true)),
                    failing_since: Set(None),
                    disabled_at: Set(None),
                    disabled_reason: Set(None),
                    created_at: Set(now),
                    updated_at: Set(now),
                    ..Default::default()
                };
                (active.insert(&self.db).await?, true, shown)
            }
            Some(current) => {
                let mut active: webhook_endpoint::ActiveModel = current.clone().into();
                active.url = Set(url);
                if let Some(secret) = input.secret {
                    let old = self.secrets.open(&current.secret_enc).ok();
                    if old.as_deref() != Some(secret.as_str()) {
                        let overlap = settings.secret_overlap;
                        match old {
                            Some(_) if !overlap.is_zero() => {
                                active.previous_secret_enc = Set(Some(current.secret_enc.clone()));
                                active.previous_secret_until = Set(Some(
                                    now + chrono::Duration::from_std(overlap).unwrap_or_default(),
                                ));
                            }
                            _ => {
                                active.previous_secret_enc = Set(None);
                                active.previous_secret_until = Set(None);
                            }
                        }
                        active.secret_enc = Set(self.secrets.seal(&secret));
                    }
                }
                if let Some(sub) = subscription {
                    active.events = Set(sub.to_stored());
                }
                let is_active = input.is_active.unwrap_or(current.is_active);
                active.is_active = Set(is_active);
                if is_active {
                    active.disabled_at = Set(None);
                    active.disabled_reason = Set(None);
                    active.failing_since = Set(None);
                }
                active.updated_at = Set(now);
                (active.update(&self.db).await?, false, None)
            }
        };
        // Deliveries waiting for a re-enabled endpoint may go now.
        self.webhook_signal.notify();
        Ok((self.view(&instance, &model, shown), created))
    }

    pub async fn get_webhook(&self, caller: &Caller, reference: &str) -> AppResult<WebhookView> {
        let instance = self.find_instance(caller, reference).await?;
        let e = self
            .endpoint_of(&instance)
            .await?
            .ok_or_else(webhook_not_found)?;
        Ok(self.view(&instance, &e, None))
    }

    /// Removes the webhook together with its pending deliveries and log.
    pub async fn delete_webhook(&self, caller: &Caller, reference: &str) -> AppResult<()> {
        let instance = self.find_instance(caller, reference).await?;
        let e = self
            .endpoint_of(&instance)
            .await?
            .ok_or_else(webhook_not_found)?;
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let ids: Vec<i64> = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::EndpointId.eq(e.id))
            .select_only()
            .column(webhook_delivery::Column::Id)
            .into_tuple()
            .all(&txn)
            .await?;
        for chunk in ids.chunks(500) {
            webhook_attempt::Entity::delete_many()
                .filter(webhook_attempt::Column::DeliveryId.is_in(chunk.to_vec()))
                .exec(&txn)
                .await?;
        }
        webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::EndpointId.eq(e.id))
            .exec(&txn)
            .await?;
        webhook_endpoint::Entity::delete_by_id(e.id)
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The delivery log, newest first.
    pub async fn list_deliveries(
        &self,
        caller: &Caller,
        reference: &str,
        filter: DeliveryFilter,
        page: PageRequest,
    ) -> AppResult<(Vec<DeliveryView>, Meta)> {
        let instance = self.find_instance(caller, reference).await?;
        let mut query = webhook_delivery::Entity::scoped(caller.tenant())
            .filter(webhook_delivery::Column::InstanceId.eq(instance.id));
        if let Some(status) = &filter.status {
            query = query.filter(webhook_delivery::Column::Status.eq(status.clone()));
        }
        if let Some(event) = &filter.event {
            query = query.filter(webhook_delivery::Column::Event.eq(event.clone()));
        }
        if let Some(since) = filter.since {
            query = query.filter(webhook_delivery::Column::CreatedAt.gte(since));
        }
        let (rows, total) = crate::db::listing::page_of(
            &self.db,
            query.order_by_desc(webhook_delivery::Column::Id),
            page.page,
            page.limit(),
        )
        .await?;
        let views = rows.into_iter().map(delivery_view).collect();
        Ok((views, page.meta(total)))
    }

    async fn find_delivery(
        &self,
        caller: &Caller,
        reference: &str,
        delivery: &str,
    ) -> AppResult<(instance::Model, webhook_delivery::Model)> {
        let instance = self.find_instance(caller, reference).await?;
        let uuid = Uuid::parse_str(delivery.trim()).map_err(|_| delivery_not_found())?;
        let row = webhook_delivery::Entity::scoped(caller.tenant())
            .filter(webhook_delivery::Column::InstanceId.eq(instance.id))
            .filter(webhook_delivery::Column::Uuid.eq(uuid))
            .one(&self.db)
            .await?
            .ok_or_else(delivery_not_found)?;
        Ok((instance, row))
    }

    /// One delivery with its payload and every attempt.
    pub async fn show_delivery(
        &self,
        caller: &Caller,
        reference: &str,
        delivery: &str,
    ) -> AppResult<DeliveryDetail> {
        let (_, row) = self.find_delivery(caller, reference, delivery).await?;
        let attempts = webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::DeliveryId.eq(row.id))
            .order_by_asc(webhook_attempt::Column::Id)
            .all(&self.db)
            .await?;
        let payload = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
        let mut log: Vec<AttemptView> = attempts
            .into_iter()
            .map(|a| AttemptView {
                attempt: a.attempt,
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error,
                attempted_at: fmt(a.created_at),
            })
            .collect();
        // Failed attempts have rows of their own; the success is on the delivery.
        if let (Some(at), Some(code), Some(latency)) =
            (row.delivered_at, row.last_status_code, row.last_latency_ms)
            && row.status == DELIVERED
        {
            log.push(AttemptView {
                attempt: row.attempts,
                status_code: Some(code),
                latency_ms: latency,
                error: None,
                attempted_at: fmt(at),
            });
        }
        Ok(DeliveryDetail {
            delivery: delivery_view(row),
            payload,
            attempts_log: log,
        })
    }

    /// Sends one delivery again now (same body and delivery id), whatever its state.
    pub async fn replay_delivery(
        &self,
        caller: &Caller,
        reference: &str,
        delivery: &str,
    ) -> AppResult<DeliveryView> {
        let (instance, row) = self.find_delivery(caller, reference, delivery).await?;
        let now = Utc::now();
        webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Status, Expr::value(PENDING))
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_delivery::Column::Id.eq(row.id))
            .filter(webhook_delivery::Column::Status.ne(PENDING))
            .exec(&self.db)
            .await?;
        self.webhook_signal.notify();
        self.live
            .instance(instance.tenant_id, instance.uuid, Topic::Delivery);
        let row = webhook_delivery::Entity::find_by_id(row.id)
            .one(&self.db)
            .await?
            .ok_or_else(delivery_not_found)?;
        Ok(delivery_view(row))
    }

    /// Queues every delivery in `status` (failed by default) created since `since` again.
    pub async fn replay_deliveries(
        &self,
        caller: &Caller,
        reference: &str,
        since: DateTime<Utc>,
        status: &str,
    ) -> AppResult<u64> {
        let instance = self.find_instance(caller, reference).await?;
        let now = Utc::now();
        let result = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Status, Expr::value(PENDING))
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(now))
            .col_expr(webhook_delivery::Column::UpdatedAt, Expr::value(now))
            .filter(webhook_delivery::Column::TenantId.eq(instance.tenant_id))
            .filter(webhook_delivery::Column::InstanceId.eq(instance.id))
            .filter(webhook_delivery::Column::Status.eq(status))
            .filter(webhook_delivery::Column::CreatedAt.gte(since))
            .exec(&self.db)
            .await?;
        self.webhook_signal.notify();
        if result.rows_affected > 0 {
            self.live
                .instance(instance.tenant_id, instance.uuid, Topic::Delivery);
        }
        Ok(result.rows_affected)
    }
}

/// Statuses a log query or a bulk replay may name.
pub fn parse_delivery_status(field: &str, value: &str) -> AppResult<&'static str> {
    match value.trim() {
        "pending" => Ok(PENDING),
        "delivered" => Ok(DELIVERED),
        "failed" => Ok(FAILED),
        _ => Err(AppError::validation(
            field,
            format!("The {field} field must be pending, delivered or failed."),
        )),
    }
}

fn delivery_view(d: webhook_delivery::Model) -> DeliveryView {
    DeliveryView {
        id: d.uuid,
        next_attempt_at: (d.status == PENDING).then(|| fmt(d.next_attempt_at)),
        event: d.event,
        status: d.status,
        attempts: d.attempts,
        last_status_code: d.last_status_code,
        last_latency_ms: d.last_latency_ms,
        last_error: d.last_error,
        created_at: fmt(d.created_at),
        delivered_at: d.delivered_at.map(fmt),
    }
}
