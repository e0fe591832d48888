//! The execution log (list, filters, details, redaction) and the AI agent's entry points.

use control_plane::automation::functions::ExecContext;
use control_plane::db::entities::automation_integration;
use reqwest::Method;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::{Ai, Fake, TOKEN, order_parameter};
use crate::helpers::assert_error;

#[tokio::test]
async fn the_execution_log_lists_and_shows_executions() {
    let ai = Ai::new().await;
    let fake = Fake::start().await;
    let uuid = ai
        .create(ai.body(
            "check_order_status",
            json!({
                "endpoint_url": fake.url("/orders"),
                "auth_type": "bearer",
                "auth_config": {"token": TOKEN},
                "parameters": order_parameter(),
            }),
        ))
        .await;
    let first = ai.test(&uuid, json!({"order_number": "A1"})).await;
    ai.test(&uuid, json!({})).await;
    let third = ai.test(&uuid, json!({"order_number": "A3"})).await;

    for prefix in ["", "/api/v1"] {
        let list =
            ai.t.get(&format!("{prefix}/ai-functions/{uuid}/executions"))
                .await;
        assert_eq!(list["meta"]["pagination"]["total"], 3, "{list}");
        assert_eq!(list["data"][0]["uuid"], third["uuid"]);
        assert_eq!(list["data"][0]["function_uuid"], uuid.as_str());
        assert_eq!(list["data"][0]["function_name"], "check_order_status");
        assert_eq!(list["data"][1]["status"], "error");
        assert_eq!(list["data"][2]["arguments"], json!({"order_number": "A1"}));
        assert!(!list.to_string().contains(TOKEN));

        let id = first["uuid"].as_str().unwrap();
        let shown =
            ai.t.get(&format!("{prefix}/ai-functions/executions/{id}"))
                .await;
        let e = &shown["data"];
        assert_eq!(e["uuid"], id);
        assert_eq!(e["status"], "success");
        assert_eq!(e["http_status"], 200);
        assert_eq!(e["request"]["method"], "GET");
        assert_eq!(e["request"]["headers"]["Authorization"], "[REDACTED]");
        assert_eq!(e["response"]["status"], "shipped");
        assert_eq!(e["response_truncated"], false);
        assert!(e["finished_at"].is_string());
        assert!(e["duration_ms"].is_u64());
        assert!(!shown.to_string().contains(TOKEN));
    }
    let page =
        ai.t.get(&format!(
            "/ai-functions/{uuid}/executions?per_page=1&page=3&status=success"
        ))
        .await;
    assert_eq!(page["meta"]["pagination"]["total"], 2);
    assert_eq!(page["data"].as_array().unwrap().len(), 0);
    let errors =
        ai.t.get(&format!("/ai-functions/{uuid}/executions?status=error"))
            .await;
    assert_eq!(errors["meta"]["pagination"]["total"], 1);
    let (status, _) = ai
        .call(
            Method::GET,
            &format!("/ai-functions/{uuid}/executions?status=odd"),
            None,
        )
        .await;
    assert_eq!(status, 422);
    let resp =
        ai.t.app
            .get(
                &format!("/ai-functions/executions/{}", uuid::Uuid::new_v4()),
                &ai.t.token,
            )
            .await;
    assert_error(resp, 404, "NOT_FOUND").await;
    let resp =
        ai.t.app
            .get("/ai-functions/executions/nope", &ai.t.token)
            .await;
    assert_error(resp, 404, "NOT_FOUND").await;

    let shown = ai.t.get(&format!("/ai-functions/{uuid}")).await;
    assert_eq!(shown["data"]["executions_count"], 3);
    assert!(shown["data"]["last_executed_at"].is_string());
    // Deleting the function deletes its log.
    let (status, _) = ai
        .call(Method::DELETE, &format!("/ai-functions/{uuid}"), None)
        .await;
    assert_eq!(status, 200);
    let id = first["uuid"].as_str().unwrap();
    let resp =
        ai.t.app
            .get(&format!("/ai-functions/executions/{id}"), &ai.t.token)
            .await;
    assert_error(resp, 404, "NOT_FOUND").await;
    ai.t.app.stop().await;
}

#[tokio::test]
async fn the_agent_gets_tools_and_runs_functions_by_name() {
    let ai = Ai::new().await;
    let fake = Fake::start().await;
    ai.create(ai.body(
        "check_order_status",
        json!({
            "endpoint_url": fake.url("/orders"),
            "parameters": [
                {"name": "order_number", "display_name": "Order Number",
                 "description": "The customer order number", "is_required": true,
                 "collect_from_user": true},
                {"name": "size", "type": "string", "enum": ["s", "m"]},
                {"name": "ids", "type": "array"}
            ],
        }),
    ))
    .await;
    ai.create(ai.body("disabled_fn", json!({"is_enabled": false})))
        .await;
    let services = &ai.t.app.services;
    let integration = automation_integration::Entity::find()
        .filter(
            automation_integration::Column::Uuid
                .eq(uuid::Uuid::parse_str(&ai.integration).unwrap()),
        )
        .one(&services.db)
        .await
        .unwrap()
        .unwrap();

    let tools = services.agent_tools(integration.id).await.unwrap();
    assert_eq!(tools.len(), 1, "{tools:?}");
    let t = &tools[0];
    assert_eq!(t.name, "check_order_status");
    assert!(
        t.description
            .contains("ask the contact for: Order Number (order_number)"),
        "{}",
        t.description
    );
    assert_eq!(t.collect_from_user, ["order_number"]);
    assert_eq!(t.parameters["type"], "object");
    assert_eq!(t.parameters["required"], json!(["order_number"]));
    assert_eq!(t.parameters["properties"]["order_number"]["type"], "string");
    assert_eq!(
        t.parameters["properties"]["size"]["enum"],
        json!(["s", "m"])
    );
    assert!(t.parameters["properties"]["ids"]["items"].is_object());

    let ctx = ExecContext {
        conversation_id: None,
        session_id: None,
        is_test: false,
    };
    let out = services
        .run_agent_function(
            integration.id,
            "check_order_status",
            json!({"order_number": "A7", "size": "m"}),
            ctx,
        )
        .await
        .unwrap();
    assert!(out.ok, "{out:?}");
    assert_eq!(out.http_status, Some(200));
    assert_eq!(out.result["status"], "shipped");
    assert_eq!(fake.last().query.as_deref(), Some("order_number=A7&size=m"));
    let out = services
        .run_agent_function(
            integration.id,
            "check_order_status",
            json!({"size": "xl"}),
            ctx,
        )
        .await
        .unwrap();
    assert!(!out.ok);
    assert!(out.result["error"].is_string(), "{out:?}");
    assert!(
        services
            .run_agent_function(integration.id, "disabled_fn", json!({}), ctx)
            .await
            .is_err()
    );
    assert!(
        services
            .run_agent_function(integration.id, "no_such_fn", json!({}), ctx)
            .await
            .is_err()
    );
    // The agent's executions are logged, not as tests.
    let shown =
        ai.t.get(&format!("/ai-functions/executions/{}", out.execution_uuid))
            .await;
    assert_eq!(shown["data"]["is_test"], false);
    assert_eq!(shown["data"]["status"], "error");
    ai.t.app.stop().await;
}
