//! The Calendar API against the real server: create, show, update, delete at both URL
//! forms, validation naming fields ([`crud`]); the list's range, filters and pagination
//! ([`range`]); status transitions ([`transitions`]); the tenant's time zone ([`timezone`]);
//! isolation on every route ([`scope`]); answers against the document ([`document`]); the
//! reminder job and the webhooks that every change queues ([`reminder`]); to-kanban
//! ([`kanban`]).

mod crud;
mod document;
mod kanban;
mod range;
mod reminder;
mod scope;
mod timezone;
mod transitions;

use control_plane::domain::TenantId;
use control_plane::service::tenant_settings::FeatureChange;
use reqwest::Method;
use serde_json::{Value, json};

use crate::inbox_setup::Inbox;

/// A tenant with an instance and its `sk_` token.
pub struct Cal {
    pub t: Inbox,
    pub sk: String,
}

impl Cal {
    pub async fn new() -> Cal {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(tweak: impl FnOnce(&mut control_plane::Config)) -> Cal {
        let t = Inbox::with_config(tweak).await;
        let sk = t.app.create_sk(&t.token, &t.instance["id"]).await;
        Cal { t, sk }
    }

    /// The `sk_` token's call.
    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.t.call_as(&self.sk, method, path, body).await
    }

    /// Creates an appointment with the `sk_` token; answers it.
    pub async fn create(&self, body: Value) -> Value {
        let (status, created) = self
            .call(Method::POST, "/api/v1/calendar/appointments", Some(body))
            .await;
        assert_eq!(status, 201, "{created}");
        created["data"].clone()
    }

    /// The tenant's id.
    pub async fn tenant(&self) -> TenantId {
        let me = self.t.get("/api/v1/auth/me").await;
        TenantId(me["data"]["tenant"]["id"].as_i64().unwrap())
    }
}

/// The reference's example body.
pub fn example() -> Value {
    json!({
        "title": "Consultation with John Doe",
        "client_name": "John Doe",
        "client_phone": "5511999999999",
        "client_email": "john@example.com",
        "starts_at": "2026-05-01T10:00:00",
        "ends_at": "2026-05-01T11:00:00",
        "location": "Online - Google Meet",
        "reminder_minutes": 30
    })
}

/// `body` with `extra`'s fields set.
pub fn with(mut body: Value, extra: Value) -> Value {
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

/// Turns Kanban on for `tenant`.
pub async fn enable_kanban(services: &control_plane::service::Services, tenant: TenantId) {
    services
        .set_tenant_features(
            tenant,
            FeatureChange {
                kanban_enabled: Some(true),
                ..FeatureChange::default()
            },
        )
        .await
        .unwrap();
}

/// Sets `tenant`'s time zone.
pub async fn set_timezone(
    services: &control_plane::service::Services,
    tenant: TenantId,
    zone: &str,
) {
    services
        .set_tenant_features(
            tenant,
            FeatureChange {
                timezone: Some(Some(zone.to_owned())),
                ..FeatureChange::default()
            },
        )
        .await
        .unwrap();
}
