//! Failed sign-ins, counted two ways so that guessing stays expensive without giving
//! anyone a way to lock an account's owner out:
//!
//! - per (account, client address): `max` failures within `window` lock that pair for
//!   `lockout`. The owner elsewhere is untouched; the guesser's address is refused,
//!   answered exactly like a wrong password.
//! - per account, from every address: beyond `max` failures within `window`, each
//!   attempt on the account waits a delay that doubles per further failure, up to
//!   `max_delay`. It only ever delays — the right password from an address that is not
//!   locked always gets in.
//!
//! Attempts still being decided count too: [`LoginThrottle::begin`] reserves a place
//! for each attempt before its password is checked, so forty guesses sent at once from
//! one address are not all checked before the first failures are counted — the sixth
//! finds the pair full, and every one waits the delay the others in flight have
//! earned. The reservation ends with the attempt's outcome, or when it is dropped.
//!
//! Accounts are keyed by user id (several spellings of one email are one account, as
//! PostgreSQL's `lower()` finds it); emails without an account by a digest of the text
//! PostgreSQL's `lower()` made of them, which groups spellings exactly as an account
//! lookup would, so the counters treat unknown and known emails alike. IPv6 clients are
//! counted by their /64, the block one subscriber usually holds.
//!
//! Kept in this process's memory: with several API instances each counts on its own
//! (see README).

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crust_domain::UserId;
use sha2::{Digest, Sha256};

/// Whose sign-in is attempted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountKey {
    User(UserId),
    /// An email with no account: SHA-256 of its PostgreSQL-lowered text, so an entry's
    /// size does not depend on what the caller sent.
    Unknown([u8; 32]),
}

impl AccountKey {
    /// An email without an account, given as PostgreSQL's `lower()` returned it.
    pub fn unknown(lowered_email: &str) -> Self {
        AccountKey::Unknown(Sha256::digest(lowered_email.as_bytes()).into())
    }
}

/// Where an attempt comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientKey(Option<IpAddr>);

impl ClientKey {
    /// The client of a request as the audit origin records it (`None`: unknown).
    pub fn of(ip: Option<&str>) -> Self {
        ClientKey(
            ip.and_then(|s| s.parse::<IpAddr>().ok())
                .map(crate::http::client_ip::network),
        )
    }
}

/// What an attempt faces before its password is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Check {
    /// This (account, address) pair is locked: refuse, whatever the password.
    pub locked: bool,
    /// Wait this long before answering (the account is under attack from somewhere).
    pub delay: Duration,
}

/// The first delay, once an account's failures pass the limit.
const FIRST_DELAY: Duration = Duration::from_millis(100);

/// Entries kept before inactive ones are swept (a flood of invented emails or
/// addresses cannot grow the maps without bound); when all are active, the least
/// recently failed half goes.
const SWEEP_AT: usize = 100_000;

pub struct LoginThrottle {
    max: usize,
    window: Duration,
    lockout: Duration,
    max_delay: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    pairs: HashMap<(AccountKey, ClientKey), Pair>,
    accounts: HashMap<AccountKey, Failures>,
    /// Attempts begun and not yet decided, per account.
    in_flight: HashMap<AccountKey, usize>,
}

#[derive(Default)]
struct Pair {
    failures: Failures,
    locked_until: Option<Instant>,
    /// Attempts from this pair begun and not yet decided.
    in_flight: usize,
}

/// An attempt in progress: what it faces, and its place among the attempts in flight.
/// Settle it with [`Attempt::failed`] or [`Attempt::succeeded`]; dropped unsettled (the
/// request ended some other way), it only gives its place back.
pub struct Attempt<'a> {
    throttle: &'a LoginThrottle,
    account: AccountKey,
    client: ClientKey,
    pub check: Check,
    settled: bool,
}

impl Attempt<'_> {
    /// The attempt failed: see [`LoginThrottle::failed`].
    pub fn failed(mut self) -> bool {
        self.settled = true;
        self.throttle.release(self.account, self.client);
        self.throttle.failed(self.account, self.client)
    }

    /// The attempt succeeded: see [`LoginThrottle::succeeded`].
    pub fn succeeded(mut self) {
        self.settled = true;
        self.throttle.release(self.account, self.client);
        self.throttle.succeeded(self.account, self.client);
    }
}

impl Drop for Attempt<'_> {
    fn drop(&mut self) {
        if !self.settled {
            self.throttle.release(self.account, self.client);
        }
    }
}

/// Failure times within the window, oldest first, at most `cap` of them.
#[derive(Default)]
struct Failures(VecDeque<Instant>);

impl Failures {
    fn expire(&mut self, now: Instant, window: Duration) {
        while self.0.front().is_some_and(|t| now - *t >= window) {
            self.0.pop_front();
        }
    }

    fn push(&mut self, now: Instant, cap: usize) {
        if self.0.len() >= cap {
            self.0.pop_front();
        }
        self.0.push_back(now);
    }

    fn last(&self) -> Option<Instant> {
        self.0.back().copied()
    }
}

/// Keeps `map` under [`SWEEP_AT`] entries: drops those `active` says are done, then, if
/// that was not enough, the half that failed least recently.
fn sweep<K: Eq + Hash + Copy, V>(
    map: &mut HashMap<K, V>,
    active: impl Fn(&V) -> bool,
    last: impl Fn(&V) -> Option<Instant>,
) {
    if map.len() < SWEEP_AT {
        return;
    }
    map.retain(|_, v| active(v));
    if map.len() >= SWEEP_AT / 2 {
        let mut by_age: Vec<(Option<Instant>, K)> =
            map.iter().map(|(k, v)| (last(v), *k)).collect();
        by_age.sort_unstable_by_key(|(t, _)| *t);
        for (_, k) in by_age.iter().take(map.len() - SWEEP_AT / 2) {
            map.remove(k);
        }
    }
}

impl LoginThrottle {
    /// `max` failures within `window` lock a pair for `lockout`; the per-account delay
    /// starts beyond `max` failures and never exceeds `max_delay`.
    pub fn new(max: usize, window: Duration, lockout: Duration, max_delay: Duration) -> Self {
        LoginThrottle {
            max: max.max(1),
            window,
            lockout,
            max_delay,
            state: Mutex::new(State::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The wait after `failures` recent failures on an account from anywhere: none up
    /// to the limit, then doubling from [`FIRST_DELAY`], capped.
    pub fn delay_after(&self, failures: usize) -> Duration {
        if failures < self.max {
            return Duration::ZERO;
        }
        let doublings = u32::try_from(failures - self.max)
            .unwrap_or(u32::MAX)
            .min(20);
        FIRST_DELAY
            .saturating_mul(1 << doublings)
            .min(self.max_delay)
    }

    /// Only this many failures per account are remembered: beyond them the delay is at
    /// its cap anyway.
    fn remembered(&self) -> usize {
        self.max.saturating_add(24)
    }

    /// Begins an attempt on `account` from `client`: what it faces, counting the
    /// attempts already in flight as if they had failed, and its own place among them.
    pub fn begin(&self, account: AccountKey, client: ClientKey) -> Attempt<'_> {
        let now = Instant::now();
        let mut state = self.state();
        let pair = state.pairs.entry((account, client)).or_default();
        pair.failures.expire(now, self.window);
        let locked = pair.locked_until.is_some_and(|until| until > now)
            || pair.failures.0.len() + pair.in_flight >= self.max;
        pair.in_flight += 1;
        let recent = match state.accounts.get_mut(&account) {
            Some(f) => {
                f.expire(now, self.window);
                f.0.len()
            }
            None => 0,
        };
        let in_flight = state.in_flight.entry(account).or_default();
        let delay = self.delay_after(recent + *in_flight);
        *in_flight += 1;
        Attempt {
            throttle: self,
            account,
            client,
            check: Check { locked, delay },
            settled: false,
        }
    }

    /// Gives an attempt's place among those in flight back.
    fn release(&self, account: AccountKey, client: ClientKey) {
        let mut state = self.state();
        if let Some(pair) = state.pairs.get_mut(&(account, client)) {
            pair.in_flight = pair.in_flight.saturating_sub(1);
        }
        if let Some(n) = state.in_flight.get_mut(&account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                state.in_flight.remove(&account);
            }
        }
    }

    /// Counts a failed attempt; locks the pair when it reaches the limit. Returns
    /// whether the pair is now locked. Attempts from a locked pair learn nothing, so
    /// they do not slow the account down for everyone else.
    pub fn failed(&self, account: AccountKey, client: ClientKey) -> bool {
        let now = Instant::now();
        let (window, lockout, max) = (self.window, self.lockout, self.max);
        let remembered = self.remembered();
        let mut state = self.state();
        sweep(
            &mut state.pairs,
            |p| {
                p.in_flight > 0
                    || p.locked_until.is_some_and(|u| u > now)
                    || p.failures.last().is_some_and(|t| now - t < window)
            },
            |p| p.failures.last().or(p.locked_until),
        );
        sweep(
            &mut state.accounts,
            |f| f.last().is_some_and(|t| now - t < window),
            Failures::last,
        );
        let pair = state.pairs.entry((account, client)).or_default();
        let was_locked = pair.locked_until.is_some_and(|u| u > now);
        pair.failures.expire(now, window);
        pair.failures.push(now, max);
        if pair.failures.0.len() >= max {
            pair.locked_until = Some(now + lockout);
            pair.failures.0.clear();
        }
        let locked = pair.locked_until.is_some_and(|u| u > now);
        if !was_locked {
            let account = state.accounts.entry(account).or_default();
            account.expire(now, window);
            account.push(now, remembered);
        }
        locked
    }

    /// A password reset forgets every failure and lockout of the account: whoever reset
    /// it proved they read its inbox. (Per process: other instances forget theirs when
    /// their lockouts expire.)
    pub fn clear_account(&self, account: AccountKey) {
        let mut state = self.state();
        state.pairs.retain(|(a, _), _| *a != account);
        state.accounts.remove(&account);
    }

    /// A successful sign-in forgets the pair's failures. The account's failures from
    /// elsewhere stay: the owner signing in says nothing about the other guesses.
    pub fn succeeded(&self, account: AccountKey, client: ClientKey) {
        self.state().pairs.remove(&(account, client));
    }
}

#[cfg(test)]
mod tests;
