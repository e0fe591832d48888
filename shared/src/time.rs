//! Timestamp formatting in the three UTC precisions the API reference uses.
//!
//! The reference shows seconds (`2025-01-15T10:30:00Z`), milliseconds
//! (`2025-12-30T17:30:00.000Z`) and microseconds (`2025-12-29T12:00:00.000000Z`)
//! depending on the endpoint. Each field must keep the precision clients were
//! written against, so the choice is made explicitly per field with these
//! helpers rather than left to chrono's default `Serialize`, which varies the
//! number of fractional digits with the value.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// `2025-12-30T17:30:00.000Z`.
pub fn format_millis(dt: DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `2025-01-15T10:30:00Z`; sub-second precision is truncated.
pub fn format_secs(dt: DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `2025-12-29T12:00:00.000000Z`.
pub fn format_micros(dt: DateTime<Utc>) -> String {
    dt.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses any RFC 3339 timestamp (`Z` or numeric offset, any precision) into UTC.
pub fn parse_rfc3339(s: &str) -> Result<DateTime<Utc>, chrono::ParseError> {
    DateTime::parse_from_rfc3339(s).map(|dt| dt.with_timezone(&Utc))
}

/// For `#[serde(serialize_with = "zapini_shared::time::serialize_millis")]`.
pub fn serialize_millis<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_millis(*dt))
}

/// For `#[serde(serialize_with = "zapini_shared::time::serialize_secs")]`.
pub fn serialize_secs<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_secs(*dt))
}

/// For `#[serde(serialize_with = "zapini_shared::time::serialize_micros")]`.
pub fn serialize_micros<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_micros(*dt))
}

/// For `#[serde(deserialize_with = "zapini_shared::time::deserialize_rfc3339")]`; accepts every precision.
pub fn deserialize_rfc3339<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    parse_rfc3339(&s).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Timelike};
    use serde::{Deserialize, Serialize};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn formats_match_the_reference_examples() {
        assert_eq!(
            format_millis(at(2025, 12, 30, 17, 30, 0)),
            "2025-12-30T17:30:00.000Z"
        );
        assert_eq!(
            format_secs(at(2025, 1, 15, 10, 30, 0)),
            "2025-01-15T10:30:00Z"
        );
        assert_eq!(
            format_micros(at(2025, 12, 29, 12, 0, 0)),
            "2025-12-29T12:00:00.000000Z"
        );
    }

    #[test]
    fn fractions_are_truncated_to_the_precision() {
        let dt = at(2025, 1, 15, 10, 30, 0)
            .with_nanosecond(123_456_789)
            .unwrap();
        assert_eq!(format_secs(dt), "2025-01-15T10:30:00Z");
        assert_eq!(format_millis(dt), "2025-01-15T10:30:00.123Z");
        assert_eq!(format_micros(dt), "2025-01-15T10:30:00.123456Z");
    }

    #[test]
    fn parses_every_shape_the_reference_uses() {
        let expected = at(2025, 1, 15, 10, 30, 0);
        for s in [
            "2025-01-15T10:30:00Z",
            "2025-01-15T10:30:00.000Z",
            "2025-01-15T10:30:00.000000Z",
            "2025-01-15T10:30:00+00:00",
            "2025-01-15T07:30:00-03:00",
        ] {
            assert_eq!(parse_rfc3339(s).unwrap(), expected, "{s}");
        }
        assert!(parse_rfc3339("2025-01-15 10:30").is_err());
    }

    #[test]
    fn serde_helpers_work_as_attributes() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Row {
            #[serde(
                serialize_with = "serialize_millis",
                deserialize_with = "deserialize_rfc3339"
            )]
            a: DateTime<Utc>,
            #[serde(serialize_with = "serialize_secs")]
            b: DateTime<Utc>,
            #[serde(serialize_with = "serialize_micros")]
            c: DateTime<Utc>,
        }
        let t = at(2025, 12, 30, 17, 30, 0);
        let row = Row { a: t, b: t, c: t };
        let v = serde_json::to_value(&row).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "a": "2025-12-30T17:30:00.000Z",
                "b": "2025-12-30T17:30:00Z",
                "c": "2025-12-30T17:30:00.000000Z"
            })
        );
        assert_eq!(serde_json::from_value::<Row>(v).unwrap(), row);
    }
}
