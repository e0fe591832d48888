//! Settings of the real WhatsApp engine (`ZAPINI_WA_*`) and its anti-ban pacing
//! (`ZAPINI_PACING_*`).

use std::time::Duration;

use super::ConfigError;
use super::invalid;
use super::parse::{parse_bool, parse_u64};
use crate::engine::pacing::PacingConfig;

/// Settings of the real WhatsApp engine (`ZAPINI_WA_*`, `ZAPINI_PACING_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsappSettings {
    /// `ZAPINI_WA_WS_URL`: the WebSocket endpoint (default WhatsApp Web's; a relay or a test
    /// server otherwise).
    pub ws_url: Option<String>,
    /// `ZAPINI_WA_PUSH_NAME`: the name this linked device shows on the phone.
    pub push_name: Option<String>,
    /// `ZAPINI_WA_UNREACHABLE_SECS` (30): without a QR code or a connection this long, the
    /// status turns `disconnected` with reason `unreachable` (the client keeps retrying).
    pub unreachable_after: Duration,
    /// `ZAPINI_WA_WATCHDOG_SECS` (180): a connected session silent this long is reconnected.
    pub watchdog_silence: Duration,
    /// `ZAPINI_WA_MEDIA_MAX_MB` (100): the largest media file the engine downloads from
    /// WhatsApp's servers; a larger one is refused while it streams.
    pub media_max_bytes: u64,
    /// `ZAPINI_PACING*`: anti-ban pacing of sends.
    pub pacing: PacingConfig,
}

impl Default for WhatsappSettings {
    fn default() -> Self {
        WhatsappSettings {
            ws_url: None,
            push_name: None,
            unreachable_after: Duration::from_secs(30),
            watchdog_silence: Duration::from_secs(180),
            media_max_bytes: 100 * 1024 * 1024,
            pacing: PacingConfig::default(),
        }
    }
}

pub(super) fn whatsapp_settings(
    get: &impl Fn(&str) -> Option<String>,
) -> Result<WhatsappSettings, ConfigError> {
    let mut s = WhatsappSettings::default();
    if let Some(v) = get("ZAPINI_WA_WS_URL") {
        let url = reqwest::Url::parse(v.trim())
            .map_err(|e| invalid("ZAPINI_WA_WS_URL", format!("not a URL ({v:?}): {e}")))?;
        if !matches!(url.scheme(), "ws" | "wss") {
            return Err(invalid(
                "ZAPINI_WA_WS_URL",
                "must start with ws:// or wss://",
            ));
        }
        s.ws_url = Some(v.trim().to_owned());
    }
    s.push_name = get("ZAPINI_WA_PUSH_NAME").map(|v| v.trim().to_owned());
    if let Some(v) = get("ZAPINI_WA_UNREACHABLE_SECS") {
        s.unreachable_after =
            Duration::from_secs(parse_u64("ZAPINI_WA_UNREACHABLE_SECS", &v, 1, 3600)?);
    }
    if let Some(v) = get("ZAPINI_WA_WATCHDOG_SECS") {
        s.watchdog_silence =
            Duration::from_secs(parse_u64("ZAPINI_WA_WATCHDOG_SECS", &v, 30, 86_400)?);
    }
    if let Some(v) = get("ZAPINI_WA_MEDIA_MAX_MB") {
        s.media_max_bytes = parse_u64("ZAPINI_WA_MEDIA_MAX_MB", &v, 1, 4096)? * 1024 * 1024;
    }
    let p = &mut s.pacing;
    if let Some(v) = get("ZAPINI_PACING") {
        p.enabled = parse_bool("ZAPINI_PACING", &v)?;
    }
    if let Some(v) = get("ZAPINI_PACING_TYPING") {
        p.typing = parse_bool("ZAPINI_PACING_TYPING", &v)?;
    }
    let ms = |name: &'static str, max: u64| -> Result<Option<Duration>, ConfigError> {
        get(name)
            .map(|v| parse_u64(name, &v, 0, max).map(Duration::from_millis))
            .transpose()
    };
    if let Some(d) = ms("ZAPINI_PACING_TYPING_MIN_MS", 60_000)? {
        p.typing_min = d;
    }
    if let Some(d) = ms("ZAPINI_PACING_TYPING_MAX_MS", 60_000)? {
        p.typing_max = d;
    }
    if p.typing_max < p.typing_min {
        return Err(invalid(
            "ZAPINI_PACING_TYPING_MAX_MS",
            "must not be below ZAPINI_PACING_TYPING_MIN_MS",
        ));
    }
    if let Some(d) = ms("ZAPINI_PACING_RECIPIENT_GAP_MS", 3_600_000)? {
        p.recipient_gap = d;
    }
    if let Some(d) = ms("ZAPINI_PACING_INSTANCE_GAP_MS", 3_600_000)? {
        p.instance_gap = d;
    }
    if let Some(v) = get("ZAPINI_PACING_NEW_CHATS_PER_HOUR") {
        p.new_chats_per_hour = u32::try_from(parse_u64(
            "ZAPINI_PACING_NEW_CHATS_PER_HOUR",
            &v,
            0,
            100_000,
        )?)
        .unwrap_or(u32::MAX);
    }
    Ok(s)
}
