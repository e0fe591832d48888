//! The Calendar's rules, free of storage: statuses and their transitions, times in the
//! tenant's time zone (read without an offset, shown with one), and list ranges.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::json;
use zapini_shared::error::{ErrorBody, ErrorCode};

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
}
