//! Agent credentials: issued once, stored as SHA-256, compared in constant
//! time. Credentials are 256-bit random tokens, so a fast hash is enough
//! (argon2 would make agent authentication a DoS lever).

use sha2::{Digest, Sha256};

/// A new random credential (64 hex characters).
pub fn new_credential() -> String {
    let bytes: [u8; 32] = rand::random();
    hex(&bytes)
}

/// What the store keeps of a credential.
pub fn hash_credential(credential: &str) -> String {
    hex(&Sha256::digest(credential.as_bytes()))
}

/// Whether `credential` matches the stored `hash`.
pub fn verify_credential(credential: &str, hash: &str) -> bool {
    constant_time_eq(hash_credential(credential).as_bytes(), hash.as_bytes())
}

/// Whether a token someone gave equals the configured one, in time that
/// depends on neither (both are hashed first, so not even the length
/// shows).
pub fn token_eq(given: &str, expected: &str) -> bool {
    constant_time_eq(&Sha256::digest(given), &Sha256::digest(expected))
}

/// Constant-time equality of two secrets (length is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    a.len() == b.len() && std::hint::black_box(diff) == 0
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_round_trip_and_differ() {
        let c = new_credential();
        assert_eq!(c.len(), 64);
        assert_ne!(c, new_credential());
        let h = hash_credential(&c);
        assert_ne!(h, c, "stored hashed");
        assert!(verify_credential(&c, &h));
        assert!(!verify_credential("guess", &h));
        assert!(token_eq("tok", "tok") && !token_eq("tok", "tol") && !token_eq("", "tok"));
        assert!(
            constant_time_eq(b"abc", b"abc")
                && !constant_time_eq(b"abc", b"abd")
                && !constant_time_eq(b"ab", b"abc")
        );
    }
}
