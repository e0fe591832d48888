//! Where the node serves Prometheus metrics (`ZAPINI_METRICS_TOKEN`,
//! `ZAPINI_NODE_METRICS_ADDR`).

use std::net::SocketAddr;

use secrecy::SecretString;

use super::{ConfigError, invalid};

/// Many nodes share a host, so no fixed address fits them all: a node serves `/metrics` on
/// its own HTTP listener behind a bearer token (the process launcher passes the control
/// plane's `ZAPINI_METRICS_TOKEN`), and optionally on an address of its own without auth.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// `ZAPINI_METRICS_TOKEN` (unset: off): `GET /metrics` on the HTTP listener with
    /// `Authorization: Bearer <token>`.
    pub token: Option<SecretString>,
    /// `ZAPINI_NODE_METRICS_ADDR` (unset: off): `GET /metrics` there, without auth (for
    /// loopback or a private network).
    pub addr: Option<SocketAddr>,
}

impl MetricsSettings {
    /// Whether anything serves metrics (then the recorder is installed).
    pub fn enabled(&self) -> bool {
        self.token.is_some() || self.addr.is_some()
    }
}

pub(super) fn metrics_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<MetricsSettings, ConfigError> {
    let token = match get("ZAPINI_METRICS_TOKEN") {
        None => None,
        Some(t) => {
            let t = t.trim();
            if t.len() < 16 || !t.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(invalid(
                    "ZAPINI_METRICS_TOKEN",
                    "must be at least 16 printable ASCII characters without spaces",
                ));
            }
            Some(SecretString::from(t.to_owned()))
        }
    };
    let addr = match get("ZAPINI_NODE_METRICS_ADDR") {
        None => None,
        Some(v) => Some(v.trim().parse().map_err(|_| {
            invalid(
                "ZAPINI_NODE_METRICS_ADDR",
                format!("expected host:port such as 127.0.0.1:9465, got {v:?}"),
            )
        })?),
    };
    Ok(MetricsSettings { token, addr })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use std::collections::HashMap;

    fn load(vars: &[(&str, &str)]) -> Result<MetricsSettings, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        metrics_settings(&|k: &str| map.get(k).cloned())
    }

    #[test]
    fn values_and_errors() {
        assert!(!load(&[]).unwrap().enabled());
        let s = load(&[
            ("ZAPINI_METRICS_TOKEN", "0123456789abcdef-token"),
            ("ZAPINI_NODE_METRICS_ADDR", "127.0.0.1:9465"),
        ])
        .unwrap();
        assert_eq!(s.token.unwrap().expose_secret(), "0123456789abcdef-token");
        assert_eq!(s.addr.unwrap().port(), 9465);
        for (name, value) in [
            ("ZAPINI_METRICS_TOKEN", "short"),
            ("ZAPINI_METRICS_TOKEN", "has spaces in the middle"),
            ("ZAPINI_NODE_METRICS_ADDR", "nowhere"),
        ] {
            assert_eq!(load(&[(name, value)]).unwrap_err().setting, name);
        }
    }
}
