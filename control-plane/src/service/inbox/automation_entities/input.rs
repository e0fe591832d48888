//! What a create or update of a flow or integration is given, parsed: the name, the
//! definition, the settings, priority and configuration, the integration's type. No I/O: the
//! configuration is checked against its integration's type when it is stored.

use super::AutomationKind;
use crate::automation::flow::Flow;
use crate::error::{AppError, AppResult};

/// Settings, priority and configuration given with a create or update (validated, except the
/// configuration, which depends on the integration's type).
#[derive(Debug, Default)]
pub struct AutomationExtras {
    pub settings: Option<crate::automation::settings::Settings>,
    pub priority: Option<i32>,
    pub config: Option<serde_json::Value>,
}

impl AutomationExtras {
    pub fn is_empty(&self) -> bool {
        self.settings.is_none() && self.priority.is_none() && self.config.is_none()
    }
}

/// The kinds of integration ([`INTEGRATION_TYPES`]).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum IntegrationType {
    Webhook,
    Api,
    AiAgent,
}

pub const INTEGRATION_TYPES: [&str; 3] = ["webhook", "api", "ai_agent"];

/// A new flow or integration.
pub struct NewAutomation {
    pub name: String,
    /// Integrations only.
    pub integration_type: Option<String>,
    pub is_active: bool,
    /// Flows only.
    pub definition: Option<Flow>,
}

/// A change of a flow or integration: absent fields stay as they are.
#[derive(Default)]
pub struct AutomationChange {
    pub name: Option<String>,
    pub is_active: Option<bool>,
    /// Flows only; a different definition bumps `version`.
    pub definition: Option<Flow>,
}

/// A create or update of a flow or integration, each field as given (`None`: not given),
/// checked by [`Services::add_automation`] / [`Services::edit_automation`].
#[derive(Debug, Default)]
pub struct AutomationInput {
    pub name: Option<String>,
    /// Integrations only (create): `webhook` (default), `api` or `ai_agent`, any case.
    pub integration_type: Option<String>,
    pub is_active: Option<bool>,
    /// Flows only: the definition as JSON (`null`: none), validated when saved.
    pub definition: Option<serde_json::Value>,
    pub settings: Option<serde_json::Value>,
    pub priority: Option<i32>,
    /// Integrations only: the configuration for the integration's type.
    pub config: Option<serde_json::Value>,
}

/// A name (trimmed; 1 to 255 characters); `required` on create.
pub fn automation_name(v: Option<String>, required: bool) -> AppResult<Option<String>> {
    match v.map(|s| s.trim().to_owned()) {
        None if required => Err(AppError::validation("name", "The name field is required.")),
        None => Ok(None),
        Some(s) if s.is_empty() => Err(AppError::validation("name", "The name field is required.")),
        Some(s) if s.chars().count() > 255 => Err(AppError::validation(
            "name",
            "The name may not be greater than 255 characters.",
        )),
        Some(s) => Ok(Some(s)),
    }
}

/// A `definition` given as JSON, parsed (absent or null: none).
pub fn flow_definition(v: Option<serde_json::Value>) -> AppResult<Option<Flow>> {
    match v {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(d) => Ok(Some(crate::automation::flow::parse(&d)?)),
    }
}

impl AutomationExtras {
    /// Validates `settings`, `priority` and `config` (the configuration itself is checked
    /// against the integration's type when stored).
    pub fn parse(
        kind: AutomationKind,
        settings: Option<serde_json::Value>,
        priority: Option<i32>,
        config: Option<serde_json::Value>,
    ) -> AppResult<AutomationExtras> {
        let settings = settings
            .filter(|v| !v.is_null())
            .map(|v| crate::automation::settings::Settings::parse(&v))
            .transpose()?;
        if priority.is_some_and(|p| !(-1000..=1000).contains(&p)) {
            return Err(AppError::validation(
                "priority",
                "The priority must be between -1000 and 1000.",
            ));
        }
        if kind == AutomationKind::Flow && config.as_ref().is_some_and(|c| !c.is_null()) {
            return Err(AppError::validation(
                "config",
                "The config field is for integrations only.",
            ));
        }
        Ok(AutomationExtras {
            settings,
            priority,
            config: config.filter(|v| !v.is_null()),
        })
    }
}
