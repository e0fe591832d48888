//! The Kanban API's bodies, parsed at the edge: every field is checked here and a failure
//! names the field; all failing fields are reported at once. What needs the database (a
//! board, a column of the board) is checked by the use-cases. The lead routes' bodies are in
//! `leads`; the field readers they share are here.

use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

use super::model::{MAX_CUSTOM_FIELDS, MAX_NAME, MAX_OBJECT_BYTES, MAX_TEXT, valid_color};
use crate::automation::functions::model::FieldErrors;
use crate::error::{AppError, AppResult};

mod leads;

pub use leads::{LeadBody, LeadInput, LostBody, MoveBody, NoteBody};

/// A string field (trimmed; blank is missing).
fn text(
    errors: &mut FieldErrors,
    field: &str,
    v: Option<Value>,
    max: usize,
    required: bool,
) -> Option<String> {
    match v {
        None | Some(Value::Null) => {
            if required {
                errors.add(field, format!("The {field} field is required."));
            }
            None
        }
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                if required {
                    errors.add(field, format!("The {field} field is required."));
                }
                None
            } else if s.chars().count() > max {
                errors.add(
                    field,
                    format!("The {field} may not be greater than {max} characters."),
                );
                None
            } else {
                Some(s.to_owned())
            }
        }
        Some(_) => {
            errors.add(field, format!("The {field} must be a string."));
            None
        }
    }
}

/// A nullable string: `None` absent, `Some(None)` cleared (null or blank).
fn nullable_text(
    errors: &mut FieldErrors,
    field: &str,
    v: Option<Value>,
    max: usize,
) -> Option<Option<String>> {
    match v {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) if s.trim().is_empty() => Some(None),
        other => text(errors, field, other, max, false).map(Some),
    }
}

fn boolean(errors: &mut FieldErrors, field: &str, v: Option<Value>) -> Option<bool> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(_) => {
            errors.add(field, format!("The {field} field must be true or false."));
            None
        }
    }
}

fn uuid_field(
    errors: &mut FieldErrors,
    field: &str,
    v: Option<Value>,
    required: bool,
) -> Option<Uuid> {
    match text(errors, field, v, 64, required) {
        None => None,
        Some(s) => match Uuid::parse_str(&s) {
            Ok(u) => Some(u),
            Err(_) => {
                errors.add(field, format!("The {field} must be a UUID."));
                None
            }
        },
    }
}

/// A JSON object of bounded size (`null` clears).
fn object(
    errors: &mut FieldErrors,
    field: &str,
    v: Option<Value>,
    flat: bool,
) -> Option<Option<Map<String, Value>>> {
    match v {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::Object(map)) => {
            if serde_json::to_vec(&map).map_or(usize::MAX, |b| b.len()) > MAX_OBJECT_BYTES {
                errors.add(
                    field,
                    format!(
                        "The {field} may not be larger than {} KiB.",
                        MAX_OBJECT_BYTES / 1024
                    ),
                );
                return None;
            }
            if flat {
                if map.len() > MAX_CUSTOM_FIELDS {
                    errors.add(
                        field,
                        format!("The {field} may not have more than {MAX_CUSTOM_FIELDS} keys."),
                    );
                    return None;
                }
                for (k, v) in &map {
                    if k.trim().is_empty() || k.chars().count() > 64 {
                        errors.add(
                            &format!("{field}.{k}"),
                            "A field name has 1 to 64 characters.",
                        );
                    }
                    if v.is_object() || v.is_array() {
                        errors.add(
                            &format!("{field}.{k}"),
                            format!("The {field}.{k} must be a string, number, boolean or null."),
                        );
                    }
                }
            }
            Some(Some(map))
        }
        Some(_) => {
            errors.add(field, format!("The {field} must be an object."));
            None
        }
    }
}

fn finish(errors: FieldErrors) -> AppResult<()> {
    errors.into_result().map_err(AppError::Client)
}

/// `POST /kanban/boards` and `PUT /kanban/boards/{uuid}`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = KanbanBoardBody)]
pub struct BoardBody {
    /// Required on create; at most 255 characters.
    #[schema(value_type = Option<String>, example = "Sales Pipeline")]
    name: Option<Value>,
    /// `null` clears it.
    #[schema(value_type = Option<String>)]
    description: Option<Value>,
    /// Make it the instance's default board (the previous default stops being one). The
    /// first board of an instance is its default whatever this says.
    #[schema(value_type = Option<bool>)]
    is_default: Option<Value>,
    /// Free-form settings object (at most 16 KiB); `null` clears it.
    #[schema(value_type = Option<Object>)]
    settings: Option<Value>,
    /// The instance (numeric id or UUID): required on create with a user token; an `sk_`
    /// token's board is on its own instance. Not changeable.
    #[schema(value_type = Option<String>, example = "550e8400-e29b-41d4-a716-446655440000")]
    instance_id: Option<Value>,
}

/// A board's fields, parsed.
#[derive(Debug, Default)]
pub struct BoardInput {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub is_default: Option<bool>,
    pub settings: Option<Option<Map<String, Value>>>,
    pub instance: Option<String>,
}

impl BoardBody {
    pub fn parse(self, create: bool) -> AppResult<BoardInput> {
        let mut e = FieldErrors::default();
        let name = text(&mut e, "name", self.name, MAX_NAME, create);
        let description = nullable_text(&mut e, "description", self.description, MAX_TEXT);
        let is_default = boolean(&mut e, "is_default", self.is_default);
        let settings = object(&mut e, "settings", self.settings, false);
        let instance = match self.instance_id {
            Some(Value::Number(n)) => Some(n.to_string()),
            other => text(&mut e, "instance_id", other, 64, false),
        };
        if !create && instance.is_some() {
            e.add("instance_id", "A board cannot move to another instance.");
        }
        finish(e)?;
        Ok(BoardInput {
            name,
            description,
            is_default,
            settings,
            instance,
        })
    }
}

/// `POST /kanban/boards/{uuid}/columns` and `PUT /kanban/columns/{uuid}`.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = KanbanColumnBody)]
pub struct ColumnBody {
    /// Required on create; at most 255 characters.
    #[schema(value_type = Option<String>, example = "Demo Scheduled")]
    name: Option<Value>,
    /// `#RRGGBB` (default `#6B7280`).
    #[schema(value_type = Option<String>, example = "#3B82F6")]
    color: Option<Value>,
    /// Create only: where to insert it (0 first; default last).
    #[schema(value_type = Option<i64>, minimum = 0)]
    position: Option<Value>,
    /// Free-form settings object (at most 16 KiB); `null` clears it.
    #[schema(value_type = Option<Object>)]
    settings: Option<Value>,
}

#[derive(Debug, Default)]
pub struct ColumnInput {
    pub name: Option<String>,
    pub color: Option<String>,
    pub position: Option<i64>,
    pub settings: Option<Option<Map<String, Value>>>,
}

impl ColumnBody {
    pub fn parse(self, create: bool) -> AppResult<ColumnInput> {
        let mut e = FieldErrors::default();
        let name = text(&mut e, "name", self.name, MAX_NAME, create);
        let color = text(&mut e, "color", self.color, 16, false);
        if let Some(c) = &color
            && !valid_color(c)
        {
            e.add("color", "The color must be a hex colour such as #3B82F6.");
        }
        let position = match self.position {
            None | Some(Value::Null) => None,
            Some(v) => match v.as_i64().filter(|p| *p >= 0) {
                Some(p) if create => Some(p),
                Some(_) => {
                    e.add(
                        "position",
                        "Reorder columns with POST /kanban/boards/{uuid}/columns/reorder.",
                    );
                    None
                }
                None => {
                    e.add("position", "The position must be an integer of at least 0.");
                    None
                }
            },
        };
        let settings = object(&mut e, "settings", self.settings, false);
        finish(e)?;
        Ok(ColumnInput {
            name,
            color,
            position,
            settings,
        })
    }
}

/// `POST /kanban/boards/{uuid}/columns/reorder`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = KanbanReorderBody)]
pub struct ReorderBody {
    /// Every column of the board, by UUID, in the new order.
    #[schema(value_type = Vec<String>)]
    order: Option<Value>,
}

impl ReorderBody {
    pub fn parse(self) -> AppResult<Vec<Uuid>> {
        let items = match self.order {
            Some(Value::Array(items)) => items,
            None | Some(Value::Null) => {
                return Err(AppError::validation(
                    "order",
                    "The order field is required.",
                ));
            }
            Some(_) => {
                return Err(AppError::validation(
                    "order",
                    "The order must be an array of column UUIDs.",
                ));
            }
        };
        if items.len() > super::model::MAX_COLUMNS {
            return Err(AppError::validation(
                "order",
                "The order lists more columns than a board has.",
            ));
        }
        items
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.as_str()
                    .and_then(|s| Uuid::parse_str(s.trim()).ok())
                    .ok_or_else(|| {
                        AppError::validation(
                            &format!("order.{i}"),
                            "Each entry must be a column UUID.",
                        )
                    })
            })
            .collect()
    }
}

/// `DELETE /kanban/columns/{uuid}` (the body is optional; `?move_to=` works too).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = KanbanColumnDeleteBody)]
pub struct ColumnDeleteBody {
    /// Another column of the board to move the column's leads to; required when it has any.
    #[schema(value_type = Option<String>)]
    pub move_to: Option<Value>,
}

impl ColumnDeleteBody {
    pub fn parse(self, query: Option<&str>) -> AppResult<Option<Uuid>> {
        let mut e = FieldErrors::default();
        let v = self
            .move_to
            .or_else(|| query.map(|q| Value::String(q.to_owned())));
        let u = uuid_field(&mut e, "move_to", v, false);
        finish(e)?;
        Ok(u)
    }
}
