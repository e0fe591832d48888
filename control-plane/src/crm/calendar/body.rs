//! The bodies of create and update, parsed: every field checked here, at the edge, every
//! failing field named at once; and the time span they give (`ends_at` after `starts_at`).

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use zapini_shared::error::ErrorBody;

use super::model::{
    DEFAULT_COLOR, DEFAULT_DURATION_MINUTES, MAX_DURATION_MINUTES, MAX_REMINDER_MINUTES, Status,
    parse_time,
};
use crate::automation::functions::model::FieldErrors;
use crate::error::AppError;

/// A body's fields, parsed. `None`: absent; for the clearable ones `Some(None)`: cleared.
#[derive(Debug, Default, Clone)]
pub struct AppointmentInput {
    /// The instance's numeric id or UUID.
    pub instance_id: Option<String>,
    pub title: Option<String>,
    pub description: Option<Option<String>>,
    pub client_name: Option<Option<String>>,
    pub client_phone: Option<Option<String>>,
    pub client_email: Option<Option<String>>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub duration_minutes: Option<i64>,
    pub status: Option<Status>,
    pub color: Option<String>,
    pub reminder_minutes: Option<Option<i32>>,
    pub location: Option<Option<String>>,
    pub notes: Option<Option<String>>,
}

const FIELDS: [&str; 14] = [
    "instance_id",
    "title",
    "description",
    "client_name",
    "client_phone",
    "client_email",
    "starts_at",
    "ends_at",
    "duration_minutes",
    "status",
    "color",
    "reminder_minutes",
    "location",
    "notes",
];

/// A required string (trimmed, not blank, at most `max` characters).
fn required_text(e: &mut FieldErrors, field: &str, v: Value, max: usize) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => {
            let s = s.trim();
            if s.chars().count() > max {
                e.add(
                    field,
                    format!("The {field} may not be greater than {max} characters."),
                );
                None
            } else {
                Some(s.to_owned())
            }
        }
        Value::String(_) | Value::Null => {
            e.add(field, format!("The {field} field is required."));
            None
        }
        _ => {
            e.add(field, format!("The {field} must be a string."));
            None
        }
    }
}

/// A clearable string: `null` or blank clears it.
fn optional_text(e: &mut FieldErrors, field: &str, v: Value, max: usize) -> Option<Option<String>> {
    match v {
        Value::Null => Some(None),
        Value::String(s) if s.trim().is_empty() => Some(None),
        v => required_text(e, field, v, max).map(Some),
    }
}

/// Digits with the country code (`+55 (11) 99999-9999` reads as `5511999999999`).
pub fn normalize_phone(s: &str) -> Option<String> {
    let s = s.trim();
    let s = s.strip_prefix('+').unwrap_or(s);
    if !s
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.'))
    {
        return None;
    }
    let digits: String = s.chars().filter(char::is_ascii_digit).collect();
    (8..=15).contains(&digits.len()).then_some(digits)
}

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s.chars().any(char::is_whitespace)
}

fn valid_color(s: &str) -> bool {
    s.len() == 7 && s.starts_with('#') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

fn integer(e: &mut FieldErrors, field: &str, v: &Value, min: i64, max: i64) -> Option<i64> {
    match v.as_i64() {
        Some(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            e.add(
                field,
                format!("The {field} must be an integer between {min} and {max}."),
            );
            None
        }
    }
}

/// Parses a create (`create`) or update body; times without an offset are in `tz`.
pub fn parse_body(
    body: Map<String, Value>,
    tz: Tz,
    create: bool,
) -> Result<AppointmentInput, ErrorBody> {
    let mut e = FieldErrors::default();
    let mut input = AppointmentInput::default();
    for key in body.keys() {
        if !FIELDS.contains(&key.as_str()) {
            e.add(key, format!("The {key} field is not accepted."));
        }
    }
    let mut body = body;
    let mut take = |k: &str| body.remove(k);
    match take("instance_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) if !s.trim().is_empty() => input.instance_id = Some(s.trim().into()),
        Some(Value::Number(n)) => match n.as_i64().or_else(|| {
            // `139.0` is the id 139.
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                .map(|f| f as i64)
        }) {
            Some(id) => input.instance_id = Some(id.to_string()),
            None => e.add(
                "instance_id",
                "The instance_id must be an instance's id or UUID.",
            ),
        },
        Some(_) => e.add(
            "instance_id",
            "The instance_id must be an instance's id or UUID.",
        ),
    }
    match take("title") {
        Some(v) => input.title = required_text(&mut e, "title", v, 255),
        None if create => e.add("title", "The title field is required."),
        None => {}
    }
    if let Some(v) = take("description") {
        input.description = optional_text(&mut e, "description", v, 5000);
    }
    if let Some(v) = take("client_name") {
        input.client_name = optional_text(&mut e, "client_name", v, 255);
    }
    if let Some(v) = take("client_phone") {
        input.client_phone = match optional_text(&mut e, "client_phone", v, 32) {
            Some(Some(p)) => match normalize_phone(&p) {
                Some(digits) => Some(Some(digits)),
                None => {
                    e.add(
                        "client_phone",
                        "The client_phone must be a phone number with its country code (8 to 15 digits).",
                    );
                    None
                }
            },
            other => other,
        };
    }
    if let Some(v) = take("client_email") {
        input.client_email = match optional_text(&mut e, "client_email", v, 255) {
            Some(Some(m)) if !valid_email(&m) => {
                e.add(
                    "client_email",
                    "The client_email must be a valid email address.",
                );
                None
            }
            other => other,
        };
    }
    for (field, slot) in [
        ("starts_at", &mut input.starts_at),
        ("ends_at", &mut input.ends_at),
    ] {
        match take(field) {
            Some(Value::String(s)) => match parse_time(&s, tz) {
                Ok(t) => *slot = Some(t),
                Err(why) => e.add(field, format!("The {field} {why}.")),
            },
            Some(Value::Null) if field == "ends_at" => {}
            Some(_) => e.add(field, format!("The {field} must be an ISO 8601 date-time.")),
            None if create && field == "starts_at" => {
                e.add(field, "The starts_at field is required.")
            }
            None => {}
        }
    }
    if let Some(v) = take("duration_minutes")
        && !v.is_null()
    {
        input.duration_minutes = integer(&mut e, "duration_minutes", &v, 1, MAX_DURATION_MINUTES);
    }
    if let Some(v) = take("status") {
        if create {
            e.add(
                "status",
                "The status is not accepted on create: an appointment starts scheduled.",
            );
        } else {
            match v.as_str().and_then(Status::parse) {
                Some(s) => input.status = Some(s),
                None => e.add(
                    "status",
                    format!("The status must be one of: {}.", Status::names()),
                ),
            }
        }
    }
    if let Some(v) = take("color") {
        match v {
            Value::Null => input.color = Some(DEFAULT_COLOR.into()),
            Value::String(s) if valid_color(s.trim()) => {
                input.color = Some(s.trim().to_ascii_lowercase())
            }
            _ => e.add("color", "The color must be a hex colour such as #3b82f6."),
        }
    }
    if let Some(v) = take("reminder_minutes") {
        input.reminder_minutes = if v.is_null() {
            Some(None)
        } else {
            integer(&mut e, "reminder_minutes", &v, 0, MAX_REMINDER_MINUTES).map(|n| Some(n as i32))
        };
    }
    if let Some(v) = take("location") {
        input.location = optional_text(&mut e, "location", v, 500);
    }
    if let Some(v) = take("notes") {
        input.notes = optional_text(&mut e, "notes", v, 10_000);
    }
    e.into_result()?;
    Ok(input)
}

/// The time span from what was given and what is stored (`current`: an update's
/// `(starts_at, ends_at)`): `ends_at`, else `duration_minutes`, else the current duration
/// (or [`DEFAULT_DURATION_MINUTES`]). `ends_at` must be after `starts_at`.
pub fn span(
    input: &AppointmentInput,
    current: Option<(DateTime<Utc>, DateTime<Utc>)>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let starts_at = input
        .starts_at
        .or(current.map(|c| c.0))
        .ok_or_else(|| AppError::validation("starts_at", "The starts_at field is required."))?;
    let ends_at = match (input.ends_at, input.duration_minutes) {
        (Some(end), Some(minutes)) => {
            if end - starts_at != Duration::minutes(minutes) {
                return Err(AppError::validation(
                    "duration_minutes",
                    "The duration_minutes does not match starts_at and ends_at; give one of ends_at and duration_minutes.",
                ));
            }
            end
        }
        (Some(end), None) => end,
        (None, Some(minutes)) => starts_at + Duration::minutes(minutes),
        (None, None) => match current {
            Some((s, e)) => starts_at + (e - s),
            None => starts_at + Duration::minutes(DEFAULT_DURATION_MINUTES),
        },
    };
    if ends_at <= starts_at {
        return Err(AppError::validation(
            "ends_at",
            "The ends_at must be after starts_at.",
        ));
    }
    if ends_at - starts_at > Duration::minutes(MAX_DURATION_MINUTES) {
        return Err(AppError::validation(
            "ends_at",
            "An appointment may not last more than 31 days.",
        ));
    }
    Ok((starts_at, ends_at))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn every_bad_field_is_named() {
        let body = json!({
            "title": " ", "client_phone": "call me", "client_email": "nope",
            "starts_at": "2026-13-01T10:00", "color": "blue", "reminder_minutes": -1,
            "duration_minutes": 0, "status": "scheduled", "extra": 1,
        });
        let Value::Object(map) = body else { panic!() };
        let e = parse_body(map, chrono_tz::UTC, true).unwrap_err();
        let mut fields: Vec<String> = e.details.as_object().unwrap().keys().cloned().collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "client_email",
                "client_phone",
                "color",
                "duration_minutes",
                "extra",
                "reminder_minutes",
                "starts_at",
                "status",
                "title"
            ]
        );
    }

    #[test]
    fn the_span_comes_from_ends_at_or_the_duration() {
        let start = utc("2026-05-01T10:00:00Z");
        let input = |end: Option<&str>, minutes: Option<i64>| AppointmentInput {
            starts_at: Some(start),
            ends_at: end.map(utc),
            duration_minutes: minutes,
            ..AppointmentInput::default()
        };
        assert_eq!(
            span(&input(None, None), None).unwrap().1,
            utc("2026-05-01T11:00:00Z")
        );
        assert_eq!(
            span(&input(None, Some(30)), None).unwrap().1,
            utc("2026-05-01T10:30:00Z")
        );
        assert!(span(&input(Some("2026-05-01T09:00:00Z"), None), None).is_err());
        assert!(span(&input(Some("2026-05-01T11:00:00Z"), Some(30)), None).is_err());
        // Moving the start keeps the duration.
        let moved = span(
            &input(None, None),
            Some((utc("2026-04-01T10:00:00Z"), utc("2026-04-01T12:00:00Z"))),
        )
        .unwrap();
        assert_eq!(moved.1, utc("2026-05-01T12:00:00Z"));
        assert_eq!(
            normalize_phone("+55 (11) 99999-9999").unwrap(),
            "5511999999999"
        );
        assert!(normalize_phone("12345").is_none());
    }
}
