//! The log keeps a function's newest calls ([`KEPT_LOGS`]): older entries go as new ones
//! come, other functions' entries stay.

use control_plane::crm::external::call::KEPT_LOGS;
use control_plane::db::entities::{external_function, external_function_log};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::json;

use super::Xf;

/// `n` old log entries of a function, written straight to the database.
async fn old_entries(x: &Xf, function: &external_function::Model, n: usize) {
    let rows: Vec<external_function_log::ActiveModel> = (0..n)
        .map(|_| external_function_log::ActiveModel {
            uuid: Set(uuid::Uuid::new_v4()),
            tenant_id: Set(function.tenant_id),
            instance_id: Set(function.instance_id),
            function_id: Set(function.id),
            client_ip: Set("192.0.2.1".into()),
            http_status: Set(200),
            success: Set(true),
            error_code: Set(None),
            duration_ms: Set(1),
            request: Set(json!({"method": "POST", "path": "/", "headers": {}, "body": {}})),
            response: Set(None),
            created_at: Set(chrono::Utc::now()),
            ..Default::default()
        })
        .collect();
    for chunk in rows.chunks(500) {
        external_function_log::Entity::insert_many(chunk.to_vec())
            .exec(&x.t.app.services.db)
            .await
            .unwrap();
    }
}

async fn count(x: &Xf, function_id: i64) -> u64 {
    external_function_log::Entity::find()
        .filter(external_function_log::Column::FunctionId.eq(function_id))
        .count(&x.t.app.services.db)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_log_keeps_each_functions_newest_calls() {
    let x = Xf::new().await;
    let (_, key) = x
        .create(x.body("contacts", "create_contact", json!({})))
        .await;
    let (other_uuid, _) = x.create(x.body("other", "create_contact", json!({}))).await;
    let db = &x.t.app.services.db;
    let find = |slug: &'static str| {
        external_function::Entity::find()
            .filter(external_function::Column::Slug.eq(slug))
            .one(db)
    };
    let f = find("contacts").await.unwrap().unwrap();
    let other = find("other").await.unwrap().unwrap();
    old_entries(&x, &other, 5).await;
    // Enough entries that the next call's entry is the 100th of a hundred, and more than
    // the log keeps.
    let kept = usize::try_from(KEPT_LOGS).unwrap();
    old_entries(&x, &f, kept + 94).await;
    assert_eq!(count(&x, f.id).await, KEPT_LOGS + 94);
    let a = x
        .execute(
            "contacts",
            Some(&key),
            json!({"phone": "5511912340000"}),
            None,
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(count(&x, f.id).await, KEPT_LOGS);
    // The newest entry (this call's) is kept; the other function's entries stay.
    let newest =
        x.t.get(&format!("/external-functions/{}/logs?per_page=1", f.uuid))
            .await;
    assert_eq!(newest["data"][0]["uuid"], a.body["data"]["log_id"]);
    assert_eq!(newest["meta"]["pagination"]["total"], KEPT_LOGS);
    assert_eq!(x.logs(&other_uuid).await.len(), 5);
    x.t.app.stop().await;
}
