//! Where Prometheus metrics are served (`ZAPINI_METRICS_ADDR`, `ZAPINI_METRICS_TOKEN`).

use std::net::SocketAddr;

use secrecy::SecretString;

use super::{ConfigError, invalid};

/// `/metrics` is never served to the public unauthenticated: on a listener of its own
/// (meant for loopback or a private network), and/or on the API port behind a bearer token.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// `ZAPINI_METRICS_ADDR` (unset: off): a listener serving `GET /metrics` and
    /// `GET /metrics/targets` (Prometheus HTTP service discovery of the nodes) without auth.
    pub addr: Option<SocketAddr>,
    /// `ZAPINI_METRICS_TOKEN` (unset: off): `GET /metrics` on the API port with
    /// `Authorization: Bearer <token>`; the process launcher gives it to its nodes, which
    /// serve their `/metrics` behind it.
    pub token: Option<SecretString>,
}

impl MetricsSettings {
    /// Whether anything serves metrics (then the recorder is installed).
    pub fn enabled(&self) -> bool {
        self.addr.is_some() || self.token.is_some()
    }
}

/// The shortest token accepted: long enough not to be guessed within the rate limits.
const MIN_TOKEN_CHARS: usize = 16;

pub(super) fn metrics_settings(
    addr: Option<String>,
    token: Option<String>,
) -> Result<MetricsSettings, ConfigError> {
    let addr = match addr.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
        None => None,
        Some(a) => Some(a.parse::<SocketAddr>().map_err(|_| {
            invalid(
                "ZAPINI_METRICS_ADDR",
                format!("`{a}` is not an address like 127.0.0.1:9464"),
            )
        })?),
    };
    let token = match token.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) if t.len() < MIN_TOKEN_CHARS => {
            return Err(invalid(
                "ZAPINI_METRICS_TOKEN",
                format!("must be at least {MIN_TOKEN_CHARS} characters"),
            ));
        }
        Some(t) if !t.bytes().all(|b| b.is_ascii_graphic()) => {
            return Err(invalid(
                "ZAPINI_METRICS_TOKEN",
                "must be printable ASCII without spaces (it travels in a header)",
            ));
        }
        Some(t) => Some(SecretString::from(t.to_owned())),
    };
    Ok(MetricsSettings { addr, token })
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn values_and_errors() {
        let off = metrics_settings(None, Some("  ".into())).unwrap();
        assert!(off.addr.is_none() && off.token.is_none() && !off.enabled());
        let on = metrics_settings(
            Some("127.0.0.1:9464".into()),
            Some(" abcdefghijklmnopqrstuvwxyz ".into()),
        )
        .unwrap();
        assert_eq!(on.addr.unwrap().port(), 9464);
        assert_eq!(
            on.token.unwrap().expose_secret(),
            "abcdefghijklmnopqrstuvwxyz"
        );
        for (addr, token, setting) in [
            (Some("localhost"), None, "ZAPINI_METRICS_ADDR"),
            (None, Some("short"), "ZAPINI_METRICS_TOKEN"),
            (None, Some("with a space inside it"), "ZAPINI_METRICS_TOKEN"),
        ] {
            let err = metrics_settings(addr.map(Into::into), token.map(Into::into)).unwrap_err();
            assert_eq!(err.setting, setting);
        }
    }
}
