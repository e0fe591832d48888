//! Settings of the node's HTTP edge: the overall timeout of requests forwarded to the control
//! plane and the Instance API rate limits (`ZAPINI_PROXY_TIMEOUT_SECS`,
//! `ZAPINI_EDGE_RATE_LIMIT_*`).

use std::time::Duration;

use super::ConfigError;
use super::parse::parse_u64;

/// The Instance API's request budgets, counted in fixed windows. `0` turns a budget off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// `ZAPINI_EDGE_RATE_LIMIT_PER_TOKEN` (100): requests per window per bearer token, known
    /// or not.
    pub per_token: u64,
    /// `ZAPINI_EDGE_RATE_LIMIT_PER_ADDR` (200): requests per window per client address.
    pub per_addr: u64,
    /// `ZAPINI_EDGE_RATE_LIMIT_WINDOW_SECS` (1): the window of the two budgets above.
    pub window: Duration,
    /// `ZAPINI_EDGE_RATE_LIMIT_AUTH_FAILURES` (30): rejected tokens per minute per client
    /// address; past it the address is refused before its token is checked.
    pub auth_failures_per_minute: u64,
}

impl Default for EdgeLimits {
    fn default() -> Self {
        EdgeLimits {
            per_token: 100,
            per_addr: 200,
            window: Duration::from_secs(1),
            auth_failures_per_minute: 30,
        }
    }
}

impl EdgeLimits {
    /// Every budget off.
    pub fn off() -> Self {
        EdgeLimits {
            per_token: 0,
            per_addr: 0,
            window: Duration::from_secs(1),
            auth_failures_per_minute: 0,
        }
    }
}

/// The HTTP edge's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeSettings {
    /// `ZAPINI_PROXY_TIMEOUT_SECS` (60): the longest a request forwarded to the control plane
    /// may take, body included.
    pub proxy_timeout: Duration,
    pub limits: EdgeLimits,
}

impl Default for EdgeSettings {
    fn default() -> Self {
        EdgeSettings {
            proxy_timeout: Duration::from_secs(60),
            limits: EdgeLimits::default(),
        }
    }
}

pub(super) fn edge_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<EdgeSettings, ConfigError> {
    let mut s = EdgeSettings::default();
    if let Some(v) = get("ZAPINI_PROXY_TIMEOUT_SECS") {
        s.proxy_timeout = Duration::from_secs(parse_u64("ZAPINI_PROXY_TIMEOUT_SECS", &v, 1, 3600)?);
    }
    let l = &mut s.limits;
    for (name, field) in [
        ("ZAPINI_EDGE_RATE_LIMIT_PER_TOKEN", &mut l.per_token),
        ("ZAPINI_EDGE_RATE_LIMIT_PER_ADDR", &mut l.per_addr),
        (
            "ZAPINI_EDGE_RATE_LIMIT_AUTH_FAILURES",
            &mut l.auth_failures_per_minute,
        ),
    ] {
        if let Some(v) = get(name) {
            *field = parse_u64(name, &v, 0, 100_000_000)?;
        }
    }
    if let Some(v) = get("ZAPINI_EDGE_RATE_LIMIT_WINDOW_SECS") {
        l.window = Duration::from_secs(parse_u64(
            "ZAPINI_EDGE_RATE_LIMIT_WINDOW_SECS",
            &v,
            1,
            3600,
        )?);
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<EdgeSettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        edge_settings(&|k: &str| map.get(k).cloned())
    }

    #[test]
    fn defaults_values_and_errors() {
        assert_eq!(load(&[]).unwrap(), EdgeSettings::default());
        let s = load(&[
            ("ZAPINI_PROXY_TIMEOUT_SECS", "5"),
            ("ZAPINI_EDGE_RATE_LIMIT_PER_TOKEN", "0"),
            ("ZAPINI_EDGE_RATE_LIMIT_PER_ADDR", "7"),
            ("ZAPINI_EDGE_RATE_LIMIT_WINDOW_SECS", "60"),
            ("ZAPINI_EDGE_RATE_LIMIT_AUTH_FAILURES", "3"),
        ])
        .unwrap();
        assert_eq!(s.proxy_timeout, Duration::from_secs(5));
        assert_eq!(s.limits.per_token, 0);
        assert_eq!(s.limits.per_addr, 7);
        assert_eq!(s.limits.window, Duration::from_secs(60));
        assert_eq!(s.limits.auth_failures_per_minute, 3);
        for (name, value) in [
            ("ZAPINI_PROXY_TIMEOUT_SECS", "0"),
            ("ZAPINI_EDGE_RATE_LIMIT_PER_TOKEN", "-1"),
            ("ZAPINI_EDGE_RATE_LIMIT_WINDOW_SECS", "0"),
        ] {
            assert_eq!(load(&[(name, value)]).unwrap_err().setting, name);
        }
    }
}
