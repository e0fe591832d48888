//! Pure predicates of the interpreter: whether an answer fits a question (and its saved
//! form), a menu choice, the comparisons of condition rules, business hours.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Utc};
use serde_json::Value;

use super::limits::REGEX_SIZE_LIMIT;
use super::model::{AnswerCheck, MenuOption, Op};

/// A number written with `.` or `,` as decimal separator.
pub fn number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || t.len() > 64 {
        return None;
    }
    let t = if t.contains(',') && !t.contains('.') {
        t.replace(',', ".")
    } else {
        t.to_owned()
    };
    // Rejects "inf", "NaN" and the like: only digits, one sign, one point.
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
    {
        return None;
    }
    t.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// A case-insensitive pattern with a size cap (the regex crate matches in linear time).
pub fn regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(REGEX_SIZE_LIMIT)
        .dfa_size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| e.to_string().lines().last().unwrap_or_default().to_owned())
}

pub fn email(s: &str) -> Option<String> {
    let t = s.trim();
    let (local, domain) = t.rsplit_once('@')?;
    let ok = !local.is_empty()
        && local.len() <= 64
        && t.len() <= 254
        && !t.chars().any(|c| c.is_whitespace() || c.is_control())
        && !local.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && domain
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    ok.then(|| t.to_lowercase())
}

pub fn phone(s: &str) -> Option<String> {
    let t = s.trim();
    let allowed = t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-' | '.' | '(' | ')'));
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    (allowed && (8..=15).contains(&digits.len()) && t.matches('+').count() <= 1).then_some(digits)
}

/// A Brazilian CPF: 11 digits (punctuation ignored), not all equal, with both check digits.
pub fn cpf(s: &str) -> Option<String> {
    let t = s.trim();
    if !t
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | ' '))
    {
        return None;
    }
    let d: Vec<u32> = t.chars().filter_map(|c| c.to_digit(10)).collect();
    if d.len() != 11 || d.iter().all(|&x| x == d[0]) {
        return None;
    }
    let check = |n: usize| {
        let sum: u32 = (0..n).map(|i| d[i] * (n as u32 + 1 - i as u32)).sum();
        let r = (sum * 10) % 11;
        if r == 10 { 0 } else { r }
    };
    (check(9) == d[9] && check(10) == d[10]).then(|| d.iter().map(|x| x.to_string()).collect())
}

/// `dd/mm/yyyy` or `yyyy-mm-dd`, a real calendar date; saved as `yyyy-mm-dd`.
pub fn date(s: &str) -> Option<String> {
    let t = s.trim();
    let parsed = NaiveDate::parse_from_str(t, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(t, "%Y-%m-%d"))
        .ok()?;
    (1000..=9999)
        .contains(&parsed.year())
        .then(|| parsed.format("%Y-%m-%d").to_string())
}

/// The index of the option an answer picks: its number (1-based) or its text, ignoring case.
pub fn pick<'a>(answer: &str, labels: impl Iterator<Item = &'a str>) -> Option<usize> {
    let a = answer.trim().trim_end_matches('.').trim();
    let labels: Vec<&str> = labels.collect();
    if let Ok(n) = a.parse::<usize>()
        && (1..=labels.len()).contains(&n)
    {
        return Some(n - 1);
    }
    let a = a.to_lowercase();
    labels.iter().position(|l| l.trim().to_lowercase() == a)
}

pub fn pick_menu(answer: &str, options: &[MenuOption]) -> Option<usize> {
    pick(answer, options.iter().map(|o| o.label.as_str()))
}

/// The saved form of a valid answer, or `None` when the answer does not fit.
pub fn answer(check: AnswerCheck, options: Option<&[String]>, text: &str) -> Option<Value> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    match check {
        AnswerCheck::Text => Some(Value::String(t.to_owned())),
        AnswerCheck::Number => number(t).and_then(|n| {
            if n.fract() == 0.0 && n.abs() < 9.0e15 {
                Some(Value::from(n as i64))
            } else {
                serde_json::Number::from_f64(n).map(Value::Number)
            }
        }),
        AnswerCheck::Email => email(t).map(Value::String),
        AnswerCheck::Phone => phone(t).map(Value::String),
        AnswerCheck::Cpf => cpf(t).map(Value::String),
        AnswerCheck::Date => date(t).map(Value::String),
        AnswerCheck::Options => {
            let options = options.unwrap_or_default();
            pick(t, options.iter().map(String::as_str)).map(|i| Value::String(options[i].clone()))
        }
    }
}

/// The retry message when a question gives none.
pub fn default_retry(check: AnswerCheck, options: Option<&[String]>) -> String {
    match check {
        AnswerCheck::Text => "Please type your answer.".to_owned(),
        AnswerCheck::Number => "Please answer with a number.".to_owned(),
        AnswerCheck::Email => "Please enter a valid e-mail address.".to_owned(),
        AnswerCheck::Phone => "Please enter a valid phone number.".to_owned(),
        AnswerCheck::Cpf => "Please enter a valid CPF (11 digits).".to_owned(),
        AnswerCheck::Date => "Please enter a date as dd/mm/yyyy.".to_owned(),
        AnswerCheck::Options => format!(
            "Please answer with one of: {}.",
            options.unwrap_or_default().join(", ")
        ),
    }
}

/// A comparison of a rule other than `business_hours`, on the variable's text.
pub fn compare(op: Op, left: &str, right: &str) -> bool {
    let (l, r) = (left.trim().to_lowercase(), right.trim().to_lowercase());
    let numbers = || number(left).zip(number(right));
    match op {
        Op::Equals => match numbers() {
            Some((a, b)) => a == b,
            None => l == r,
        },
        Op::NotEquals => match numbers() {
            Some((a, b)) => a != b,
            None => l != r,
        },
        Op::Contains => l.contains(&r),
        Op::Regex => regex(right).is_ok_and(|re| re.is_match(left)),
        Op::Gt => numbers().is_some_and(|(a, b)| a > b),
        Op::Gte => numbers().is_some_and(|(a, b)| a >= b),
        Op::Lt => numbers().is_some_and(|(a, b)| a < b),
        Op::Lte => numbers().is_some_and(|(a, b)| a <= b),
        Op::IsEmpty => l.is_empty(),
        Op::BusinessHours => false,
    }
}

/// Whether `now`, at `offset_minutes` east of UTC, falls on one of `days` (ISO, 1 = Monday)
/// between `from` (inclusive) and `to` (exclusive). `to` before `from` spans midnight: the
/// hours after midnight belong to the day before.
pub fn business_hours(
    now: DateTime<Utc>,
    offset_minutes: i32,
    days: &[u8],
    from: &str,
    to: &str,
) -> bool {
    let (Some(from), Some(to)) = (clock(from), clock(to)) else {
        return false;
    };
    let Some(offset) = FixedOffset::east_opt(offset_minutes * 60) else {
        return false;
    };
    let local = now.with_timezone(&offset);
    let minute = local.hour() * 60 + local.minute();
    let weekday = local.weekday().number_from_monday() as u8;
    if from < to {
        days.contains(&weekday) && (from..to).contains(&minute)
    } else {
        let yesterday = local.weekday().pred().number_from_monday() as u8;
        (days.contains(&weekday) && minute >= from) || (days.contains(&yesterday) && minute < to)
    }
}

/// `HH:MM`, 00:00 to 23:59 (24:00 too, as the end of a day), in minutes.
pub(super) fn clock(s: &str) -> Option<u32> {
    let (h, m) = s.trim().split_once(':')?;
    if h.is_empty() || h.len() > 2 || m.len() != 2 {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    match (h, m) {
        (24, 0) => Some(24 * 60),
        (0..=23, 0..=59) => Some(h * 60 + m),
        _ => None,
    }
}
