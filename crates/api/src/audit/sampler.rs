//! Sampling of refusals made before authentication (see the struct).

use std::collections::HashMap;
use std::sync::Mutex;

use super::lock;

/// Decides which rate-limit refusals are written to the audit log: the first for each
/// bucket and key in every minute. A flood of refused requests must not become a
/// flood of writes (the server log still has every one).
#[derive(Default)]
pub struct RefusalSampler {
    seen: Mutex<HashMap<String, std::time::Instant>>,
}

impl RefusalSampler {
    pub const EVERY: std::time::Duration = std::time::Duration::from_secs(60);

    pub fn should_record(&self, key: &str) -> bool {
        let now = std::time::Instant::now();
        let mut seen = lock(&self.seen);
        if seen.len() > 50_000 {
            seen.retain(|_, at| now.duration_since(*at) < Self::EVERY);
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
