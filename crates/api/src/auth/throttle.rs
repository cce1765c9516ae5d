//! Failed logins per account: after `max` failures within `window`, further attempts
//! for that email are refused for `lockout`, answered exactly like a wrong password
//! (no hint that the account exists or is locked). Kept in this process's memory: with
//! several API instances each counts on its own (see README).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct LoginThrottle {
    max: usize,
    window: Duration,
    lockout: Duration,
    accounts: Mutex<HashMap<String, Account>>,
}

#[derive(Default)]
struct Account {
    failures: VecDeque<Instant>,
    locked_until: Option<Instant>,
}

/// Entries kept before old ones are swept (a flood of invented emails cannot grow the
/// map without bound).
const SWEEP_AT: usize = 100_000;

impl LoginThrottle {
    pub fn new(max: usize, window: Duration, lockout: Duration) -> Self {
        LoginThrottle {
            max,
            window,
            lockout,
            accounts: Mutex::new(HashMap::new()),
        }
    }

    fn key(email: &str) -> String {
        email.trim().to_lowercase()
    }

    /// Is this email cooling off?
    pub fn is_locked(&self, email: &str) -> bool {
        let now = Instant::now();
        let accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts
            .get(&Self::key(email))
            .and_then(|a| a.locked_until)
            .is_some_and(|until| until > now)
    }

    /// Counts a failure; locks the email when it reaches the limit. Returns whether it
    /// is now locked.
    pub fn failed(&self, email: &str) -> bool {
        let now = Instant::now();
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        if accounts.len() >= SWEEP_AT {
            accounts.retain(|_, a| {
                a.locked_until.is_some_and(|u| u > now)
                    || a.failures.back().is_some_and(|t| now - *t < self.window)
            });
        }
        let account = accounts.entry(Self::key(email)).or_default();
        while account
            .failures
            .front()
            .is_some_and(|t| now - *t >= self.window)
        {
            account.failures.pop_front();
        }
        account.failures.push_back(now);
        if account.failures.len() >= self.max {
            account.locked_until = Some(now + self.lockout);
            account.failures.clear();
        }
        account.locked_until.is_some_and(|u| u > now)
    }

    /// A successful login forgets earlier failures.
    pub fn succeeded(&self, email: &str) {
        let mut accounts = self.accounts.lock().unwrap_or_else(|p| p.into_inner());
        accounts.remove(&Self::key(email));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_account_for_the_lockout() {
        let t = LoginThrottle::new(5, Duration::from_secs(900), Duration::from_millis(200));
        for _ in 0..4 {
            assert!(!t.failed("Ann@Example.test"));
        }
        assert!(!t.is_locked("ann@example.test"));
        assert!(t.failed("ann@example.test"));
        assert!(t.is_locked(" ANN@example.test "));
        assert!(!t.is_locked("bob@example.test"));
        std::thread::sleep(Duration::from_millis(250));
        assert!(!t.is_locked("ann@example.test"), "the cooling-off ends");
    }

    #[test]
    fn success_resets_and_old_failures_expire() {
        let t = LoginThrottle::new(2, Duration::from_millis(100), Duration::from_secs(60));
        t.failed("a@x.test");
        t.succeeded("a@x.test");
        assert!(!t.failed("a@x.test"));
        std::thread::sleep(Duration::from_millis(150));
        assert!(!t.failed("a@x.test"), "the first failure left the window");
    }
}
