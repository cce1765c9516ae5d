//! Sampling of refusals made before authentication (see the struct).

use std::collections::HashMap;
use std::sync::Mutex;

use super::lock;

/// Decides which refusals made before authentication are written to the audit log:
/// the first for each kind and client (an IP counts as its network, as the rate limits
/// count it) in every minute. A flood of refused requests must not become a flood of
/// writes (the server log still has every one), nor a flood of keys: beyond
/// [`RefusalSampler::MAX_KEYS`] clients in a minute, new ones are not recorded.
#[derive(Default)]
pub struct RefusalSampler {
    seen: Mutex<Seen>,
}

#[derive(Default)]
struct Seen {
    keys: HashMap<String, std::time::Instant>,
    swept: Option<std::time::Instant>,
}

impl RefusalSampler {
    pub const EVERY: std::time::Duration = std::time::Duration::from_secs(60);
    pub const MAX_KEYS: usize = 50_000;

    pub fn should_record(&self, key: &str) -> bool {
        let now = std::time::Instant::now();
        let mut guard = lock(&self.seen);
        let Seen { keys: seen, swept } = &mut *guard;
        if seen.len() >= Self::MAX_KEYS {
            // At most one sweep a second: a full map is not scanned on every refusal.
            if swept.is_none_or(|at| now.duration_since(at) >= std::time::Duration::from_secs(1)) {
                seen.retain(|_, at| now.duration_since(*at) < Self::EVERY);
                *swept = Some(now);
            }
            if seen.len() >= Self::MAX_KEYS && !seen.contains_key(key) {
                return false;
            }
        }
        match seen.get(key) {
            Some(at) if now.duration_since(*at) < Self::EVERY => false,
            _ => {
                seen.insert(key.to_owned(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_record_per_key_and_minute_and_a_bounded_map() {
        let s = RefusalSampler::default();
        assert!(s.should_record("a"));
        assert!(!s.should_record("a"));
        for i in 0..RefusalSampler::MAX_KEYS {
            s.should_record(&format!("k{i}"));
        }
        // Full of fresh keys: a new one is not recorded, and the map does not grow.
        assert!(!s.should_record("new"));
        assert!(lock(&s.seen).keys.len() <= RefusalSampler::MAX_KEYS);
    }
}
