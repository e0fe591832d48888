//! Calling an External Function from outside: the key (looked up by its SHA-256, so nothing
//! is compared byte by byte), the same 401 for an unknown slug and a wrong key, a disabled
//! function, the allowed addresses, the AI Agent gate, the daily limit counted by one
//! conditional update (concurrent calls cannot overshoot it), the body's fields, the action,
//! and the log of every call with the key and credentials redacted.
//!
//! Failed key checks are charged to the client address's budget (the API's unauthenticated
//! rate limit), so keys cannot be guessed at speed.

use std::time::Instant;

use axum::body::Bytes;
use chrono::{Duration as ChronoDuration, Utc};
use sea_orm::sea_query::{CaseStatement, Expr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::{Map, Value, json};
use uuid::Uuid;
use zapini_shared::error::{ErrorBody, ErrorCode, ErrorEnvelope};
use zapini_shared::signing::sha256_hex;

use super::addresses::ip_allowed;
use super::model::{ActionType, Config};
use super::service::today;
use super::views::CallView;
use crate::db::entities::{external_function, external_function_log};
use crate::domain::TenantId;
use crate::error::{AppError, AppResult};
use crate::service::Services;

/// The largest call body accepted.
pub const MAX_CALL_BODY: usize = 64 * 1024;
/// How much of a body that is not JSON the log keeps.
const LOGGED_TEXT: usize = 2048;
const REDACTED: &str = "[REDACTED]";
/// The newest calls kept in a function's log; older ones are removed as new ones come.
pub const KEPT_LOGS: u64 = 10_000;
/// The log is pruned on every this many-th logged call (of all functions).
const PRUNE_EVERY: i64 = 100;
/// Headers never logged in clear.
const SECRET_HEADERS: [&str; 5] = [
    "authorization",
    "x-api-key",
    "cookie",
    "proxy-authorization",
    "set-cookie",
];

/// One call as received.
pub struct CallInput {
    pub slug: String,
    /// From `Authorization: Bearer` or `X-Api-Key`.
    pub key: Option<String>,
    /// The client's address as the rate limiter sees it.
    pub client_ip: String,
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// `None`: larger than [`MAX_CALL_BODY`].
    pub body: Option<Bytes>,
}

/// A call that succeeded.
pub struct Called {
    pub message: &'static str,
    pub data: CallView,
}

fn unauthenticated() -> AppError {
    AppError::unauthenticated(
        "Invalid function or API key: send the function's key as Authorization: Bearer {key} or X-Api-Key.",
    )
}

/// Seconds until the next UTC midnight, when the daily count starts over.
fn until_next_utc_day() -> u64 {
    let now = Utc::now();
    let tomorrow = (now.date_naive() + ChronoDuration::days(1))
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(now);
    u64::try_from((tomorrow - now).num_seconds())
        .unwrap_or(0)
        .max(1)
}

/// Replaces every occurrence of the key in strings of `v`.
fn scrub(v: &mut Value, key: &str) {
    match v {
        Value::String(s) if !key.is_empty() && s.contains(key) => *s = s.replace(key, REDACTED),
        Value::Array(a) => a.iter_mut().for_each(|x| scrub(x, key)),
        Value::Object(o) => o.values_mut().for_each(|x| scrub(x, key)),
        _ => {}
    }
}

/// The request as logged: secret headers and the key itself redacted.
fn logged_request(input: &CallInput) -> Value {
    let key = input.key.as_deref().unwrap_or_default();
    let mut headers = Map::new();
    for (name, value) in &input.headers {
        let lower = name.to_ascii_lowercase();
        let shown = if SECRET_HEADERS.contains(&lower.as_str()) {
            REDACTED.to_owned()
        } else {
            value.clone()
        };
        headers.insert(lower, Value::String(shown));
    }
    let body = match &input.body {
        None => json!({"truncated": "The body was larger than the limit and was not read."}),
        Some(b) => serde_json::from_slice::<Value>(b).unwrap_or_else(|_| {
            Value::String(String::from_utf8_lossy(&b[..b.len().min(LOGGED_TEXT)]).into_owned())
        }),
    };
    let mut logged = json!({
        "method": input.method,
        "path": input.path,
        "headers": Value::Object(headers),
        "body": body,
    });
    scrub(&mut logged, key);
    logged
}

impl Services {
    /// The function a key opens, if it is the one named by `slug`.
    async fn function_for_key(
        &self,
        slug: &str,
        key: Option<&str>,
    ) -> AppResult<Option<external_function::Model>> {
        let Some(key) = key
            .map(str::trim)
            .filter(|k| !k.is_empty() && k.len() <= 256)
        else {
            return Ok(None);
        };
        let f = external_function::Entity::find()
            .filter(external_function::Column::ApiKeyHash.eq(sha256_hex(key.as_bytes())))
            .one(&self.db)
            .await?;
        Ok(f.filter(|f| f.slug == slug))
    }

    /// Counts one call against the function's day: `false` when the day is used up. One
    /// statement, whose condition is checked against the row as it is when written.
    async fn count_external_call(&self, f: &external_function::Model) -> AppResult<bool> {
        use sea_orm::sea_query::ExprTrait;
        let today = today();
        let same_day = external_function::Column::CallsDay.eq(today.clone());
        let counted = {
            let _permit = self.write_gate.enter().await;
            external_function::Entity::update_many()
                .col_expr(
                    external_function::Column::CallsToday,
                    CaseStatement::new()
                        .case(
                            same_day.clone(),
                            Expr::col(external_function::Column::CallsToday).add(1),
                        )
                        .finally(Expr::value(1))
                        .into(),
                )
                .col_expr(
                    external_function::Column::CallsDay,
                    Expr::value(today.clone()),
                )
                .col_expr(
                    external_function::Column::CallsTotal,
                    Expr::col(external_function::Column::CallsTotal).add(1),
                )
                .col_expr(
                    external_function::Column::LastCalledAt,
                    Expr::value(Some(Utc::now())),
                )
                .filter(external_function::Column::Id.eq(f.id))
                .filter(
                    Condition::any()
                        .add(external_function::Column::CallsDay.is_null())
                        .add(external_function::Column::CallsDay.ne(today))
                        .add(
                            Expr::col(external_function::Column::CallsToday)
                                .lt(Expr::col(external_function::Column::RateLimit)),
                        ),
                )
                .exec(&self.db)
                .await?
                .rows_affected
        };
        Ok(counted == 1)
    }

    /// Everything after the key: admission, the body, the action.
    async fn admit_and_run(
        &self,
        f: &external_function::Model,
        input: &CallInput,
        log_id: Uuid,
    ) -> AppResult<Called> {
        if !f.is_enabled {
            return Err(AppError::forbidden("This external function is disabled."));
        }
        let allowed: Vec<String> =
            serde_json::from_value(f.allowed_ips.clone()).unwrap_or_default();
        if !ip_allowed(&allowed, &input.client_ip) {
            return Err(AppError::Client(
                ErrorBody::new(
                    ErrorCode::Forbidden,
                    format!(
                        "The address {} may not call this function.",
                        input.client_ip
                    ),
                )
                .with_details(json!({"client_ip": input.client_ip})),
            ));
        }
        self.external_gate(TenantId(f.tenant_id), None).await?;
        if !self.count_external_call(f).await? {
            let retry_after = until_next_utc_day();
            return Err(AppError::RateLimited {
                body: ErrorBody::new(
                    ErrorCode::RateLimitExceeded,
                    format!(
                        "The function's limit of {} calls per day is used up; it starts over at 00:00 UTC (in {retry_after} seconds).",
                        f.rate_limit
                    ),
                )
                .with_details(json!({"rate_limit": f.rate_limit, "retry_after": retry_after})),
                retry_after,
            });
        }
        let Some(bytes) = &input.body else {
            return Err(AppError::new(
                ErrorCode::PayloadTooLarge,
                format!("The call's body may not be larger than {MAX_CALL_BODY} bytes."),
            ));
        };
        let fields: Map<String, Value> = if bytes.iter().all(u8::is_ascii_whitespace) {
            Map::new()
        } else {
            match crate::error::parse_json::<Value>(bytes)? {
                Value::Object(m) => m,
                Value::Null => Map::new(),
                _ => {
                    return Err(AppError::validation(
                        "body",
                        "The body must be a JSON object of the function's fields.",
                    ));
                }
            }
        };
        let action = ActionType::parse(&f.action_type)
            .ok_or_else(|| AppError::internal("unknown stored action type"))?;
        let config = Config::of(&f.config);
        let result = self
            .run_external_action(f, action, &config, &fields)
            .await?;
        Ok(Called {
            message: "Function executed successfully",
            data: CallView {
                function: f.slug.clone(),
                action_type: action.as_str(),
                log_id,
                result,
            },
        })
    }

    /// `POST /external-functions/{slug}/execute`. An unknown slug and a wrong key answer the
    /// same 401 and are not logged (they belong to no function); every other call is.
    pub async fn call_external_function(&self, input: CallInput) -> AppResult<Called> {
        let window = self.config.rate_limit_window_secs;
        let limit = u64::from(self.config.rate_limit_requests);
        let failures_key = format!("xfn-auth:{}", input.client_ip);
        let (failures, reset_at) = self.limiter.peek(&failures_key, window).await;
        if failures >= limit {
            let retry_after = reset_at
                .saturating_sub(Utc::now().timestamp().max(0) as u64)
                .max(1);
            return Err(AppError::RateLimited {
                body: ErrorBody::new(
                    ErrorCode::RateLimitExceeded,
                    format!(
                        "Too many calls with a wrong key from this address. Retry after {retry_after} seconds."
                    ),
                ),
                retry_after,
            });
        }
        let Some(f) = self
            .function_for_key(&input.slug, input.key.as_deref())
            .await?
        else {
            self.limiter.hit(&failures_key, limit, window).await;
            return Err(unauthenticated());
        };
        let started = Instant::now();
        let log_id = Uuid::new_v4();
        let outcome = self.admit_and_run(&f, &input, log_id).await;
        let (status, code, mut response) = match &outcome {
            Ok(c) => (
                200,
                None,
                json!({"success": true, "message": c.message, "data": c.data}),
            ),
            Err(AppError::Client(body)) | Err(AppError::RateLimited { body, .. }) => (
                body.http_status(),
                Some(body.code.as_str()),
                json!(ErrorEnvelope::from(body.clone())),
            ),
            Err(AppError::Unavailable(_)) => (
                503,
                Some(ErrorCode::ServiceUnavailable.as_str()),
                json!(ErrorEnvelope::from(ErrorBody::from_code(
                    ErrorCode::ServiceUnavailable
                ))),
            ),
            Err(AppError::Internal(_)) => (
                500,
                Some(ErrorCode::InternalError.as_str()),
                json!(ErrorEnvelope::from(ErrorBody::from_code(
                    ErrorCode::InternalError
                ))),
            ),
        };
        scrub(&mut response, input.key.as_deref().unwrap_or_default());
        let row = external_function_log::ActiveModel {
            uuid: Set(log_id),
            tenant_id: Set(f.tenant_id),
            instance_id: Set(f.instance_id),
            function_id: Set(f.id),
            client_ip: Set(input.client_ip.chars().take(64).collect()),
            http_status: Set(i32::from(status)),
            success: Set(outcome.is_ok()),
            error_code: Set(code.map(str::to_owned)),
            duration_ms: Set(i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)),
            request: Set(logged_request(&input)),
            response: Set(Some(response)),
            created_at: Set(Utc::now()),
            ..Default::default()
        };
        let written = {
            let _permit = self.write_gate.enter().await;
            row.insert(&self.db).await
        };
        match written {
            Ok(row) if row.id % PRUNE_EVERY == 0 => {
                if let Err(e) = self.prune_external_log(f.id).await {
                    tracing::warn!(error = %e, function = %f.uuid, "external function log not pruned");
                }
            }
            Ok(_) => {}
            // The call happened; a log that could not be written must not turn it into an
            // error for the caller.
            Err(e) => {
                tracing::warn!(error = %e, function = %f.uuid, "external function call not logged")
            }
        }
        outcome
    }

    /// Keeps a function's newest [`KEPT_LOGS`] calls (by the `(function_id, id)` index).
    async fn prune_external_log(&self, function_id: i64) -> AppResult<()> {
        let Some(oldest_kept) = external_function_log::Entity::find()
            .select_only()
            .column(external_function_log::Column::Id)
            .filter(external_function_log::Column::FunctionId.eq(function_id))
            .order_by_desc(external_function_log::Column::Id)
            .offset(KEPT_LOGS - 1)
            .limit(1)
            .into_tuple::<i64>()
            .one(&self.db)
            .await?
        else {
            return Ok(());
        };
        let _permit = self.write_gate.enter().await;
        external_function_log::Entity::delete_many()
            .filter(external_function_log::Column::FunctionId.eq(function_id))
            .filter(external_function_log::Column::Id.lt(oldest_kept))
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_and_secret_headers_are_redacted() {
        let input = CallInput {
            slug: "s".into(),
            key: Some("xfn_secret123".into()),
            client_ip: "127.0.0.1".into(),
            method: "POST".into(),
            path: "/external-functions/s/execute".into(),
            headers: vec![
                ("Authorization".into(), "Bearer xfn_secret123".into()),
                ("X-Api-Key".into(), "xfn_secret123".into()),
                ("X-Trace".into(), "has xfn_secret123 inside".into()),
                ("Content-Type".into(), "application/json".into()),
            ],
            body: Some(Bytes::from_static(
                br#"{"phone":"1","note":"key xfn_secret123"}"#,
            )),
        };
        let logged = logged_request(&input);
        let text = logged.to_string();
        assert!(!text.contains("xfn_secret123"), "{text}");
        assert_eq!(logged["headers"]["authorization"], REDACTED);
        assert_eq!(logged["headers"]["x-api-key"], REDACTED);
        assert_eq!(logged["headers"]["content-type"], "application/json");
        assert_eq!(logged["body"]["note"], "key [REDACTED]");
    }

    #[test]
    fn the_day_ends_at_utc_midnight() {
        let s = until_next_utc_day();
        assert!((1..=86_400).contains(&s));
    }
}
