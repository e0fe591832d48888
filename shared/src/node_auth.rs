//! Node credentials: each instance node authenticates with a credential of its own, bound to
//! the one instance it serves, `hex(HMAC-SHA256(node_secret, "node:" + instance_uuid))`. The
//! control plane derives it from its node secret whenever it checks one, so nothing is stored;
//! a node (or whoever reads its environment) holds only its own and can act for no other
//! instance. The same credential authenticates the control plane's calls to that node.

use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::signing::sign_hex;

/// The credential of the node serving `instance` (64 lowercase hex characters).
pub fn node_credential(node_secret: &[u8], instance: Uuid) -> String {
    sign_hex(
        node_secret,
        format!("node:{}", instance.hyphenated()).as_bytes(),
    )
}

/// The `authorization` header value a node credential travels in.
pub fn bearer(credential: &str) -> String {
    format!("Bearer {credential}")
}

/// Whether `authorization` (the header's raw bytes) carries `instance`'s credential; the
/// comparison takes the same time wherever the bytes differ.
pub fn verify_bearer(node_secret: &[u8], instance: Uuid, authorization: &[u8]) -> bool {
    let expected = bearer(&node_credential(node_secret, instance));
    bool::from(authorization.ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bound_to_the_instance() {
        let a = Uuid::new_v4();
        let b = Uuid::new_v4();
        let secret = b"master-secret-0123456789";
        let cred = node_credential(secret, a);
        assert_eq!(cred.len(), 64);
        assert_eq!(cred, node_credential(secret, a));
        assert_ne!(cred, node_credential(secret, b));
        assert_ne!(cred, node_credential(b"another-secret-0123456789", a));
        assert!(verify_bearer(secret, a, bearer(&cred).as_bytes()));
        assert!(!verify_bearer(secret, b, bearer(&cred).as_bytes()));
        assert!(!verify_bearer(secret, a, cred.as_bytes()));
        assert!(!verify_bearer(
            secret,
            a,
            bearer("master-secret-0123456789").as_bytes()
        ));
        assert!(!verify_bearer(secret, a, b""));
    }

    #[test]
    fn known_vector() {
        // Pinned, so a change to the derivation (which would lock out every deployed node and
        // every `node-credential` an operator computed) fails here first.
        let id = Uuid::parse_str("00000000-0000-0000-0000-000000000001").unwrap();
        assert_eq!(
            node_credential(b"secret", id),
            "3748b71e06f479be4bf5fc9f3fce779cbc5dfae7e00ea5b66c8086b504a8db34"
        );
    }
}
