//! Rate limits (governor, in this process's memory): per signed-in user, per client IP
//! for anonymous traffic, and a stricter per-IP bucket for sign-in operations. Over a
//! limit: HTTP 429 with `Retry-After`, `RateLimit-*` headers and code RATE_LIMITED.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};

use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;

use crate::config::RateLimits;

type Keyed =
    RateLimiter<String, DefaultKeyedStateStore<String>, DefaultClock, StateInformationMiddleware>;

/// Which bucket a request draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bucket {
    User,
    Anonymous,
    SignIn,
}

pub struct Limiters {
    user: Keyed,
    anonymous: Keyed,
    sign_in: Keyed,
    limits: RateLimits,
    clock: DefaultClock,
}

/// What a check says.
#[derive(Clone, Copy, Debug)]
pub enum Verdict {
    Allowed { limit: u32, remaining: u32 },
    Limited { limit: u32, retry_after: Duration },
}

/// The burst a bucket allows: a twentieth of the hourly amount, between 5 and 500, and
/// never less than a second's allowance.
///
/// The burst is also governor's tolerance for a late clock reading: a worker thread
/// paused between reading the clock and updating the bucket (preempted on a busy
/// machine) finds the bucket moved on by others, and is refused when the pause outlasts
/// the time the burst takes to refill. At 500 per 10⁹ an hour that was 1.8 ms, and
/// `crust bench`'s signed-in load got 429s at random; a second is beyond any pause.
pub fn burst(per_hour: u32) -> u32 {
    (per_hour / 20)
        .clamp(5, 500)
        .max(per_hour / 3600)
        .min(per_hour)
}

fn limiter(per_hour: u32) -> Keyed {
    let hour = NonZeroU32::new(per_hour).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst(per_hour)).unwrap_or(NonZeroU32::MIN);
    RateLimiter::keyed(Quota::per_hour(hour).allow_burst(burst))
        .with_middleware::<StateInformationMiddleware>()
}

/// Keys kept before idle ones are forgotten.
const RETAIN_AT: usize = 50_000;

impl Limiters {
    pub fn new(limits: RateLimits) -> Self {
        Limiters {
            user: limiter(limits.user_per_hour),
            anonymous: limiter(limits.anonymous_per_hour),
            sign_in: limiter(limits.sign_in_per_hour),
            limits,
            clock: DefaultClock::default(),
        }
    }

    /// Draws from `bucket` for `key`: a user id, or a client IP, which counts as its
    /// network (an IPv6 client's /64: rotating through one's block does not make a
    /// client new).
    pub fn check(&self, bucket: Bucket, key: &str) -> Verdict {
        let (limiter, per_hour) = match bucket {
            Bucket::User => (&self.user, self.limits.user_per_hour),
            Bucket::Anonymous => (&self.anonymous, self.limits.anonymous_per_hour),
            Bucket::SignIn => (&self.sign_in, self.limits.sign_in_per_hour),
        };
        if limiter.len() > RETAIN_AT {
            limiter.retain_recent();
        }
        let limit = burst(per_hour);
        let key = match key.parse::<std::net::IpAddr>() {
            Ok(ip) => super::client_ip::network(ip).to_string(),
            Err(_) => key.to_owned(),
        };
        match limiter.check_key(&key) {
            Ok(state) => Verdict::Allowed {
                limit,
                remaining: state.remaining_burst_capacity(),
            },
            Err(not_until) => {
                let bucket = match bucket {
                    Bucket::User => crate::metrics::Bucket::User,
                    Bucket::Anonymous => crate::metrics::Bucket::Anonymous,
                    Bucket::SignIn => crate::metrics::Bucket::SignIn,
                };
                crate::metrics::metrics()
                    .rate_limited
                    .get_or_create(&crate::metrics::BucketLabel { bucket })
                    .inc();
                Verdict::Limited {
                    limit,
                    retry_after: not_until.wait_time_from(self.clock.now()),
                }
            }
        }
    }
}

/// The answer over a limit: 429, `Retry-After`, the `RateLimit-*` headers and the
/// GraphQL-shaped error with code RATE_LIMITED.
pub fn too_many_requests(limit: u32, retry_after: Duration) -> HttpResponse {
    let secs = retry_after.as_secs().max(1);
    let mut res = super::error_response(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        &format!("too many requests: this caller has used its burst of {limit} and the allowance refills over the hour; retry in {secs} s (the Retry-After header says the same) and spread requests out"),
    );
    let headers = res.headers_mut();
    for (name, value) in [
        ("retry-after", secs.to_string()),
        ("ratelimit-limit", limit.to_string()),
        ("ratelimit-remaining", "0".to_owned()),
        ("ratelimit-reset", secs.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(HeaderName::from_static(name), v);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_refills_in_a_second_or_more_at_any_rate() {
        // The production figures keep their twentieth.
        assert_eq!(burst(5000), 250);
        assert_eq!(burst(1000), 50);
        assert_eq!(burst(60), 5);
        assert_eq!(burst(3), 3);
        for per_hour in [
            1,
            60,
            3600,
            20_000,
            1_000_000,
            10_000_000,
            1_000_000_000,
            u32::MAX,
        ] {
            let hour = NonZeroU32::new(per_hour).unwrap();
            let quota =
                Quota::per_hour(hour).allow_burst(NonZeroU32::new(burst(per_hour)).unwrap());
            assert!(
                quota.burst_size_replenished_in() >= Duration::from_millis(999),
                "{per_hour}/h: the burst refills in {:?}, so a paused thread is refused",
                quota.burst_size_replenished_in()
            );
        }
    }

    #[test]
    fn an_ipv6_client_draws_from_its_64_however_it_rotates() {
        let limits = Limiters::new(RateLimits {
            user_per_hour: 100,
            anonymous_per_hour: 100,
            sign_in_per_hour: 100,
        });
        for i in 0..5 {
            let ip = format!("2001:db8:1:2::{:x}", i + 1);
            assert!(matches!(
                limits.check(Bucket::SignIn, &ip),
                Verdict::Allowed { .. }
            ));
        }
        let rotated = "2001:db8:1:2:ffff:ffff:ffff:ffff";
        assert!(matches!(
            limits.check(Bucket::SignIn, rotated),
            Verdict::Limited { .. }
        ));
        assert!(matches!(
            limits.check(Bucket::SignIn, "2001:db8:1:3::1"),
            Verdict::Allowed { .. }
        ));
        // IPv4 is itself; user ids are not addresses.
        assert!(matches!(
            limits.check(Bucket::SignIn, "192.0.2.1"),
            Verdict::Allowed { .. }
        ));
        let user = "5f0c3a8e-2b7d-4a51-9a57-0d3b9f1c2e44";
        assert!(matches!(
            limits.check(Bucket::User, user),
            Verdict::Allowed { .. }
        ));
    }
}
