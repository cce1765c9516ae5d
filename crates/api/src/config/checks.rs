//! Rules over the loaded configuration: each setting's range and own rule (declared
//! with it), the rules that tie settings together, and what the prod profile refuses.
//! Every rule runs; all problems are reported together.

use super::auth::{DEV_JWT_SECRET, DEV_PASSWORD_PEPPER};
use super::{Config, Problems, Profile, Secret};

/// Shortest secret (in bytes) the prod profile accepts for the JWT key and the pepper.
pub const MIN_PROD_SECRET_BYTES: usize = 32;

/// One finding of `crust check --deploy`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub serious: bool,
    pub message: String,
}

impl Config {
    /// Checks ranges everywhere and refuses insecure settings in prod, reporting every
    /// problem found.
    pub fn validate(&self) -> Result<(), super::ConfigError> {
        let mut problems = Problems::default();
        self.check_values(&mut problems);
        if self.auth.bcrypt_cost < 12 && self.profile != Profile::Test {
            problems.invalid(
                "CRUST_BCRYPT_COST",
                "below 12 is allowed only in the test profile",
            );
        }
        if self.graphql.trusted_documents_only && self.graphql.trusted_documents.is_none() {
            problems.invalid(
                "CRUST_TRUSTED_DOCUMENTS_ONLY",
                "is on but CRUST_TRUSTED_DOCUMENTS names no manifest: no signed-in request could run",
            );
        }
        if self.profile == Profile::Prod {
            problems.refused_in_prod = self.prod_problems();
        }
        problems.into_result()
    }

    /// Ranges and formats, whatever the profile.
    pub(crate) fn check_values(&self, problems: &mut Problems) {
        self.database.check(problems);
        self.auth.check(problems);
        self.login.check(problems);
        self.rate_limits.check(problems);
        self.http.check(problems);
        self.graphql.check(problems);
        self.audit.check(problems);
        self.diagnostics.check(problems);
        self.mail.check(problems);
        self.files.check(problems);
        self.check_together(problems);
    }

    /// The rules that involve more than one setting.
    fn check_together(&self, problems: &mut Problems) {
        let auth = &self.auth;
        if auth.refresh_absolute_ttl_secs < auth.refresh_idle_ttl_secs {
            problems.invalid(
                "CRUST_REFRESH_ABSOLUTE_TTL_SECS",
                "must be positive and not shorter than CRUST_REFRESH_IDLE_TTL_SECS",
            );
        }
        if auth.jwt_kid.is_empty() || auth.jwt_previous.contains_key(&auth.jwt_kid) {
            problems.invalid(
                "CRUST_JWT_KID",
                "must be non-empty and not reused in CRUST_JWT_PREVIOUS_KEYS",
            );
        }
        let valid_id = |id: &str| {
            (1..=40).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        };
        if !valid_id(&auth.password_pepper_id)
            || auth
                .password_previous_peppers
                .contains_key(&auth.password_pepper_id)
        {
            problems.invalid(
                "CRUST_PASSWORD_PEPPER_ID",
                "must be 1–40 letters, digits, - or _, and not reused in CRUST_PASSWORD_PREVIOUS_PEPPERS",
            );
        }
        if !auth.password_previous_peppers.keys().all(|id| valid_id(id)) {
            problems.invalid(
                "CRUST_PASSWORD_PREVIOUS_PEPPERS",
                "ids must be 1–40 letters, digits, - or _",
            );
        }
        self.check_file_keys(problems);
        let http = &self.http;
        if http.tls_cert.is_some() != http.tls_key.is_some() {
            problems.invalid(
                "CRUST_TLS_CERT",
                "set both CRUST_TLS_CERT and CRUST_TLS_KEY, or neither",
            );
        }
        if http.http_redirect_bind.is_some() && http.tls_cert.is_none() {
            problems.invalid(
                "CRUST_HTTP_REDIRECT_BIND",
                "redirects to HTTPS need TLS (CRUST_TLS_CERT and CRUST_TLS_KEY)",
            );
        }
        if self.diagnostics.test_hooks && self.profile != Profile::Test {
            problems.invalid(
                "CRUST_TEST_HOOKS",
                "only the test profile may turn test hooks on",
            );
        }
    }

    /// HTTPS is in front of clients (served here, or by the proxy): send HSTS.
    pub fn hsts(&self) -> bool {
        self.http.hsts()
    }

    /// Every finding of `crust check --deploy`: what prod refuses (serious) and what
    /// deserves a second look (warnings).
    pub fn deploy_findings(&self) -> Vec<Finding> {
        let mut findings: Vec<Finding> = self
            .prod_problems()
            .into_iter()
            .map(|m| Finding {
                serious: true,
                message: m,
            })
            .collect();
        let mut warn = |m: &str| {
            findings.push(Finding {
                serious: false,
                message: m.to_owned(),
            })
        };
        if self.profile != Profile::Prod {
            warn(&format!(
                "CRUST_PROFILE is {}, not prod",
                self.profile.as_str()
            ));
        }
        if self.auth.signup_enabled {
            warn("CRUST_SIGNUP_ENABLED: anyone can create an account");
        }
        for finding in crate::keys::age_findings(self, chrono::Utc::now().date_naive()) {
            warn(&finding);
        }
        if let Some(metrics) = self.diagnostics.metrics_bind {
            if metrics.port() == self.http.bind.port() {
                warn("CRUST_METRICS_BIND uses the API's port: metrics must have an address of their own");
            } else if !metrics.ip().is_loopback() {
                warn(&format!(
                    "CRUST_METRICS_BIND {metrics} is not a loopback address: /metrics has no authentication, keep it on a private network"
                ));
            }
        }
        // `require` encrypts but takes any certificate, so a machine in the path can
        // still stand in for the database; only the `verify-` modes check who answers.
        match sslmode(self.database.url.expose()) {
            Some("verify-full" | "verify-ca") => {}
            Some("require") => warn("DATABASE_URL has sslmode=require, which does not check the database's certificate (use sslmode=verify-full when the database is remote)"),
            _ => warn("DATABASE_URL does not require TLS (fine on loopback; add sslmode=verify-full when the database is remote)"),
        }
        if self.http.cors_origins.is_empty() {
            warn("CRUST_CORS_ORIGINS is empty: no browser app on another origin can call the API");
        }
        if self.http.trusted_proxies.is_empty() && self.http.behind_tls_proxy {
            warn("CRUST_TRUSTED_PROXIES is empty behind a proxy: every client will share the proxy's IP in rate limits");
        }
        findings
    }

    /// What the prod profile will not run with.
    pub fn prod_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        // `<…>` is how `crust keys rotate-…` writes a value to fill in, never a secret.
        let weak = |s: &Secret, dev: &str| {
            s.expose() == dev
                || s.expose().len() < MIN_PROD_SECRET_BYTES
                || s.expose().starts_with('<')
        };
        let auth = &self.auth;
        if weak(&auth.jwt_secret, DEV_JWT_SECRET) {
            problems.push(format!(
                "CRUST_JWT_SECRET is the development default or shorter than {MIN_PROD_SECRET_BYTES} bytes"
            ));
        }
        if auth.jwt_previous.values().any(|s| weak(s, DEV_JWT_SECRET)) {
            problems.push("CRUST_JWT_PREVIOUS_KEYS holds a default or short secret".into());
        }
        if weak(&auth.password_pepper, DEV_PASSWORD_PEPPER) {
            problems.push(format!(
                "CRUST_PASSWORD_PEPPER is the development default or shorter than {MIN_PROD_SECRET_BYTES} bytes"
            ));
        }
        if auth
            .password_previous_peppers
            .values()
            .any(|s| weak(s, DEV_PASSWORD_PEPPER))
        {
            problems.push("CRUST_PASSWORD_PREVIOUS_PEPPERS holds a default or short pepper".into());
        }
        if auth.bcrypt_cost < 12 {
            problems.push("CRUST_BCRYPT_COST is below 12".into());
        }
        if self.diagnostics.graphiql {
            problems.push("CRUST_GRAPHIQL is on".into());
        }
        if !self.audit.enabled {
            problems.push("CRUST_AUDIT_ENABLED is off".into());
        }
        if self.database.role.is_none() {
            problems.push(
                "CRUST_DATABASE_ROLE is none: the server would run with its login role's rights over the audit log".into(),
            );
        }
        if self.diagnostics.report_sql_statements {
            problems.push("CRUST_REPORT_SQL_STATEMENTS is on".into());
        }
        if self.graphql.introspection {
            problems.push("CRUST_INTROSPECTION is on".into());
        }
        if self.http.cors_origins.iter().any(|o| o == "*") {
            problems.push("CRUST_CORS_ORIGINS allows any origin (*)".into());
        }
        match self.mail.smtp.as_ref().map(|s| s.security) {
            None => problems.push(
                "CRUST_SMTP_URL is not set: no message would reach anyone (they would only be written to files)".into(),
            ),
            Some(super::SmtpSecurity::Plain) => problems.push(
                "CRUST_SMTP_URL sends mail without TLS: use smtps:// or smtp://…?tls=required".into(),
            ),
            Some(_) => {}
        }
        if !self.mail.public_url.starts_with("https://") {
            problems.push(
                "CRUST_PUBLIC_URL is not https: links in messages would carry tokens in the clear"
                    .into(),
            );
        }
        let files = &self.files;
        if files.key.expose() == super::DEV_FILE_KEY
            || files
                .previous_keys
                .values()
                .any(|k| k.expose() == super::DEV_FILE_KEY)
        {
            problems.push(
                "CRUST_FILE_KEY is the development default: attachments need a master key of their own".into(),
            );
        }
        if files
            .s3_endpoint
            .as_deref()
            .is_some_and(|e| !e.starts_with("https://"))
        {
            problems.push("CRUST_FILES_S3_ENDPOINT is not https".into());
        }
        if !self.http.behind_tls_proxy && self.http.tls_cert.is_none() {
            problems.push(
                "no TLS: set CRUST_TLS_CERT and CRUST_TLS_KEY, or CRUST_BEHIND_TLS_PROXY=true behind a TLS-terminating proxy"
                    .into(),
            );
        }
        problems
    }
}

impl Config {
    /// Every master key must be 32 bytes of base64 under a distinct, bounded id.
    fn check_file_keys(&self, problems: &mut Problems) {
        let files = &self.files;
        if crate::files::crypto::parse_master_key(files.key.expose()).is_none() {
            problems.invalid("CRUST_FILE_KEY", "must be the base64 of 32 bytes");
        }
        let kid_ok =
            |kid: &str| (1..=64).contains(&kid.len()) && kid.bytes().all(|b| b.is_ascii_graphic());
        if !kid_ok(&files.key_id) || files.previous_keys.contains_key(&files.key_id) {
            problems.invalid(
                "CRUST_FILE_KEY_ID",
                "must be 1–64 printable characters and not reused in CRUST_FILE_PREVIOUS_KEYS",
            );
        }
        if files.previous_keys.iter().any(|(kid, key)| {
            !kid_ok(kid) || crate::files::crypto::parse_master_key(key.expose()).is_none()
        }) {
            problems.invalid(
                "CRUST_FILE_PREVIOUS_KEYS",
                "each entry must be kid=base64 of 32 bytes, with a kid of 1–64 printable characters",
            );
        }
    }
}

/// The `sslmode` libpq takes from a URL (`…?a=b&sslmode=…`) or a `key=value` string:
/// the last one given, as libpq reads its parameters in order and a later one wins.
fn sslmode(url: &str) -> Option<&str> {
    url.split(['?', '&', ' '])
        .filter_map(|pair| pair.strip_prefix("sslmode="))
        .next_back()
}
