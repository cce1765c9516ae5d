//! Authentication settings: token keys and lifetimes, password hashing, sign-up.

use std::collections::HashMap;

use super::setting::{settings, Secret};

/// The JWT secret used when none is configured. Never valid in prod.
pub const DEV_JWT_SECRET: &str = "dev-only-insecure-jwt-secret-do-not-use-in-production";
/// The password pepper used when none is configured. Never valid in prod.
pub const DEV_PASSWORD_PEPPER: &str = "dev-only-insecure-pepper-do-not-use-in-production";

/// What the README says instead of printing a development secret.
const MARKED_DEV_VALUE: &str = "a marked development value";

settings! {
    /// Tokens, sessions and passwords.
    pub struct AuthConfig {
        pub jwt_secret: Secret {
            env: "CRUST_JWT_SECRET",
            default: FromProfile(|_| DEV_JWT_SECRET.into(), MARKED_DEV_VALUE),
            doc: "HMAC key signing access tokens (HS256). **Prod: required, ≥ 32 bytes.**",
        },
        pub jwt_kid: String {
            env: "CRUST_JWT_KID",
            default: Is("k1"),
            doc: "Key id put in tokens' `kid` header for `CRUST_JWT_SECRET`. `crust keys rotate-jwt` makes dated ids (`jwt-YYYYMMDD-…`), whose age `crust keys status` and `crust check --deploy` watch.",
        },
        pub jwt_previous: HashMap<String, Secret> {
            env: "CRUST_JWT_PREVIOUS_KEYS",
            default: Unset("none"),
            doc: "`kid=secret,kid=secret`: older keys still accepted while tokens signed with them live (key rotation). A `kid` is only ever looked up in this table.",
        },
        pub jwt_issuer: String {
            env: "CRUST_JWT_ISSUER",
            default: Is("crust"),
            doc: "`iss` written into and required from tokens.",
        },
        pub jwt_audience: String {
            env: "CRUST_JWT_AUDIENCE",
            default: Is("crust-api"),
            doc: "`aud` written into and required from tokens.",
        },
        pub access_token_ttl_secs: i64 {
            env: "CRUST_ACCESS_TOKEN_TTL_SECS",
            default: IsNoted("900", "15 min"),
            range: 1..=86_400,
            doc: "Access-token lifetime.",
        },
        pub refresh_idle_ttl_secs: i64 {
            env: "CRUST_REFRESH_IDLE_TTL_SECS",
            default: IsNoted("1800", "30 min"),
            range: 1..,
            doc: "A refresh token unused this long is dead.",
        },
        pub refresh_absolute_ttl_secs: i64 {
            env: "CRUST_REFRESH_ABSOLUTE_TTL_SECS",
            default: IsNoted("43200", "12 h"),
            range: 1..,
            doc: "A session ends this long after login whatever happens; not shorter than `CRUST_REFRESH_IDLE_TTL_SECS`.",
        },
        pub password_pepper: Secret {
            env: "CRUST_PASSWORD_PEPPER",
            default: FromProfile(|_| DEV_PASSWORD_PEPPER.into(), MARKED_DEV_VALUE),
            doc: "Server-side key of the HMAC-SHA384 applied before bcrypt; keep it outside the database. **Prod: required, ≥ 32 bytes.**",
        },
        pub password_pepper_id: String {
            env: "CRUST_PASSWORD_PEPPER_ID",
            default: Is("p1"),
            doc: "Id of `CRUST_PASSWORD_PEPPER`, stored with every hash it makes (hashes from before ids existed count as `p1`). `crust keys rotate-pepper` makes a dated one.",
        },
        pub password_previous_peppers: HashMap<String, Secret> {
            env: "CRUST_PASSWORD_PREVIOUS_PEPPERS",
            default: Unset("none"),
            doc: "`id=pepper,id=pepper`: older peppers, only to check hashes made with them; a successful sign-in rehashes with the current one. `crust keys status` counts the accounts still on each.",
        },
        pub key_max_age_days: i64 {
            env: "CRUST_KEY_MAX_AGE_DAYS",
            default: Is("90"),
            range: 1..=3650,
            doc: "Keys with dated ids (`crust keys rotate-…`) older than this are reported by `crust keys status` and `crust check --deploy`.",
        },
        pub bcrypt_cost: u32 {
            env: "CRUST_BCRYPT_COST",
            default: Is("12"),
            range: 4..=31,
            doc: "bcrypt cost. Below 12 only in the `test` profile; hashes are upgraded at the next login when it changes.",
        },
        pub password_hash_concurrency: usize {
            env: "CRUST_PASSWORD_HASH_CONCURRENCY",
            default: IsNoted("0", "half the cores, at least 1"),
            range: 0..=256,
            doc: "Password hashes (sign-in, sign-up, password changes) that run at once; the others wait their turn, so a sign-in storm never takes the cores and threads reads need. 0: half the cores, at least 1.",
        },
        pub password_hash_wait_ms: u64 {
            env: "CRUST_PASSWORD_HASH_WAIT_MS",
            default: IsNoted("10000", "10 s"),
            range: 1..=600_000,
            doc: "Longest wait for a hashing slot; then 503 with `Retry-After`.",
        },
        pub password_hash_priority: HashPriority {
            env: "CRUST_PASSWORD_HASH_PRIORITY",
            default: Is("idle"),
            doc: "OS priority (Linux) of password hashing. `idle`: `crust serve` hashes in a process of its own, in a session of its own (Linux shares CPU time between sessions before threads) whose autogroup is at nice 19, its threads at SCHED_IDLE: hashes get the CPU time that the server and PostgreSQL leave, so a sign-in storm slows sign-ins rather than reads. The price: on a machine kept busy, a hash that has started takes as long as the cores leave it time for, and the sign-ins behind it get 503 after `CRUST_PASSWORD_HASH_WAIT_MS`. `low`: the same process at nice 10. `normal`: on the server's own threads, as every other thread. If the process dies or cannot start, hashes run on the server's threads (at this priority) until a new one starts. An idle machine hashes at full speed in every case.",
        },
        pub signup_enabled: bool {
            env: "CRUST_SIGNUP_ENABLED",
            default: OutsideProd("true", "false"),
            doc: "Whether `signUp` is open.",
        },
    }
}

impl AuthConfig {
    /// The password hasher these settings describe (current pepper, older ones by id).
    pub fn password_hasher(
        &self,
    ) -> Result<crust_dal::password::PasswordHasher, crust_dal::password::HashError> {
        crust_dal::password::PasswordHasher::with_peppers(
            &self.password_pepper_id,
            self.password_pepper.expose(),
            self.password_previous_peppers
                .iter()
                .map(|(id, p)| (id.clone(), p.expose().to_owned()))
                .collect(),
            self.bcrypt_cost,
        )
    }
}

/// How the password-hashing threads are scheduled (`CRUST_PASSWORD_HASH_PRIORITY`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HashPriority {
    Normal,
    /// nice 10.
    Low,
    /// Linux's SCHED_IDLE.
    Idle,
}

impl HashPriority {
    /// As `CRUST_PASSWORD_HASH_PRIORITY` spells it (and the hash worker's argument).
    pub fn name(self) -> &'static str {
        match self {
            HashPriority::Normal => "normal",
            HashPriority::Low => "low",
            HashPriority::Idle => "idle",
        }
    }

    /// The priority named `text` (see [`HashPriority::name`]).
    pub fn named(text: &str) -> Result<Self, String> {
        [HashPriority::Normal, HashPriority::Low, HashPriority::Idle]
            .into_iter()
            .find(|p| p.name() == text)
            .ok_or_else(|| format!("`{text}` is not one of idle, low, normal"))
    }
}

impl super::setting::Value for HashPriority {
    fn parse(text: &str) -> Result<Self, String> {
        HashPriority::named(text)
    }
}
