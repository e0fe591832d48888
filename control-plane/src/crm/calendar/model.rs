//! The Calendar's rules, free of storage: statuses and their transitions, times in the
//! tenant's time zone (read without an offset, shown with one), list ranges, and the body of
//! create and update, every field checked here with failures naming the field.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value, json};
use zapini_shared::error::{ErrorBody, ErrorCode};

use crate::automation::functions::model::FieldErrors;
use crate::error::AppError;

pub const DEFAULT_COLOR: &str = "#3b82f6";
/// Without `ends_at` or `duration_minutes`.
pub const DEFAULT_DURATION_MINUTES: i64 = 60;
/// The longest appointment: 31 days.
pub const MAX_DURATION_MINUTES: i64 = 31 * 24 * 60;
/// The earliest reminder: a week before.
pub const MAX_REMINDER_MINUTES: i64 = 7 * 24 * 60;
/// The longest list range.
pub const MAX_RANGE_DAYS: i64 = 366;

/// An appointment's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, utoipa::ToSchema)]
#[schema(as = AppointmentStatus, rename_all = "snake_case")]
pub enum Status {
    /// Initial status: the appointment is booked.
    Scheduled,
    /// The client confirmed attendance.
    Confirmed,
    /// The appointment took place.
    Completed,
    /// The appointment was cancelled.
    Cancelled,
    /// The client did not show up.
    NoShow,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Scheduled,
        Status::Confirmed,
        Status::Completed,
        Status::Cancelled,
        Status::NoShow,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Scheduled => "scheduled",
            Status::Confirmed => "confirmed",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::NoShow => "no_show",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        let s = s.trim();
        Status::ALL
            .into_iter()
            .find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Scheduled or confirmed: still ahead, so reminded.
    pub fn is_open(self) -> bool {
        matches!(self, Status::Scheduled | Status::Confirmed)
    }

    pub fn names() -> String {
        Status::ALL.map(Status::as_str).join(", ")
    }
}

/// Whether `from` may become `to`: scheduled → confirmed → completed; scheduled or confirmed
/// → cancelled or no_show. Anything else is a 409 `CONFLICT` naming the current status.
pub fn check_transition(from: Status, to: Status) -> Result<(), AppError> {
    let allowed = matches!(
        (from, to),
        (Status::Scheduled, Status::Confirmed)
            | (Status::Confirmed, Status::Completed)
            | (
                Status::Scheduled | Status::Confirmed,
                Status::Cancelled | Status::NoShow
            )
    );
    if allowed {
        return Ok(());
    }
    let why = match (from, to) {
        (f, t) if f == t => format!("The appointment is already {}.", f.as_str()),
        (Status::Completed, Status::Cancelled) => {
            "A completed appointment cannot be cancelled.".to_owned()
        }
        (Status::Scheduled, Status::Completed) => {
            "The appointment is scheduled: confirm it before completing it.".to_owned()
        }
        (f, t) => format!(
            "The appointment is {}: it cannot become {}.",
            f.as_str(),
            t.as_str()
        ),
    };
    Err(AppError::Client(
        ErrorBody::new(ErrorCode::Conflict, why).with_details(json!({
            "current_status": from.as_str(),
            "requested_status": to.as_str(),
        })),
    ))
}

/// `2026-05-01T10:00:00+00:00`: the instant in the tenant's time zone, with its offset.
pub fn show(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false)
}

/// The instant of a local time in `tz`: the earlier one when the clock repeats, `None` in a
/// daylight-saving gap.
fn local(naive: NaiveDateTime, tz: Tz) -> Option<DateTime<Utc>> {
    tz.from_local_datetime(&naive)
        .earliest()
        .map(|d| d.with_timezone(&Utc))
}

/// The start of a local day (01:00 where midnight falls in a gap).
fn day_start(date: NaiveDate, tz: Tz) -> DateTime<Utc> {
    (0..3)
        .find_map(|h| local(date.and_time(NaiveTime::from_hms_opt(h, 0, 0)?), tz))
        .unwrap_or_else(|| date.and_time(NaiveTime::MIN).and_utc())
}

const NAIVE_FORMATS: [&str; 4] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
];

/// A date-time: RFC 3339 with an offset (`Z`, `-03:00`), or without one
/// (`2026-05-01T10:00:00`, `2026-05-01 10:00`) in the tenant's time zone.
pub fn parse_time(s: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    let naive = NAIVE_FORMATS
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
        .ok_or_else(|| {
            "must be an ISO 8601 date-time, e.g. 2026-05-01T10:00:00 (the tenant's time zone) or 2026-05-01T10:00:00-03:00".to_owned()
        })?;
    local(naive, tz)
        .ok_or_else(|| format!("does not exist in the time zone {tz} (a daylight-saving gap)"))
}

/// A list bound: a date-time as [`parse_time`], or a date (`2026-05-01`): its start, or for
/// `end` the end of that day (the range includes it).
pub fn parse_bound(s: &str, tz: Tz, end: bool) -> Result<DateTime<Utc>, String> {
    if let Ok(date) = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d") {
        let date = if end {
            date.succ_opt().ok_or("is out of range")?
        } else {
            date
        };
        return Ok(day_start(date, tz));
    }
    parse_time(s, tz).map_err(|e| {
        if e.starts_with("must be") {
            "must be an ISO 8601 date (2026-05-01) or date-time".to_owned()
        } else {
            e
        }
    })
}

/// The current month in `tz`: `[first day 00:00, first day of the next month 00:00)`.
pub fn month_of(now: DateTime<Utc>, tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let today = now.with_timezone(&tz).date_naive();
    let first = today.with_day(1).unwrap_or(today);
    let next = if first.month() == 12 {
        NaiveDate::from_ymd_opt(first.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(first.year(), first.month() + 1, 1)
    }
    .unwrap_or(first);
    (day_start(first, tz), day_start(next, tz))
}

/// A list's range: `start`/`end`, by default the current month; with only one of them, the
/// other is that bound's month's. `end` after `start`, at most [`MAX_RANGE_DAYS`] apart.
pub fn range(
    start: Option<&str>,
    end: Option<&str>,
    tz: Tz,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, DateTime<Utc>), AppError> {
    let bound = |field: &str, v: &str, is_end| {
        parse_bound(v, tz, is_end)
            .map_err(|e| AppError::validation(field, format!("The {field} {e}.")))
    };
    let (from, to) = match (start, end) {
        (None, None) => month_of(now, tz),
        (Some(s), None) => {
            let from = bound("start", s, false)?;
            (from, month_of(from, tz).1)
        }
        (None, Some(e)) => {
            let to = bound("end", e, true)?;
            (month_of(to - Duration::seconds(1), tz).0, to)
        }
        (Some(s), Some(e)) => (bound("start", s, false)?, bound("end", e, true)?),
    };
    if to <= from {
        return Err(AppError::validation("end", "The end must be after start."));
    }
    if to - from > Duration::days(MAX_RANGE_DAYS) {
        return Err(AppError::validation(
            "end",
            format!("The range from start to end may not exceed {MAX_RANGE_DAYS} days."),
        ));
    }
    Ok((from, to))
}

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
    if let Some(v) = take("instance_id") {
        match v {
            Value::String(s) if !s.trim().is_empty() => input.instance_id = Some(s.trim().into()),
            Value::Number(n) if n.as_i64().is_some() => input.instance_id = Some(n.to_string()),
            _ => e.add(
                "instance_id",
                "The instance_id must be an instance's id or UUID.",
            ),
        }
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
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn times_without_offset_are_in_the_tenant_zone() {
        let sp: Tz = "America/Sao_Paulo".parse().unwrap();
        assert_eq!(
            parse_time("2026-05-01T10:00:00", sp).unwrap(),
            utc("2026-05-01T13:00:00Z")
        );
        assert_eq!(
            parse_time("2026-05-01 10:00", chrono_tz::UTC).unwrap(),
            utc("2026-05-01T10:00:00Z")
        );
        assert_eq!(
            parse_time("2026-05-01T10:00:00+02:00", sp).unwrap(),
            utc("2026-05-01T08:00:00Z")
        );
        assert_eq!(
            show(utc("2026-05-01T13:00:00Z"), sp),
            "2026-05-01T10:00:00-03:00"
        );
        assert_eq!(
            show(utc("2026-05-01T10:00:00Z"), chrono_tz::UTC),
            "2026-05-01T10:00:00+00:00"
        );
        assert!(parse_time("tomorrow", sp).is_err());
    }

    #[test]
    fn a_daylight_saving_gap_is_refused_and_a_repeat_takes_the_first() {
        let ny: Tz = "America/New_York".parse().unwrap();
        assert!(
            parse_time("2026-03-08T02:30:00", ny)
                .unwrap_err()
                .contains("daylight-saving")
        );
        assert_eq!(
            parse_time("2026-11-01T01:30:00", ny).unwrap(),
            utc("2026-11-01T05:30:00Z")
        );
    }

    #[test]
    fn the_default_range_is_the_month_in_the_tenant_zone() {
        let sp: Tz = "America/Sao_Paulo".parse().unwrap();
        // 02:00 UTC on the 1st is still the previous month in São Paulo.
        let (from, to) = month_of(utc("2026-06-01T02:00:00Z"), sp);
        assert_eq!(from, utc("2026-05-01T03:00:00Z"));
        assert_eq!(to, utc("2026-06-01T03:00:00Z"));
        let (from, to) = month_of(utc("2026-12-15T00:00:00Z"), chrono_tz::UTC);
        assert_eq!(
            (from, to),
            (utc("2026-12-01T00:00:00Z"), utc("2027-01-01T00:00:00Z"))
        );
    }

    #[test]
    fn ranges_are_checked() {
        let now = utc("2026-05-10T00:00:00Z");
        let tz = chrono_tz::UTC;
        assert_eq!(
            range(Some("2026-05-01"), Some("2026-05-01"), tz, now).unwrap(),
            (utc("2026-05-01T00:00:00Z"), utc("2026-05-02T00:00:00Z"))
        );
        assert!(range(Some("2026-05-02"), Some("2026-05-01"), tz, now).is_err());
        assert!(range(Some("2026-01-01"), Some("2027-06-01"), tz, now).is_err());
        assert!(range(Some("soon"), None, tz, now).is_err());
        assert_eq!(
            range(Some("2026-02-10"), None, tz, now).unwrap().1,
            utc("2026-03-01T00:00:00Z")
        );
    }

    #[test]
    fn transitions_follow_the_lifecycle() {
        use Status::*;
        assert!(check_transition(Scheduled, Confirmed).is_ok());
        assert!(check_transition(Confirmed, Completed).is_ok());
        assert!(check_transition(Scheduled, Cancelled).is_ok());
        assert!(check_transition(Confirmed, NoShow).is_ok());
        for (from, to) in [
            (Completed, Cancelled),
            (Scheduled, Completed),
            (Cancelled, Confirmed),
            (Confirmed, Confirmed),
            (NoShow, Completed),
        ] {
            let AppError::Client(body) = check_transition(from, to).unwrap_err() else {
                panic!()
            };
            assert_eq!(body.details["current_status"], from.as_str());
        }
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
