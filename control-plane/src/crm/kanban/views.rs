//! How boards, columns, leads and their timeline are shown, and the board's statistics
//! computed exactly (integer arithmetic, rounded half up to one decimal).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use zapini_shared::time::format_secs;

use super::model::{LeadStatus, Priority};
use super::money::{cents_to_string, format_money};
use crate::db::entities::{kanban_board, kanban_column, kanban_lead, kanban_lead_activity};

/// A board.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanBoard)]
pub struct BoardView {
    pub uuid: Uuid,
    /// The board's instance (UUID).
    pub instance_id: Uuid,
    #[schema(example = "Sales Pipeline")]
    pub name: String,
    #[schema(required = true)]
    pub description: Option<String>,
    /// The instance's default board (leads created without a board land here).
    pub is_default: bool,
    /// Free-form settings.
    #[schema(required = true, value_type = Option<Object>)]
    pub settings: Option<Value>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl BoardView {
    pub fn new(b: &kanban_board::Model, instance_uuid: Uuid) -> BoardView {
        BoardView {
            uuid: b.uuid,
            instance_id: instance_uuid,
            name: b.name.clone(),
            description: b.description.clone(),
            is_default: b.is_default,
            settings: b.settings.clone(),
            created_at: format_secs(b.created_at),
            updated_at: format_secs(b.updated_at),
        }
    }
}

/// A board with its statistics and columns.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanBoardDetails)]
pub struct BoardDetail {
    #[serde(flatten)]
    pub board: BoardView,
    pub stats: BoardStats,
    pub columns: Vec<ColumnView>,
}

/// A board's figures over its leads (deleted ones excluded).
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq)]
#[schema(as = KanbanBoardStats)]
pub struct BoardStats {
    #[schema(example = 12)]
    pub total_leads: u64,
    #[schema(example = 9)]
    pub open_leads: u64,
    #[schema(example = 2)]
    pub won_leads: u64,
    #[schema(example = 1)]
    pub lost_leads: u64,
    /// The sum of every lead's value, whatever its status.
    #[schema(example = 15000.00)]
    pub total_value: f64,
    /// The sum of the won leads' values.
    #[schema(example = 5000.00)]
    pub won_value: f64,
    /// Won over won plus lost, in percent, one decimal (0 when none is closed).
    #[schema(example = 66.7)]
    pub conversion_rate: f64,
    /// Days from creation to won or lost, averaged over the closed leads, one decimal (0
    /// when none is closed).
    #[schema(example = 14.5)]
    pub avg_time_to_close: f64,
}

/// What the stats are computed from (one grouped query).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StatusTotals {
    pub count: u64,
    pub value_cents: i64,
    pub close_seconds: i64,
}

/// `n / d` in tenths, rounded half up (`d > 0`).
fn tenths(n: i128, d: i128) -> f64 {
    let t = (2 * n * 10 + d) / (2 * d);
    t as f64 / 10.0
}

impl BoardStats {
    pub fn compute(open: StatusTotals, won: StatusTotals, lost: StatusTotals) -> BoardStats {
        let closed = won.count + lost.count;
        let conversion_rate = if closed == 0 {
            0.0
        } else {
            tenths(i128::from(won.count) * 100, i128::from(closed))
        };
        let avg_time_to_close = if closed == 0 {
            0.0
        } else {
            tenths(
                i128::from(won.close_seconds) + i128::from(lost.close_seconds),
                86_400 * i128::from(closed),
            )
        };
        BoardStats {
            total_leads: open.count + closed,
            open_leads: open.count,
            won_leads: won.count,
            lost_leads: lost.count,
            total_value: super::money::cents_to_number(
                open.value_cents + won.value_cents + lost.value_cents,
            ),
            won_value: super::money::cents_to_number(won.value_cents),
            conversion_rate,
            avg_time_to_close,
        }
    }
}

/// A column.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanColumn)]
pub struct ColumnView {
    pub uuid: Uuid,
    pub board_uuid: Uuid,
    #[schema(example = "New Lead")]
    pub name: String,
    #[schema(example = "#3B82F6")]
    pub color: String,
    /// 0 is the first column.
    pub position: i32,
    #[schema(required = true, value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// Open leads in the column.
    pub leads_count: u64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl ColumnView {
    pub fn new(c: &kanban_column::Model, board_uuid: Uuid, leads_count: u64) -> ColumnView {
        ColumnView {
            uuid: c.uuid,
            board_uuid,
            name: c.name.clone(),
            color: c.color.clone(),
            position: c.position,
            settings: c.settings.clone(),
            leads_count,
            created_at: format_secs(c.created_at),
            updated_at: format_secs(c.updated_at),
        }
    }
}

/// The column a lead is in.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanColumnRef)]
pub struct ColumnRef {
    pub uuid: Uuid,
    #[schema(example = "New Lead")]
    pub name: String,
    #[schema(example = "#3B82F6")]
    pub color: String,
}

impl From<&kanban_column::Model> for ColumnRef {
    fn from(c: &kanban_column::Model) -> ColumnRef {
        ColumnRef {
            uuid: c.uuid,
            name: c.name.clone(),
            color: c.color.clone(),
        }
    }
}

/// The contact of the lead's number on the board's instance.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanLinkedContact)]
pub struct LinkedContact {
    /// The contact's UUID.
    pub id: Uuid,
    #[schema(required = true)]
    pub name: Option<String>,
    #[schema(required = true)]
    pub phone_number: Option<String>,
}

/// The conversation with the lead's number on the board's instance.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanLinkedConversation)]
pub struct LinkedConversation {
    /// The conversation's UUID.
    pub id: Uuid,
    #[schema(example = "5511999999999@s.whatsapp.net")]
    pub chat_jid: String,
}

/// Who and what a lead links to, resolved by the service.
#[derive(Debug, Clone, Default)]
pub struct Links {
    pub contact: Option<LinkedContact>,
    pub conversation: Option<LinkedConversation>,
}

/// A lead.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanLead)]
pub struct LeadView {
    pub uuid: Uuid,
    pub board_uuid: Uuid,
    #[schema(example = "John Doe - Pro Plan")]
    pub title: String,
    #[schema(required = true, example = "5511999999999")]
    pub phone_number: Option<String>,
    #[schema(required = true, example = "john@example.com")]
    pub email: Option<String>,
    /// Two decimals, exact; `null` when the lead has no value.
    #[schema(required = true, example = "299.00")]
    pub value: Option<String>,
    /// In the tenant's currency and locale.
    #[schema(required = true, example = "R$ 299,00")]
    pub value_formatted: Option<String>,
    /// The tenant's currency (ISO 4217).
    #[schema(example = "BRL")]
    pub currency: String,
    #[schema(value_type = Priority)]
    pub priority: &'static str,
    #[schema(example = "High")]
    pub priority_label: &'static str,
    /// `api`, `calendar`, `external_function` or `ai_agent`.
    #[schema(example = "api")]
    pub source: String,
    #[schema(value_type = LeadStatus)]
    pub status: &'static str,
    /// The last AI qualification's score (0 to 100).
    #[schema(required = true, minimum = 0, maximum = 100)]
    pub ai_score: Option<i32>,
    pub is_open: bool,
    pub is_won: bool,
    pub is_lost: bool,
    /// Order in its column (0 first).
    pub position: i64,
    pub column: ColumnRef,
    #[schema(required = true)]
    pub contact: Option<LinkedContact>,
    #[schema(required = true)]
    pub conversation: Option<LinkedConversation>,
    #[schema(required = true)]
    pub lost_reason: Option<String>,
    /// When it was won or lost.
    #[schema(required = true, format = DateTime)]
    pub closed_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

/// The tenant's money settings.
#[derive(Debug, Clone)]
pub struct MoneyFormat {
    pub currency: String,
    pub locale: String,
}

impl LeadView {
    pub fn new(
        l: &kanban_lead::Model,
        board_uuid: Uuid,
        column: &kanban_column::Model,
        links: Links,
        money: &MoneyFormat,
    ) -> LeadView {
        let priority = Priority::parse(&l.priority).unwrap_or(Priority::Medium);
        let status = LeadStatus::parse(&l.status).unwrap_or(LeadStatus::Open);
        LeadView {
            uuid: l.uuid,
            board_uuid,
            title: l.title.clone(),
            phone_number: l.phone_number.clone(),
            email: l.email.clone(),
            value: l.value_cents.map(cents_to_string),
            value_formatted: l
                .value_cents
                .map(|c| format_money(c, &money.currency, &money.locale)),
            currency: money.currency.clone(),
            priority: priority.as_str(),
            priority_label: priority.label(),
            source: l.source.clone(),
            status: status.as_str(),
            ai_score: l.ai_score,
            is_open: status == LeadStatus::Open,
            is_won: status == LeadStatus::Won,
            is_lost: status == LeadStatus::Lost,
            position: l.position,
            column: column.into(),
            contact: links.contact,
            conversation: links.conversation,
            lost_reason: l.lost_reason.clone(),
            closed_at: l.closed_at.map(format_secs),
            created_at: format_secs(l.created_at),
            updated_at: format_secs(l.updated_at),
        }
    }
}

/// Who made a change.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanActor)]
pub struct ActorView {
    /// `user`, `api_token`, `ai_agent`, `calendar`, `external_function` or `system`.
    #[serde(rename = "type")]
    #[schema(example = "user")]
    pub actor_type: String,
    /// The user's name, the token's name, the integration's name.
    #[schema(required = true, example = "Admin")]
    pub name: Option<String>,
}

/// A timestamped note.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanNote)]
pub struct NoteView {
    pub uuid: Uuid,
    #[schema(example = "Interested in annual subscription")]
    pub content: String,
    pub author: ActorView,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl NoteView {
    pub fn new(a: &kanban_lead_activity::Model) -> NoteView {
        NoteView {
            uuid: a.uuid,
            content: a.content.clone().unwrap_or_default(),
            author: actor(a),
            created_at: format_secs(a.created_at),
        }
    }
}

fn actor(a: &kanban_lead_activity::Model) -> ActorView {
    ActorView {
        actor_type: a.actor_type.clone(),
        name: a.actor_name.clone(),
    }
}

/// The last AI qualification.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanAiAnalysis)]
pub struct AiAnalysis {
    #[schema(minimum = 0, maximum = 100, example = 82)]
    pub score: i32,
    #[schema(example = "Asked for annual pricing twice; budget approved.")]
    pub summary: String,
    #[schema(example = "Send the annual plan proposal today.")]
    pub next_step: String,
    #[schema(format = DateTime)]
    pub qualified_at: String,
}

/// A lead with its notes, custom fields and AI analysis.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanLeadDetails)]
pub struct LeadDetail {
    #[serde(flatten)]
    pub lead: LeadView,
    /// Newest first (the 100 latest).
    pub notes: Vec<NoteView>,
    /// A flat object of the tenant's own fields.
    #[schema(value_type = Object)]
    pub custom_fields: Value,
    /// `null` until the lead is qualified.
    #[schema(required = true)]
    pub ai_analysis: Option<AiAnalysis>,
}

impl LeadDetail {
    pub fn new(lead: LeadView, m: &kanban_lead::Model, notes: Vec<NoteView>) -> LeadDetail {
        let ai_analysis = match (m.ai_score, m.ai_qualified_at) {
            (Some(score), Some(at)) => Some(AiAnalysis {
                score,
                summary: m.ai_summary.clone().unwrap_or_default(),
                next_step: m.ai_next_step.clone().unwrap_or_default(),
                qualified_at: format_secs(at),
            }),
            _ => None,
        };
        LeadDetail {
            lead,
            notes,
            custom_fields: m
                .custom_fields
                .clone()
                .unwrap_or_else(|| Value::Object(Default::default())),
            ai_analysis,
        }
    }
}

/// One entry of a lead's timeline.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = KanbanActivity)]
pub struct ActivityView {
    pub uuid: Uuid,
    /// `created`, `updated`, `moved`, `won`, `lost`, `reopened`, `note`, `qualified` or
    /// `deleted`.
    #[serde(rename = "type")]
    #[schema(example = "updated")]
    pub kind: String,
    /// The field an `updated` entry is about (`title`, `value`, ...).
    #[schema(required = true, example = "value")]
    pub field: Option<String>,
    /// The value before (a column's name for `moved`, a status for `won`/`lost`).
    #[schema(required = true, example = "299.00")]
    pub old_value: Option<String>,
    #[schema(required = true, example = "349.00")]
    pub new_value: Option<String>,
    /// A note's text, a lost reason, a qualification's summary.
    #[schema(required = true)]
    pub content: Option<String>,
    pub actor: ActorView,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl ActivityView {
    pub fn new(a: &kanban_lead_activity::Model) -> ActivityView {
        ActivityView {
            uuid: a.uuid,
            kind: a.kind.clone(),
            field: a.field.clone(),
            old_value: a.old_value.clone(),
            new_value: a.new_value.clone(),
            content: a.content.clone(),
            actor: actor(a),
            created_at: format_secs(a.created_at),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(count: u64, value_cents: i64, close_seconds: i64) -> StatusTotals {
        StatusTotals {
            count,
            value_cents,
            close_seconds,
        }
    }

    #[test]
    fn the_reference_example() {
        // 9 open, 2 won, 1 lost: 2 / 3 = 66.666… → 66.7; closed after 10, 15 and 18.5
        // days: 43.5 / 3 = 14.5.
        let day = 86_400;
        let s = BoardStats::compute(
            t(9, 1_000_000, 0),
            t(2, 500_000, 25 * day),
            t(1, 0, day * 37 / 2),
        );
        assert_eq!(s.total_leads, 12);
        assert_eq!(s.total_value, 15000.0);
        assert_eq!(s.won_value, 5000.0);
        assert_eq!(s.conversion_rate, 66.7);
        assert_eq!(s.avg_time_to_close, 14.5);
    }

    #[test]
    fn rounding_is_half_up_and_empty_boards_are_zero() {
        let s = BoardStats::compute(t(0, 0, 0), t(0, 0, 0), t(0, 0, 0));
        assert_eq!((s.conversion_rate, s.avg_time_to_close), (0.0, 0.0));
        // 1 / 8 = 12.5 exactly; 1 / 6 = 16.666… → 16.7; 1 / 7 = 14.285… → 14.3.
        assert_eq!(
            BoardStats::compute(t(0, 0, 0), t(1, 0, 0), t(7, 0, 0)).conversion_rate,
            12.5
        );
        assert_eq!(
            BoardStats::compute(t(0, 0, 0), t(1, 0, 0), t(5, 0, 0)).conversion_rate,
            16.7
        );
        assert_eq!(
            BoardStats::compute(t(0, 0, 0), t(1, 0, 0), t(6, 0, 0)).conversion_rate,
            14.3
        );
        // 0.05 days exactly rounds up to 0.1; an hour is 0.0.
        assert_eq!(
            BoardStats::compute(t(0, 0, 0), t(1, 0, 4_320), t(0, 0, 0)).avg_time_to_close,
            0.1
        );
        assert_eq!(
            BoardStats::compute(t(0, 0, 0), t(1, 0, 3_600), t(0, 0, 0)).avg_time_to_close,
            0.0
        );
    }
}
