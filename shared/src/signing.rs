//! HMAC-SHA256 signing for webhooks and internal calls, plus SHA-256 hashing for stored tokens.
//!
//! Signatures are exchanged as hex strings in HTTP headers. Verification is
//! always constant-time, because a comparison that exits at the first differing
//! byte lets an attacker recover a valid signature one byte at a time by timing
//! responses.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// A MAC keyed with `secret`.
fn mac(secret: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of any length (long keys are hashed first), so
    // this cannot fail; the `Result` only exists because `KeyInit` is generic.
    <HmacSha256 as Mac>::new_from_slice(secret).expect("HMAC-SHA256 accepts keys of any length")
}

/// Lowercase hex HMAC-SHA256 of `body` under `secret`.
pub fn sign_hex(secret: &[u8], body: &[u8]) -> String {
    let mut mac = mac(secret);
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Decodes a signature header value into raw bytes.
///
/// Accepts an optional `sha256=` prefix (in any case, the GitHub-style header
/// format), surrounding whitespace, and upper- or lowercase hex. Returns `None`
/// for anything that is not 32 bytes of hex, so malformed input is simply an
/// invalid signature rather than an error the caller must handle.
fn decode_signature(signature_hex: &str) -> Option<Vec<u8>> {
    let s = signature_hex.trim();
    let s = match s.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("sha256=") => &s[7..],
        _ => s,
    };
    let bytes = hex::decode(s).ok()?;
    (bytes.len() == 32).then_some(bytes)
}

/// Checks a hex HMAC-SHA256 signature of `body` in constant time.
pub fn verify_hex(secret: &[u8], body: &[u8], signature_hex: &str) -> bool {
    let Some(expected) = decode_signature(signature_hex) else {
        return false;
    };
    let mut mac = mac(secret);
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// The MAC over `{timestamp}.{body}`.
///
/// Binding the timestamp into the signed bytes is what makes replay protection
/// work: an attacker who captures a request cannot re-send it later with a
/// fresh timestamp without invalidating the signature.
fn timestamped_mac(secret: &[u8], timestamp: i64, body: &[u8]) -> HmacSha256 {
    let mut mac = mac(secret);
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Lowercase hex HMAC-SHA256 of `{timestamp}.{body}` under `secret`.
pub fn sign_timestamped_hex(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    hex::encode(
        timestamped_mac(secret, timestamp, body)
            .finalize()
            .into_bytes(),
    )
}

/// Checks a timestamped signature, rejecting timestamps more than `tolerance_secs` from `now`.
///
/// The window is symmetric so that modest clock skew in either direction is
/// tolerated. A negative tolerance rejects everything.
pub fn verify_timestamped_hex(
    secret: &[u8],
    timestamp: i64,
    body: &[u8],
    signature_hex: &str,
    now: i64,
    tolerance_secs: i64,
) -> bool {
    let Ok(tolerance) = u64::try_from(tolerance_secs) else {
        return false;
    };
    // `abs_diff` cannot overflow even for timestamps at the ends of the i64 range.
    if now.abs_diff(timestamp) > tolerance {
        return false;
    }
    let Some(expected) = decode_signature(signature_hex) else {
        return false;
    };
    timestamped_mac(secret, timestamp, body)
        .verify_slice(&expected)
        .is_ok()
}

/// Lowercase hex SHA-256 of `data`, used to store API tokens without storing the tokens.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Constant-time equality for secrets such as token hashes.
///
/// Lengths are compared in the clear, which is fine for fixed-length values
/// like hex digests whose length is public anyway.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RFC4231_CASE2: &str = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

    #[test]
    fn matches_rfc4231_test_case_2() {
        assert_eq!(
            sign_hex(b"Jefe", b"what do ya want for nothing?"),
            RFC4231_CASE2
        );
        assert!(verify_hex(
            b"Jefe",
            b"what do ya want for nothing?",
            RFC4231_CASE2
        ));
    }

    #[test]
    fn matches_rfc4231_test_case_1() {
        let key = [0x0b_u8; 20];
        assert_eq!(
            sign_hex(&key, b"Hi There"),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
        );
    }

    #[test]
    fn verify_tolerates_prefix_case_and_whitespace() {
        let body = b"what do ya want for nothing?";
        for sig in [
            format!("sha256={RFC4231_CASE2}"),
            format!("SHA256={RFC4231_CASE2}"),
            RFC4231_CASE2.to_uppercase(),
            format!(" sha256={} ", RFC4231_CASE2.to_uppercase()),
        ] {
            assert!(verify_hex(b"Jefe", body, &sig), "{sig}");
        }
    }

    #[test]
    fn verify_detects_tampering() {
        let body = b"{\"event\":\"message.received\"}";
        let sig = sign_hex(b"secret", body);
        assert!(verify_hex(b"secret", body, &sig));
        assert!(!verify_hex(
            b"secret",
            b"{\"event\":\"message.received\" }",
            &sig
        ));
        assert!(!verify_hex(b"other", body, &sig));
        let mut flipped = sig.clone().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        assert!(!verify_hex(
            b"secret",
            body,
            std::str::from_utf8(&flipped).unwrap()
        ));
        assert!(!verify_hex(b"secret", body, &sig[..62]));
        assert!(!verify_hex(b"secret", body, &format!("{sig}00")));
        assert!(!verify_hex(b"secret", body, ""));
        assert!(!verify_hex(b"secret", body, "sha256="));
        assert!(!verify_hex(b"secret", body, "zz"));
        assert!(!verify_hex(b"secret", body, "é"));
    }

    #[test]
    fn timestamped_signatures_bind_the_timestamp() {
        let sig = sign_timestamped_hex(b"k", 1_700_000_000, b"body");
        assert_eq!(sig, sign_hex(b"k", b"1700000000.body"));
        assert!(verify_timestamped_hex(
            b"k",
            1_700_000_000,
            b"body",
            &sig,
            1_700_000_000,
            300
        ));
        assert!(!verify_timestamped_hex(
            b"k",
            1_700_000_001,
            b"body",
            &sig,
            1_700_000_001,
            300
        ));
        assert!(!verify_timestamped_hex(
            b"k",
            1_700_000_000,
            b"bodx",
            &sig,
            1_700_000_000,
            300
        ));
    }

    #[test]
    fn timestamped_signatures_respect_tolerance() {
        let ts = 1_700_000_000;
        let sig = sign_timestamped_hex(b"k", ts, b"body");
        assert!(verify_timestamped_hex(
            b"k",
            ts,
            b"body",
            &sig,
            ts + 300,
            300
        ));
        assert!(verify_timestamped_hex(
            b"k",
            ts,
            b"body",
            &sig,
            ts - 300,
            300
        ));
        assert!(!verify_timestamped_hex(
            b"k",
            ts,
            b"body",
            &sig,
            ts + 301,
            300
        ));
        assert!(!verify_timestamped_hex(
            b"k",
            ts,
            b"body",
            &sig,
            ts - 301,
            300
        ));
        assert!(!verify_timestamped_hex(b"k", ts, b"body", &sig, ts, -1));
        assert!(verify_timestamped_hex(b"k", ts, b"body", &sig, ts, 0));
        let extreme = sign_timestamped_hex(b"k", i64::MIN, b"body");
        assert!(!verify_timestamped_hex(
            b"k",
            i64::MIN,
            b"body",
            &extreme,
            i64::MAX,
            i64::MAX
        ));
    }

    #[test]
    fn sha256_matches_known_digests() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn constant_time_eq_compares_contents() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
    }

    proptest! {
        #[test]
        fn sign_then_verify(secret in any::<Vec<u8>>(), body in any::<Vec<u8>>()) {
            let sig = sign_hex(&secret, &body);
            prop_assert_eq!(sig.len(), 64);
            prop_assert!(verify_hex(&secret, &body, &sig));
        }

        #[test]
        fn verify_never_panics(sig in any::<String>()) {
            let _ = verify_hex(b"k", b"body", &sig);
            let _ = verify_timestamped_hex(b"k", 0, b"body", &sig, 0, 10);
        }
    }
}
