//! Outbound HTTP clients that are built on first use. Building a `reqwest` client sets up
//! TLS with its root certificates, which keeps about 0.7 MiB of code and data resident; most
//! nodes are idle most of the time and never forward a request or fetch media, so they
//! should not pay for that up front. This module only defers construction; what a client is
//! allowed to reach is decided by whoever supplies the builder.

use std::sync::OnceLock;

/// A `reqwest::Client` built from `builder` the first time it is needed.
pub struct LazyClient {
    client: OnceLock<reqwest::Client>,
    builder: Box<dyn Fn() -> reqwest::ClientBuilder + Send + Sync>,
}

impl LazyClient {
    pub fn new(builder: impl Fn() -> reqwest::ClientBuilder + Send + Sync + 'static) -> LazyClient {
        LazyClient {
            client: OnceLock::new(),
            builder: Box::new(builder),
        }
    }

    /// The client, built now if this is the first call. A failed build is not remembered:
    /// the next call tries again.
    pub fn get(&self) -> Result<&reqwest::Client, reqwest::Error> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        // Two first callers may both build one; the loser's is dropped.
        let client = (self.builder)().build()?;
        Ok(self.client.get_or_init(|| client))
    }
}

impl std::fmt::Debug for LazyClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazyClient")
            .field("built", &self.client.get().is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn builds_once_on_first_use() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counter = builds.clone();
        let lazy = LazyClient::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            reqwest::Client::builder()
        });
        assert_eq!(builds.load(Ordering::SeqCst), 0);
        let first: *const reqwest::Client = lazy.get().unwrap();
        let second: *const reqwest::Client = lazy.get().unwrap();
        assert_eq!(first, second);
        assert_eq!(builds.load(Ordering::SeqCst), 1);
    }
}
