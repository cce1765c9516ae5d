//! Password hashing as PRODUCT.md describes (OWASP's recipe for long passwords):
//! bcrypt over base64(HMAC-SHA384(pepper, password)). The HMAC step keys the hash with
//! a pepper kept outside the database and turns any password, however long, into 64
//! ASCII bytes, so bcrypt's 72-byte limit never truncates anything.
//!
//! These functions are CPU-heavy and blocking: call them from `spawn_blocking`, not
//! while holding a pooled connection.
//!
//! It lives in the DAL because checking a password against the stored hash is what
//! makes the proof that opens a session ([`crate::users::Credentials::check`]).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha384;

/// Never printed (no `Debug`): it holds the pepper.
#[derive(Clone)]
pub struct PasswordHasher {
    pepper: String,
    cost: u32,
    /// A hash of nothing anyone knows, verified when an email is unknown so that a
    /// failed login costs the same time either way (no user enumeration by timing).
    dummy_hash: String,
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

impl PasswordHasher {
    pub fn new(pepper: &str, cost: u32) -> Result<Self, HashError> {
        let mut hasher = PasswordHasher {
            pepper: pepper.to_owned(),
            cost,
            dummy_hash: String::new(),
        };
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|_| HashError)?;
        hasher.dummy_hash = hasher.hash(&STANDARD.encode(random))?;
        Ok(hasher)
    }

    fn prehash(&self, password: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha384> as Mac>::new_from_slice(self.pepper.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(password.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        bcrypt::non_truncating_hash(self.prehash(password), self.cost).map_err(|_| HashError)
    }

    /// Checks a password against a stored hash. A malformed hash never matches.
    pub fn verify(&self, password: &str, hash: &str) -> bool {
        bcrypt::non_truncating_verify(self.prehash(password), hash).unwrap_or(false)
    }

    /// Spends the time of one verification without a real hash (unknown email).
    pub fn verify_dummy(&self, password: &str) {
        let _ = self.verify(password, &self.dummy_hash);
    }

    /// True when the stored hash was made with another cost than the configured one.
    pub fn needs_rehash(&self, hash: &str) -> bool {
        hash.split('$').nth(2).and_then(|c| c.parse::<u32>().ok()) != Some(self.cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hasher(cost: u32) -> PasswordHasher {
        PasswordHasher::new("test-pepper", cost).unwrap_or_else(|_| panic!("hasher"))
    }

    #[test]
    fn long_passwords_are_not_truncated() {
        let h = hasher(4);
        let long = "correct horse battery staple ".repeat(4); // 116 bytes
        let stored = h.hash(&long).unwrap_or_default();
        assert!(h.verify(&long, &stored));
        assert!(!h.verify(&long[..72], &stored));
    }

    #[test]
    fn the_pepper_is_part_of_the_hash() {
        let stored = hasher(4).hash("a fine password").unwrap_or_default();
        let other = PasswordHasher::new("another-pepper", 4).unwrap_or_else(|_| panic!("hasher"));
        assert!(!other.verify("a fine password", &stored));
        assert!(hasher(4).verify("a fine password", &stored));
    }

    #[test]
    fn rehash_is_needed_when_the_cost_changes() {
        let stored = hasher(4).hash("a fine password").unwrap_or_default();
        assert!(!hasher(4).needs_rehash(&stored));
        assert!(hasher(5).needs_rehash(&stored));
    }
}
