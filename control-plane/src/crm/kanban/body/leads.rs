//! The bodies of the lead routes (create, update, move, lost, note), parsed with the field
//! readers of `body`: every failing field is named, all at once.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;
use zapini_shared::phone::PhoneNumber;

use super::{finish, nullable_text, object, text, uuid_field};
use crate::automation::functions::model::FieldErrors;
use crate::crm::kanban::model::{LeadPatch, MAX_NAME, MAX_TEXT, Priority};
use crate::crm::kanban::money::parse_value;
use crate::error::AppResult;

/// `POST /kanban/leads` and `PUT /kanban/leads/{uuid}`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = KanbanLeadBody)]
pub struct LeadBody {
    /// The board (create). Without it, the default board of the instance (an `sk_` token's,
    /// or `instance_id`).
    #[schema(value_type = Option<String>)]
    board_uuid: Option<Value>,
    /// Create only, with a user token and no `board_uuid`: the instance whose default board
    /// takes the lead.
    #[schema(value_type = Option<String>)]
    instance_id: Option<Value>,
    /// Create only: the column (default the board's first).
    #[schema(value_type = Option<String>)]
    column_uuid: Option<Value>,
    /// Required on create; at most 255 characters.
    #[schema(value_type = Option<String>, example = "John Doe - Pro Plan")]
    title: Option<Value>,
    /// Digits with country code (`+`, spaces, `-`, `.` and parentheses are ignored); `null`
    /// clears it.
    #[schema(value_type = Option<String>, example = "5511999999999")]
    phone_number: Option<Value>,
    #[schema(value_type = Option<String>, format = Email, example = "john@example.com")]
    email: Option<Value>,
    /// A number or a decimal string, not negative, at most two decimals; `null` clears it.
    #[schema(value_type = Option<f64>, example = 299.00)]
    value: Option<Value>,
    /// `low`, `medium` (default), `high` or `urgent`.
    #[schema(value_type = Option<Priority>)]
    priority: Option<Value>,
    /// Create only: the lead's first note.
    #[schema(value_type = Option<String>, example = "Interested in annual subscription")]
    notes: Option<Value>,
    /// A flat object of your own fields (strings, numbers, booleans; at most 50 keys);
    /// `null` clears them on update.
    #[schema(value_type = Option<Object>)]
    custom_fields: Option<Value>,
}

/// A lead's fields, parsed (create).
#[derive(Debug, Default)]
pub struct LeadInput {
    pub board_uuid: Option<Uuid>,
    pub instance: Option<String>,
    pub column_uuid: Option<Uuid>,
    pub title: String,
    pub phone_number: Option<String>,
    pub email: Option<String>,
    pub value_cents: Option<i64>,
    pub priority: Option<Priority>,
    pub notes: Option<String>,
    pub custom_fields: Option<Map<String, Value>>,
}

fn phone(e: &mut FieldErrors, v: Option<Value>) -> Option<Option<String>> {
    match nullable_text(e, "phone_number", v, 40)? {
        None => Some(None),
        Some(s) => match PhoneNumber::parse(&s) {
            Ok(p) => Some(Some(p.into_string())),
            Err(err) => {
                e.add(
                    "phone_number",
                    format!("The phone_number field is invalid: {err}."),
                );
                None
            }
        },
    }
}

fn email(e: &mut FieldErrors, v: Option<Value>) -> Option<Option<String>> {
    match nullable_text(e, "email", v, MAX_NAME)? {
        None => Some(None),
        Some(s) if zapini_shared::email::looks_like_email(&s) => Some(Some(s)),
        Some(_) => {
            e.add("email", "The email must be a valid email address.");
            None
        }
    }
}

fn value(e: &mut FieldErrors, v: Option<Value>) -> Option<Option<i64>> {
    match v {
        None => None,
        Some(Value::Null) => Some(None),
        Some(v) => match parse_value("value", &v) {
            Ok(c) => Some(Some(c)),
            Err(m) => {
                e.add("value", m);
                None
            }
        },
    }
}

fn priority(e: &mut FieldErrors, v: Option<Value>) -> Option<Priority> {
    let s = text(e, "priority", v, 16, false)?;
    let p = Priority::parse(&s);
    if p.is_none() {
        e.add(
            "priority",
            "The priority must be one of: low, medium, high, urgent.",
        );
    }
    p
}

impl LeadBody {
    pub fn parse_create(self) -> AppResult<LeadInput> {
        let mut e = FieldErrors::default();
        let board_uuid = uuid_field(&mut e, "board_uuid", self.board_uuid, false);
        let instance = match self.instance_id {
            Some(Value::Number(n)) => Some(n.to_string()),
            other => text(&mut e, "instance_id", other, 64, false),
        };
        let column_uuid = uuid_field(&mut e, "column_uuid", self.column_uuid, false);
        let title = text(&mut e, "title", self.title, MAX_NAME, true);
        let phone_number = phone(&mut e, self.phone_number).flatten();
        let email = email(&mut e, self.email).flatten();
        let value_cents = value(&mut e, self.value).flatten();
        let priority = priority(&mut e, self.priority);
        let notes = text(&mut e, "notes", self.notes, MAX_TEXT, false);
        let custom_fields = object(&mut e, "custom_fields", self.custom_fields, true).flatten();
        finish(e)?;
        Ok(LeadInput {
            board_uuid,
            instance,
            column_uuid,
            title: title.unwrap_or_default(),
            phone_number,
            email,
            value_cents,
            priority,
            notes,
            custom_fields,
        })
    }

    /// `PUT`: the fields given change; the value in cents goes in `LeadPatch::value` as a
    /// decimal.
    pub fn parse_update(self) -> AppResult<LeadPatch> {
        let mut e = FieldErrors::default();
        for (field, v) in [
            ("board_uuid", &self.board_uuid),
            ("instance_id", &self.instance_id),
        ] {
            if v.is_some() {
                e.add(
                    field,
                    "A lead cannot change board; create it on the other board.",
                );
            }
        }
        if self.column_uuid.is_some() {
            e.add(
                "column_uuid",
                "Move a lead with POST /kanban/leads/{uuid}/move.",
            );
        }
        if self.notes.is_some() {
            e.add("notes", "Add a note with POST /kanban/leads/{uuid}/note.");
        }
        let title = match self.title {
            None => None,
            v => text(&mut e, "title", v, MAX_NAME, true),
        };
        let phone_number = phone(&mut e, self.phone_number);
        let email = email(&mut e, self.email);
        let value = value(&mut e, self.value).map(|c| c.map(|c| rust_decimal::Decimal::new(c, 2)));
        let priority = priority(&mut e, self.priority);
        let custom_fields = object(&mut e, "custom_fields", self.custom_fields, true);
        finish(e)?;
        Ok(LeadPatch {
            title,
            phone_number,
            email,
            value,
            priority,
            custom_fields,
            ..LeadPatch::default()
        })
    }
}

/// `POST /kanban/leads/{uuid}/move`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KanbanMoveBody)]
pub struct MoveBody {
    /// The column to move to (of the lead's board).
    #[schema(value_type = String)]
    column_uuid: Option<Value>,
    /// Its place in the column (0 first; default last).
    #[schema(value_type = Option<i64>, minimum = 0)]
    position: Option<Value>,
}

impl MoveBody {
    pub fn parse(self) -> AppResult<(Uuid, Option<i64>)> {
        let mut e = FieldErrors::default();
        let column = uuid_field(&mut e, "column_uuid", self.column_uuid, true);
        let position = match self.position {
            None | Some(Value::Null) => None,
            Some(v) => {
                let p = v.as_i64().filter(|p| *p >= 0);
                if p.is_none() {
                    e.add("position", "The position must be an integer of at least 0.");
                }
                p
            }
        };
        finish(e)?;
        Ok((column.unwrap_or_default(), position))
    }
}

/// `POST /kanban/leads/{uuid}/lost`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = KanbanLostBody)]
pub struct LostBody {
    /// Why it was lost (at most 1000 characters).
    #[schema(value_type = Option<String>, example = "Chose a competitor")]
    reason: Option<Value>,
}

impl LostBody {
    pub fn parse(self) -> AppResult<Option<String>> {
        let mut e = FieldErrors::default();
        let r = text(&mut e, "reason", self.reason, 1000, false);
        finish(e)?;
        Ok(r)
    }
}

/// `POST /kanban/leads/{uuid}/note`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KanbanNoteBody)]
pub struct NoteBody {
    /// The note (at most 10,000 characters). `note` is accepted as well.
    #[schema(value_type = String, example = "Called back; wants a demo on Friday.")]
    content: Option<Value>,
    #[schema(value_type = Option<String>)]
    note: Option<Value>,
}

impl NoteBody {
    pub fn parse(self) -> AppResult<String> {
        let mut e = FieldErrors::default();
        let c = text(
            &mut e,
            "content",
            self.content.or(self.note),
            MAX_TEXT,
            true,
        );
        finish(e)?;
        Ok(c.unwrap_or_default())
    }
}
