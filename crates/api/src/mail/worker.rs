//! The outbox worker: claims due messages, sends them, marks them sent, or schedules
//! a retry with exponential backoff until `CRUST_MAIL_MAX_ATTEMPTS`, when the message
//! is marked dead and logged. Logs name the message's id and template, never its
//! address or link.

use std::time::Duration;

use crust_dal::outbox::{self, Failed, Outgoing};
use lettre::message::Mailbox;

use super::render::{self, RenderError};
use super::transport::Transport;
use super::MailWake;
use crate::config::MailConfig;
use crate::db::Db;

/// How many messages one claim takes.
const BATCH: i64 = 20;

#[derive(Clone)]
pub struct Worker {
    db: Db,
    transport: Transport,
    from: Mailbox,
    public_url: String,
    poll: Duration,
    retry_base: chrono::Duration,
    max_attempts: u32,
    lease: chrono::Duration,
    /// The longest one message may take, however slowly the SMTP server answers each
    /// step (lettre's timeout is per step).
    per_message: Duration,
}

impl Worker {
    pub fn new(db: Db, mail: &MailConfig, transport: Transport) -> Result<Worker, String> {
        let from: Mailbox = mail
            .from
            .parse()
            .map_err(|_| "CRUST_MAIL_FROM is not an address".to_owned())?;
        Ok(Worker {
            db,
            transport,
            from,
            public_url: mail.public_url.clone(),
            poll: Duration::from_millis(mail.poll_ms),
            retry_base: chrono::Duration::milliseconds(mail.retry_base_ms as i64),
            max_attempts: mail.max_attempts,
            // Longer than sending a whole batch can take (each message is cut off at
            // `per_message`), so a claimed message is not claimed again while this
            // worker may still be sending it.
            lease: chrono::Duration::seconds(60 + BATCH * 2 * mail.smtp_timeout_secs as i64),
            per_message: Duration::from_secs(2 * mail.smtp_timeout_secs),
        })
    }

    /// Runs until the task is dropped (the server stops).
    pub async fn run(self, wake: MailWake) {
        loop {
            if let Err(e) = self.drain().await {
                tracing::warn!(error = %e.message(), "mail worker: cannot read the outbox");
            }
            tokio::select! {
                _ = wake.woken() => {}
                _ = tokio::time::sleep(self.poll) => {}
            }
        }
    }

    /// Sends everything due now. Returns how many messages went out.
    pub async fn drain(&self) -> Result<usize, crate::error::ApiError> {
        let mut sent = 0;
        loop {
            let lease = self.lease;
            let batch = self
                .db
                .run(move |c| outbox::claim_due(c, BATCH, lease))
                .await?;
            if batch.is_empty() {
                return Ok(sent);
            }
            for message in batch {
                if self.send_one(message).await? {
                    sent += 1;
                }
            }
        }
    }

    async fn send_one(&self, message: Outgoing) -> Result<bool, crate::error::ApiError> {
        let (result, permanent) = match self.render(&message) {
            Ok(m) => (
                tokio::time::timeout(self.per_message, self.transport.send(m))
                    .await
                    .unwrap_or_else(|_| Err("the SMTP server took too long".to_owned()))
                    .map_err(|e| without_addresses(&e)),
                false,
            ),
            Err(e) => (Err(e.to_string()), true),
        };
        let id = message.id;
        let template = message.template_name().to_owned();
        match result {
            Ok(()) => {
                self.db.run(move |c| outbox::mark_sent(c, &message)).await?;
                sent(crate::metrics::MailResult::Sent);
                tracing::info!(message_id = %id, template, "mail sent");
                Ok(true)
            }
            Err(error) => {
                let (max, base) = (self.max_attempts, self.retry_base);
                let attempts = message.attempts;
                let logged = error.clone();
                let failed = self
                    .db
                    .run(move |c| outbox::mark_failed(c, &message, &error, max, base, permanent))
                    .await?;
                sent(crate::metrics::MailResult::Failed);
                match failed {
                    Failed::RetryAt(at) => tracing::warn!(
                        message_id = %id, template, attempts, retry_at = %at, error = %logged,
                        "mail not sent; will retry"
                    ),
                    Failed::Dead => tracing::error!(
                        message_id = %id, template, attempts, error = %logged,
                        "mail given up after the last attempt: marked dead"
                    ),
                }
                Ok(false)
            }
        }
    }

    fn render(&self, message: &Outgoing) -> Result<lettre::Message, RenderError> {
        let template = message
            .template()
            .ok_or_else(|| RenderError::UnknownTemplate(message.template_name().to_owned()))?;
        let link = render::link(template, &self.public_url, message.token.as_deref())?;
        render::message(
            &self.from,
            &message.recipient,
            template,
            message.greeting_name.as_deref(),
            &link,
        )
    }
}

/// An SMTP server's answer often quotes the recipient (`550 <ann@example.com>: no such
/// user`): every word with an `@` becomes `[address]`, in the log and the outbox alike.
fn without_addresses(error: &str) -> String {
    error
        .split(' ')
        .map(|w| if w.contains('@') { "[address]" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

fn sent(result: crate::metrics::MailResult) {
    crate::metrics::metrics()
        .mail
        .get_or_create(&crate::metrics::MailLabel { result })
        .inc();
}

#[cfg(test)]
mod tests {
    #[test]
    fn smtp_answers_lose_their_addresses() {
        assert_eq!(
            super::without_addresses("550 5.1.1 <ann@example.com>: Recipient address rejected"),
            "550 5.1.1 [address] Recipient address rejected"
        );
    }
}
