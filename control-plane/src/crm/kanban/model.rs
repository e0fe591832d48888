//! What the Kanban is made of, independent of storage: priorities, lead statuses, colours,
//! the default pipeline, who acted (for the timeline), and the inputs of the use-cases
//! ([`NewLead`], [`LeadPatch`]) that the API, the calendar, external functions and the AI
//! agent all go through.

use rust_decimal::Decimal;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::{Caller, InstanceId};

/// Most boards per instance.
pub const MAX_BOARDS_PER_INSTANCE: u64 = 100;
/// Most columns per board.
pub const MAX_COLUMNS: usize = 50;
pub const MAX_NAME: usize = 255;
pub const MAX_TEXT: usize = 10_000;
/// Most keys of `custom_fields`, and its most bytes as JSON (settings too).
pub const MAX_CUSTOM_FIELDS: usize = 50;
pub const MAX_OBJECT_BYTES: usize = 16 * 1024;
/// The colour of a column created without one.
pub const DEFAULT_COLOR: &str = "#6B7280";

/// The columns a board is created with: a sales pipeline.
pub const DEFAULT_COLUMNS: [(&str, &str); 5] = [
    ("New Lead", "#3B82F6"),
    ("Contacted", "#8B5CF6"),
    ("Qualified", "#F59E0B"),
    ("Proposal", "#F97316"),
    ("Negotiation", "#10B981"),
];

/// A lead's priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(as = KanbanPriority, rename_all = "snake_case")]
pub enum Priority {
    Low,
    Medium,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [Self::Low, Self::Medium, Self::High, Self::Urgent];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Urgent => "urgent",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
            Self::Urgent => "Urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// Where a lead is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[schema(as = KanbanLeadStatus, rename_all = "snake_case")]
pub enum LeadStatus {
    Open,
    Won,
    Lost,
}

impl LeadStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Won => "won",
            Self::Lost => "lost",
        }
    }

    pub fn parse(s: &str) -> Option<LeadStatus> {
        [Self::Open, Self::Won, Self::Lost]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// `#RRGGBB` (or `#RGB`), kept as given.
pub fn valid_color(s: &str) -> bool {
    let Some(hex) = s.strip_prefix('#') else {
        return false;
    };
    matches!(hex.len(), 3 | 6) && hex.chars().all(|c| c.is_ascii_hexdigit())
}

/// Who made a change, as the timeline shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// `user`, `api_token`, `ai_agent`, `calendar`, `external_function` or `system`.
    pub kind: &'static str,
    pub name: Option<String>,
}

impl Actor {
    pub fn new(kind: &'static str, name: Option<String>) -> Actor {
        Actor { kind, name }
    }

    pub fn system() -> Actor {
        Actor::new("system", None)
    }
    pub fn ai_agent(name: Option<String>) -> Actor {
        Actor::new("ai_agent", name)
    }
    pub fn calendar() -> Actor {
        Actor::new("calendar", None)
    }
    pub fn external_function(name: impl Into<String>) -> Actor {
        Actor::new("external_function", Some(name.into()))
    }

    /// The caller of an API request (the user's name is filled in by the service).
    pub fn of_caller(c: &Caller) -> Actor {
        match c {
            Caller::User { .. } => Actor::new("user", None),
            Caller::Instance { .. } => Actor::new("api_token", None),
        }
    }
}

/// A lead to create. The API's body, the calendar's `to-kanban`, an external function's
/// `create_lead` and the AI agent's tool all end up here.
#[derive(Debug, Clone)]
pub struct NewLead {
    /// `None`: the default board of `instance_id`.
    pub board_uuid: Option<Uuid>,
    /// Needed without a board; with one, it must be the board's instance.
    pub instance_id: Option<InstanceId>,
    /// `None`: the board's first column.
    pub column_uuid: Option<Uuid>,
    pub title: String,
    /// Digits with country code (checked by the caller, `PhoneNumber::parse`).
    pub phone_number: Option<String>,
    pub email: Option<String>,
    /// Non-negative, at most two decimals.
    pub value: Option<Decimal>,
    pub priority: Option<Priority>,
    /// Becomes the lead's first note.
    pub notes: Option<String>,
    pub custom_fields: Option<Map<String, Value>>,
    /// `api`, `calendar`, `external_function` or `ai_agent`.
    pub source: String,
    /// One lead per appointment: a second create for the same one answers the first lead.
    pub appointment_id: Option<i64>,
    /// The conversation it comes from (the AI agent's), linked even without a number.
    pub conversation_id: Option<i64>,
    pub actor: Actor,
}

impl NewLead {
    /// A lead with only a title, from `source`.
    pub fn titled(title: impl Into<String>, source: &str, actor: Actor) -> NewLead {
        NewLead {
            board_uuid: None,
            instance_id: None,
            column_uuid: None,
            title: title.into(),
            phone_number: None,
            email: None,
            value: None,
            priority: None,
            notes: None,
            custom_fields: None,
            source: source.to_owned(),
            appointment_id: None,
            conversation_id: None,
            actor,
        }
    }
}

/// A change to a lead: `None` leaves a field alone; `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct LeadPatch {
    pub title: Option<String>,
    pub phone_number: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub value: Option<Option<Decimal>>,
    pub priority: Option<Priority>,
    pub custom_fields: Option<Option<Map<String, Value>>>,
    /// Added as a note.
    pub note: Option<String>,
    /// The lead's column (a move, at the end of the column).
    pub column_uuid: Option<Uuid>,
    pub actor: Option<Actor>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_and_priorities() {
        assert!(valid_color("#3B82F6"));
        assert!(valid_color("#fff"));
        assert!(!valid_color("3B82F6"));
        assert!(!valid_color("#3B82F"));
        assert!(!valid_color("#GGGGGG"));
        assert_eq!(Priority::parse("HIGH"), Some(Priority::High));
        assert_eq!(Priority::parse("x"), None);
        assert_eq!(Priority::Urgent.label(), "Urgent");
    }
}
