//! A real SMTP server for the tests: aiosmtpd (from PyPI, not written here) on a free
//! loopback port, storing what it receives in a maildir the test reads. The first use
//! installs it into `target/peers/aiosmtpd` (see `peers`); later runs reuse it.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crust_api::config::{SmtpSecurity, SmtpServer};

const AIOSMTPD: &str = "aiosmtpd==1.4.6";

fn python() -> PathBuf {
    crate::peers::venv("aiosmtpd", &[AIOSMTPD])
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// TLS for the peer: a certificate for `localhost` and the CA file a client trusts.
pub struct PeerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    /// STARTTLS (`--tlscert`) or implicit TLS (`--smtpscert`).
    pub implicit: bool,
}

impl PeerTls {
    /// A self-signed certificate for `localhost` written under `dir`.
    pub fn generate(dir: &Path, implicit: bool) -> PeerTls {
        std::fs::create_dir_all(dir).unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let (cert_path, key_path) = (dir.join("smtp-cert.pem"), dir.join("smtp-key.pem"));
        std::fs::write(&cert_path, cert.cert.pem()).unwrap();
        std::fs::write(&key_path, cert.signing_key.serialize_pem()).unwrap();
        PeerTls {
            ca: cert_path.clone(),
            cert: cert_path,
            key: key_path,
            implicit,
        }
    }
}

/// One SMTP server process with its own maildir.
pub struct SmtpPeer {
    child: Option<Child>,
    pub port: u16,
    pub maildir: PathBuf,
    tls: Option<PeerTls>,
}

/// A message as received.
#[derive(Clone, Debug)]
pub struct Mail {
    /// The whole message as it arrived, headers and encoded body.
    pub raw: String,
    pub to: String,
    pub subject: String,
    /// The decoded text body.
    pub body: String,
}

impl Mail {
    /// Whether the message shows `text` to its reader: in a header (as sent, and the
    /// subject decoded) or in the decoded body. (Not the raw body: its encoding, base64
    /// say, may spell anything by chance.)
    pub fn shows(&self, text: &str) -> bool {
        let end = ["\r\n\r\n", "\n\n"]
            .iter()
            .filter_map(|gap| self.raw.find(gap))
            .min()
            .unwrap_or(self.raw.len());
        let headers = &self.raw[..end];
        headers.contains(text) || self.subject.contains(text) || self.body.contains(text)
    }

    /// The first link in the body.
    pub fn link(&self) -> String {
        self.body
            .split_whitespace()
            .find(|w| w.starts_with("https://") || w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no link in {}", self.body))
            .to_owned()
    }

    /// The token of the link (after `#token=`).
    pub fn token(&self) -> String {
        let link = self.link();
        link.split_once("#token=")
            .unwrap_or_else(|| panic!("no token in {link}"))
            .1
            .to_owned()
    }
}

impl SmtpPeer {
    /// A plaintext server (what a relay on the same host looks like).
    pub fn start() -> SmtpPeer {
        Self::start_with(None)
    }

    pub fn start_with(tls: Option<PeerTls>) -> SmtpPeer {
        let maildir = crate::peers::peers_dir()
            .join("maildirs")
            .join(uuid::Uuid::new_v4().simple().to_string());
        std::fs::create_dir_all(maildir.parent().unwrap()).unwrap();
        let mut peer = SmtpPeer {
            child: None,
            port: free_port(),
            maildir,
            tls,
        };
        peer.resume();
        peer
    }

    /// Starts (again) on the same port and maildir.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "already running");
        let mut cmd = Command::new(python());
        cmd.args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{}", self.port));
        if let Some(tls) = &self.tls {
            let (cert, key) = if tls.implicit {
                ("--smtpscert", "--smtpskey")
            } else {
                ("--tlscert", "--tlskey")
            };
            cmd.arg(cert).arg(&tls.cert).arg(key).arg(&tls.key);
        }
        cmd.args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&self.maildir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.maildir.with_extension("log")).unwrap());
        let mut child = cmd.spawn().expect("cannot start aiosmtpd");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                let err = std::fs::read_to_string(self.maildir.with_extension("log"));
                panic!("aiosmtpd exited ({status}): {err:?}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "aiosmtpd did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        self.child = Some(child);
    }

    /// Stops the server (the port is closed: connections are refused).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server as Crust's configuration names it.
    pub fn server(&self) -> SmtpServer {
        let security = match &self.tls {
            None => SmtpSecurity::Plain,
            Some(t) if t.implicit => SmtpSecurity::ImplicitTls,
            Some(_) => SmtpSecurity::StartTls,
        };
        SmtpServer {
            host: if self.tls.is_some() {
                "localhost".into()
            } else {
                "127.0.0.1".into()
            },
            port: self.port,
            security,
            user: None,
            password: None,
        }
    }

    pub fn ca_file(&self) -> Option<PathBuf> {
        self.tls.as_ref().map(|t| t.ca.clone())
    }

    /// Every message received so far.
    pub fn messages(&self) -> Vec<Mail> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                let bytes = std::fs::read(entry.path()).unwrap();
                out.push(parse(&bytes));
            }
        }
        out
    }

    /// Messages to `to` (case-insensitive).
    pub fn to(&self, to: &str) -> Vec<Mail> {
        self.messages()
            .into_iter()
            .filter(|m| m.to.eq_ignore_ascii_case(to))
            .collect()
    }

    /// Waits until a message to `to` with this subject arrived, and returns it.
    pub async fn wait_for_subject(&self, to: &str, subject: &str) -> Mail {
        let started = Instant::now();
        loop {
            if let Some(m) = self.to(to).into_iter().find(|m| m.subject == subject) {
                return m;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "no message `{subject}` to {to}: {:?}",
                self.to(to)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until `n` messages to `to` arrived (at most 15 s), and returns them.
    pub async fn wait_for(&self, to: &str, n: usize) -> Vec<Mail> {
        let started = Instant::now();
        loop {
            let got = self.to(to);
            if got.len() >= n {
                return got;
            }
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "expected {n} message(s) to {to}, got {}: {got:?}",
                got.len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for SmtpPeer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.maildir);
        let _ = std::fs::remove_file(self.maildir.with_extension("log"));
    }
}

fn parse(bytes: &[u8]) -> Mail {
    use mailparse::MailHeaderMap;
    let parsed = mailparse::parse_mail(bytes).unwrap();
    let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_default();
    Mail {
        raw: String::from_utf8_lossy(bytes).into_owned(),
        to: header("To").trim_matches(['<', '>', ' ']).to_owned(),
        subject: header("Subject"),
        body: parsed.get_body().unwrap(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shows_reads_headers_and_the_decoded_body_not_the_encoding() {
        let raw = b"To: a@example.test\nSubject: Hi\nContent-Transfer-Encoding: base64\n\nQWNtZSBpcyBoZXJl\n";
        let mail = super::parse(raw);
        assert!(mail.shows("Acme is here"));
        assert!(!mail.shows("QWNt"));
        assert!(mail.shows("Subject: Hi"));
    }
}
