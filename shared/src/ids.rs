//! Identifier parsing: instance references (numeric ID or UUID) and UUID path/body fields.
//!
//! The reference promises that every endpoint accepts an instance either by its
//! numeric ID (`777`) or by its UUID, so both binaries need one shared parser
//! that decides which form a path segment is in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::error::ErrorBody;

/// An instance as named by a client: numeric ID or UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InstanceRef {
    Numeric(i64),
    Uuid(Uuid),
}

/// The field name used in validation errors about instance references.
const INSTANCE_FIELD: &str = "instance_id";

impl InstanceRef {
    /// Parses `777` or `550e8400-e29b-41d4-a716-446655440000` (or its 32-digit simple form).
    ///
    /// Numeric IDs must be positive, fit in `i64`, and have no sign or leading
    /// zeros; insisting on the canonical spelling keeps parse and `Display`
    /// inverse to each other, which matters when the value is used as a cache
    /// key. A malformed reference is a `VALIDATION_ERROR` on `instance_id`, not a
    /// `NOT_FOUND`, because the problem is the syntax rather than a missing row.
    pub fn parse(s: &str) -> Result<InstanceRef, ErrorBody> {
        let invalid = || {
            ErrorBody::validation(
                INSTANCE_FIELD,
                "The instance_id must be a positive numeric ID or a UUID.",
            )
        };
        if s.is_empty() {
            return Err(invalid());
        }
        // Nineteen digits is the length of i64::MAX; longer all-digit strings can
        // only be the simple (unhyphenated) UUID form, which is handled below.
        if s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit()) {
            if s.starts_with('0') {
                return Err(invalid());
            }
            return s
                .parse::<i64>()
                .map(InstanceRef::Numeric)
                .map_err(|_| invalid());
        }
        parse_uuid_forms(s)
            .map(InstanceRef::Uuid)
            .ok_or_else(invalid)
    }

    /// The numeric ID, if the client used one.
    pub fn as_numeric(&self) -> Option<i64> {
        match self {
            InstanceRef::Numeric(id) => Some(*id),
            InstanceRef::Uuid(_) => None,
        }
    }

    /// The UUID, if the client used one.
    pub fn as_uuid(&self) -> Option<Uuid> {
        match self {
            InstanceRef::Numeric(_) => None,
            InstanceRef::Uuid(uuid) => Some(*uuid),
        }
    }
}

/// Accepts only the hyphenated and simple UUID spellings.
///
/// `Uuid::try_parse` also accepts braced and `urn:uuid:` forms; those never
/// appear in this API, and rejecting them keeps the accepted syntax small and
/// documented.
fn parse_uuid_forms(s: &str) -> Option<Uuid> {
    match s.len() {
        32 | 36 => Uuid::try_parse(s).ok(),
        _ => None,
    }
}

/// Parses a UUID supplied in `field`, producing a `VALIDATION_ERROR` naming the field.
pub fn parse_uuid(field: &str, s: &str) -> Result<Uuid, ErrorBody> {
    parse_uuid_forms(s)
        .ok_or_else(|| ErrorBody::validation(field, format!("The {field} must be a valid UUID.")))
}

impl fmt::Display for InstanceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstanceRef::Numeric(id) => write!(f, "{id}"),
            InstanceRef::Uuid(uuid) => write!(f, "{}", uuid.hyphenated()),
        }
    }
}

impl FromStr for InstanceRef {
    type Err = ErrorBody;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        InstanceRef::parse(s)
    }
}

impl From<i64> for InstanceRef {
    fn from(id: i64) -> Self {
        InstanceRef::Numeric(id)
    }
}

impl From<Uuid> for InstanceRef {
    fn from(uuid: Uuid) -> Self {
        InstanceRef::Uuid(uuid)
    }
}

/// Numeric references serialize as JSON numbers and UUIDs as strings, mirroring
/// how the two forms appear in the reference's request bodies.
impl Serialize for InstanceRef {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            InstanceRef::Numeric(id) => serializer.serialize_i64(*id),
            InstanceRef::Uuid(uuid) => serializer.collect_str(&uuid.hyphenated()),
        }
    }
}

/// Accepts a JSON number or a string in either form, since clients send both.
impl<'de> Deserialize<'de> for InstanceRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<'a> {
            Int(i64),
            Str(std::borrow::Cow<'a, str>),
        }
        match Raw::deserialize(deserializer)? {
            Raw::Int(id) if id > 0 => Ok(InstanceRef::Numeric(id)),
            Raw::Int(id) => Err(serde::de::Error::custom(format!(
                "instance_id must be positive, got {id}"
            ))),
            Raw::Str(s) => InstanceRef::parse(&s).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;
    use serde_json::json;

    const UUID: &str = "550e8400-e29b-41d4-a716-446655440000";

    #[test]
    fn parses_numeric_ids() {
        assert_eq!(
            InstanceRef::parse("777").unwrap(),
            InstanceRef::Numeric(777)
        );
        assert_eq!(
            InstanceRef::parse("9223372036854775807").unwrap(),
            InstanceRef::Numeric(i64::MAX)
        );
        assert_eq!(InstanceRef::parse("777").unwrap().as_numeric(), Some(777));
    }

    #[test]
    fn parses_uuids_in_both_spellings() {
        let expected = Uuid::parse_str(UUID).unwrap();
        assert_eq!(
            InstanceRef::parse(UUID).unwrap(),
            InstanceRef::Uuid(expected)
        );
        assert_eq!(
            InstanceRef::parse("550E8400E29B41D4A716446655440000").unwrap(),
            InstanceRef::Uuid(expected)
        );
        assert_eq!(InstanceRef::parse(UUID).unwrap().to_string(), UUID);
        assert_eq!(InstanceRef::parse(UUID).unwrap().as_uuid(), Some(expected));
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            "0",
            "-1",
            "+7",
            "007",
            " 7",
            "7 ",
            "9223372036854775808",
            "99999999999999999999",
            "abc",
            "550e8400-e29b-41d4-a716-44665544000",
            "{550e8400-e29b-41d4-a716-446655440000}",
            "urn:uuid:550e8400-e29b-41d4-a716-446655440000",
            "1.5",
        ] {
            let err = InstanceRef::parse(bad).unwrap_err();
            assert_eq!(err.code, ErrorCode::ValidationError, "{bad:?}");
            assert!(err.details.get("instance_id").is_some(), "{bad:?}");
        }
    }

    #[test]
    fn parse_uuid_names_the_field() {
        assert!(parse_uuid("tag_id", UUID).is_ok());
        let err = parse_uuid("tag_id", "nope").unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationError);
        assert!(err.message.contains("tag_id"));
        assert!(err.details.get("tag_id").is_some());
    }

    #[test]
    fn serde_uses_number_or_string() {
        let n = InstanceRef::Numeric(5);
        assert_eq!(serde_json::to_value(n).unwrap(), json!(5));
        let u = InstanceRef::parse(UUID).unwrap();
        assert_eq!(serde_json::to_value(u).unwrap(), json!(UUID));
        assert_eq!(serde_json::from_value::<InstanceRef>(json!(5)).unwrap(), n);
        assert_eq!(
            serde_json::from_value::<InstanceRef>(json!("5")).unwrap(),
            n
        );
        assert_eq!(
            serde_json::from_value::<InstanceRef>(json!(UUID)).unwrap(),
            u
        );
        assert!(serde_json::from_value::<InstanceRef>(json!(0)).is_err());
        assert!(serde_json::from_value::<InstanceRef>(json!("x")).is_err());
    }

    proptest! {
        #[test]
        fn numeric_display_round_trips(id in 1i64..=i64::MAX) {
            let r = InstanceRef::Numeric(id);
            prop_assert_eq!(InstanceRef::parse(&r.to_string()).unwrap(), r);
        }

        #[test]
        fn uuid_display_round_trips(bytes in any::<[u8; 16]>()) {
            let r = InstanceRef::Uuid(Uuid::from_bytes(bytes));
            prop_assert_eq!(InstanceRef::parse(&r.to_string()).unwrap(), r);
        }

        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = InstanceRef::parse(&s);
        }
    }
}
