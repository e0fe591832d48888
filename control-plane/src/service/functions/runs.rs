//! Running AI Functions for callers, and what they left: the API's test call and execution
//! log, and the two entry points of the AI agent ([`Services::agent_tools`],
//! [`Services::run_agent_function`]). Scoped and gated like the functions themselves
//! (see the parent module).

use std::collections::HashMap;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::Value;
use uuid::Uuid;
use zapini_shared::error::ErrorCode;

use super::{Page, not_found};
use crate::automation::functions::views::{ExecutionView, tool_spec};
use crate::automation::functions::{ExecContext, ExecOutcome, ToolSpec};
use crate::automation::lookup::uuids_by_id;
use crate::db::TenantScoped;
use crate::db::entities::{ai_function, ai_function_execution, automation_session, conversation};
use crate::db::listing::page_of;
use crate::domain::Caller;
use crate::error::{AppError, AppResult};
use crate::service::Services;

impl Services {
    /// `POST /ai-functions/{uuid}/test`: one execution with `parameters`, marked as a test.
    pub async fn test_ai_function(
        &self,
        caller: &Caller,
        reference: &str,
        parameters: Value,
    ) -> AppResult<ExecutionView> {
        self.ai_gate(caller).await?;
        let f = self.find_function(caller, reference).await?;
        let (uuid, name) = (f.uuid, f.name.clone());
        let ctx = ExecContext {
            is_test: true,
            ..ExecContext::default()
        };
        let (row, _) = self.execute_function(f, parameters, ctx).await?;
        Ok(ExecutionView::new(&row, (uuid, &name), None, None))
    }

    async fn execution_views(
        &self,
        rows: &[ai_function_execution::Model],
        functions: &HashMap<i64, (Uuid, String)>,
    ) -> AppResult<Vec<ExecutionView>> {
        let conversation_ids: Vec<i64> = rows.iter().filter_map(|r| r.conversation_id).collect();
        let session_ids: Vec<i64> = rows.iter().filter_map(|r| r.session_id).collect();
        let conversations = uuids_by_id(
            &self.db,
            conversation::Column::Id,
            conversation::Column::Uuid,
            conversation_ids,
        )
        .await?;
        let sessions = uuids_by_id(
            &self.db,
            automation_session::Column::Id,
            automation_session::Column::Uuid,
            session_ids,
        )
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let (uuid, name) = functions
                    .get(&r.function_id)
                    .map(|(u, n)| (*u, n.as_str()))
                    .unwrap_or_default();
                ExecutionView::new(
                    r,
                    (uuid, name),
                    r.conversation_id
                        .and_then(|c| conversations.get(&c).copied()),
                    r.session_id.and_then(|s| sessions.get(&s).copied()),
                )
            })
            .collect())
    }

    /// A function's executions, newest first.
    pub async fn list_ai_function_executions(
        &self,
        caller: &Caller,
        reference: &str,
        status: Option<&str>,
        page: u64,
        per_page: u64,
    ) -> AppResult<Page<ExecutionView>> {
        self.ai_gate(caller).await?;
        let f = self.find_function(caller, reference).await?;
        let mut q = ai_function_execution::Entity::scoped(caller.tenant())
            .filter(ai_function_execution::Column::FunctionId.eq(f.id));
        if let Some(s) = status {
            q = q.filter(ai_function_execution::Column::Status.eq(s));
        }
        let (rows, total) = page_of(
            &self.db,
            q.order_by_desc(ai_function_execution::Column::Id),
            page,
            per_page,
        )
        .await?;
        let functions = HashMap::from([(f.id, (f.uuid, f.name.clone()))]);
        Ok(Page {
            items: self.execution_views(&rows, &functions).await?,
            total,
        })
    }

    pub async fn get_ai_function_execution(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<ExecutionView> {
        self.ai_gate(caller).await?;
        let missing = || AppError::not_found(ErrorCode::NotFound, "AI function execution");
        let uuid = Uuid::parse_str(reference.trim()).map_err(|_| missing())?;
        let mut q = ai_function_execution::Entity::scoped(caller.tenant())
            .filter(ai_function_execution::Column::Uuid.eq(uuid));
        if let Some(bound) = caller.bound_instance() {
            q = q.filter(ai_function_execution::Column::InstanceId.eq(bound.0));
        }
        let row = q.one(&self.db).await?.ok_or_else(missing)?;
        let f = ai_function::Entity::find_by_id(row.function_id)
            .one(&self.db)
            .await?
            .ok_or_else(missing)?;
        let functions = HashMap::from([(f.id, (f.uuid, f.name))]);
        Ok(self
            .execution_views(std::slice::from_ref(&row), &functions)
            .await?
            .remove(0))
    }

    /// Enabled functions of an ai_agent integration as tool specs (by name), then the
    /// built-in Kanban tools when the tenant has Kanban (`crm::kanban::agent`).
    pub async fn agent_tools(&self, integration_id: i64) -> AppResult<Vec<ToolSpec>> {
        let rows = ai_function::Entity::find()
            .filter(ai_function::Column::IntegrationId.eq(integration_id))
            .filter(ai_function::Column::IsEnabled.eq(true))
            .order_by_asc(ai_function::Column::Name)
            .all(&self.db)
            .await?;
        let mut specs: Vec<ToolSpec> = rows.iter().map(tool_spec).collect();
        let kanban = self.kanban_agent_tools(integration_id, &specs).await?;
        specs.extend(kanban);
        Ok(specs)
    }

    /// Runs one function by name for the agent; never retries; logs the execution. An
    /// unknown or disabled name is `NOT_FOUND` (nothing is logged); everything else, refused
    /// arguments and failed calls included, is an [`ExecOutcome`].
    pub async fn run_agent_function(
        &self,
        integration_id: i64,
        name: &str,
        arguments: Value,
        ctx: ExecContext,
    ) -> AppResult<ExecOutcome> {
        let f = ai_function::Entity::find()
            .filter(ai_function::Column::IntegrationId.eq(integration_id))
            .filter(ai_function::Column::Name.eq(name))
            .filter(ai_function::Column::IsEnabled.eq(true))
            .one(&self.db)
            .await?;
        let Some(f) = f else {
            // The built-in Kanban tools (when the tenant has Kanban).
            return self
                .run_kanban_tool(integration_id, name, arguments, ctx)
                .await?
                .ok_or_else(not_found);
        };
        Ok(self.execute_function(f, arguments, ctx).await?.1)
    }
}
