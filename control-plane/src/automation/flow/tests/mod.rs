//! Unit tests of the flow engine: validation of each kind of mistake (`validation`), and runs
//! through every step type with a fake HTTP environment (`run`).

mod run;
mod validation;

use std::sync::Mutex;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::*;
use crate::automation::outbound::{OutError, OutRequest, OutResponse};

fn flow(v: Value) -> Flow {
    parse(&v).unwrap_or_else(|e| panic!("{e}"))
}

fn err(v: Value) -> FlowError {
    parse(&v).expect_err("the definition should be refused")
}

/// Wednesday 15 January 2025, 12:00 UTC.
fn noon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 15, 12, 0, 0).unwrap()
}

fn ctx_at(now: DateTime<Utc>) -> FlowContext {
    FlowContext {
        contact_name: Some("Ana".into()),
        contact_phone: "5511999990000".into(),
        now,
    }
}

fn ctx() -> FlowContext {
    ctx_at(noon())
}

/// An environment whose HTTP calls answer one canned response and are recorded.
struct Fake {
    answer: Result<(u16, String), OutError>,
    seen: Mutex<Vec<OutRequest>>,
}

impl Fake {
    fn ok(status: u16, body: &str) -> Fake {
        Fake {
            answer: Ok((status, body.to_owned())),
            seen: Mutex::default(),
        }
    }
    fn failing() -> Fake {
        Fake {
            answer: Err(OutError::Timeout),
            seen: Mutex::default(),
        }
    }
}

#[async_trait::async_trait]
impl FlowEnv for Fake {
    async fn http(&self, req: OutRequest) -> Result<OutResponse, OutError> {
        self.seen.lock().unwrap().push(req);
        self.answer.clone().map(|(status, body)| OutResponse {
            status,
            content_type: Some("application/json".into()),
            body: body.into_bytes(),
            duration: std::time::Duration::ZERO,
        })
    }
}

fn msg(text: &str) -> Option<Resume> {
    Some(Resume::Message {
        text: text.into(),
        kind: "text".into(),
    })
}

fn texts(o: &FlowOutcome) -> Vec<String> {
    o.actions
        .iter()
        .filter_map(|a| match a {
            FlowAction::Text(t) => Some(t.clone()),
            _ => None,
        })
        .collect()
}

async fn start(f: &Flow, state: &mut FlowState) -> FlowOutcome {
    advance(f, state, None, &ctx(), &Fake::failing()).await
}

async fn say(f: &Flow, state: &mut FlowState, text: &str) -> FlowOutcome {
    advance(f, state, msg(text), &ctx(), &Fake::failing()).await
}
