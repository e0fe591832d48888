//! Parsing of single values (numbers in a range, addresses, URLs, booleans) into settings,
//! each failure naming its variable.

use std::net::SocketAddr;

use super::{ConfigError, invalid};

pub(super) fn parse_u64(
    setting: &'static str,
    value: &str,
    min: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    match value.trim().parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(
            setting,
            format!("expected a number from {min} to {max}, got {value:?}"),
        )),
    }
}

pub(super) fn parse_addr(
    setting: &'static str,
    value: Option<String>,
) -> Result<SocketAddr, ConfigError> {
    match value {
        None => Ok(SocketAddr::from(([127, 0, 0, 1], 0))),
        Some(v) => v.trim().parse().map_err(|e| {
            invalid(
                setting,
                format!("expected host:port such as 127.0.0.1:8081, got {v:?}: {e}"),
            )
        }),
    }
}

pub(super) fn parse_http_url(
    setting: &'static str,
    value: &str,
) -> Result<reqwest::Url, ConfigError> {
    let url = reqwest::Url::parse(value.trim())
        .map_err(|e| invalid(setting, format!("not a URL ({value:?}): {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid(
            setting,
            "must be an http:// or https:// URL with a host",
        ));
    }
    Ok(url)
}

pub(super) fn parse_bool(setting: &'static str, value: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(
            setting,
            format!("expected true or false, got {value:?}"),
        )),
    }
}
