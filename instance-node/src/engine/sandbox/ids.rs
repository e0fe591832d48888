//! Random identifiers in the shapes WhatsApp uses: message ids, QR payloads, pair codes,
//! group JIDs and invite codes. Only the shapes matter; nothing here is cryptographic.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use rand::Rng;
use zapini_shared::jid::Jid;

use crate::engine::types::QrCode;

/// The alphabet WhatsApp draws pair codes from.
const PAIR_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

fn upper_hex(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(b"0123456789ABCDEF"[rng.random_range(0..16)]))
        .collect()
}

/// Ids of messages we send: WhatsApp Web uses `3EB0` followed by uppercase hex.
pub(super) fn own_message_id() -> String {
    format!("3EB0{}", upper_hex(16))
}

/// Ids of messages other devices send: 20 to 32 uppercase hex characters.
pub(super) fn their_message_id() -> String {
    let len = rand::rng().random_range(10..=16) * 2;
    upper_hex(len)
}

/// An 8-character pair code shown as `XXXX-XXXX`.
pub(super) fn pair_code() -> String {
    let mut rng = rand::rng();
    let chars: String = (0..8)
        .map(|_| char::from(PAIR_ALPHABET[rng.random_range(0..PAIR_ALPHABET.len())]))
        .collect();
    format!("{}-{}", &chars[..4], &chars[4..])
}

/// Strips the dash and case so `abcd1234` matches `ABCD-1234`, as the phone accepts it.
pub(super) fn normalize_pair_code(code: &str) -> String {
    code.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A group JID like new WhatsApp groups: `1203630` followed by 11 digits.
pub(super) fn group_jid() -> Jid {
    let mut rng = rand::rng();
    let digits: String = (0..11)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect();
    Jid::group(&format!("1203630{digits}")).expect("digits form a valid group id")
}

/// The 22-character code at the end of an invite link.
pub(super) fn invite_code() -> String {
    let mut rng = rand::rng();
    (0..22)
        .map(|_| char::from(ALNUM[rng.random_range(0..ALNUM.len())]))
        .collect()
}

pub(super) fn invite_link(code: &str) -> String {
    format!("https://chat.whatsapp.com/{code}")
}

fn random_b64(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rng().fill(&mut bytes[..]);
    STANDARD.encode(bytes)
}

/// The QR payload WhatsApp shows: `2@<ref>,<noise key>,<identity key>,<adv secret>`.
pub(super) fn qr_text() -> String {
    format!(
        "2@{},{},{},{}",
        random_b64(48),
        random_b64(32),
        random_b64(32),
        random_b64(32)
    )
}

/// Renders `text` as a real QR code PNG data URL, so a phone camera (or a test) can read it.
pub(crate) fn qr_png_data_url(text: &str) -> String {
    let code = match qrcode::QrCode::new(text.as_bytes()) {
        Ok(code) => code,
        // The payload is short ASCII, far below QR capacity; an empty image beats a panic.
        Err(err) => {
            tracing::warn!(%err, "sandbox QR text did not fit a QR code");
            return "data:image/png;base64,".to_owned();
        }
    };
    let img = code
        .render::<image::Luma<u8>>()
        .module_dimensions(4, 4)
        .quiet_zone(true)
        .build();
    let mut png = Vec::new();
    if let Err(err) = img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png) {
        tracing::warn!(%err, "could not encode the sandbox QR as PNG");
    }
    format!("data:image/png;base64,{}", STANDARD.encode(png))
}

pub(super) fn qr_code(lifetime: std::time::Duration) -> QrCode {
    let code = qr_text();
    let png_data_url = qr_png_data_url(&code);
    let generated_at: DateTime<Utc> = Utc::now();
    let expires_at = generated_at
        + chrono::Duration::from_std(lifetime).unwrap_or_else(|_| chrono::Duration::seconds(60));
    QrCode {
        code,
        png_data_url,
        generated_at,
        expires_at,
    }
}
/// A made-up profile picture URL for a sandbox contact: stable per contact, on a reserved
/// domain (`.invalid`) so nobody mistakes it for a real picture.
pub(crate) fn profile_picture_url(jid: &Jid) -> String {
    format!(
        "https://sandbox.zapini.invalid/profile-pictures/{}.jpg",
        jid.user()
    )
}
