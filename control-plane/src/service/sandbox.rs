//! Calls the control plane makes to a sandbox instance's node on a person's behalf (the
//! dashboard's sandbox phone): scan the QR, write as a contact, react, edit, delete, send
//! receipts, break the connection.
//!
//! Only the sandbox's own controls ([`SandboxAction`]) can be reached this way, only on an
//! instance the caller may use ([`Services::find_instance`]: another tenant's is 404) and only
//! when it runs the sandbox engine (409 otherwise). The request carries the caller's own token
//! (the node checks it as for any request) and the hop marker the edge proxy sets, and gives
//! up after `ZAPINI_PROXY_TIMEOUT_SECS`. Errors keep the node's code, message and details.

use std::time::Duration;

use serde_json::Value;
use zapini_shared::error::{ErrorCode, ErrorEnvelope};
use zapini_shared::node_routes::{HOP_CONTROL_PLANE, HOP_HEADER};

use super::Services;
use crate::domain::Caller;
use crate::error::{AppError, AppResult};

/// The largest media file a sandbox contact can send (the sandbox's own limit).
pub const MAX_SANDBOX_MEDIA: usize = 16 * 1024 * 1024;

/// What the sandbox phone can do: one `POST /sandbox/…` route of the node each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxAction {
    /// The phone scans the QR code on offer.
    Scan,
    /// A contact writes (text, media, reply).
    Inbound,
    /// A contact reacts to a message.
    Reaction,
    /// A contact edits one of their messages.
    Edit,
    /// A contact deletes one of their messages for everyone.
    Revoke,
    /// A contact's phone acknowledges one of the instance's messages.
    Receipt,
    /// The connection fails (disconnect, logged out from the phone).
    Fault,
}

impl SandboxAction {
    pub fn path(self) -> &'static str {
        match self {
            SandboxAction::Scan => "/sandbox/scan",
            SandboxAction::Inbound => "/sandbox/inbound",
            SandboxAction::Reaction => "/sandbox/reaction",
            SandboxAction::Edit => "/sandbox/edit",
            SandboxAction::Revoke => "/sandbox/revoke",
            SandboxAction::Receipt => "/sandbox/receipt",
            SandboxAction::Fault => "/sandbox/fault",
        }
    }
}

/// The HTTP client for calls to nodes (no proxy: nodes are internal addresses; no redirects).
pub(crate) fn node_http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

impl Services {
    /// A sandbox instance the caller may use (another tenant's is 404; an instance on another
    /// engine is 409, saying the sandbox phone is for sandbox instances only).
    pub async fn sandbox_instance(
        &self,
        caller: &Caller,
        reference: &str,
    ) -> AppResult<super::instances::InstanceView> {
        let view = self.get_instance(caller, reference).await?;
        if view.engine != super::instances::Engine::Sandbox.as_str() {
            return Err(sandbox_only(&view.name, &view.engine));
        }
        Ok(view)
    }

    /// Calls `action` on the node of the sandbox instance `instance` (numeric id or UUID),
    /// authenticated with `token` (the caller's own token); returns the answer's `data`.
    pub async fn sandbox_call(
        &self,
        caller: &Caller,
        token: &str,
        instance: &str,
        action: SandboxAction,
        body: Value,
    ) -> AppResult<Value> {
        let inst = self.find_instance(caller, instance).await?;
        if inst.engine != super::instances::Engine::Sandbox.as_str() {
            return Err(sandbox_only(&inst.name, &inst.engine));
        }
        let base = self
            .node_route(&inst.uuid.to_string())
            .await?
            .ok_or_else(|| {
                AppError::new(
                    ErrorCode::NodeUnavailable,
                    "The instance node is not running; it starts with the instance and registers within seconds.",
                )
            })?;
        let url = format!("{}{}", base.trim_end_matches('/'), action.path());
        let resp = self
            .node_http
            .post(url)
            .bearer_auth(token)
            .header(HOP_HEADER, HOP_CONTROL_PLANE)
            .json(&body)
            .send()
            .await
            .map_err(|e| {
                if e.is_timeout() {
                    AppError::new(
                        ErrorCode::GatewayTimeout,
                        "The instance node did not answer in time.",
                    )
                } else {
                    tracing::warn!(error = %e, node = %base, "sandbox call: node unreachable");
                    AppError::new(
                        ErrorCode::NodeUnavailable,
                        "The instance node is unreachable; it is restarted automatically, try again shortly.",
                    )
                }
            })?;
        let ok = resp.status().is_success();
        let bytes = resp.bytes().await.map_err(|e| {
            AppError::new(
                ErrorCode::NodeUnavailable,
                format!("The instance node's answer was cut short ({e})."),
            )
        })?;
        node_answer(ok, &bytes)
    }

    /// Fetches a media file for a sandbox contact to send (`media_url` on the phone), with
    /// the SSRF guard of every call to a URL a person gave; at most [`MAX_SANDBOX_MEDIA`].
    /// Returns the bytes and their content type.
    pub async fn fetch_sandbox_media(&self, url: &str) -> AppResult<(Vec<u8>, Option<String>)> {
        use crate::automation::outbound::{OutError, OutRequest};
        let mut req = OutRequest::new(reqwest::Method::GET, url.trim());
        req.response_limit = Some(MAX_SANDBOX_MEDIA);
        let resp = self.outbound.call(req).await.map_err(|e| match e {
            OutError::Refused(_) | OutError::Connect(_) | OutError::Failed(_) => {
                AppError::validation(
                    "media_url",
                    format!("The media_url cannot be fetched: {e}."),
                )
            }
            OutError::TooLarge(_) => AppError::validation(
                "media_url",
                "The media_url's file is larger than 16 MB, the sandbox's limit.",
            ),
            OutError::Timeout => {
                AppError::validation("media_url", "The media_url did not answer in time.")
            }
        })?;
        if !resp.is_success() {
            return Err(AppError::validation(
                "media_url",
                format!("The media_url answered HTTP {}.", resp.status),
            ));
        }
        Ok((resp.body, resp.content_type))
    }
}

/// The 409 for a sandbox control asked of an instance on another engine.
fn sandbox_only(name: &str, engine: &str) -> AppError {
    AppError::new(
        ErrorCode::Conflict,
        format!(
            "The sandbox phone is for sandbox instances only; {name} runs the {engine} engine (use a real phone)."
        ),
    )
}

/// A node's answer: `data` of a success, the node's own error otherwise (an internal error's
/// message is logged, not shown).
fn node_answer(ok: bool, bytes: &[u8]) -> AppResult<Value> {
    if ok {
        let v: Value = serde_json::from_slice(bytes)
            .map_err(|e| AppError::internal(format!("sandbox call: not JSON: {e}")))?;
        return Ok(v.get("data").cloned().unwrap_or(Value::Null));
    }
    match serde_json::from_slice::<ErrorEnvelope>(bytes) {
        Ok(env) if env.error.code == ErrorCode::InternalError => Err(AppError::internal(format!(
            "instance node: {}",
            env.error.message
        ))),
        Ok(env) => Err(AppError::Client(env.error)),
        Err(_) => Err(AppError::internal(format!(
            "sandbox call: unexpected answer {}",
            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_sandbox_paths() {
        for a in [
            SandboxAction::Scan,
            SandboxAction::Inbound,
            SandboxAction::Reaction,
            SandboxAction::Edit,
            SandboxAction::Revoke,
            SandboxAction::Receipt,
            SandboxAction::Fault,
        ] {
            let route = zapini_shared::node_routes::route(a.path()).expect("a node route");
            assert!(a.path().starts_with("/sandbox/"));
            assert_eq!(route.methods, &["POST"]);
        }
    }

    #[test]
    fn node_answers_keep_the_nodes_error() {
        let data = node_answer(true, br#"{"success":true,"data":{"status":"connected"}}"#);
        assert_eq!(data.unwrap()["status"], "connected");
        let err = node_answer(
            false,
            br#"{"success":false,"error":{"code":"VALIDATION_ERROR","message":"The from field is required.","details":{"from":["The from field is required."]}}}"#,
        )
        .unwrap_err();
        match err {
            AppError::Client(body) => {
                assert_eq!(body.code, ErrorCode::ValidationError);
                assert_eq!(body.details["from"][0], "The from field is required.");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            node_answer(
                false,
                br#"{"success":false,"error":{"code":"INTERNAL_ERROR","message":"secret","details":{}}}"#
            ),
            Err(AppError::Internal(_))
        ));
        assert!(matches!(
            node_answer(false, b"<html>"),
            Err(AppError::Internal(_))
        ));
    }
}
