//! Running a function: the call is prepared (`automation::functions::call`), a `running`
//! execution is logged, one call goes through the outbound client (SSRF guard, timeouts, size
//! cap; never retried), and the outcome is recorded with credentials redacted from the URL,
//! headers and answer.

use std::time::Instant;

use chrono::Utc;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::automation::functions::call::{Definition, check_arguments, finish, prepare};
use crate::automation::functions::{ExecContext, ExecOutcome};
use crate::db::entities::{ai_function, ai_function_execution};
use crate::error::{AppError, AppResult};
use crate::service::Services;

impl Services {
    /// Runs `f` with `arguments` and logs the execution. The work runs in its own task, so a
    /// caller that goes away (a client hanging up on a test) cannot leave the record
    /// `running`.
    pub(super) async fn execute_function(
        &self,
        f: ai_function::Model,
        arguments: Value,
        ctx: ExecContext,
    ) -> AppResult<(ai_function_execution::Model, ExecOutcome)> {
        let services = self.clone();
        tokio::spawn(async move { services.execute_inner(f, arguments, ctx).await })
            .await
            .map_err(|e| AppError::internal(format!("AI function execution task: {e}")))?
    }

    async fn execute_inner(
        &self,
        f: ai_function::Model,
        arguments: Value,
        ctx: ExecContext,
    ) -> AppResult<(ai_function_execution::Model, ExecOutcome)> {
        let def = Definition::of(&f, &self.secrets);
        let prepared =
            check_arguments(&def.parameters, &arguments).and_then(|args| prepare(&def, &args));
        let now = Utc::now();
        let mut row = ai_function_execution::ActiveModel {
            uuid: Set(Uuid::new_v4()),
            tenant_id: Set(f.tenant_id),
            instance_id: Set(f.instance_id),
            function_id: Set(f.id),
            conversation_id: Set(ctx.conversation_id),
            session_id: Set(ctx.session_id),
            arguments: Set(arguments),
            request_method: Set(None),
            request_url: Set(None),
            request_headers: Set(None),
            status: Set("running".into()),
            http_status: Set(None),
            response_excerpt: Set(None),
            response_truncated: Set(false),
            duration_ms: Set(None),
            error: Set(None),
            is_test: Set(ctx.is_test),
            created_at: Set(now),
            finished_at: Set(None),
            ..Default::default()
        };
        let prepared = match prepared {
            Ok(p) => {
                row.request_method = Set(Some(p.method.clone()));
                row.request_url = Set(Some(p.logged_url.clone()));
                row.request_headers = Set(Some(json!(p.logged_headers)));
                Ok(p)
            }
            Err(message) => {
                // Refused before any call: recorded as finished.
                row.status = Set("error".into());
                row.error = Set(Some(message.clone()));
                row.duration_ms = Set(Some(0));
                row.finished_at = Set(Some(now));
                Err(message)
            }
        };
        let saved = self.insert_execution(&f, row).await?;
        let prepared = match prepared {
            Ok(p) => p,
            Err(message) => {
                let outcome = ExecOutcome {
                    execution_uuid: saved.uuid,
                    ok: false,
                    http_status: None,
                    result: json!({"error": message}),
                    error: Some(message),
                };
                return Ok((saved, outcome));
            }
        };
        let started = Instant::now();
        let answer = self.outbound.call(prepared.request).await;
        let duration = started.elapsed();
        let done = finish(answer, &prepared.secrets);
        let mut finished = saved;
        finished.status = done.status.into();
        finished.http_status = done.http_status.map(i32::from);
        finished.response_excerpt = done.excerpt;
        finished.response_truncated = done.truncated;
        finished.duration_ms = Some(i64::try_from(duration.as_millis()).unwrap_or(i64::MAX));
        finished.error = done.error.clone();
        finished.finished_at = Some(Utc::now());
        // By id, and without failing when the row is gone (its function's integration was
        // deleted meanwhile): the outcome still goes back to the caller.
        let id = finished.id;
        let update = ai_function_execution::ActiveModel {
            status: Set(finished.status.clone()),
            http_status: Set(finished.http_status),
            response_excerpt: Set(finished.response_excerpt.clone()),
            response_truncated: Set(finished.response_truncated),
            duration_ms: Set(finished.duration_ms),
            error: Set(finished.error.clone()),
            finished_at: Set(finished.finished_at),
            ..Default::default()
        };
        crate::service::retry_write("AI function execution", || {
            let update = update.clone();
            async move {
                let _permit = self.write_gate.enter().await;
                ai_function_execution::Entity::update_many()
                    .set(update)
                    .filter(ai_function_execution::Column::Id.eq(id))
                    .exec(&self.db)
                    .await?;
                Ok(())
            }
        })
        .await?;
        let saved = finished;
        let outcome = ExecOutcome {
            execution_uuid: saved.uuid,
            ok: done.status == "success",
            http_status: done.http_status,
            result: done.result,
            error: done.error,
        };
        Ok((saved, outcome))
    }

    /// Inserts the execution and counts it on the function, in one transaction.
    async fn insert_execution(
        &self,
        f: &ai_function::Model,
        row: ai_function_execution::ActiveModel,
    ) -> AppResult<ai_function_execution::Model> {
        let (txn, _permit) = crate::db::begin_write(&self.db, &self.write_gate).await?;
        let saved = row.insert(&txn).await?;
        ai_function::Entity::update_many()
            .col_expr(
                ai_function::Column::ExecutionsCount,
                Expr::col((ai_function::Entity, ai_function::Column::ExecutionsCount)).add(1),
            )
            .col_expr(
                ai_function::Column::LastExecutedAt,
                Expr::value(Some(saved.created_at)),
            )
            .filter(ai_function::Column::Id.eq(f.id))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(saved)
    }
}
