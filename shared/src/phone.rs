//! International phone numbers as WhatsApp uses them: digits only, country code first.
//!
//! Clients paste numbers in many human formats (`+55 (11) 99999-9999`), so the
//! parser strips common punctuation, but it refuses to guess: an international
//! `00` prefix or a national trunk `0` is rejected rather than rewritten, because
//! silently dropping digits could address a message to the wrong person.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ErrorBody;

/// Fewest digits accepted. Real international numbers, country code included,
/// are at least this long; shorter input is almost always a local number.
pub const MIN_DIGITS: usize = 8;
/// Most digits accepted, the E.164 maximum.
pub const MAX_DIGITS: usize = 15;

/// A validated phone number: 8 to 15 ASCII digits, country code first, no leading zero.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

/// Why a phone number was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error(
        "phone number contains invalid character {0:?}; only digits, a leading '+', spaces, '-', '.', '(' and ')' are allowed"
    )]
    InvalidCharacter(char),
    #[error("phone number has {0} digits; at least 8 are required including the country code")]
    TooShort(usize),
    #[error("phone number has {0} digits; at most 15 are allowed (E.164)")]
    TooLong(usize),
    #[error("phone number must start with the country code, not 0")]
    LeadingZero,
}

impl PhoneError {
    /// A `VALIDATION_ERROR` for `field` carrying this error's message.
    pub fn into_error_body(self, field: &str) -> ErrorBody {
        ErrorBody::validation(field, format!("The {field} field is invalid: {self}."))
    }
}

impl PhoneNumber {
    /// Parses a human-formatted number into its digits.
    ///
    /// Surrounding whitespace is trimmed and one leading `+` is allowed. Inside
    /// the number, spaces, `-`, `.`, `(` and `)` are ignored; anything else
    /// (letters, `@`, a second `+`, tabs) is an error. The digits must not start
    /// with 0 and must number between [`MIN_DIGITS`] and [`MAX_DIGITS`].
    pub fn parse(input: &str) -> Result<PhoneNumber, PhoneError> {
        let trimmed = input.trim();
        let rest = trimmed.strip_prefix('+').unwrap_or(trimmed);
        let mut digits = String::with_capacity(rest.len());
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                other => return Err(PhoneError::InvalidCharacter(other)),
            }
        }
        if digits.is_empty() {
            return Err(PhoneError::Empty);
        }
        // Checked before the length so that `0055...` gets the more useful
        // "start with the country code" message instead of a digit count.
        if digits.starts_with('0') {
            return Err(PhoneError::LeadingZero);
        }
        let n = digits.len();
        if n < MIN_DIGITS {
            return Err(PhoneError::TooShort(n));
        }
        if n > MAX_DIGITS {
            return Err(PhoneError::TooLong(n));
        }
        Ok(PhoneNumber(digits))
    }

    /// Parses, converting failure into a `VALIDATION_ERROR` on `field`.
    pub fn parse_field(field: &str, input: &str) -> Result<PhoneNumber, ErrorBody> {
        PhoneNumber::parse(input).map_err(|e| e.into_error_body(field))
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits, by value.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PhoneNumber {
    type Err = PhoneError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PhoneNumber::parse(s)
    }
}

impl TryFrom<&str> for PhoneNumber {
    type Error = PhoneError;

    fn try_from(s: &str) -> Result<Self, Self::Error> {
        PhoneNumber::parse(s)
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        PhoneNumber::parse(&s)
    }
}

impl AsRef<str> for PhoneNumber {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> Self {
        p.0
    }
}

impl Serialize for PhoneNumber {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// Deserialization runs the full parser so a `PhoneNumber` inside any request
/// body is already validated by the time a handler sees it.
impl<'de> Deserialize<'de> for PhoneNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        PhoneNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn accepts_common_human_formats() {
        for input in [
            "5511999999999",
            "+5511999999999",
            " +55 11 99999-9999 ",
            "+55 (11) 99999-9999",
            "55.11.99999.9999",
        ] {
            assert_eq!(PhoneNumber::parse(input).unwrap().as_str(), "5511999999999");
        }
        assert_eq!(
            PhoneNumber::parse("12025550123").unwrap().to_string(),
            "12025550123"
        );
    }

    #[test]
    fn rejects_with_specific_errors() {
        assert_eq!(PhoneNumber::parse(""), Err(PhoneError::Empty));
        assert_eq!(PhoneNumber::parse("   "), Err(PhoneError::Empty));
        assert_eq!(PhoneNumber::parse("+"), Err(PhoneError::Empty));
        assert_eq!(PhoneNumber::parse("(-)"), Err(PhoneError::Empty));
        assert_eq!(
            PhoneNumber::parse("5511abc"),
            Err(PhoneError::InvalidCharacter('a'))
        );
        assert_eq!(
            PhoneNumber::parse("5511999999999@s.whatsapp.net"),
            Err(PhoneError::InvalidCharacter('@'))
        );
        assert_eq!(
            PhoneNumber::parse("++5511999999999"),
            Err(PhoneError::InvalidCharacter('+'))
        );
        assert_eq!(
            PhoneNumber::parse("55\t11999999999"),
            Err(PhoneError::InvalidCharacter('\t'))
        );
        assert_eq!(
            PhoneNumber::parse("5511٣99999999"),
            Err(PhoneError::InvalidCharacter('٣'))
        );
        assert_eq!(PhoneNumber::parse("1234567"), Err(PhoneError::TooShort(7)));
        assert_eq!(
            PhoneNumber::parse("1234567890123456"),
            Err(PhoneError::TooLong(16))
        );
        assert_eq!(
            PhoneNumber::parse("005511999999999"),
            Err(PhoneError::LeadingZero)
        );
        assert_eq!(
            PhoneNumber::parse("+0 11 9999"),
            Err(PhoneError::LeadingZero)
        );
        assert!(PhoneNumber::parse("12345678").is_ok());
        assert!(PhoneNumber::parse("123456789012345").is_ok());
    }

    #[test]
    fn error_body_names_the_field() {
        let body = PhoneError::TooShort(3).into_error_body("phone");
        assert_eq!(body.code, ErrorCode::ValidationError);
        assert!(body.message.contains("phone"));
        assert!(body.details.get("phone").is_some());
        let body = PhoneNumber::parse_field("number", "x").unwrap_err();
        assert!(body.details.get("number").is_some());
    }

    #[test]
    fn converts_to_a_user_jid() {
        let jid = PhoneNumber::parse("+55 11 99999-9999").unwrap().to_jid();
        assert_eq!(jid.to_string(), "5511999999999@s.whatsapp.net");
    }

    #[test]
    fn serde_uses_the_digit_string_and_validates() {
        let p = PhoneNumber::parse("+1 202 555 0123").unwrap();
        assert_eq!(serde_json::to_value(&p).unwrap(), json!("12025550123"));
        assert_eq!(
            serde_json::from_value::<PhoneNumber>(json!("+1 (202) 555-0123")).unwrap(),
            p
        );
        assert!(serde_json::from_value::<PhoneNumber>(json!("123")).is_err());
        assert!(serde_json::from_value::<PhoneNumber>(json!(12025550123u64)).is_err());
    }

    /// A digit string of valid length with no leading zero.
    fn valid_digits() -> impl Strategy<Value = String> {
        "[1-9][0-9]{7,14}"
    }

    /// Interleaves allowed punctuation between the digits and optionally adds a
    /// `+` and surrounding whitespace.
    fn decorate(digits: String) -> impl Strategy<Value = (String, String)> {
        let n = digits.len();
        let seps = proptest::collection::vec(
            proptest::collection::vec(
                prop_oneof![Just(' '), Just('-'), Just('.'), Just('('), Just(')')],
                0..3,
            ),
            n + 1,
        );
        (seps, any::<bool>(), "[ ]{0,2}", "[ ]{0,2}").prop_map(move |(seps, plus, lead, trail)| {
            let mut s = String::new();
            s.push_str(&lead);
            if plus {
                s.push('+');
            }
            for (i, c) in digits.chars().enumerate() {
                s.extend(seps[i].iter());
                s.push(c);
            }
            s.extend(seps[n].iter());
            s.push_str(&trail);
            (digits.clone(), s)
        })
    }

    proptest! {
        #[test]
        fn decorated_numbers_parse_to_their_digits(
            (digits, decorated) in valid_digits().prop_flat_map(decorate)
        ) {
            let parsed = PhoneNumber::parse(&decorated);
            prop_assert_eq!(parsed.map(PhoneNumber::into_string), Ok(digits));
        }

        #[test]
        fn any_letter_makes_parsing_fail(
            prefix in any::<String>(),
            letter in "[a-zA-Z]",
            suffix in any::<String>(),
        ) {
            let input = format!("{prefix}{letter}{suffix}");
            prop_assert!(PhoneNumber::parse(&input).is_err());
        }

        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = PhoneNumber::parse(&s);
        }

        #[test]
        fn accepted_numbers_are_canonical(s in "[+0-9 ()./a-]{0,24}") {
            if let Ok(p) = PhoneNumber::parse(&s) {
                prop_assert!(p.as_str().bytes().all(|b| b.is_ascii_digit()));
                prop_assert!((MIN_DIGITS..=MAX_DIGITS).contains(&p.as_str().len()));
                prop_assert!(!p.as_str().starts_with('0'));
                prop_assert_eq!(PhoneNumber::parse(p.as_str()), Ok(p.clone()));
            }
        }
    }
}
