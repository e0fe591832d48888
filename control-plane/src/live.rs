//! Live news for people watching (the dashboard's server-sent events): after a commit that
//! changed something a page shows, a small [`LiveEvent`] names the tenant, the instance, the
//! topic and the conversation, never the data itself. Pages fetch what changed through the
//! same services as any request, so an event can never show one tenant another's data.
//!
//! In-process fan-out over a broadcast channel; a watcher that falls behind skips to the
//! newest news and reloads (see `web::live`). With nobody watching a send costs one atomic
//! read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

/// Throttled news of one kind on one instance is sent at most once per this gap (a little
/// more than the pages' own 250 ms throttle, so none of it is dropped there).
pub const THROTTLE_GAP: Duration = Duration::from_millis(300);

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// Connection status, QR code, pairing, the instance itself.
    Status,
    /// A message stored, changed (receipt, edit, deletion, reaction) or a conversation
    /// changed (read, archived, tags).
    Message,
    /// A contact or group.
    Contact,
    /// A webhook delivery attempted, delivered, failed or replayed.
    Delivery,
    /// An automation session or turn.
    Session,
    /// A lead or an appointment.
    Crm,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Topic::Status => "status",
            Topic::Message => "message",
            Topic::Contact => "contact",
            Topic::Delivery => "delivery",
            Topic::Session => "session",
            Topic::Crm => "crm",
        }
    }
}

/// One piece of news.
#[derive(Debug, Clone, Serialize)]
pub struct LiveEvent {
    #[serde(skip)]
    pub tenant_id: i64,
    pub topic: Topic,
    pub instance: Option<Uuid>,
    /// The conversation's id, for message news of one conversation.
    pub conversation: Option<i64>,
}

/// The fan-out; cheap to clone.
#[derive(Clone)]
pub struct LiveBus {
    tx: broadcast::Sender<LiveEvent>,
    throttle: Arc<Mutex<HashMap<ThrottleKey, Throttled>>>,
}

type ThrottleKey = (i64, Uuid, Topic);

/// One throttled stream of news: when the next may go, and whether one is already waiting
/// to go then.
struct Throttled {
    next: Instant,
    trailing: bool,
}

impl Default for LiveBus {
    fn default() -> Self {
        LiveBus {
            tx: broadcast::channel(1024).0,
            throttle: Arc::default(),
        }
    }
}

impl LiveBus {
    /// A new watcher, seeing news sent from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<LiveEvent> {
        self.tx.subscribe()
    }

    pub fn is_watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Sends news (dropped when nobody watches).
    pub fn send(&self, event: LiveEvent) {
        if self.is_watched() {
            let _ = self.tx.send(event);
        }
    }

    /// News of `topic` on an instance.
    pub fn instance(&self, tenant_id: i64, instance: Uuid, topic: Topic) {
        self.send(LiveEvent {
            tenant_id,
            topic,
            instance: Some(instance),
            conversation: None,
        });
    }

    /// News of `topic` on an instance, at most once per `gap` (a burst of webhook attempts is
    /// a few news a second, not thousands): the first goes at once, later ones within the gap
    /// become one that goes when the gap ends, so the last change is never left unannounced.
    pub fn instance_throttled(&self, tenant_id: i64, instance: Uuid, topic: Topic, gap: Duration) {
        if !self.is_watched() {
            return;
        }
        let key = (tenant_id, instance, topic);
        let now = Instant::now();
        let wait = {
            let mut map = self.throttle.lock().unwrap_or_else(|e| e.into_inner());
            if map.len() > 4096 {
                map.retain(|_, t| t.trailing || t.next > now);
            }
            let t = map.entry(key).or_insert(Throttled {
                next: now,
                trailing: false,
            });
            if t.trailing {
                return;
            }
            if now >= t.next {
                t.next = now + gap;
                None
            } else {
                t.trailing = true;
                Some(t.next - now)
            }
        };
        let Some(wait) = wait else {
            self.instance(tenant_id, instance, topic);
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.instance(tenant_id, instance, topic);
            return;
        };
        let bus = self.clone();
        runtime.spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(t) = bus
                .throttle
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(&key)
            {
                t.trailing = false;
                t.next = Instant::now() + gap;
            }
            bus.instance(tenant_id, instance, topic);
        });
    }
}

/// What one ingest batch changed, gathered while it is applied and sent after its commit.
#[derive(Debug, Default)]
pub struct Changes {
    pub status: bool,
    pub contacts: bool,
    /// Conversations with new or changed messages (ids; a few per batch).
    pub conversations: Vec<i64>,
    /// Message news whose conversation is not known here.
    pub messages: bool,
}

impl Changes {
    pub fn conversation(&mut self, id: i64) {
        if !self.conversations.contains(&id) {
            self.conversations.push(id);
        }
    }

    pub fn is_empty(&self) -> bool {
        !self.status && !self.contacts && !self.messages && self.conversations.is_empty()
    }

    /// Sends the news of a committed batch.
    pub fn send(self, bus: &LiveBus, tenant_id: i64, instance: Uuid) {
        if self.is_empty() || !bus.is_watched() {
            return;
        }
        if self.status {
            bus.instance(tenant_id, instance, Topic::Status);
        }
        if self.contacts {
            bus.instance(tenant_id, instance, Topic::Contact);
        }
        // Many conversations at once (a history sync): one event for all of them.
        if self.messages || self.conversations.len() > 20 {
            bus.instance(tenant_id, instance, Topic::Message);
            return;
        }
        for id in self.conversations {
            bus.send(LiveEvent {
                tenant_id,
                topic: Topic::Message,
                instance: Some(instance),
                conversation: Some(id),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn news_reaches_watchers_and_costs_nothing_without_them() {
        let bus = LiveBus::default();
        let id = Uuid::new_v4();
        bus.instance(1, id, Topic::Status);
        let mut rx = bus.subscribe();
        let mut c = Changes::default();
        c.conversation(7);
        c.conversation(7);
        c.status = true;
        c.send(&bus, 3, id);
        let first = rx.recv().await.unwrap();
        assert_eq!((first.tenant_id, first.topic), (3, Topic::Status));
        let second = rx.recv().await.unwrap();
        assert_eq!(second.conversation, Some(7));
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_burst_of_throttled_news_is_the_first_and_one_at_the_end() {
        let bus = LiveBus::default();
        let mut rx = bus.subscribe();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let gap = Duration::from_millis(50);
        for _ in 0..100 {
            bus.instance_throttled(1, a, Topic::Delivery, gap);
        }
        // Another instance is throttled on its own.
        bus.instance_throttled(1, b, Topic::Delivery, gap);
        let first = rx.recv().await.unwrap();
        assert_eq!((first.instance, first.topic), (Some(a), Topic::Delivery));
        assert_eq!(rx.recv().await.unwrap().instance, Some(b));
        assert!(rx.try_recv().is_err(), "the rest of the burst waits");
        let trailing = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .expect("the burst's last news comes when the gap ends")
            .unwrap();
        assert_eq!(trailing.instance, Some(a));
        assert!(
            rx.try_recv().is_err(),
            "one trailing news for the whole burst"
        );
    }
}
