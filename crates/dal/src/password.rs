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
//!
//! The pepper can be rotated: each stored hash names the pepper it was made with
//! (`<pepper id>:<bcrypt hash>`; a bare bcrypt hash, from before ids existed, was made
//! with [`FIRST_PEPPER_ID`]). Older peppers stay configured by id for checking only,
//! and a successful sign-in rehashes with the current one.
//!
//! bcrypt itself runs where a [`Bcrypt`] says: in the calling thread by default; the
//! server hands it to a process of its own (`crust_api::auth::hash_worker`), so that
//! the OS can schedule it after everything else. The pepper never leaves this process:
//! bcrypt only ever sees the HMAC of the password.

use std::collections::HashMap;
use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha384;

/// The id of the pepper of hashes stored without one (the default current id).
pub const FIRST_PEPPER_ID: &str = "p1";

/// Where bcrypt's work is done. `secret` is the HMAC of a password (base64, see
/// [`PasswordHasher`]), never the password or the pepper.
pub trait Bcrypt: Send + Sync {
    /// A bcrypt hash of `secret` at `cost`.
    fn hash(&self, secret: &str, cost: u32) -> Result<String, HashError>;
    /// Whether `secret` matches the bcrypt hash `hash`; a malformed hash never does.
    fn verify(&self, secret: &str, hash: &str) -> bool;
}

/// bcrypt on the calling thread.
pub struct InThisThread;

impl Bcrypt for InThisThread {
    fn hash(&self, secret: &str, cost: u32) -> Result<String, HashError> {
        bcrypt::non_truncating_hash(secret, cost).map_err(|_| HashError)
    }

    fn verify(&self, secret: &str, hash: &str) -> bool {
        bcrypt::non_truncating_verify(secret, hash).unwrap_or(false)
    }
}

/// Never printed (no `Debug`): it holds the peppers.
#[derive(Clone)]
pub struct PasswordHasher {
    pepper_id: String,
    pepper: String,
    /// Older peppers by id, for checking hashes made with them.
    previous: HashMap<String, String>,
    cost: u32,
    /// A hash of nothing anyone knows, verified when an email is unknown so that a
    /// failed login costs the same time either way (no user enumeration by timing).
    dummy_hash: String,
    bcrypt: Arc<dyn Bcrypt>,
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

impl PasswordHasher {
    /// One pepper, with the first id.
    pub fn new(pepper: &str, cost: u32) -> Result<Self, HashError> {
        Self::with_peppers(FIRST_PEPPER_ID, pepper, HashMap::new(), cost)
    }

    /// The current pepper (which hashes) and older ones by id (which only check).
    pub fn with_peppers(
        pepper_id: &str,
        pepper: &str,
        previous: HashMap<String, String>,
        cost: u32,
    ) -> Result<Self, HashError> {
        let mut hasher = PasswordHasher {
            pepper_id: pepper_id.to_owned(),
            pepper: pepper.to_owned(),
            previous,
            cost,
            dummy_hash: String::new(),
            bcrypt: Arc::new(InThisThread),
        };
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|_| HashError)?;
        hasher.dummy_hash = hasher.hash(&STANDARD.encode(random))?;
        Ok(hasher)
    }

    /// The same hasher, with bcrypt run by `bcrypt`.
    pub fn with_bcrypt(mut self, bcrypt: Arc<dyn Bcrypt>) -> Self {
        self.bcrypt = bcrypt;
        self
    }

    fn prehash(pepper: &str, password: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = <Hmac<Sha384> as Mac>::new_from_slice(pepper.as_bytes())
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(password.as_bytes());
        STANDARD.encode(mac.finalize().into_bytes())
    }

    /// `<current pepper id>:<bcrypt hash>`.
    pub fn hash(&self, password: &str) -> Result<String, HashError> {
        let hash = self
            .bcrypt
            .hash(&Self::prehash(&self.pepper, password), self.cost)?;
        Ok(format!("{}:{hash}", self.pepper_id))
    }

    /// Checks a password against a stored hash. A malformed hash, or one made with a
    /// pepper no longer configured, never matches.
    pub fn verify(&self, password: &str, stored: &str) -> bool {
        let (id, hash) = split(stored);
        let pepper = if id == self.pepper_id {
            &self.pepper
        } else {
            match self.previous.get(id) {
                Some(p) => p,
                None => {
                    // A retired pepper: the same work as a real check, so the answer's
                    // timing does not single out the accounts still on it.
                    self.verify_dummy(password);
                    return false;
                }
            }
        };
        self.bcrypt.verify(&Self::prehash(pepper, password), hash)
    }

    /// Spends the time of one verification without a real hash (unknown email).
    pub fn verify_dummy(&self, password: &str) {
        let _ = self.verify(password, &self.dummy_hash);
    }

    /// True when the stored hash was made with another pepper or cost than the
    /// current ones.
    pub fn needs_rehash(&self, stored: &str) -> bool {
        let (id, hash) = split(stored);
        id != self.pepper_id
            || hash.split('$').nth(2).and_then(|c| c.parse::<u32>().ok()) != Some(self.cost)
    }
}

/// The pepper id of a stored hash (see the module's docs), and the bcrypt hash.
pub fn split(stored: &str) -> (&str, &str) {
    match stored.split_once(':') {
        Some((id, hash)) if !stored.starts_with('$') => (id, hash),
        _ => (FIRST_PEPPER_ID, stored),
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

    fn peppered(id: &str, pepper: &str, previous: &[(&str, &str)]) -> PasswordHasher {
        let previous = previous
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        PasswordHasher::with_peppers(id, pepper, previous, 4).unwrap_or_else(|_| panic!("hasher"))
    }

    #[test]
    fn hashes_name_their_pepper_and_old_peppers_still_check_until_retired() {
        let old = peppered("p1", "first-pepper", &[]);
        let stored = old.hash("a fine password").unwrap_or_default();
        assert!(stored.starts_with("p1:$2"), "{stored}");
        let rotated = peppered("p2", "second-pepper", &[("p1", "first-pepper")]);
        assert!(rotated.verify("a fine password", &stored));
        assert!(!rotated.verify("another password", &stored));
        assert!(rotated.needs_rehash(&stored));
        let fresh = rotated.hash("a fine password").unwrap_or_default();
        assert!(fresh.starts_with("p2:") && !rotated.needs_rehash(&fresh));
        // Once p1 is retired, its hashes match nothing; p2's still do.
        let retired = peppered("p2", "second-pepper", &[]);
        assert!(!retired.verify("a fine password", &stored));
        assert!(retired.verify("a fine password", &fresh));
        // The same id with another pepper is a different key: no match.
        assert!(!peppered("p1", "imposter", &[]).verify("a fine password", &stored));
    }

    #[test]
    fn bare_hashes_from_before_pepper_ids_count_as_the_first_pepper() {
        let bare = bcrypt::non_truncating_hash(
            PasswordHasher::prehash("first-pepper", "a fine password"),
            4,
        )
        .unwrap_or_default();
        assert_eq!(split(&bare), (FIRST_PEPPER_ID, bare.as_str()));
        assert!(peppered("p1", "first-pepper", &[]).verify("a fine password", &bare));
        assert!(peppered("p2", "x", &[("p1", "first-pepper")]).verify("a fine password", &bare));
        assert!(!peppered("p1", "first-pepper", &[]).needs_rehash(&bare));
    }

    #[test]
    fn rehash_is_needed_when_the_cost_changes() {
        let stored = hasher(4).hash("a fine password").unwrap_or_default();
        assert!(!hasher(4).needs_rehash(&stored));
        assert!(hasher(5).needs_rehash(&stored));
    }
}
