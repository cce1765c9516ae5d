//! Abuse protection: request rates, and the sign-in throttle per account.

use super::setting::settings;

settings! {
    /// Requests per hour (per process), each with a burst allowance.
    #[derive(Copy, PartialEq, Eq)]
    pub struct RateLimits {
        pub user_per_hour: u32 {
            env: "CRUST_RATE_LIMIT_USER_PER_HOUR",
            default: Is("5000"),
            range: 1..,
            doc: "Requests per signed-in user per hour (Linear's figure), with a burst of a twentieth (5–500, and at least a second's allowance).",
        },
        pub anonymous_per_hour: u32 {
            env: "CRUST_RATE_LIMIT_ANONYMOUS_PER_HOUR",
            default: Is("1000"),
            range: 1..,
            doc: "Requests per client IP per hour without a valid token; same burst rule.",
        },
        pub sign_in_per_hour: u32 {
            env: "CRUST_RATE_LIMIT_SIGN_IN_PER_HOUR",
            default: Is("60"),
            range: 1..,
            doc: "Requests to the sign-in fields (`login`, `signUp`, `refreshSession`, `verifyEmail`, `resendVerification`, `requestPasswordReset`, `resetPassword`, `acceptInvitation`), the password fields (`changePassword`, `changeEmail`, `confirmEmailChange`, `deleteMyAccount`) and `/auth/*` per client network per hour (burst 5), on top of the above.",
        },
    }
}

settings! {
    /// Failed sign-ins: lock an address out of an account, slow down the account.
    pub struct LoginThrottle {
        pub max_failures: usize {
            env: "CRUST_LOGIN_MAX_FAILURES",
            default: Is("5"),
            range: 1..,
            doc: "Failed sign-ins on one account from one client address (an IPv6 client by its /64) within the window that lock that address out of that account; beyond as many failures on the account from all addresses together, every attempt on it is slowed down (below) …",
        },
        pub failure_window_secs: u64 {
            env: "CRUST_LOGIN_FAILURE_WINDOW_SECS",
            default: Is("900"),
            range: 1..,
            doc: "… the window (15 minutes) …",
        },
        pub lockout_secs: u64 {
            env: "CRUST_LOGIN_LOCKOUT_SECS",
            default: Is("900"),
            doc: "… how long the address then stays locked out of the account … A locked-out attempt answers exactly like a wrong password.",
        },
        // At most 10 s: a longer wait holds sockets open for an attacker.
        pub max_delay_ms: u64 {
            env: "CRUST_LOGIN_MAX_DELAY_MS",
            default: Is("4000"),
            range: ..=10_000,
            doc: "… and the longest the slow-down makes an attempt wait: 100 ms after the limit, doubling per further failure up to this.",
        },
    }
}
