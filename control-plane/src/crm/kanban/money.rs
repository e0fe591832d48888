//! Lead values: parsed exactly from the API's JSON (a number or a decimal string, at most two
//! decimal places, never through a float) into integer cents, shown back as a two-decimal
//! string (`"299.00"`) and formatted in the tenant's currency and locale (`R$ 299,00`,
//! `$299.00`, `1.234,56 €`).
//!
//! The formatter knows the separators and symbol placement of common locales and the symbols
//! of common currencies; any other locale falls back to the ISO code before an en-US number
//! (`CHF 1,234.56`), any other currency to its ISO code as the symbol.

use std::str::FromStr;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::Value;

/// The largest value a lead may carry (one trillion).
pub const MAX_CENTS: i64 = 100_000_000_000_000;

/// Why a value was refused (the message of a 422 naming the field).
pub fn parse_value(field: &str, v: &Value) -> Result<i64, String> {
    let d = match v {
        Value::Number(n) => {
            let text = n.to_string();
            if text.contains(['e', 'E']) {
                return Err(format!(
                    "The {field} must be at most {}.",
                    cents_to_string(MAX_CENTS)
                ));
            }
            Decimal::from_str(&text)
                .map_err(|_| format!("The {field} must be a number with at most two decimals."))?
        }
        Value::String(s) => Decimal::from_str_exact(s.trim()).map_err(|_| {
            format!("The {field} must be a number with at most two decimals (\"299.00\").")
        })?,
        _ => return Err(format!("The {field} must be a number.")),
    };
    decimal_to_cents(field, d)
}

/// A decimal amount to cents: not negative, at most two decimals, at most [`MAX_CENTS`].
pub fn decimal_to_cents(field: &str, d: Decimal) -> Result<i64, String> {
    let d = d.normalize();
    if d.is_sign_negative() && !d.is_zero() {
        return Err(format!("The {field} may not be negative."));
    }
    if d.scale() > 2 {
        return Err(format!("The {field} may have at most two decimal places."));
    }
    let cents = (d * Decimal::ONE_HUNDRED)
        .to_i64()
        .filter(|c| *c <= MAX_CENTS)
        .ok_or_else(|| {
            format!(
                "The {field} must be at most {}.",
                cents_to_string(MAX_CENTS)
            )
        })?;
    Ok(cents.max(0))
}

/// `29900` → `"299.00"`.
pub fn cents_to_string(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Cents as a JSON number (`15000.0`): for the board's stats, which the reference shows as
/// numbers. The cents stay exact; only this rendering is a double.
pub fn cents_to_number(cents: i64) -> f64 {
    // The double nearest to the exact decimal, as a JSON parser reads "6000.01".
    cents_to_string(cents).parse().unwrap_or(0.0)
}

/// Where the symbol goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Placement {
    /// `$299.00`
    Before,
    /// `R$ 299,00`
    BeforeSpaced,
    /// `299,00 €`
    AfterSpaced,
}

/// A locale's number conventions.
#[derive(Clone, Copy, Debug)]
struct Conventions {
    decimal: char,
    group: char,
    placement: Placement,
}

const fn conv(decimal: char, group: char, placement: Placement) -> Conventions {
    Conventions {
        decimal,
        group,
        placement,
    }
}

/// The conventions of `locale` (`pt-BR`, `pt_BR`, case-insensitive), or `None` when unknown.
fn conventions(locale: &str) -> Option<Conventions> {
    use Placement::*;
    let normalized = locale.trim().replace('_', "-").to_ascii_lowercase();
    let (lang, region) = match normalized.split_once('-') {
        Some((l, r)) => (l.to_owned(), r.to_owned()),
        None => (normalized.clone(), String::new()),
    };
    Some(match (lang.as_str(), region.as_str()) {
        ("pt", "pt") => conv(',', ' ', AfterSpaced),
        ("pt", _) => conv(',', '.', BeforeSpaced),
        ("en", "in") => conv('.', ',', Before),
        ("en", _) => conv('.', ',', Before),
        ("es", "mx" | "us" | "419" | "pr") => conv('.', ',', Before),
        ("es", "es" | "") => conv(',', '.', AfterSpaced),
        ("es", _) => conv(',', '.', BeforeSpaced),
        ("de", "ch") => conv('.', '\'', BeforeSpaced),
        ("de", _) => conv(',', '.', AfterSpaced),
        ("fr", _) => conv(',', ' ', AfterSpaced),
        ("it", _) => conv(',', '.', AfterSpaced),
        ("nl", _) => conv(',', '.', BeforeSpaced),
        ("ja" | "zh" | "ko", _) => conv('.', ',', Before),
        _ => return None,
    })
}

/// The currency's symbol for `locale` (dollars are plain `$` only at home) and its decimal
/// digits as shown.
fn symbol(currency: &str, locale: &str) -> (String, u32) {
    let region = locale
        .trim()
        .replace('_', "-")
        .rsplit_once('-')
        .map(|(_, r)| r.to_ascii_uppercase())
        .unwrap_or_default();
    let code = currency.trim().to_ascii_uppercase();
    let home = |r: &str, local: &str, abroad: &str| {
        if region == r {
            local.to_owned()
        } else {
            abroad.to_owned()
        }
    };
    let s = match code.as_str() {
        "BRL" => "R$".to_owned(),
        "USD" => home("US", "$", "US$"),
        "EUR" => "€".to_owned(),
        "GBP" => "£".to_owned(),
        "JPY" => "¥".to_owned(),
        "CNY" => home("CN", "¥", "CN¥"),
        "INR" => "₹".to_owned(),
        "KRW" => "₩".to_owned(),
        "CAD" => home("CA", "$", "CA$"),
        "AUD" => home("AU", "$", "A$"),
        "MXN" => home("MX", "$", "MX$"),
        "ARS" => home("AR", "$", "ARS"),
        "CLP" => home("CL", "$", "CLP"),
        "COP" => home("CO", "$", "COP"),
        _ => code.clone(),
    };
    let digits = match code.as_str() {
        "JPY" | "KRW" | "CLP" | "VND" | "ISK" => 0,
        _ => 2,
    };
    (s, digits)
}

/// Digits grouped by three with `sep`.
fn group(digits: &str, sep: char) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(sep);
        }
        out.push(c);
    }
    out
}

/// `cents` in `currency` as `locale` writes it.
pub fn format_money(cents: i64, currency: &str, locale: &str) -> String {
    let (sym, digits) = symbol(currency, locale);
    let known = conventions(locale);
    let c = known.unwrap_or(conv('.', ',', Placement::BeforeSpaced));
    // A code rather than a symbol always gets a space, and so does every unknown locale.
    let sym = match known {
        None => currency.trim().to_ascii_uppercase(),
        Some(_) => sym,
    };
    let negative = cents < 0;
    let abs = cents.unsigned_abs();
    let number = if digits == 0 {
        // Half up to whole units.
        let units = (abs + 50) / 100;
        group(&units.to_string(), c.group)
    } else {
        format!(
            "{}{}{:02}",
            group(&(abs / 100).to_string(), c.group),
            c.decimal,
            abs % 100
        )
    };
    let alphabetic = sym.chars().all(|ch| ch.is_ascii_alphabetic());
    let placement = match c.placement {
        Placement::Before if alphabetic => Placement::BeforeSpaced,
        p => p,
    };
    let body = match placement {
        Placement::Before => format!("{sym}{number}"),
        Placement::BeforeSpaced => format!("{sym} {number}"),
        Placement::AfterSpaced => format!("{number} {sym}"),
    };
    if negative { format!("-{body}") } else { body }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn values_parse_exactly() {
        assert_eq!(parse_value("value", &json!(299.00)), Ok(29900));
        assert_eq!(parse_value("value", &json!(299)), Ok(29900));
        assert_eq!(parse_value("value", &json!(19.99)), Ok(1999));
        assert_eq!(parse_value("value", &json!(0.1)), Ok(10));
        assert_eq!(parse_value("value", &json!("1234.5")), Ok(123450));
        assert_eq!(parse_value("value", &json!("0")), Ok(0));
        assert_eq!(parse_value("value", &json!(0.07)), Ok(7));
        assert!(parse_value("value", &json!(1.234)).is_err());
        assert!(
            parse_value("value", &json!(-1))
                .unwrap_err()
                .contains("negative")
        );
        assert!(parse_value("value", &json!("abc")).is_err());
        assert!(parse_value("value", &json!(true)).is_err());
        assert!(parse_value("value", &json!(1e21)).is_err());
        assert!(parse_value("value", &json!("1000000000000.01")).is_err());
        assert_eq!(
            parse_value("value", &json!("1000000000000.00")),
            Ok(MAX_CENTS)
        );
    }

    #[test]
    fn strings_and_numbers() {
        assert_eq!(cents_to_string(29900), "299.00");
        assert_eq!(cents_to_string(5), "0.05");
        assert_eq!(cents_to_number(1_500_000), 15000.0);
        assert_eq!(cents_to_number(1999), 19.99);
        assert_eq!(cents_to_number(600_001), 6000.01);
    }

    #[test]
    fn the_reference_and_common_locales() {
        assert_eq!(format_money(29900, "BRL", "pt-BR"), "R$ 299,00");
        assert_eq!(format_money(123_456_789, "BRL", "pt-BR"), "R$ 1.234.567,89");
        assert_eq!(format_money(29900, "USD", "en-US"), "$299.00");
        assert_eq!(format_money(123_456_789, "USD", "en-US"), "$1,234,567.89");
        assert_eq!(format_money(29900, "BRL", "en-US"), "R$299.00");
        assert_eq!(format_money(29900, "USD", "pt-BR"), "US$ 299,00");
        assert_eq!(format_money(123_456, "EUR", "de-DE"), "1.234,56 €");
        assert_eq!(format_money(123_456, "EUR", "fr-FR"), "1 234,56 €");
        assert_eq!(format_money(123_456, "GBP", "en-GB"), "£1,234.56");
        assert_eq!(format_money(123_456, "JPY", "ja-JP"), "¥1,235");
        assert_eq!(format_money(99, "USD", "en_us"), "$0.99");
        assert_eq!(format_money(0, "BRL", "pt-BR"), "R$ 0,00");
    }

    #[test]
    fn codes_and_unknown_locales_fall_back_to_iso_codes() {
        assert_eq!(format_money(123_456, "CHF", "en-US"), "CHF 1,234.56");
        assert_eq!(format_money(29900, "BRL", "xx-YY"), "BRL 299.00");
        assert_eq!(format_money(29900, "usd", ""), "USD 299.00");
        assert_eq!(format_money(123_456, "XYZ", "pt-BR"), "XYZ 1.234,56");
    }
}
