//! The `http_request` step: the request built from the step's templates (URL values
//! percent-encoded, auth as a header, a JSON or text body), sent through `FlowEnv`, and the
//! response's values saved; a failure is recorded in `http_error` and picks `error_next`.

use std::time::Duration;

use serde_json::Value;

use super::model::{HttpAuth, HttpRequest};
use super::run::Run;
use super::state::FlowState;
use super::template::path;
use crate::automation::outbound::OutRequest;

const DEFAULT_HTTP_TIMEOUT: u64 = 10;

impl Run<'_> {
    pub(super) async fn http(&mut self, state: &mut FlowState, h: &HttpRequest) -> Option<String> {
        let req = {
            let scope = self.scope(state);
            let mut req = OutRequest::new(h.method.to_reqwest(), scope.render_url(&h.url));
            req.timeout = Some(Duration::from_secs(
                h.timeout_seconds.unwrap_or(DEFAULT_HTTP_TIMEOUT),
            ));
            for (name, value) in h.headers.iter().flatten() {
                req = req.header(name.clone(), scope.render(value));
            }
            match &h.auth {
                Some(HttpAuth::Bearer { token }) => {
                    req = req.header("authorization", format!("Bearer {}", scope.render(token)));
                }
                Some(HttpAuth::Basic { username, password }) => {
                    use base64::Engine as _;
                    let pair = format!("{}:{}", scope.render(username), scope.render(password));
                    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
                    req = req.header("authorization", format!("Basic {encoded}"));
                }
                Some(HttpAuth::Header { name, value }) => {
                    req = req.header(name.clone(), scope.render(value));
                }
                None => {}
            }
            let has_type = |r: &OutRequest| {
                r.headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
            };
            match &h.body {
                None | Some(Value::Null) => {}
                Some(Value::String(s)) => {
                    if !has_type(&req) {
                        req = req.header("content-type", "text/plain; charset=utf-8");
                    }
                    req.body = Some(scope.render(s).into_bytes());
                }
                Some(v) => {
                    let body = scope.render_json(v);
                    if has_type(&req) {
                        req.body = Some(serde_json::to_vec(&body).unwrap_or_default());
                    } else {
                        req = req.json(&body);
                    }
                }
            }
            req
        };
        let id = h.id.clone();
        let failure = match self.env.http(req).await {
            Ok(resp) => {
                if let Some(var) = &h.status_var {
                    state.vars.insert(var.clone(), Value::from(resp.status));
                }
                if resp.is_success() {
                    let json = resp.json();
                    for (var, p) in h.save.iter().flatten() {
                        let picked = match &json {
                            Some(j) => path(j, p).cloned(),
                            None if p.trim().is_empty() => {
                                Some(Value::String(resp.excerpt(usize::MAX)))
                            }
                            None => None,
                        };
                        if picked.is_none() {
                            self.note(&id, format!("the response has nothing at '{p}' for {var}"));
                        }
                        state
                            .vars
                            .insert(var.clone(), picked.unwrap_or(Value::Null));
                    }
                    None
                } else {
                    Some(format!("the server answered HTTP {}", resp.status))
                }
            }
            Err(e) => {
                if let Some(var) = &h.status_var {
                    state.vars.insert(var.clone(), Value::from(0));
                }
                Some(e.to_string())
            }
        };
        match failure {
            None => {
                state.vars.remove("http_error");
                h.next.clone()
            }
            Some(reason) => {
                self.note(&id, format!("HTTP step failed: {reason}"));
                state
                    .vars
                    .insert("http_error".to_owned(), Value::String(reason));
                h.error_next.clone().or_else(|| h.next.clone())
            }
        }
    }
}
