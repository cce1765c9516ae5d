//! Turns an outbox row into a message. The text is fixed per template; the only
//! values put into a message are the recipient's address (as the bare address, no
//! display name), the greeting name when it is a plain name, and the link.

use crust_domain::mail::{greeting_name, LinkKind, Template};
use lettre::message::header::ContentType;
use lettre::message::{Mailbox, SinglePart};
use lettre::{Address, Message};

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("the recipient is not a deliverable address")]
    BadRecipient,
    #[error("the message's link token is missing (already sent or given up)")]
    MissingToken,
    #[error("unknown template {0}")]
    UnknownTemplate(String),
    #[error("cannot build the message: {0}")]
    Build(String),
}

/// The link a message carries.
pub fn link(
    template: Template,
    public_url: &str,
    token: Option<&str>,
) -> Result<String, RenderError> {
    match template.link() {
        LinkKind::WithToken(path) => {
            let token = token.ok_or(RenderError::MissingToken)?;
            Ok(format!("{public_url}{path}#token={token}"))
        }
        LinkKind::Page(path) => Ok(format!("{public_url}{path}")),
    }
}

/// The plain-text body.
pub fn body(template: Template, greeting: Option<&str>, link: &str) -> String {
    let (_, text) = template.text();
    let hello = match greeting.and_then(greeting_name) {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_owned(),
    };
    format!(
        "{hello}\r\n\r\n{text}\r\n\r\n{link}\r\n\r\n-- \r\nCrust. This message was sent automatically; replies are not read.\r\n"
    )
}

/// The whole message.
pub fn message(
    from: &Mailbox,
    to: &str,
    template: Template,
    greeting: Option<&str>,
    link: &str,
) -> Result<Message, RenderError> {
    let address: Address = to.parse().map_err(|_| RenderError::BadRecipient)?;
    let (subject, _) = template.text();
    Message::builder()
        .message_id(None)
        .from(from.clone())
        .to(Mailbox::new(None, address))
        .subject(subject)
        .singlepart(
            SinglePart::builder()
                .header(ContentType::TEXT_PLAIN)
                .body(body(template, greeting, link)),
        )
        .map_err(|e| RenderError::Build(e.to_string()))
}

/// The message `crust mail test` sends: fixed text and a link to the app's sign-in
/// page, like every real message.
pub fn test_message(mail: &crate::config::MailConfig, to: &str) -> Result<Message, RenderError> {
    let from: Mailbox = mail
        .from
        .parse()
        .map_err(|_| RenderError::Build("CRUST_MAIL_FROM is not an address".into()))?;
    let address: Address = to.parse().map_err(|_| RenderError::BadRecipient)?;
    let link = format!("{}/sign-in", mail.public_url);
    Message::builder()
        .message_id(None)
        .from(from)
        .to(Mailbox::new(None, address))
        .subject("Crust test message")
        .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(format!(
            "Hello,\r\n\r\nThis is a test message from Crust: your mail settings work.\r\n\r\n{link}\r\n"
        )))
        .map_err(|e| RenderError::Build(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    const HOSTILE: [&str; 5] = [
        "<script>alert(1)</script>",
        "Eve\r\nBcc: victim@example.com",
        "Eve\nX-Injected: yes",
        "=?utf-8?q?encoded?=",
        "\u{202e}evil",
    ];

    fn raw(template: Template, name: &str) -> String {
        let from: Mailbox = "Crust <no-reply@example.com>".parse().unwrap();
        let link = link(template, "https://app.example.com", Some("TOKEN123")).unwrap();
        let m = message(&from, "user@example.com", template, Some(name), &link).unwrap();
        String::from_utf8(m.formatted()).unwrap()
    }

    #[test]
    fn no_template_carries_a_hostile_name_or_gains_a_header() {
        let long = "x".repeat(10_000);
        let expected_headers = raw(Template::VerifyEmail, "Ann")
            .split("\r\n\r\n")
            .next()
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with('\t'))
            .map(|l| l.split(':').next().unwrap().to_owned())
            .collect::<Vec<_>>();
        for template in Template::ALL {
            for name in HOSTILE.iter().copied().chain([long.as_str()]) {
                let raw = raw(template, name);
                assert!(!raw.contains(name), "{template:?} carries {name:?}");
                assert!(!raw.contains("Bcc") && !raw.contains("X-Injected"));
                let (head, _) = raw.split_once("\r\n\r\n").unwrap();
                let headers: Vec<String> = head
                    .lines()
                    .filter(|l| !l.starts_with(' ') && !l.starts_with('\t'))
                    .map(|l| l.split(':').next().unwrap().to_owned())
                    .collect();
                assert_eq!(headers, expected_headers, "{template:?}");
            }
        }
    }

    #[test]
    fn links_carry_the_token_in_the_fragment_only_where_a_token_belongs() {
        assert_eq!(
            link(Template::PasswordReset, "https://a.example", Some("t")).unwrap(),
            "https://a.example/reset-password#token=t"
        );
        assert!(matches!(
            link(Template::Invitation, "https://a.example", None),
            Err(RenderError::MissingToken)
        ));
        assert_eq!(
            link(Template::NewDevice, "https://a.example", Some("ignored")).unwrap(),
            "https://a.example/account/security"
        );
    }

    #[test]
    fn a_plain_name_greets() {
        let body = body(
            Template::PasswordChanged,
            Some("Ann Lee"),
            "https://x.example/l",
        );
        assert!(body.starts_with("Hello Ann Lee,"));
    }
}
