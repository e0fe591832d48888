//! The media library's building blocks: formats and limits ([`formats`]), the storage seam
//! ([`storage`]) and signed URLs ([`MediaUrls`]). The use-cases (upload, download, cleanup,
//! received media) live in `service::media`.

pub mod formats;
pub mod storage;

use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

/// Builds and checks the URLs Zapini hands out for media: `{base}/api/v1/media/{id}/content`
/// and `{base}/api/v1/messages/{uuid}/media`, each with a `signature` that is an HMAC of the
/// object under a key derived from the secret key. A signed URL works without a token (for
/// webhook receivers, `<img>` tags); without one, the owner's bearer token is needed. Ids are
/// random, so neither form can be guessed, and another tenant's token is answered 404.
#[derive(Clone)]
pub struct MediaUrls {
    key: Arc<[u8; 32]>,
    base: Arc<RwLock<String>>,
}

impl std::fmt::Debug for MediaUrls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaUrls(..)")
    }
}

impl MediaUrls {
    /// `secret_key` is the control plane's secret key; the signing key is derived from it.
    pub fn new(secret_key: &[u8; 32], base: Option<&str>) -> MediaUrls {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret_key).expect("any key length");
        mac.update(b"zapini-media-urls-v1");
        let key: [u8; 32] = mac.finalize().into_bytes().into();
        MediaUrls {
            key: Arc::new(key),
            base: Arc::new(RwLock::new(
                base.unwrap_or_default().trim_end_matches('/').to_owned(),
            )),
        }
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

    fn sign(&self, what: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&*self.key).expect("any key length");
        mac.update(what.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..20])
    }

    fn verify(&self, what: &str, signature: &str) -> bool {
        zapini_shared::signing::constant_time_eq(self.sign(what).as_bytes(), signature.as_bytes())
    }

    /// The URL of an uploaded media file's content.
    pub fn media_url(&self, id: &str) -> String {
        format!(
            "{}/api/v1/media/{id}/content?signature={}",
            self.base(),
            self.sign(&format!("media:{id}"))
        )
    }

    pub fn verify_media(&self, id: &str, signature: &str) -> bool {
        self.verify(&format!("media:{id}"), signature)
    }

    /// The URL of a message's media (`GET /messages/{uuid}/media`).
    pub fn message_url(&self, message: Uuid) -> String {
        format!(
            "{}/api/v1/messages/{message}/media?signature={}",
            self.base(),
            self.sign(&format!("message:{message}"))
        )
    }

    pub fn verify_message(&self, message: Uuid, signature: &str) -> bool {
        self.verify(&format!("message:{message}"), signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_the_object() {
        let urls = MediaUrls::new(&[7; 32], Some("https://zapini.example/"));
        let url = urls.media_url("media_abc");
        assert!(
            url.starts_with("https://zapini.example/api/v1/media/media_abc/content?signature=")
        );
        let sig = url.rsplit_once('=').unwrap().1;
        assert!(urls.verify_media("media_abc", sig));
        assert!(!urls.verify_media("media_abd", sig));
        let other = MediaUrls::new(&[8; 32], None);
        assert!(!other.verify_media("media_abc", sig));
        let m = Uuid::new_v4();
        let sig = urls.message_url(m).rsplit_once('=').unwrap().1.to_owned();
        assert!(urls.verify_message(m, &sig));
        assert!(!urls.verify_media(&m.to_string(), &sig));
    }
}
