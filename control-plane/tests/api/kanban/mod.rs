//! The Kanban API against the real server: boards with their default columns, the default
//! board and exact statistics ([`boards`]); columns inserted, reordered with the complete
//! list, deleted with their leads moved ([`columns`]); leads in the reference's shape, their
//! filters, timeline, moves, won and lost ([`leads`]); links to the contact and conversation
//! of their number, and `lead.*` webhook events ([`links`]); AI qualification against a fake
//! OpenAI-compatible model and the AI agent's Kanban tools ([`qualify`]); `KANBAN_NOT_ENABLED`
//! and another tenant's or instance's ids on every route ([`isolation`]).

mod boards;
mod columns;
mod contract;
mod document;
mod isolation;
mod leads;
mod links;
mod qualify;

use control_plane::db::entities::user;
use control_plane::domain::TenantId;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::inbox_setup::Inbox;

/// The tenant of the user with `email`.
pub async fn tenant_of(app: &TestApp, email: &str) -> TenantId {
    let u = user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&app.services.db)
        .await
        .unwrap()
        .expect("the user exists");
    TenantId(u.tenant_id)
}

/// Turns Kanban on (as the operator's CLI does) for the tenant of `email`.
pub async fn enable_kanban(app: &TestApp, email: &str) {
    set_features(app, email, Some(true), None, None).await;
}

pub async fn set_features(
    app: &TestApp,
    email: &str,
    kanban: Option<bool>,
    currency: Option<&str>,
    locale: Option<&str>,
) {
    let tenant = tenant_of(app, email).await;
    let change = control_plane::service::tenant_settings::FeatureChange {
        kanban_enabled: kanban,
        currency: currency.map(|c| Some(c.to_owned())),
        locale: locale.map(|l| Some(l.to_owned())),
        ..Default::default()
    };
    app.services
        .set_tenant_features(tenant, change)
        .await
        .expect("set the tenant's features");
}

/// A tenant with Kanban enabled and a sandbox instance.
pub struct Kanban {
    pub t: Inbox,
}

impl Kanban {
    pub async fn new() -> Kanban {
        Self::with_config(|_| {}).await
    }

    pub async fn with_config(tweak: impl FnOnce(&mut control_plane::Config)) -> Kanban {
        let t = Inbox::with_config(tweak).await;
        enable_kanban(&t.app, crate::helpers::ADMIN_EMAIL).await;
        Kanban { t }
    }

    pub async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        self.t.call(method, path, body).await
    }

    /// A request that must answer `status`; answers the body.
    pub async fn ok(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let (got, answer) = self.call(method.clone(), path, body).await;
        assert_eq!(got, status, "{method} {path}: {answer}");
        answer
    }

    pub async fn get(&self, path: &str) -> Value {
        self.ok(Method::GET, path, None, 200).await
    }

    /// Creates a board on the instance; answers its details.
    pub async fn board(&self, name: &str) -> Value {
        self.ok(
            Method::POST,
            "/api/v1/kanban/boards",
            Some(json!({"name": name, "instance_id": self.t.uuid})),
            201,
        )
        .await["data"]
            .clone()
    }

    /// Creates a lead on `board` with `extra` fields; answers it.
    pub async fn lead(&self, board: &str, title: &str, extra: Value) -> Value {
        let mut body = json!({"board_uuid": board, "title": title});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.ok(Method::POST, "/api/v1/kanban/leads", Some(body), 201)
            .await["data"]
            .clone()
    }
}

/// The UUID of a JSON value's `uuid`.
pub fn uuid_of(v: &Value) -> String {
    v["uuid"].as_str().expect("a uuid").to_owned()
}

/// The error's field messages.
pub fn fields(body: &Value) -> Vec<String> {
    body["error"]["details"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}
