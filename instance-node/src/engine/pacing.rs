//! Anti-ban pacing for engines that talk to real WhatsApp: a typing indicator before each
//! message, a minimum gap between two sends to the same recipient and between any two sends
//! of the instance, and a cap on messages that open a new chat per hour.
//!
//! The pacer is pure bookkeeping (no I/O, no protocol types): [`Pacer::admit`] reserves the
//! moment a send may go out and tells the engine how long to wait and how long to show
//! "typing…"; the engine does the waiting. Reserving at admission makes concurrent sends to
//! one recipient queue up one gap apart instead of all waking at once.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Pacing settings of one instance (`ZAPINI_PACING_*` on the node).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacingConfig {
    /// Master switch; off means sends go out at once (not recommended on real numbers).
    pub enabled: bool,
    /// Show "typing…" (or "recording…" for voice) before each message.
    pub typing: bool,
    /// Shortest and longest typing indicator; in between it grows with the text length.
    pub typing_min: Duration,
    pub typing_max: Duration,
    /// Typing time per character of text (captions count; media without text uses the minimum).
    pub typing_per_char: Duration,
    /// Minimum time between two messages to the same recipient.
    pub recipient_gap: Duration,
    /// Minimum time between any two messages of the instance.
    pub instance_gap: Duration,
    /// Messages per rolling hour to recipients this instance never exchanged a message with
    /// (groups excluded); `0` = no cap.
    pub new_chats_per_hour: u32,
    /// A send that would have to wait longer than this is refused with a retry time instead
    /// of holding the request.
    pub max_wait: Duration,
}

impl Default for PacingConfig {
    fn default() -> Self {
        PacingConfig {
            enabled: true,
            typing: true,
            typing_min: Duration::from_millis(1_000),
            typing_max: Duration::from_millis(4_000),
            typing_per_char: Duration::from_millis(40),
            recipient_gap: Duration::from_secs(3),
            instance_gap: Duration::from_millis(500),
            new_chats_per_hour: 30,
            max_wait: Duration::from_secs(60),
        }
    }
}

impl PacingConfig {
    /// No pacing at all (tests, or an operator who opts out).
    pub fn off() -> Self {
        PacingConfig {
            enabled: false,
            typing: false,
            ..PacingConfig::default()
        }
    }
}

/// What the engine must do before sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Wait this long first (the gaps).
    pub wait: Duration,
    /// Then show the typing indicator this long (`None`: no indicator).
    pub typing: Option<Duration>,
}

impl Plan {
    pub const NOW: Plan = Plan {
        wait: Duration::ZERO,
        typing: None,
    };

    /// Wait plus typing.
    pub fn total(&self) -> Duration {
        self.wait + self.typing.unwrap_or_default()
    }
}

/// Why a send was refused by pacing; retry after `retry_after`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}; retry in {}s", retry_after.as_secs().max(1))]
pub struct Refused {
    pub reason: String,
    pub retry_after: Duration,
}

impl From<Refused> for super::EngineError {
    fn from(r: Refused) -> Self {
        super::EngineError::RateLimited {
            reason: r.reason,
            retry_after: r.retry_after,
        }
    }
}

/// The settings and live counters the status endpoint reports (a wire type, so the control
/// plane's OpenAPI document describes it).
pub use zapini_shared::node_api::PacingReport;

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Known chats beyond this many are not remembered any more (each costs a few dozen bytes).
const MAX_KNOWN: usize = 200_000;

#[derive(Default)]
struct State {
    /// When the next message to a recipient may go out.
    next_per_recipient: HashMap<String, Instant>,
    /// When the next message of the instance may go out.
    next_any: Option<Instant>,
    known: HashSet<String>,
    new_chat_sends: VecDeque<Instant>,
}

/// One instance's pacer. Cheap to share (`Arc`); all state sits behind one short mutex.
pub struct Pacer {
    config: PacingConfig,
    state: Mutex<State>,
    /// Append-only list of known chats, so a restarted node does not count old chats as new.
    known_file: Option<PathBuf>,
}

impl Pacer {
    /// A pacer; `known_file` (one chat per line) is read now and appended to as chats appear.
    pub fn new(config: PacingConfig, known_file: Option<PathBuf>) -> Pacer {
        let mut state = State::default();
        if let Some(path) = &known_file
            && let Ok(text) = std::fs::read_to_string(path)
        {
            state.known.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .take(MAX_KNOWN)
                    .map(str::to_owned),
            );
        }
        Pacer {
            config,
            state: Mutex::new(state),
            known_file,
        }
    }

    pub fn config(&self) -> &PacingConfig {
        &self.config
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers a chat (a message came in from it, or one of ours went out to it).
    pub fn mark_known(&self, chat: &str) {
        let added = {
            let mut st = self.lock();
            st.known.len() < MAX_KNOWN && st.known.insert(chat.to_owned())
        };
        if added && let Some(path) = &self.known_file {
            let written = zapini_shared::private_fs::open_options()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| writeln!(f, "{chat}"));
            if let Err(e) = written {
                tracing::warn!(error = %e, path = %path.display(), "cannot record a known chat");
            }
        }
    }

    pub fn is_known(&self, chat: &str) -> bool {
        self.lock().known.contains(chat)
    }

    /// Reserves a send to `recipient` (a JID string) with `text_chars` characters of text at
    /// `now`. Groups (`is_group`) never count as new chats.
    pub fn admit(
        &self,
        recipient: &str,
        is_group: bool,
        text_chars: usize,
        now: Instant,
    ) -> Result<Plan, Refused> {
        if !self.config.enabled {
            return Ok(Plan::NOW);
        }
        let cfg = &self.config;
        let typing = cfg.typing.then(|| {
            let chars = u32::try_from(text_chars).unwrap_or(u32::MAX);
            cfg.typing_per_char
                .saturating_mul(chars)
                .clamp(cfg.typing_min, cfg.typing_max.max(cfg.typing_min))
        });
        let hour = Duration::from_secs(3600);
        let mut st = self.lock();
        while st
            .new_chat_sends
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= hour)
        {
            st.new_chat_sends.pop_front();
        }
        let new_chat = !is_group && !st.known.contains(recipient);
        if new_chat && cfg.new_chats_per_hour > 0 {
            let cap = cfg.new_chats_per_hour as usize;
            if st.new_chat_sends.len() >= cap {
                let oldest = st.new_chat_sends[st.new_chat_sends.len() - cap];
                crate::metrics::rate_limit_refused("pacing");
                return Err(Refused {
                    reason: format!(
                        "pacing: at most {} messages per hour may open new chats",
                        cfg.new_chats_per_hour
                    ),
                    retry_after: (oldest + hour).saturating_duration_since(now),
                });
            }
        }
        let mut start = now;
        if let Some(t) = st.next_per_recipient.get(recipient) {
            start = start.max(*t);
        }
        if let Some(t) = st.next_any {
            start = start.max(t);
        }
        let wait = start.saturating_duration_since(now);
        if wait > cfg.max_wait {
            crate::metrics::rate_limit_refused("pacing");
            return Err(Refused {
                reason: "pacing: too many messages queued for this recipient".to_owned(),
                retry_after: wait - cfg.max_wait,
            });
        }
        let goes_out = start + typing.unwrap_or_default();
        st.next_per_recipient
            .insert(recipient.to_owned(), goes_out + cfg.recipient_gap);
        st.next_any = Some(goes_out + cfg.instance_gap);
        if st.next_per_recipient.len() > 10_000 {
            st.next_per_recipient.retain(|_, t| *t > now);
        }
        if new_chat {
            st.new_chat_sends.push_back(now);
        }
        drop(st);
        if new_chat {
            self.mark_known(recipient);
        }
        Ok(Plan { wait, typing })
    }

    /// Settings plus live counters.
    pub fn report(&self, now: Instant) -> PacingReport {
        let st = self.lock();
        let hour = Duration::from_secs(3600);
        let recent = st
            .new_chat_sends
            .iter()
            .filter(|t| now.saturating_duration_since(**t) < hour)
            .count();
        let c = &self.config;
        PacingReport {
            enabled: c.enabled,
            typing: c.typing,
            typing_min_ms: ms(c.typing_min),
            typing_max_ms: ms(c.typing_max),
            typing_per_char_ms: ms(c.typing_per_char),
            recipient_gap_ms: ms(c.recipient_gap),
            instance_gap_ms: ms(c.instance_gap),
            new_chats_per_hour: c.new_chats_per_hour,
            max_wait_ms: ms(c.max_wait),
            new_chats_last_hour: u32::try_from(recent).unwrap_or(u32::MAX),
            known_chats: st.known.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> PacingConfig {
        PacingConfig {
            new_chats_per_hour: 2,
            ..PacingConfig::default()
        }
    }

    #[test]
    fn typing_grows_with_text_within_bounds() {
        let p = Pacer::new(cfg(), None);
        let now = Instant::now();
        assert_eq!(
            p.admit("a", false, 1, now).unwrap().typing,
            Some(Duration::from_secs(1))
        );
        assert_eq!(
            p.admit("b", false, 50, now).unwrap().typing,
            Some(Duration::from_millis(2_000))
        );
        p.mark_known("c");
        assert_eq!(
            p.admit("c", false, 10_000, now).unwrap().typing,
            Some(Duration::from_secs(4))
        );
    }

    #[test]
    fn sends_to_one_recipient_are_spaced_by_the_gap() {
        let p = Pacer::new(cfg(), None);
        p.mark_known("a");
        let now = Instant::now();
        let first = p.admit("a", false, 0, now).unwrap();
        assert_eq!(first.wait, Duration::ZERO);
        let second = p.admit("a", false, 0, now).unwrap();
        // first goes out after 1 s of typing, then the 3 s gap.
        assert_eq!(second.wait, Duration::from_secs(4));
        // Another recipient only waits for the instance gap.
        p.mark_known("b");
        let other = p.admit("b", false, 0, now).unwrap();
        assert_eq!(other.wait, Duration::from_millis(5_000 + 500));
    }

    #[test]
    fn new_chats_are_capped_per_hour_and_known_chats_are_not() {
        let p = Pacer::new(cfg(), None);
        let now = Instant::now();
        p.admit("n1", false, 0, now).unwrap();
        p.admit("n2", false, 0, now).unwrap();
        let refused = p.admit("n3", false, 0, now).unwrap_err();
        assert!(refused.retry_after <= Duration::from_secs(3600));
        assert!(refused.retry_after > Duration::from_secs(3590));
        // n1 is known now; a group never counts.
        assert!(p.admit("n1", false, 0, now).is_ok());
        assert!(p.admit("g@g.us", true, 0, now).is_ok());
        // An hour later the window has room again.
        assert!(
            p.admit("n3", false, 0, now + Duration::from_secs(3601))
                .is_ok()
        );
        assert_eq!(
            p.report(now + Duration::from_secs(3601))
                .new_chats_last_hour,
            1
        );
    }

    #[test]
    fn off_means_no_waiting() {
        let p = Pacer::new(PacingConfig::off(), None);
        let now = Instant::now();
        for _ in 0..100 {
            assert_eq!(p.admit("x", false, 10, now).unwrap(), Plan::NOW);
        }
    }

    #[test]
    fn a_long_queue_is_refused_not_held() {
        let p = Pacer::new(
            PacingConfig {
                max_wait: Duration::from_secs(10),
                ..cfg()
            },
            None,
        );
        p.mark_known("a");
        let now = Instant::now();
        let mut refused = None;
        for _ in 0..10 {
            if let Err(e) = p.admit("a", false, 0, now) {
                refused = Some(e);
                break;
            }
        }
        assert!(refused.is_some(), "the queue must be bounded by max_wait");
    }

    #[test]
    fn known_chats_survive_a_restart_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("known_chats");
        let p = Pacer::new(cfg(), Some(path.clone()));
        p.admit("5511999@s.whatsapp.net", false, 0, Instant::now())
            .unwrap();
        p.mark_known("5511888@s.whatsapp.net");
        let again = Pacer::new(cfg(), Some(path));
        assert!(again.is_known("5511999@s.whatsapp.net"));
        assert!(again.is_known("5511888@s.whatsapp.net"));
        assert_eq!(again.report(Instant::now()).known_chats, 2);
    }
}
