//! The use-cases the calendar and external functions call: a lead per appointment (created
//! once), found again by appointment, changed with a note and a move; and the gate.

use control_plane::crm::kanban::{Actor, LeadPatch, NewLead, Priority};
use control_plane::domain::InstanceId;
use reqwest::Method;
use rust_decimal::Decimal;
use serde_json::json;

use super::{Kanban, set_features, tenant_of, uuid_of};
use crate::helpers::ADMIN_EMAIL;

#[tokio::test]
async fn other_parts_create_find_and_update_leads() {
    let k = Kanban::new().await;
    let services = &k.t.app.services;
    let tenant = tenant_of(&k.t.app, ADMIN_EMAIL).await;
    let instance_id: i64 = k.t.instance["id"].as_i64().expect("a numeric instance id");

    // No board yet: the instance gets a default one.
    let mut new = NewLead::titled("Consultation with John", "calendar", Actor::calendar());
    new.instance_id = Some(InstanceId(instance_id));
    new.phone_number = Some("+55 11 99999-9999".into());
    new.value = Some(Decimal::new(15050, 2));
    new.priority = Some(Priority::High);
    new.appointment_id = Some(42);
    let lead = services.create_lead(tenant, new.clone()).await.unwrap();
    assert_eq!(lead.source, "calendar");
    assert_eq!(lead.value.as_deref(), Some("150.50"));
    assert_eq!(lead.phone_number.as_deref(), Some("5511999999999"));
    assert_eq!(lead.column.name, "New Lead");
    let boards = k.get("/api/v1/kanban/boards").await["data"].clone();
    assert_eq!(boards[0]["name"], "Sales Pipeline");
    assert_eq!(boards[0]["is_default"], true);

    // The same appointment again: the same lead.
    let again = services.create_lead(tenant, new.clone()).await.unwrap();
    assert_eq!(again.uuid, lead.uuid);
    let found = services.lead_for_appointment(tenant, 42).await.unwrap();
    assert_eq!(found.map(|l| l.uuid), Some(lead.uuid));
    assert!(
        services
            .lead_for_appointment(tenant, 43)
            .await
            .unwrap()
            .is_none()
    );

    // A change with a note and a move.
    let board = k
        .get(&format!("/api/v1/kanban/boards/{}", uuid_of(&boards[0])))
        .await["data"]
        .clone();
    let column = uuid::Uuid::parse_str(&uuid_of(&board["columns"][2])).unwrap();
    let changed = services
        .update_lead(
            tenant,
            lead.uuid,
            LeadPatch {
                value: Some(Some(Decimal::new(200, 0))),
                note: Some("Confirmed by WhatsApp".into()),
                column_uuid: Some(column),
                actor: Some(Actor::external_function("crm-sync")),
                ..LeadPatch::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.value.as_deref(), Some("200.00"));
    assert_eq!(changed.column.name, "Qualified");
    let activities = k
        .get(&format!("/api/v1/kanban/leads/{}/activities", lead.uuid))
        .await["data"]
        .clone();
    let kinds: Vec<&str> = activities
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["moved", "note", "updated", "created"]);
    assert_eq!(
        activities[0]["actor"],
        json!({"type": "external_function", "name": "crm-sync"})
    );
    assert_eq!(activities[3]["actor"]["type"], "calendar");

    // A deleted lead gives its appointment up.
    k.ok(
        Method::DELETE,
        &format!("/api/v1/kanban/leads/{}", lead.uuid),
        None,
        200,
    )
    .await;
    assert!(
        services
            .lead_for_appointment(tenant, 42)
            .await
            .unwrap()
            .is_none()
    );
    let fresh = services.create_lead(tenant, new.clone()).await.unwrap();
    assert_ne!(fresh.uuid, lead.uuid);

    // Refused input, and the gate.
    let mut bad = NewLead::titled(" ", "api", Actor::system());
    bad.instance_id = Some(InstanceId(instance_id));
    assert!(services.create_lead(tenant, bad).await.is_err());
    set_features(&k.t.app, ADMIN_EMAIL, Some(false), None, None).await;
    let err = services.create_lead(tenant, new).await.unwrap_err();
    assert!(
        err.to_string().contains("Kanban") || format!("{err:?}").contains("KanbanNotEnabled"),
        "{err:?}"
    );
    k.t.app.stop().await;
}
