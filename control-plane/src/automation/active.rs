//! The automations that may take a conversation: an instance's active flows and
//! integrations with their settings, in the order they are tried. Read-only.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::settings::Settings;
use crate::db::entities::{automation_flow, automation_integration};
use crate::error::AppResult;

/// Active automations of an instance with their settings, by priority (highest first, then
/// oldest).
pub(crate) async fn active_automations<C: ConnectionTrait>(
    conn: &C,
    instance_id: i64,
) -> AppResult<Vec<ActiveAutomation>> {
    let mut out: Vec<ActiveAutomation> = automation_flow::Entity::find()
        .filter(automation_flow::Column::InstanceId.eq(instance_id))
        .filter(automation_flow::Column::IsActive.eq(true))
        .all(conn)
        .await?
        .into_iter()
        .map(|f| ActiveAutomation {
            kind: "flow",
            id: f.id,
            uuid: f.uuid,
            priority: f.priority,
            settings: Settings::from_stored(f.settings.as_ref()),
        })
        .collect();
    out.extend(
        automation_integration::Entity::find()
            .filter(automation_integration::Column::InstanceId.eq(instance_id))
            .filter(automation_integration::Column::IsActive.eq(true))
            .all(conn)
            .await?
            .into_iter()
            .map(|i| ActiveAutomation {
                kind: "integration",
                id: i.id,
                uuid: i.uuid,
                priority: i.priority,
                settings: Settings::from_stored(i.settings.as_ref()),
            }),
    );
    out.sort_by(|a, b| {
        b.priority
            .cmp(&a.priority)
            .then(a.kind.cmp(b.kind))
            .then(a.id.cmp(&b.id))
    });
    Ok(out)
}

/// An active flow or integration.
#[derive(Debug, Clone)]
pub struct ActiveAutomation {
    pub kind: &'static str,
    pub id: i64,
    pub uuid: Uuid,
    pub priority: i32,
    pub settings: Settings,
}
