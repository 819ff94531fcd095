//! Heartbeat tokens: 32 random bytes in base64url (shown once), stored as
//! their SHA-256 (the agents' credential hashing), so that a ping is one
//! read on the hash's unique index.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::agents::auth;

/// A new random token (43 characters).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a token, and looks it up by.
pub fn hash(token: &str) -> String {
    auth::hash_credential(token)
}

/// Whether `token` could be one (so that junk is not hashed and looked up).
pub fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_well_formed_and_stored_hashed() {
        let t = new_token();
        assert!(well_formed(&t), "{t}");
        assert_ne!(t, new_token());
        assert!(auth::verify_credential(&t, &hash(&t)));
        assert!(!well_formed("short") && !well_formed(&format!("{}!", &t[..42])));
    }
}
