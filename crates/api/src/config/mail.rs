//! Mail settings: the SMTP server, the sender, the app's public address for links,
//! and how the outbox worker retries.

use std::fmt;
use std::path::PathBuf;

use super::setting::{settings, Secret, Value};

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpSecurity {
    /// `smtps://`: TLS from the first byte (port 465 by default).
    ImplicitTls,
    /// `smtp://…?tls=required`: STARTTLS, and the message is not sent without it.
    StartTls,
    /// `smtp://` alone (or `?tls=none`): plaintext, for a relay on the same host.
    /// **Refused in prod.**
    Plain,
}

/// `CRUST_SMTP_URL`, parsed: `smtps://user:password@host[:port]` or
/// `smtp://user:password@host[:port]?tls=required` (user and password
/// percent-encoded, both optional).
#[derive(Clone)]
pub struct SmtpServer {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    pub user: Option<String>,
    pub password: Option<Secret>,
}

impl fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpServer")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl Value for SmtpServer {
    fn parse(text: &str) -> Result<Self, String> {
        // Never echo the text: it may hold a password.
        let url = url::Url::parse(text)
            .map_err(|_| "is not a URL like smtps://user:password@host:465".to_owned())?;
        let tls = url
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        if url.query_pairs().any(|(k, _)| k != "tls") {
            return Err("takes only the `tls` query parameter".into());
        }
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtps", None) => (SmtpSecurity::ImplicitTls, 465),
            ("smtp", Some("required")) => (SmtpSecurity::StartTls, 587),
            ("smtp", None | Some("none")) => (SmtpSecurity::Plain, 25),
            ("smtp", Some(_)) => return Err("`tls` must be `required` (STARTTLS) or `none`".into()),
            ("smtps", Some(_)) => return Err("smtps:// takes no `tls` parameter".into()),
            _ => return Err("must start with smtps:// or smtp://".into()),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("names no host")?
            .to_owned();
        if url.path() != "" && url.path() != "/" || url.fragment().is_some() {
            return Err("must not have a path or fragment".into());
        }
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| "user and password must be UTF-8 once percent-decoded".to_owned())
        };
        let user = (!url.username().is_empty())
            .then(|| decode(url.username()))
            .transpose()?;
        let password = url.password().map(decode).transpose()?.map(Secret::new);
        Ok(SmtpServer {
            host,
            port: url.port().unwrap_or(default_port),
            security,
            user,
            password,
        })
    }
}

// A setting's `check` takes a reference to the field's own type.
#[allow(clippy::ptr_arg)]
fn check_public_url(url: &String) -> Result<(), String> {
    let parsed = url::Url::parse(url).map_err(|_| "is not a URL".to_owned())?;
    let ok = matches!(parsed.scheme(), "http" | "https")
        && parsed.host_str().is_some()
        && parsed.query().is_none()
        && parsed.fragment().is_none()
        && !url.ends_with('/');
    if ok {
        Ok(())
    } else {
        Err("must look like https://app.example.com (or with a path), without a trailing /, query or fragment".into())
    }
}

#[allow(clippy::ptr_arg)]
fn check_from(from: &String) -> Result<(), String> {
    from.parse::<lettre::message::Mailbox>()
        .map(|_| ())
        .map_err(|_| "must be an address like `Crust <no-reply@example.com>`".into())
}

settings! {
    /// Sending email: SMTP, sender, links, retries.
    pub struct MailConfig {
        pub smtp: Option<SmtpServer> {
            env: "CRUST_SMTP_URL",
            default: Unset("none: messages are written as `.eml` files to `CRUST_MAIL_DIR`"),
            doc: "SMTP server: `smtps://user:password@host:465` (implicit TLS) or `smtp://user:password@host:587?tls=required` (STARTTLS); user and password percent-encoded. `smtp://host:25` alone is plaintext. **Prod: required, with TLS.**",
        },
        pub smtp_ca_file: Option<PathBuf> {
            env: "CRUST_SMTP_CA_FILE",
            default: Unset("none: the Mozilla roots (webpki-roots)"),
            doc: "PEM certificate of a private CA to trust for the SMTP server, besides the public roots.",
        },
        pub smtp_timeout_secs: u64 {
            env: "CRUST_SMTP_TIMEOUT_SECS",
            default: Is("30"),
            range: 1..=300,
            doc: "Longest wait for the SMTP server at each step of sending.",
        },
        pub from: String {
            env: "CRUST_MAIL_FROM",
            default: Is("Crust <no-reply@localhost>"),
            check: check_from,
            doc: "The sender of every message.",
        },
        pub public_url: String {
            env: "CRUST_PUBLIC_URL",
            default: Is("http://localhost:5173"),
            check: check_public_url,
            doc: "The web app's address: links in messages lead to its pages (`/verify-email`, `/accept-invitation`, `/reset-password`, `/confirm-email`, with the token after `#token=`; `/sign-in`, `/account/security`, `/notifications`). **Prod: must be https.**",
        },
        pub dir: PathBuf {
            env: "CRUST_MAIL_DIR",
            default: Is(".crust/mail"),
            doc: "Without `CRUST_SMTP_URL`, each message is written here as `<id>.eml` (dev and tests).",
        },
        pub worker: bool {
            env: "CRUST_MAIL_WORKER",
            default: Is("true"),
            doc: "Whether this server process sends queued mail. Several instances may all run it: each message is claimed by one.",
        },
        pub poll_ms: u64 {
            env: "CRUST_MAIL_POLL_MS",
            default: Is("1000"),
            range: 10..=60_000,
            doc: "How often the worker looks for due messages (it also wakes when this process queues one).",
        },
        pub retry_base_ms: u64 {
            env: "CRUST_MAIL_RETRY_BASE_MS",
            default: IsNoted("30000", "30 s"),
            range: 10..=3_600_000,
            doc: "After a failed attempt a message waits this long, doubled after each further failure (at most a day).",
        },
        pub max_attempts: u32 {
            env: "CRUST_MAIL_MAX_ATTEMPTS",
            default: IsNoted("20", "about 8 days with the default backoff"),
            range: 1..=100,
            doc: "After this many failed attempts a message is marked dead (kept, its link erased, and logged); `crust mail outbox` lists it. A message that cannot be built at all (an address no SMTP server takes) is dead at once.",
        },
        pub reset_interval_secs: i64 {
            env: "CRUST_PASSWORD_RESET_INTERVAL_SECS",
            default: IsNoted("300", "5 min"),
            range: 0..=86_400,
            doc: "At most one password-reset message per address in this time, however often it is asked for.",
        },
    }
}
