//! Outgoing webhooks: the event catalogue and body rendering (`events`), the transactional
//! outbox (`outbox`), the dispatcher that delivers, retries and logs (`dispatcher`), and the
//! retry schedule (`retry`). Configuration and the delivery log are use-cases in
//! `service::webhooks`; this module never answers HTTP requests.

pub mod dispatcher;
pub mod events;
pub mod outbox;
pub mod payloads;
pub mod retry;

pub use dispatcher::Dispatcher;
pub use events::{Kind, Occurrence, Subscription};
pub use outbox::Outbox;

/// Delivery states.
pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";

/// Wakes the local dispatcher when deliveries were queued, so the first attempt does not
/// wait for the next poll. Cheap to clone.
#[derive(Clone, Default)]
pub struct Signal(std::sync::Arc<tokio::sync::Notify>);

impl Signal {
    pub fn notify(&self) {
        self.0.notify_one();
    }

    pub async fn notified(&self) {
        self.0.notified().await;
    }
}
