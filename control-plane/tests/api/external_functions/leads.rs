//! The lead actions. Their configuration is checked like every action's ([`super::crud`]);
//! the calls reach the Kanban service: a lead created on the function's instance, updated,
//! and refused without Kanban.

use reqwest::Method;
use serde_json::json;

use super::Xf;

/// Turns Kanban on for the test tenant.
async fn kanban_on(x: &Xf) {
    let (_, me) = x.call(Method::GET, "/auth/me", None).await;
    let tenant = me["data"]["tenant"]["id"]
        .as_i64()
        .expect("tenant id in /auth/me");
    x.t.app
        .services
        .set_tenant_features(
            control_plane::domain::TenantId(tenant),
            control_plane::service::tenant_settings::FeatureChange {
                kanban_enabled: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn lead_actions_need_kanban() {
    let x = Xf::new().await;
    let (_, key) = x
        .create(x.body(
            "lead",
            "create_lead",
            json!({"title": "Order {{order_id}}"}),
        ))
        .await;
    let a = x
        .execute("lead", Some(&key), json!({"order_id": 1}), None)
        .await;
    assert_eq!(a.status, 403, "{}", a.body);
    assert_eq!(a.body["error"]["code"], "KANBAN_NOT_ENABLED");
    // Its own checks come first: a missing placeholder is a 422 whatever Kanban's state.
    let a = x.execute("lead", Some(&key), json!({}), None).await;
    assert_eq!(a.status, 422, "{}", a.body);
    assert!(a.body["error"]["details"]["order_id"].is_array());
    x.t.app.stop().await;
}

#[tokio::test]
async fn create_lead_and_update_lead_reach_the_board() {
    let x = Xf::new().await;
    kanban_on(&x).await;
    let (uuid, key) = x
        .create(x.body(
            "lead",
            "create_lead",
            json!({"title": "Order {{order_id}}", "priority": "high", "notes": "From CRM {{crm}}"}),
        ))
        .await;
    let a = x
        .execute("lead", Some(&key), json!({"order_id": "A-1", "crm": "x", "phone": "5511977770000", "value": 299, "email": "c@example.com"}), None)
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let lead = &a.body["data"]["result"];
    assert_eq!(lead["title"], "Order A-1");
    assert_eq!(lead["priority"], "high");
    assert_eq!(lead["value"], "299.00");
    assert_eq!(lead["source"], "external_function");
    let lead_uuid = lead["uuid"].as_str().unwrap().to_owned();
    let (_, update_key) = x
        .create(x.body(
            "lead-up",
            "update_lead",
            json!({"notes": "Paid {{amount}}"}),
        ))
        .await;
    let a = x
        .execute(
            "lead-up",
            Some(&update_key),
            json!({"lead_uuid": lead_uuid, "amount": 10, "priority": "urgent"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["result"]["priority"], "urgent");
    let a = x
        .execute(
            "lead-up",
            Some(&update_key),
            json!({"lead_uuid": uuid::Uuid::new_v4(), "amount": 1}),
            None,
        )
        .await;
    assert_eq!(a.status, 404, "{}", a.body);
    assert_eq!(x.logs(&uuid).await.len(), 1);
    x.t.app.stop().await;
}
