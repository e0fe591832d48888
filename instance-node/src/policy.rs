//! The send policy the node enforces on its hot path without asking the control plane: the
//! daily message limit and the automation guard. The control plane issues it at registration
//! and pushes changes down the events stream; between pushes the node counts its own sends.
//!
//! It owns only counters and flags; it must not block on IO.

use std::collections::HashSet;
use std::sync::Mutex;

use chrono::{NaiveDate, Utc};

/// Why a send is refused by policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyDenied {
    /// The daily limit is used up.
    DailyLimit { limit: u32 },
    /// An automation manages this chat and it is not paused.
    AutomationActive,
}

#[derive(Debug)]
struct Inner {
    daily_limit: u32,
    /// Sends counted for `day`: the control plane's count plus ours since the policy came.
    sent_today: u32,
    day: NaiveDate,
    automation_active: bool,
    paused: HashSet<String>,
}

/// What the node knows of the instance's send policy. Before registration: no limit and no
/// automation.
#[derive(Debug)]
pub struct PolicyState {
    inner: Mutex<Inner>,
}

/// The policy as the control plane sends it, independent of the proto types.
#[derive(Debug, Clone, Default)]
pub struct PolicyUpdate {
    pub daily_limit: u32,
    pub messages_sent_today: u32,
    pub automation_active: bool,
    pub paused_chats: Vec<String>,
    /// `YYYY-MM-DD` (UTC); empty or unparsable means today.
    pub day: String,
}

impl Default for PolicyState {
    fn default() -> Self {
        PolicyState {
            inner: Mutex::new(Inner {
                daily_limit: 0,
                sent_today: 0,
                day: Utc::now().date_naive(),
                automation_active: false,
                paused: HashSet::new(),
            }),
        }
    }
}

impl PolicyState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces the whole policy (registration, or a `Policy` push).
    pub fn replace(&self, update: PolicyUpdate) {
        let today = Utc::now().date_naive();
        let day = NaiveDate::parse_from_str(update.day.trim(), "%Y-%m-%d").unwrap_or(today);
        let mut st = self.lock();
        st.daily_limit = update.daily_limit;
        // A count for an earlier day no longer applies.
        st.sent_today = if day == today {
            update.messages_sent_today
        } else {
            0
        };
        st.day = today;
        st.automation_active = update.automation_active;
        st.paused = update.paused_chats.into_iter().collect();
    }

    /// One conversation's automation was paused or resumed.
    pub fn set_chat_paused(&self, chat_jid: &str, paused: bool) {
        let mut st = self.lock();
        if paused {
            st.paused.insert(chat_jid.to_owned());
        } else {
            st.paused.remove(chat_jid);
        }
    }

    /// Checks a send to `chat_jid` and, when allowed, counts it toward the daily limit.
    /// Call [`PolicyState::release`] if the send then fails.
    pub fn try_reserve(&self, chat_jid: &str, bypass_automation: bool) -> Result<(), PolicyDenied> {
        let today = Utc::now().date_naive();
        let mut st = self.lock();
        if st.day != today {
            st.day = today;
            st.sent_today = 0;
        }
        if !bypass_automation && st.automation_active && !st.paused.contains(chat_jid) {
            return Err(PolicyDenied::AutomationActive);
        }
        if st.daily_limit != 0 && st.sent_today >= st.daily_limit {
            return Err(PolicyDenied::DailyLimit {
                limit: st.daily_limit,
            });
        }
        st.sent_today = st.sent_today.saturating_add(1);
        Ok(())
    }

    /// Gives back a reservation whose send failed.
    pub fn release(&self) {
        let mut st = self.lock();
        st.sent_today = st.sent_today.saturating_sub(1);
    }

    /// Sends counted today.
    pub fn sent_today(&self) -> u32 {
        self.lock().sent_today
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> String {
        Utc::now().date_naive().format("%Y-%m-%d").to_string()
    }

    #[test]
    fn unlimited_by_default() {
        let p = PolicyState::default();
        for _ in 0..1000 {
            p.try_reserve("1@s.whatsapp.net", false).unwrap();
        }
    }

    #[test]
    fn daily_limit_counts_from_policy() {
        let p = PolicyState::default();
        p.replace(PolicyUpdate {
            daily_limit: 3,
            messages_sent_today: 2,
            day: today(),
            ..Default::default()
        });
        p.try_reserve("a", false).unwrap();
        assert_eq!(
            p.try_reserve("a", false),
            Err(PolicyDenied::DailyLimit { limit: 3 })
        );
        p.release();
        p.try_reserve("a", true).unwrap();
    }

    #[test]
    fn stale_day_resets_count() {
        let p = PolicyState::default();
        p.replace(PolicyUpdate {
            daily_limit: 1,
            messages_sent_today: 1,
            day: "2001-01-01".into(),
            ..Default::default()
        });
        p.try_reserve("a", false).unwrap();
    }

    #[test]
    fn automation_guard_honours_paused_chats_and_bypass() {
        let p = PolicyState::default();
        p.replace(PolicyUpdate {
            automation_active: true,
            paused_chats: vec!["p@s.whatsapp.net".into()],
            ..Default::default()
        });
        assert_eq!(
            p.try_reserve("x@s.whatsapp.net", false),
            Err(PolicyDenied::AutomationActive)
        );
        p.try_reserve("p@s.whatsapp.net", false).unwrap();
        p.try_reserve("x@s.whatsapp.net", true).unwrap();
        p.set_chat_paused("x@s.whatsapp.net", true);
        p.try_reserve("x@s.whatsapp.net", false).unwrap();
        p.set_chat_paused("x@s.whatsapp.net", false);
        assert!(p.try_reserve("x@s.whatsapp.net", false).is_err());
    }
}
