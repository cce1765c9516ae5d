//! Where messages go: an SMTP server (lettre over tokio with rustls and ring), or —
//! without `CRUST_SMTP_URL`, in dev and tests — `.eml` files in `CRUST_MAIL_DIR`.

use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailConfig, SmtpSecurity, SmtpServer};

#[derive(Clone)]
pub enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>, std::path::PathBuf),
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot read CRUST_SMTP_CA_FILE: {0}")]
    CaFile(String),
    #[error("cannot set up TLS for the SMTP server: {0}")]
    Tls(String),
    #[error("cannot create the mail directory {0}: {1}")]
    Dir(String, String),
}

impl Transport {
    pub fn from_config(mail: &MailConfig) -> Result<Transport, TransportError> {
        match &mail.smtp {
            Some(server) => Ok(Transport::Smtp(smtp(
                server,
                mail.smtp_ca_file.as_deref(),
                Duration::from_secs(mail.smtp_timeout_secs),
            )?)),
            None => {
                std::fs::create_dir_all(&mail.dir).map_err(|e| {
                    TransportError::Dir(mail.dir.display().to_string(), e.to_string())
                })?;
                Ok(Transport::Files(
                    AsyncFileTransport::new(&mail.dir),
                    mail.dir.clone(),
                ))
            }
        }
    }

    /// Sends one message. The error is the server's answer or the connection's
    /// failure (never the message itself).
    pub async fn send(&self, message: Message) -> Result<(), String> {
        match self {
            Transport::Smtp(t) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
            Transport::Files(t, _) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
        }
    }

    /// Where messages go, for people (no credentials).
    pub fn describe(&self, mail: &MailConfig) -> String {
        match (self, &mail.smtp) {
            (Transport::Smtp(_), Some(s)) => format!(
                "SMTP {}:{} ({})",
                s.host,
                s.port,
                match s.security {
                    SmtpSecurity::ImplicitTls => "implicit TLS",
                    SmtpSecurity::StartTls => "STARTTLS required",
                    SmtpSecurity::Plain => "plaintext",
                }
            ),
            (Transport::Files(_, dir), _) => format!(".eml files in {}", dir.display()),
            (Transport::Smtp(_), None) => "SMTP".to_owned(),
        }
    }
}

fn smtp(
    server: &SmtpServer,
    ca_file: Option<&std::path::Path>,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, TransportError> {
    let tls = || -> Result<TlsParameters, TransportError> {
        let mut params = TlsParameters::builder(server.host.clone());
        if let Some(path) = ca_file {
            let pem = std::fs::read(path).map_err(|e| TransportError::CaFile(e.to_string()))?;
            let cert =
                Certificate::from_pem(&pem).map_err(|e| TransportError::CaFile(e.to_string()))?;
            params = params.add_root_certificate(cert);
        }
        params
            .build_rustls()
            .map_err(|e| TransportError::Tls(e.to_string()))
    };
    let security = match server.security {
        SmtpSecurity::ImplicitTls => Tls::Wrapper(tls()?),
        SmtpSecurity::StartTls => Tls::Required(tls()?),
        SmtpSecurity::Plain => Tls::None,
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
        .port(server.port)
        .tls(security)
        .timeout(Some(timeout));
    if let Some(user) = &server.user {
        let password = server
            .password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}
