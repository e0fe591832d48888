//! One delivery attempt over HTTP: the reference's headers, both signatures, the timeout,
//! and what the response means (delivered, retry when, or give up).

use std::time::{Duration, Instant};

use chrono::Utc;
use zapini_shared::netguard;
use zapini_shared::signing::{sign_hex, sign_timestamped_hex};

use super::super::retry::{Next, after_failure};
use super::{ERROR_BODY_CHARS, Inner, Outcome, Target, Whose};
use crate::db::entities::webhook_delivery;

/// The most of a receiver's answer that is read (64 KiB); the rest is never downloaded.
pub(super) const RESPONSE_BODY_LIMIT: usize = 64 * 1024;

/// One HTTP attempt with the reference's headers plus the replay-protected signature.
pub(super) async fn attempt(
    inner: &Inner,
    target: &Target,
    d: &webhook_delivery::Model,
) -> Outcome {
    let number = d.attempts + 1;
    let started = Instant::now();
    let result = send(inner, target, d, number).await;
    let took = started.elapsed();
    let latency_ms = i32::try_from(took.as_millis()).unwrap_or(i32::MAX);
    let outcome = match result {
        Ok(status) if (200..300).contains(&status) => Outcome::Delivered {
            id: d.id,
            endpoint_id: d.endpoint_id,
            whose: Whose::of(d),
            status,
            latency_ms,
        },
        other => {
            let (status, error) = match other {
                Ok(status) => (Some(status), format!("HTTP {status}")),
                Err(AttemptError { status, error }) => (status, error),
            };
            let gone = status == Some(410);
            let next_at = if gone {
                None
            } else {
                match after_failure(
                    &inner.settings.retry_schedule,
                    usize::try_from(number).unwrap_or(usize::MAX),
                    rand::random::<f64>(),
                ) {
                    Next::RetryIn(delay) => {
                        Some(Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default())
                    }
                    Next::GiveUp => None,
                }
            };
            Outcome::Failed {
                id: d.id,
                endpoint_id: d.endpoint_id,
                whose: Whose::of(d),
                ordering_key: d.ordering_key.clone(),
                instance_id: d.instance_id,
                attempt: number,
                status,
                latency_ms,
                error,
                next_at,
                gone,
            }
        }
    };
    use crate::metrics::AttemptOutcome as A;
    let kind = match &outcome {
        Outcome::Delivered { .. } => A::Delivered,
        Outcome::Failed {
            next_at: Some(_), ..
        } => A::Retry,
        Outcome::Failed { .. } | Outcome::Release { .. } => A::Failed,
    };
    crate::metrics::webhook_attempt(kind, took);
    outcome
}

struct AttemptError {
    status: Option<u16>,
    error: String,
}

impl AttemptError {
    fn new(error: impl Into<String>) -> Self {
        AttemptError {
            status: None,
            error: error.into(),
        }
    }
}

async fn send(
    inner: &Inner,
    target: &Target,
    d: &webhook_delivery::Model,
    number: i32,
) -> Result<u16, AttemptError> {
    let url = target.url.clone().map_err(AttemptError::new)?;
    let secret = target.secret.as_ref().map_err(AttemptError::new)?;
    let body = d.payload.as_bytes();
    let timestamp = Utc::now().timestamp();
    let mut timestamped = format!(
        "v1={}",
        sign_timestamped_hex(secret.as_bytes(), timestamp, body)
    );
    let mut request = inner
        .client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header("X-Webhook-Signature", sign_hex(secret.as_bytes(), body))
        .header("X-Webhook-Event", &d.event)
        .header("X-Instance-UUID", d.instance_uuid.to_string())
        .header("X-Webhook-Delivery-Id", d.uuid.to_string())
        .header("X-Webhook-Attempt", number.to_string())
        .header("X-Webhook-Timestamp", timestamp.to_string());
    if let Some(previous) = &target.previous_secret {
        request = request.header(
            "X-Webhook-Signature-Previous",
            sign_hex(previous.as_bytes(), body),
        );
        timestamped.push_str(&format!(
            " v1={}",
            sign_timestamped_hex(previous.as_bytes(), timestamp, body)
        ));
    }
    let response = request
        .header("X-Webhook-Signature-V2", timestamped)
        .body(d.payload.clone())
        .send()
        .await
        .map_err(|e| AttemptError::new(describe(&e, inner.settings.timeout)))?;
    let status = response.status().as_u16();
    // Read the (normally tiny) body so the connection goes back to the pool, but never more
    // than `RESPONSE_BODY_LIMIT`: past it the rest is dropped with the connection. The status
    // alone decides the outcome; a body that fails to arrive does not change it.
    let body = netguard::read_capped(response, RESPONSE_BODY_LIMIT)
        .await
        .map(|capped| capped.bytes)
        .unwrap_or_default();
    if (200..300).contains(&status) {
        return Ok(status);
    }
    let text = String::from_utf8_lossy(&body);
    let snippet: String = text.chars().take(ERROR_BODY_CHARS).collect();
    Err(AttemptError {
        status: Some(status),
        error: if snippet.trim().is_empty() {
            format!("HTTP {status}")
        } else {
            format!("HTTP {status}: {}", snippet.trim())
        },
    })
}

fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    use std::error::Error as _;
    if err.is_timeout() {
        return format!("timed out after {} s", timeout.as_secs_f64());
    }
    let mut text = if err.is_connect() {
        "connection failed".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = err.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
