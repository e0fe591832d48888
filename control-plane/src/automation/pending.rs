//! TEMPORARY seams until the flow engine and AI Functions land (removed at merge).

use super::engine::{Outcome, TurnInput};
use crate::db::entities::{automation_session, contact, conversation, instance};
use crate::error::AppResult;
use crate::service::Services;

pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: serde_json::Value,
}

pub struct ExecContext {
    pub conversation_id: Option<i64>,
    pub session_id: Option<i64>,
    pub is_test: bool,
}

pub struct ExecOutcome {
    pub result: serde_json::Value,
}

impl Services {
    pub async fn agent_tools(&self, _integration_id: i64) -> AppResult<Vec<ToolSpec>> {
        Ok(Vec::new())
    }

    pub async fn run_agent_function(
        &self,
        _integration_id: i64,
        _name: &str,
        _arguments: serde_json::Value,
        _ctx: ExecContext,
    ) -> AppResult<ExecOutcome> {
        Ok(ExecOutcome {
            result: serde_json::json!({}),
        })
    }

    pub(crate) async fn run_flow_turn(
        &self,
        _inst: &instance::Model,
        _conv: &conversation::Model,
        _contact: Option<&contact::Model>,
        _s: &automation_session::Model,
        _input: &TurnInput,
        _fresh: bool,
    ) -> AppResult<Outcome> {
        Ok(Outcome::default())
    }
}
