use super::*;

fn user(n: u128) -> AccountKey {
    AccountKey::User(UserId(uuid::Uuid::from_u128(n)))
}

fn ip(s: &str) -> ClientKey {
    ClientKey::of(Some(s))
}

#[test]
fn five_failures_lock_the_pair_not_the_account() {
    let t = LoginThrottle::new(
        5,
        Duration::from_secs(900),
        Duration::from_millis(200),
        Duration::from_secs(4),
    );
    let (ann, here, there) = (user(1), ip("203.0.113.7"), ip("198.51.100.9"));
    for _ in 0..4 {
        assert!(!t.failed(ann, here));
    }
    assert!(!t.begin(ann, here).check.locked);
    assert!(t.failed(ann, here), "the fifth failure locks");
    assert!(t.begin(ann, here).check.locked);
    assert!(
        !t.begin(ann, there).check.locked,
        "another address is not locked"
    );
    assert!(
        !t.begin(user(2), here).check.locked,
        "another account is not locked"
    );
    std::thread::sleep(Duration::from_millis(250));
    assert!(!t.begin(ann, here).check.locked, "the cooling-off ends");
}

#[test]
fn attempts_in_flight_count_before_they_are_decided() {
    let t = LoginThrottle::new(
        5,
        Duration::from_secs(900),
        Duration::from_secs(900),
        Duration::from_secs(4),
    );
    let (ann, here) = (user(1), ip("2001:db8:1:2::1"));
    // Forty guesses at once from one /64: five are checked, the rest find it full.
    let attempts: Vec<Attempt<'_>> = (0..40)
        .map(|i| t.begin(ann, ip(&format!("2001:db8:1:2::{:x}", i + 1))))
        .collect();
    let checked = attempts.iter().filter(|a| !a.check.locked).count();
    assert_eq!(checked, 5);
    // Each waits the delay the others in flight earned: they do not all pass at once.
    assert_eq!(attempts[4].check.delay, Duration::ZERO);
    assert_eq!(attempts[5].check.delay, Duration::from_millis(100));
    assert_eq!(attempts[39].check.delay, Duration::from_secs(4));
    // Dropped undecided, they give their places back.
    drop(attempts);
    assert!(!t.begin(ann, here).check.locked);
    // Decided as failures, the first five lock the pair.
    let five: Vec<Attempt<'_>> = (0..5).map(|_| t.begin(ann, here)).collect();
    let locked: Vec<bool> = five.into_iter().map(Attempt::failed).collect();
    assert_eq!(locked, [false, false, false, false, true]);
    assert!(t.begin(ann, here).check.locked);
    assert!(!t.begin(ann, ip("192.0.2.1")).check.locked);
}

#[test]
fn attempts_from_a_locked_pair_neither_unlock_it_nor_slow_the_account() {
    let t = LoginThrottle::new(
        2,
        Duration::from_secs(900),
        Duration::from_secs(60),
        Duration::from_secs(4),
    );
    let (ann, here) = (user(1), ip("203.0.113.7"));
    t.failed(ann, here);
    assert!(t.failed(ann, here));
    let before = t.begin(ann, here).check.delay;
    for _ in 0..10 {
        assert!(t.failed(ann, here));
    }
    assert_eq!(t.begin(ann, ip("192.0.2.1")).check.delay, before);
}

#[test]
fn the_delay_starts_beyond_the_limit_doubles_and_is_capped() {
    let t = LoginThrottle::new(
        5,
        Duration::from_secs(900),
        Duration::from_secs(900),
        Duration::from_secs(3),
    );
    let curve: Vec<u64> = (0..12)
        .map(|n| t.delay_after(n).as_millis() as u64)
        .collect();
    assert_eq!(curve, [0, 0, 0, 0, 0, 100, 200, 400, 800, 1600, 3000, 3000]);
    assert_eq!(t.delay_after(usize::MAX), Duration::from_secs(3));
}

#[test]
fn failures_from_many_addresses_delay_the_account_everywhere_but_lock_nothing_new() {
    let t = LoginThrottle::new(
        5,
        Duration::from_secs(900),
        Duration::from_secs(900),
        Duration::from_secs(3),
    );
    let ann = user(1);
    for a in 0..7u8 {
        for _ in 0..4 {
            assert!(!t.failed(ann, ip(&format!("198.51.100.{a}"))));
        }
    }
    let fresh = t.begin(ann, ip("192.0.2.1")).check;
    assert!(!fresh.locked, "a new address is never locked");
    assert_eq!(fresh.delay, Duration::from_secs(3));
    assert_eq!(
        t.begin(user(2), ip("192.0.2.1")).check.delay,
        Duration::ZERO
    );
    // The owner's success from the new address does not wipe the others' failures.
    t.succeeded(ann, ip("192.0.2.1"));
    assert_eq!(
        t.begin(ann, ip("192.0.2.1")).check.delay,
        Duration::from_secs(3)
    );
}

#[test]
fn success_resets_the_pair_and_old_failures_expire() {
    let t = LoginThrottle::new(
        2,
        Duration::from_millis(100),
        Duration::from_secs(60),
        Duration::from_secs(4),
    );
    let (a, here) = (user(1), ip("203.0.113.7"));
    t.failed(a, here);
    t.succeeded(a, here);
    assert!(!t.failed(a, here));
    std::thread::sleep(Duration::from_millis(150));
    assert!(!t.failed(a, here), "the first failure left the window");
}

#[test]
fn unknown_emails_key_by_their_lowered_text_and_ipv6_by_its_64() {
    assert_eq!(
        AccountKey::unknown("info@x.test"),
        AccountKey::unknown("info@x.test")
    );
    assert_ne!(
        AccountKey::unknown("info@x.test"),
        AccountKey::unknown("info@y.test")
    );
    assert_eq!(ip("2001:db8:1:2:aaaa::1"), ip("2001:db8:1:2:bbbb::2"));
    assert_ne!(ip("2001:db8:1:2::1"), ip("2001:db8:1:3::1"));
    assert_eq!(ip("::ffff:192.0.2.1"), ip("192.0.2.1"));
    assert_eq!(ClientKey::of(None), ClientKey::of(Some("not an address")));
}

#[test]
fn memory_stays_bounded_under_a_flood() {
    let t = LoginThrottle::new(
        5,
        Duration::from_secs(900),
        Duration::from_secs(900),
        Duration::from_secs(4),
    );
    for n in 0..(SWEEP_AT as u128 + 10) {
        t.failed(
            AccountKey::unknown(&format!("{n}@x.test")),
            ip("203.0.113.7"),
        );
    }
    let state = t.state();
    assert!(state.pairs.len() <= SWEEP_AT, "{}", state.pairs.len());
    assert!(state.accounts.len() <= SWEEP_AT, "{}", state.accounts.len());
}
