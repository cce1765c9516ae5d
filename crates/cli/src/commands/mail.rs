//! `crust mail test --to ADDRESS` sends one message straight away with the configured
//! transport (not through the outbox), so an operator sees at once whether the SMTP
//! set-up works. `crust mail outbox` lists what is queued, retrying or dead.

use anyhow::Context;
use crust_api::mail::transport::Transport;

#[derive(clap::Subcommand)]
pub enum MailCommand {
    /// Send one test message now and report the server's answer.
    Test {
        #[arg(long)]
        to: String,
    },
    /// List messages not yet sent (queued or retrying) and dead ones.
    Outbox {
        /// Include sent messages.
        #[arg(long)]
        all: bool,
        /// At most this many rows.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

pub fn run(cmd: MailCommand) -> anyhow::Result<()> {
    let config = super::load_config()?;
    match cmd {
        MailCommand::Test { to } => {
            let to = crust_domain::validate::email(&to).map_err(|e| anyhow::anyhow!("{e}"))?;
            let transport = Transport::from_config(&config.mail)?;
            let message = crust_api::mail::render::test_message(&config.mail, &to)?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start the runtime")?;
            runtime
                .block_on(transport.send(message))
                .map_err(|e| anyhow::anyhow!("not sent: {e}"))?;
            println!(
                "sent a test message to {to} via {}",
                transport.describe(&config.mail)
            );
            Ok(())
        }
        MailCommand::Outbox { all, limit } => {
            if !(1..=10_000).contains(&limit) {
                anyhow::bail!("--limit must be between 1 and 10000");
            }
            let mut conn = super::connect(&config)?;
            let rows =
                crust_dal::outbox::list(&crust_dal::Operator::at_console(), &mut conn, all, limit)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            if rows.is_empty() {
                println!("the outbox is empty: nothing queued, retrying or dead");
                return Ok(());
            }
            println!("STATUS    TEMPLATE              ATTEMPTS  CREATED (UTC)        NEXT / SENT (UTC)    RECIPIENT  ID  LAST ERROR");
            for r in &rows {
                let status = match (r.status.as_str(), r.attempts) {
                    ("QUEUED", 0) => "queued",
                    ("QUEUED", _) => "retrying",
                    ("SENT", _) => "sent",
                    _ => "dead",
                };
                let when = r.sent_at.unwrap_or(r.next_attempt_at);
                println!(
                    "{status:<9} {:<21} {:>8}  {}  {}  {}  {}  {}",
                    r.template,
                    r.attempts,
                    r.created_at.format("%Y-%m-%d %H:%M:%S"),
                    when.format("%Y-%m-%d %H:%M:%S"),
                    r.recipient,
                    r.id,
                    r.last_error.as_deref().unwrap_or("-"),
                );
            }
            println!("{} message(s)", rows.len());
            Ok(())
        }
    }
}
