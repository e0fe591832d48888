//! Contacts' profile pictures: fetched once per contact when a message from them arrives,
//! kept for a day, fetched again when WhatsApp says the picture changed (`PictureUpdate`).
//! A failed fetch leaves the URL unknown (null upstream) and is tried again after an hour.
//! Each change is reported as a `ContactUpdate` carrying the URL (or that it was removed).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use whatsapp_rust::Client;
use zapini_shared::jid::Jid;

use super::map;
use crate::engine::types::EngineEvent;

/// How long a fetched picture URL is trusted without news from WhatsApp.
pub(super) const FRESH: Duration = Duration::from_secs(24 * 3600);
/// How long after a failed fetch the next one may be tried.
pub(super) const RETRY_FAILED: Duration = Duration::from_secs(3600);
/// Contacts remembered at most (the oldest fetch is forgotten first).
const KEPT: usize = 10_000;

#[derive(Debug, Clone)]
struct Entry {
    /// `None` while the first fetch runs or after a failure; `Some(None)`: no picture.
    url: Option<Option<String>>,
    /// When the entry may be fetched again.
    due: Instant,
    fetching: bool,
}

/// What a finished fetch means for the contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Change {
    /// A picture URL, new or different from the one known.
    Set(String),
    /// The contact has no picture (any more).
    Removed,
}

#[derive(Default)]
pub(super) struct Pictures {
    entries: Mutex<HashMap<Jid, Entry>>,
}

impl Pictures {
    /// Whether `jid` should be fetched now; marks it as being fetched, so concurrent messages
    /// from one contact start one fetch.
    pub fn claim(&self, jid: &Jid, now: Instant) -> bool {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(jid) {
            if entry.fetching || entry.due > now {
                return false;
            }
            entry.fetching = true;
            return true;
        }
        if entries.len() >= KEPT
            && let Some(oldest) = entries
                .iter()
                .filter(|(_, e)| !e.fetching)
                .min_by_key(|(_, e)| e.due)
                .map(|(j, _)| j.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(
            jid.clone(),
            Entry {
                url: None,
                due: now,
                fetching: true,
            },
        );
        true
    }

    /// Records a fetch's outcome (`Err` for a failure); returns the change to report, if any.
    pub fn finish(
        &self,
        jid: &Jid,
        outcome: Result<Option<String>, ()>,
        now: Instant,
    ) -> Option<Change> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.entry(jid.clone()).or_insert(Entry {
            url: None,
            due: now,
            fetching: false,
        });
        entry.fetching = false;
        match outcome {
            Err(()) => {
                entry.due = now + RETRY_FAILED;
                None
            }
            Ok(url) => {
                entry.due = now + FRESH;
                let change = match (&entry.url, &url) {
                    (Some(known), new) if known == new => None,
                    (None, None) => None,
                    (_, Some(new)) => Some(Change::Set(new.clone())),
                    (Some(Some(_)), None) => Some(Change::Removed),
                    (Some(None), None) => None,
                };
                entry.url = Some(url);
                change
            }
        }
    }

    /// WhatsApp says the picture changed: the next [`Pictures::claim`] fetches it.
    pub fn changed(&self, jid: &Jid, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = entries.get_mut(jid) {
            entry.due = now;
        }
    }
}

impl super::WhatsappEngine {
    /// Fetches `jid`'s profile picture in the background unless it is known and fresh, and
    /// reports a change as a `ContactUpdate`. A failure leaves the URL unknown.
    pub(super) fn refresh_picture(self: &Arc<Self>, client: &Arc<Client>, jid: &Jid) {
        if !jid.is_user() || !self.pictures.claim(jid, Instant::now()) {
            return;
        }
        let Some(wa) = map::wa_jid(jid) else {
            return;
        };
        let engine = Arc::downgrade(self);
        let client = client.clone();
        let jid = jid.clone();
        tokio::spawn(async move {
            let outcome = client
                .contacts()
                .get_profile_picture_with_timeout(&wa, false, Some(Duration::from_secs(10)))
                .await
                .map(|p| p.map(|p| p.url).filter(|url| url.starts_with("https://")))
                .map_err(|e| tracing::debug!(%jid, error = %e, "profile picture not fetched"));
            let Some(engine) = engine.upgrade() else {
                return;
            };
            if let Some(change) = engine.pictures.finish(&jid, outcome, Instant::now()) {
                let picture = match change {
                    Change::Set(url) => Some(url),
                    Change::Removed => None,
                };
                engine
                    .emit(EngineEvent::ContactUpdate {
                        jid,
                        push_name: None,
                        profile_picture: Some(picture),
                    })
                    .await;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jid() -> Jid {
        Jid::parse("5511988887777@s.whatsapp.net").unwrap()
    }

    #[test]
    fn fetched_once_then_cached_for_a_day() {
        let p = Pictures::default();
        let t0 = Instant::now();
        assert!(p.claim(&jid(), t0));
        assert!(!p.claim(&jid(), t0), "one fetch at a time");
        assert_eq!(
            p.finish(&jid(), Ok(Some("https://pps.example/a.jpg".into())), t0),
            Some(Change::Set("https://pps.example/a.jpg".into()))
        );
        assert!(!p.claim(&jid(), t0 + Duration::from_secs(3600)), "cached");
        assert!(p.claim(&jid(), t0 + FRESH), "stale after a day");
        assert_eq!(
            p.finish(
                &jid(),
                Ok(Some("https://pps.example/a.jpg".into())),
                t0 + FRESH
            ),
            None,
            "the same URL is no change"
        );
    }

    #[test]
    fn a_change_notice_refetches_and_removal_is_reported() {
        let p = Pictures::default();
        let t0 = Instant::now();
        assert!(p.claim(&jid(), t0));
        p.finish(&jid(), Ok(Some("https://pps.example/a.jpg".into())), t0);
        p.changed(&jid(), t0);
        assert!(p.claim(&jid(), t0));
        assert_eq!(
            p.finish(&jid(), Ok(Some("https://pps.example/b.jpg".into())), t0),
            Some(Change::Set("https://pps.example/b.jpg".into()))
        );
        p.changed(&jid(), t0);
        assert!(p.claim(&jid(), t0));
        assert_eq!(p.finish(&jid(), Ok(None), t0), Some(Change::Removed));
    }

    #[test]
    fn a_failure_reports_nothing_and_is_retried_later() {
        let p = Pictures::default();
        let t0 = Instant::now();
        assert!(p.claim(&jid(), t0));
        assert_eq!(p.finish(&jid(), Err(()), t0), None);
        assert!(!p.claim(&jid(), t0 + Duration::from_secs(60)));
        assert!(p.claim(&jid(), t0 + RETRY_FAILED));
        assert_eq!(
            p.finish(&jid(), Ok(None), t0 + RETRY_FAILED),
            None,
            "never had one"
        );
    }
}
