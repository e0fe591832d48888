//! Media bytes below the use-cases: formats and limits ([`formats`]), the storage seam
//! ([`storage`]), signed URLs ([`MediaUrls`]) and a message's media JSON as stored and shown
//! ([`message_media`]). The library's use-cases (uploads, downloads, cleanup, the nodes'
//! fetch, a message's bytes fetched once from the node and kept) are `service::media`. Bytes
//! stream through, never whole in memory.

pub mod formats;
pub mod message_media;
pub mod storage;

use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::Utc;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// A new library file's public id (`media_…`): an upload's, or a message's media kept.
pub(crate) fn new_public_id() -> String {
    format!("media_{}", crate::crypto::random_secret(24))
}

/// Builds and checks the URLs Zapini hands out for media: `{base}/api/v1/media/{id}/content`
/// and `{base}/api/v1/messages/{uuid}/media`, each with an `expires` time (Unix seconds,
/// `ZAPINI_MEDIA_URL_TTL_SECS` after the URL is made, 7 days by default) and a `signature`
/// that is an HMAC of the object and that time under a key derived from the secret key. A
/// signed URL works without a token (for webhook receivers, `<img>` tags) until it expires;
/// without one, the owner's bearer token is needed. Ids are random, so neither form can be
/// guessed, and another tenant's token is answered 404.
#[derive(Clone)]
pub struct MediaUrls {
    key: Arc<[u8; 32]>,
    base: Arc<RwLock<String>>,
    ttl: Duration,
}

/// What a signed URL's query says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signed {
    /// The signature matches and the URL has not expired.
    Valid,
    /// The signature matches but `expires` has passed.
    Expired,
    /// Tampered with, made for another object, or without `expires`.
    Invalid,
}

impl std::fmt::Debug for MediaUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaUrls(..)")
    }
}

impl MediaUrls {
    /// `secret_key` is the control plane's secret key; the signing key is derived from it.
    /// URLs are valid for 7 days unless [`MediaUrls::with_ttl`] says otherwise.
    pub fn new(secret_key: &[u8; 32], base: Option<&str>) -> MediaUrls {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret_key).expect("any key length");
        mac.update(b"zapini-media-urls-v1");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        MediaUrls {
            key: Arc::new(key),
            base: Arc::new(RwLock::new(
                base.unwrap_or_default().trim_end_matches('/').to_owned(),
            )),
            ttl: DEFAULT_TTL,
        }
    }

    /// How long a URL made from now on stays valid.
    pub fn with_ttl(mut self, ttl: Duration) -> MediaUrls {
        self.ttl = ttl;
        self
    }

    /// Sets the public base when the configuration has none (the bound HTTP address).
    pub fn set_default_base(&self, base: &str) {
        let mut current = self.base.write().unwrap_or_else(|e| e.into_inner());
        if current.is_empty() {
            *current = base.trim_end_matches('/').to_owned();
        }
    }

    fn base(&self) -> String {
        self.base.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn sign(&self, what: &str, expires: i64) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&*self.key).expect("any key length");
        mac.update(what.as_bytes());
        mac.update(format!("\n{expires}").as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..20])
    }

    /// `expires=…&signature=…` for `what`, valid for the TTL from now.
    fn query(&self, what: &str) -> String {
        let ttl = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let expires = Utc::now().timestamp().saturating_add(ttl);
        format!("expires={expires}&signature={}", self.sign(what, expires))
    }

    fn check(&self, what: &str, expires: Option<i64>, signature: &str) -> Signed {
        let Some(expires) = expires else {
            return Signed::Invalid;
        };
        let expected = self.sign(what, expires);
        if !zapini_shared::signing::constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            Signed::Invalid
        } else if expires <= Utc::now().timestamp() {
            Signed::Expired
        } else {
            Signed::Valid
        }
    }

    /// The URL of an uploaded media file's content.
    pub fn media_url(&self, id: &str) -> String {
        format!(
            "{}/api/v1/media/{id}/content?{}",
            self.base(),
            self.query(&format!("media:{id}"))
        )
    }

    pub fn check_media(&self, id: &str, expires: Option<i64>, signature: &str) -> Signed {
        self.check(&format!("media:{id}"), expires, signature)
    }

    /// The URL of a message's media (`GET /messages/{uuid}/media`).
    pub fn message_url(&self, message: Uuid) -> String {
        format!(
            "{}/api/v1/messages/{message}/media?{}",
            self.base(),
            self.query(&format!("message:{message}"))
        )
    }

    pub fn check_message(&self, message: Uuid, expires: Option<i64>, signature: &str) -> Signed {
        self.check(&format!("message:{message}"), expires, signature)
    }
}

/// How long a signed media URL is valid by default (7 days).
pub const DEFAULT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

#[cfg(test)]
mod tests {
    use super::*;

    /// `(expires, signature)` of a URL made by [`MediaUrls`].
    fn parts(url: &str) -> (Option<i64>, String) {
        let query = url.split_once('?').unwrap().1;
        let get = |k: &str| {
            query
                .split('&')
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .unwrap()
                .to_owned()
        };
        (get("expires").parse().ok(), get("signature"))
    }

    #[test]
    fn signatures_bind_the_object_and_the_expiry() {
        let urls = MediaUrls::new(&[7; 32], Some("https://zapini.example/"));
        let url = urls.media_url("media_abc");
        assert!(url.starts_with("https://zapini.example/api/v1/media/media_abc/content?expires="));
        let (expires, sig) = parts(&url);
        let in_a_week = Utc::now().timestamp() + 7 * 24 * 3600;
        assert!((in_a_week - expires.unwrap()).abs() < 5, "{url}");
        assert_eq!(urls.check_media("media_abc", expires, &sig), Signed::Valid);
        assert_eq!(
            urls.check_media("media_abd", expires, &sig),
            Signed::Invalid
        );
        // A later expiry written into the URL breaks the signature.
        let later = expires.map(|e| e + 3600);
        assert_eq!(urls.check_media("media_abc", later, &sig), Signed::Invalid);
        assert_eq!(urls.check_media("media_abc", None, &sig), Signed::Invalid);
        let other = MediaUrls::new(&[8; 32], None);
        assert_eq!(
            other.check_media("media_abc", expires, &sig),
            Signed::Invalid
        );
        let m = Uuid::new_v4();
        let (expires, sig) = parts(&urls.message_url(m));
        assert_eq!(urls.check_message(m, expires, &sig), Signed::Valid);
        assert_eq!(
            urls.check_media(&m.to_string(), expires, &sig),
            Signed::Invalid
        );
    }

    #[test]
    fn urls_expire_after_their_ttl() {
        let urls = MediaUrls::new(&[7; 32], None).with_ttl(Duration::ZERO);
        let (expires, sig) = parts(&urls.media_url("media_abc"));
        assert_eq!(
            urls.check_media("media_abc", expires, &sig),
            Signed::Expired
        );
        let urls = urls.with_ttl(Duration::from_secs(60));
        let (expires, sig) = parts(&urls.media_url("media_abc"));
        assert_eq!(urls.check_media("media_abc", expires, &sig), Signed::Valid);
    }
}
