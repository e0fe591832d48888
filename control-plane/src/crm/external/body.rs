//! The API's bodies for External Functions, parsed at the edge: every failing field is named
//! at once. The configuration is checked by the service against the effective action type
//! (on update, the stored one when `action_type` is not sent).

use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;
use zapini_shared::error::ErrorBody;

use super::addresses::parse_allowed_ips;
use super::model::{ActionType, DEFAULT_RATE_LIMIT, MAX_RATE_LIMIT, MAX_SLUG, valid_slug};
use crate::automation::functions::model::FieldErrors;

/// `POST /external-functions` and `PUT /external-functions/{uuid}` as received. Absent
/// fields keep their value on update; `null` clears `description`, resets `config` to `{}`,
/// `rate_limit` to 1000 and `allowed_ips` to `[]`. Its schema describes `PUT`;
/// [`CreateBody`] describes `POST`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ExternalFunctionUpdateBody)]
pub struct FunctionBody {
    /// The UUID (or numeric id) of the WhatsApp instance the function acts through.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = false, example = "550e8400-e29b-41d4-a716-446655440000")]
    pub instance_uuid: Option<Value>,
    /// Function name (1 to 255 characters).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = false, max_length = 255, example = "CRM Order Notification")]
    pub name: Option<Value>,
    /// URL slug: lowercase letters, digits and hyphens (at most 64), unique in the account.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable = false, pattern = "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$", example = "crm-order-notify")]
    pub slug: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ActionType>, nullable = false)]
    pub action_type: Option<Value>,
    /// Function description (at most 2000 characters).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, max_length = 2000)]
    pub description: Option<Value>,
    /// Action-specific configuration, checked when saved (each failing key named
    /// `config.<key>`); text values may hold `{{placeholders}}`, filled from the call's body:
    /// `send_message` `{message_template}`; `send_buttons` `{message_template, buttons: [1 to
    /// 10 labels], footer?}` (sent as a numbered text menu); `send_media` `{media_url` (http(s),
    /// no placeholder in the host) `and media_type, or media_id` (a library file)`, caption?,
    /// filename?}`; `create_contact`, `update_contact` `{name?, email?, company?, notes?}` (a
    /// field without a template is taken from the call's field of that name); `create_lead`
    /// `{title, board_uuid?, column_uuid?, priority?, notes?}`; `update_lead` `{title?,
    /// priority?, notes?}`; `pause_automation` `{reason?}`; `resume_automation` `{}`.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub config: Option<Value>,
    /// Maximum calls per UTC day (default 1000).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 1000000)]
    pub rate_limit: Option<Value>,
    /// Allowed client addresses or CIDR ranges (empty: every address).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Vec<String>>, max_items = 100)]
    pub allowed_ips: Option<Value>,
    /// Whether the function answers calls (default true).
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<bool>, nullable = false)]
    pub is_enabled: Option<Value>,
}

/// `POST /external-functions` (documentation only: [`FunctionBody`] reads it).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ExternalFunctionCreateBody)]
#[allow(dead_code)]
pub struct CreateBody {
    /// The UUID (or numeric id) of the WhatsApp instance the function acts through.
    #[schema(example = "550e8400-e29b-41d4-a716-446655440000")]
    instance_uuid: String,
    /// Function name (1 to 255 characters).
    #[schema(max_length = 255, example = "CRM Order Notification")]
    name: String,
    /// URL slug: lowercase letters, digits and hyphens (at most 64), unique in the account.
    #[schema(
        pattern = "^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$",
        example = "crm-order-notify"
    )]
    slug: String,
    action_type: ActionType,
    /// Function description (at most 2000 characters).
    #[schema(max_length = 2000)]
    description: Option<String>,
    /// Action-specific configuration, checked when saved (each failing key named
    /// `config.<key>`); text values may hold `{{placeholders}}`, filled from the call's body:
    /// `send_message` `{message_template}`; `send_buttons` `{message_template, buttons: [1 to
    /// 10 labels], footer?}` (sent as a numbered text menu); `send_media` `{media_url` (http(s),
    /// no placeholder in the host) `and media_type, or media_id` (a library file)`, caption?,
    /// filename?}`; `create_contact`, `update_contact` `{name?, email?, company?, notes?}` (a
    /// field without a template is taken from the call's field of that name); `create_lead`
    /// `{title, board_uuid?, column_uuid?, priority?, notes?}`; `update_lead` `{title?,
    /// priority?, notes?}`; `pause_automation` `{reason?}`; `resume_automation` `{}`.
    #[schema(value_type = Option<Object>)]
    config: Option<Value>,
    /// Maximum calls per UTC day (default 1000).
    #[schema(minimum = 1, maximum = 1000000)]
    rate_limit: Option<i64>,
    /// Allowed client addresses or CIDR ranges (empty: every address).
    #[schema(max_items = 100)]
    allowed_ips: Option<Vec<String>>,
    /// Whether the function answers calls (default true).
    is_enabled: Option<bool>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A body's fields, parsed (`None`: absent). `config` is raw: the service checks it.
#[derive(Debug, Default)]
pub struct FunctionInput {
    pub instance: Option<String>,
    pub name: Option<String>,
    pub slug: Option<String>,
    pub action_type: Option<ActionType>,
    pub description: Option<Option<String>>,
    pub config: Option<Value>,
    pub rate_limit: Option<i64>,
    pub allowed_ips: Option<Vec<String>>,
    pub is_enabled: Option<bool>,
}

fn text(
    e: &mut FieldErrors,
    field: &str,
    v: Option<Value>,
    max: usize,
    required: bool,
) -> Option<String> {
    match v {
        None if required => {
            e.add(field, format!("The {field} field is required."));
            None
        }
        None => None,
        Some(Value::String(s)) if s.trim().is_empty() => {
            e.add(field, format!("The {field} field is required."));
            None
        }
        Some(Value::String(s)) if s.trim().chars().count() > max => {
            e.add(
                field,
                format!("The {field} may not be greater than {max} characters."),
            );
            None
        }
        Some(Value::String(s)) => Some(s.trim().to_owned()),
        Some(Value::Null) => {
            e.add(field, format!("The {field} field is required."));
            None
        }
        Some(_) => {
            e.add(field, format!("The {field} must be a string."));
            None
        }
    }
}

impl FunctionBody {
    /// Parses every field; `create` makes the identifying ones required.
    pub fn parse(self, create: bool) -> Result<FunctionInput, ErrorBody> {
        let mut e = FieldErrors::default();
        let instance = match self.instance_uuid {
            Some(Value::Number(n)) if n.is_i64() => Some(n.to_string()),
            v => text(&mut e, "instance_uuid", v, 64, create),
        };
        if let Some(i) = &instance
            && Uuid::parse_str(i).is_err()
            && i.parse::<i64>().is_err()
        {
            e.add(
                "instance_uuid",
                "The instance_uuid must be the instance's UUID (or numeric id).",
            );
        }
        let name = text(&mut e, "name", self.name, 255, create);
        let slug = text(&mut e, "slug", self.slug, MAX_SLUG, create);
        if let Some(s) = &slug
            && !valid_slug(s)
        {
            e.add(
                "slug",
                "The slug may only contain lowercase letters, digits and hyphens, and must start and end with a letter or digit.",
            );
        }
        let action_type = match self.action_type {
            None if create => {
                e.add("action_type", "The action_type field is required.");
                None
            }
            None => None,
            Some(v) => {
                let found = v.as_str().and_then(|s| ActionType::parse(s.trim()));
                if found.is_none() {
                    let all: Vec<&str> = ActionType::ALL.iter().map(|a| a.as_str()).collect();
                    e.add(
                        "action_type",
                        format!("The action_type must be one of: {}.", all.join(", ")),
                    );
                }
                found
            }
        };
        let description = match self.description {
            None => None,
            Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.trim().is_empty() => Some(None),
            v => text(&mut e, "description", v, 2000, false).map(Some),
        };
        let rate_limit = match self.rate_limit {
            None => None,
            Some(Value::Null) => Some(DEFAULT_RATE_LIMIT),
            Some(v) => match v.as_i64() {
                Some(n) if (1..=MAX_RATE_LIMIT).contains(&n) => Some(n),
                _ => {
                    e.add(
                        "rate_limit",
                        format!("The rate_limit must be an integer between 1 and {MAX_RATE_LIMIT} (calls per day)."),
                    );
                    None
                }
            },
        };
        let allowed_ips = self.allowed_ips.and_then(|v| parse_allowed_ips(&mut e, v));
        let is_enabled = match self.is_enabled {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(b),
            Some(_) => {
                e.add("is_enabled", "The is_enabled must be true or false.");
                None
            }
        };
        e.into_result()?;
        Ok(FunctionInput {
            instance,
            name,
            slug,
            action_type,
            description,
            config: self.config,
            rate_limit,
            allowed_ips,
            is_enabled,
        })
    }
}
