//! Encryption at rest for third-party credentials (webhook secrets; later Twilio and AI keys).
//!
//! XChaCha20-Poly1305 with a random 192-bit nonce per value, under the operator's key
//! (`ZAPINI_SECRET_KEY`, or a key generated once into the data directory). A sealed value is
//! `v1:` + base64(nonce ‖ ciphertext ‖ tag); the version prefix leaves room for key rotation.
//! A database dump without the key reveals no secret, and a tampered value fails to open
//! instead of decrypting to garbage.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

const PREFIX: &str = "v1:";
const NONCE_LEN: usize = 24;

/// Why a sealed value could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("not a sealed value")]
    Malformed,
    #[error("sealed with another key, or tampered with")]
    Authentication,
}

/// Seals and opens secrets under one 32-byte key.
#[derive(Clone)]
pub struct SecretBox {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn new(key: &[u8; 32]) -> Self {
        SecretBox {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// Parses a key given as base64 (standard or URL-safe) or hex of exactly 32 bytes.
    pub fn parse_key(text: &str) -> Option<[u8; 32]> {
        let text = text.trim();
        let bytes = hex::decode(text)
            .ok()
            .or_else(|| STANDARD.decode(text).ok())
            .or_else(|| base64::engine::general_purpose::URL_SAFE.decode(text).ok())?;
        bytes.try_into().ok()
    }

    /// A fresh random key, encoded as [`SecretBox::parse_key`] reads it.
    pub fn generate_key() -> String {
        let key: [u8; 32] = rand::random();
        STANDARD.encode(key)
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let nonce_bytes: [u8; NONCE_LEN] = rand::random();
        let nonce = XNonce::from_slice(&nonce_bytes);
        // Encryption with a valid key and nonce cannot fail for inputs below 256 GiB.
        let ciphertext = self
            .cipher
            .encrypt(nonce, plaintext.as_bytes())
            .expect("XChaCha20-Poly1305 encryption of an in-memory secret");
        let mut out = Vec::with_capacity(NONCE_LEN + ciphertext.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&ciphertext);
        format!("{PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, OpenError> {
        let body = sealed.strip_prefix(PREFIX).ok_or(OpenError::Malformed)?;
        let bytes = STANDARD.decode(body).map_err(|_| OpenError::Malformed)?;
        if bytes.len() < NONCE_LEN + 16 {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), ciphertext)
            .map_err(|_| OpenError::Authentication)?;
        String::from_utf8(plain).map_err(|_| OpenError::Malformed)
    }
}

/// Shows the last four characters of a secret and nothing else.
pub fn mask(secret: &str) -> String {
    let tail: String = secret
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if secret.chars().count() <= 8 {
        "********".to_owned()
    } else {
        format!("********{tail}")
    }
}

/// A random alphanumeric secret of `len` characters from the OS-seeded CSPRNG.
pub fn random_secret(len: usize) -> String {
    use rand::Rng;
    use rand::distr::Alphanumeric;
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_open_roundtrip_and_fresh_nonces() {
        let key = SecretBox::parse_key(&SecretBox::generate_key()).unwrap();
        let sb = SecretBox::new(&key);
        let a = sb.seal("whsec_abc");
        let b = sb.seal("whsec_abc");
        assert_ne!(a, b, "every seal uses a new nonce");
        assert!(!a.contains("whsec_abc"));
        assert_eq!(sb.open(&a).unwrap(), "whsec_abc");
        assert_eq!(sb.open(&b).unwrap(), "whsec_abc");
    }

    #[test]
    fn wrong_key_and_tampering_fail() {
        let sb = SecretBox::new(&[7u8; 32]);
        let other = SecretBox::new(&[8u8; 32]);
        let sealed = sb.seal("secret");
        assert!(matches!(
            other.open(&sealed),
            Err(OpenError::Authentication)
        ));
        let mut raw = STANDARD.decode(&sealed[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("v1:{}", STANDARD.encode(raw));
        assert!(matches!(sb.open(&tampered), Err(OpenError::Authentication)));
        assert!(matches!(sb.open("plain"), Err(OpenError::Malformed)));
        assert!(matches!(sb.open("v1:!!"), Err(OpenError::Malformed)));
    }

    #[test]
    fn keys_parse_from_hex_and_base64() {
        assert_eq!(SecretBox::parse_key(&"ab".repeat(32)), Some([0xab; 32]));
        assert_eq!(
            SecretBox::parse_key(&STANDARD.encode([1u8; 32])),
            Some([1; 32])
        );
        assert_eq!(SecretBox::parse_key("short"), None);
        assert_eq!(SecretBox::parse_key(&STANDARD.encode([1u8; 31])), None);
    }

    #[test]
    fn masks_keep_only_the_tail() {
        assert_eq!(mask("your_secret_key_here"), "********here");
        assert_eq!(mask("short"), "********");
    }
}
