//! `crust audit verify | prune | export`: the operator's side of the audit log. These
//! connect with the `DATABASE_URL` login role itself (pruning needs the table owner;
//! the server's `crust_app` role may only read and append).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use crust_dal::audit::Event;
use crust_dal::Operator;
use crust_domain::audit::hex;
use serde_json::json;
use uuid::Uuid;

#[derive(clap::Subcommand)]
pub enum AuditCommand {
    /// Walk every hash chain from its start; report the first broken link of each
    /// broken chain and exit with status 1, or confirm the log is intact.
    Verify,
    /// Pseudonymize the client IP (keeping its network) and drop the user agent of
    /// events older than the retention period (CRUST_AUDIT_RETENTION_DAYS); the chain
    /// stays verifiable.
    Prune {
        /// Override the retention period, in days.
        #[arg(long)]
        older_than_days: Option<u32>,
    },
    /// Write an organization's events (or, with --global, those of no organization)
    /// as JSON lines, oldest first, for a forensic copy.
    Export {
        #[arg(long, required_unless_present = "global", conflicts_with = "global")]
        org: Option<Uuid>,
        #[arg(long)]
        global: bool,
        /// From this time on (RFC 3339, or a date meaning its start in UTC).
        #[arg(long, value_parser = parse_time)]
        from: Option<DateTime<Utc>>,
        /// Before this time.
        #[arg(long, value_parser = parse_time)]
        to: Option<DateTime<Utc>>,
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| {
            format!("`{s}` is neither RFC 3339 (2026-11-23T10:00:00Z) nor a date (2026-11-23)")
        })
}

pub fn run(cmd: AuditCommand) -> anyhow::Result<()> {
    let config = super::load_config()?;
    let mut conn = super::connect(&config)?;
    let dal = |e: crust_dal::DalError| anyhow::anyhow!("{e}");
    match cmd {
        AuditCommand::Verify => {
            let report =
                crust_dal::audit::verify(&Operator::at_console(), &mut conn).map_err(dal)?;
            for b in &report.broken {
                println!(
                    "BROKEN: chain {} at event #{}{}: {}",
                    chain_name(b.chain),
                    b.seq,
                    b.event.map(|e| format!(" ({e})")).unwrap_or_default(),
                    b.problem
                );
            }
            if report.broken.is_empty() {
                println!(
                    "intact: {} events in {} chains verified",
                    report.events, report.chains
                );
                Ok(())
            } else {
                anyhow::bail!(
                    "{} of {} chains are broken: the audit log was changed outside the application",
                    report.broken.len(),
                    report.chains
                )
            }
        }
        AuditCommand::Prune { older_than_days } => {
            let days = older_than_days.unwrap_or(config.audit.retention_days);
            let cutoff = Utc::now() - chrono::Duration::days(i64::from(days));
            let n =
                crust_dal::audit::prune(&Operator::at_console(), &mut conn, cutoff).map_err(dal)?;
            println!("pruned {n} events older than {days} days (before {cutoff})");
            Ok(())
        }
        AuditCommand::Export {
            org,
            global: _,
            from,
            to,
            out,
        } => {
            let mut sink: Box<dyn Write> = match &out {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let n =
                crust_dal::audit::export(&Operator::at_console(), &mut conn, org, from, to, |e| {
                    serde_json::to_writer(&mut sink, &line(e))?;
                    sink.write_all(b"\n")
                })
                .map_err(dal)?;
            sink.flush().context("cannot write the export")?;
            eprintln!("exported {n} events");
            Ok(())
        }
    }
}

fn chain_name(chain: Uuid) -> String {
    if chain == crust_domain::audit::GLOBAL_CHAIN {
        "global".into()
    } else {
        format!("of organization {chain}")
    }
}

/// One event with everything needed to check its link independently.
fn line(e: &Event) -> serde_json::Value {
    json!({
        "id": e.id,
        "chain": e.chain,
        "sequence": e.seq,
        "occurredAt": e.occurred_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "action": e.action,
        "outcome": e.outcome,
        "errorCode": e.error_code,
        "reason": e.reason,
        "actorId": e.actor_id,
        "sessionId": e.session_id,
        "subjectUserId": e.subject_user_id,
        "organizationId": e.organization_id,
        "targetType": e.target_type,
        "targetId": e.target_id,
        "needToKnow": e.need_to_know,
        "needToKnowIds": e.need_to_know_ids,
        "variables": e.variables,
        "requestId": e.request_id,
        "ip": e.ip,
        "userAgent": e.user_agent,
        "clientSalt": e.client_salt.as_deref().map(hex),
        "ipDigest": hex(&e.ip_digest),
        "userAgentDigest": hex(&e.user_agent_digest),
        "prunedAt": e.pruned_at,
        "prevHash": hex(&e.prev_hash),
        "hash": hex(&e.hash),
    })
}
