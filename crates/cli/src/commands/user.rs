use std::io::BufRead;

use anyhow::Context;
use crust_domain::{password::check_new_password, validate};

#[derive(clap::Subcommand)]
pub enum UserCommand {
    /// Create an account (its address counts as verified). The password is read from standard input (one line) with
    /// --password-stdin; otherwise a strong one is generated and printed once.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts (every one, or the members of one organization) with their roles.
    List {
        /// An organization's id.
        #[arg(long)]
        org: Option<uuid::Uuid>,
    },
    /// End an account's access at once: every session and refresh token, every pending
    /// email link. Memberships stay (see `reactivate`).
    Deactivate { email: String },
    /// Let a deactivated account sign in again.
    Reactivate { email: String },
    /// Deactivate an account and remove every membership, project role, task grant and
    /// assignment it had; open tasks go to --reassign-to where that person may see them,
    /// the rest are listed. The last OWNER of an organization needs --successor.
    Offboard {
        email: String,
        #[arg(long, value_name = "EMAIL")]
        reassign_to: Option<String>,
        /// Becomes OWNER of every organization this account is the last OWNER of.
        #[arg(long, value_name = "EMAIL")]
        successor: Option<String>,
    },
    /// Print everything held about an account as JSON (GDPR's right of access), or
    /// write it to a file.
    Export {
        email: String,
        /// Write to this new file (mode 0600) instead of standard output.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Include what the person may no longer see (tasks and comments of
        /// organizations they left): for the operator's own use, not to hand over.
        #[arg(long)]
        full: bool,
    },
    /// Erase an account's personal data (name, address, password, sessions); shared
    /// work stays, shown as by "deleted user"; its audit events are pseudonymized.
    /// Refused for the last OWNER of an organization (offboard with --successor first).
    Erase { email: String },
}

pub fn run(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            email,
            name,
            password_stdin,
        } => create(email, name, password_stdin),
        UserCommand::List { org } => list(org),
        UserCommand::Deactivate { email } => deactivate(&email),
        UserCommand::Reactivate { email } => reactivate(&email),
        UserCommand::Offboard {
            email,
            reassign_to,
            successor,
        } => offboard(&email, reassign_to.as_deref(), successor.as_deref()),
        UserCommand::Export { email, out, full } => export(&email, out.as_deref(), full),
        UserCommand::Erase { email } => erase(&email),
    }
}

fn create(email: String, name: String, password_stdin: bool) -> anyhow::Result<()> {
    let config = super::load_config()?;
    let email = validate::email(&email).map_err(|e| anyhow::anyhow!("{e}"))?;
    let name = validate::name("name", &name).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (password, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        (line.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (generate_password()?, true)
    };
    check_new_password(&password).map_err(|e| anyhow::anyhow!("password: {e}"))?;
    let hasher = config
        .auth
        .password_hasher()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let hash = hasher.hash(&password).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut conn = super::connect(&config)?;
    let user = crust_dal::users::create_verified(
        &crust_dal::Operator::at_console(),
        &mut conn,
        &email,
        &name,
        &hash,
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "created user {} <{}> with id {}",
        user.name, user.email, user.id
    );
    if generated {
        println!("password (shown once): {password}");
    }
    Ok(())
}

/// 20 random characters from an unambiguous alphabet (~115 bits).
pub fn generate_password() -> anyhow::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut out = String::with_capacity(20);
    while out.len() < 20 {
        let mut byte = [0u8; 1];
        getrandom::fill(&mut byte).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        // Reject the tail of the byte range so every character is equally likely.
        let limit = 256 - (256 % ALPHABET.len());
        if usize::from(byte[0]) < limit {
            out.push(char::from(ALPHABET[usize::from(byte[0]) % ALPHABET.len()]));
        }
    }
    Ok(out)
}

fn console() -> anyhow::Result<(crust_dal::Operator, crust_dal::PgConnection)> {
    let config = super::load_config()?;
    Ok((crust_dal::Operator::at_console(), super::connect(&config)?))
}

/// The account with this address, or a clear error naming it.
pub fn account(
    op: &crust_dal::Operator,
    conn: &mut crust_dal::PgConnection,
    email: &str,
) -> anyhow::Result<crust_domain::UserId> {
    crust_dal::users::id_by_email(op, conn, email)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .ok_or_else(|| anyhow::anyhow!("no account has the address {email}"))
}

fn list(org: Option<uuid::Uuid>) -> anyhow::Result<()> {
    let (op, mut conn) = console()?;
    let accounts = crust_dal::offboarding::list_users(&op, &mut conn, org.map(crust_domain::OrgId))
        .map_err(|e| match e {
            crust_dal::DalError::NotFound => anyhow::anyhow!("no organization has that id"),
            e => anyhow::anyhow!("{e}"),
        })?;
    println!(
        "{:<36}  {:<11}  {:<32}  organizations",
        "id", "state", "email"
    );
    for a in &accounts {
        let state = match (a.active, a.email_verified) {
            (false, _) => "deactivated",
            (true, false) => "unverified",
            (true, true) => "active",
        };
        let orgs: Vec<String> = a
            .orgs
            .iter()
            .map(|(_, name, role)| format!("{name} ({})", role.as_str()))
            .collect();
        println!(
            "{:<36}  {:<11}  {:<32}  {}",
            a.id,
            state,
            a.email,
            orgs.join(", ")
        );
    }
    println!("{} account(s)", accounts.len());
    Ok(())
}

fn deactivate(email: &str) -> anyhow::Result<()> {
    let (op, mut conn) = console()?;
    let user = account(&op, &mut conn, email)?;
    let ended = crust_dal::offboarding::deactivate(&op, &mut conn, user)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "deactivated {email}: {} open session(s) ended, {} open invitation(s) they sent revoked, pending email links spent",
        ended.sessions, ended.invitations
    );
    Ok(())
}

fn reactivate(email: &str) -> anyhow::Result<()> {
    let (op, mut conn) = console()?;
    let user = account(&op, &mut conn, email)?;
    crust_dal::offboarding::reactivate(&op, &mut conn, user).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "reactivated {email}: they can sign in again (what offboarding removed stays removed)"
    );
    Ok(())
}

fn offboard(email: &str, reassign_to: Option<&str>, successor: Option<&str>) -> anyhow::Result<()> {
    let (op, mut conn) = console()?;
    let user = account(&op, &mut conn, email)?;
    let reassign_to = reassign_to
        .map(|e| account(&op, &mut conn, e))
        .transpose()?;
    let successor = successor.map(|e| account(&op, &mut conn, e)).transpose()?;
    let report = crust_dal::offboarding::offboard(&op, &mut conn, user, reassign_to, successor)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "offboarded {email}: deactivated, {} open session(s) ended, {} open invitation(s) they sent revoked",
        report.sessions_ended, report.invitations_revoked
    );
    for (org, role) in &report.memberships_removed {
        println!("  removed from {org} (was {})", role.as_str());
    }
    for org in &report.successor_made_owner {
        println!("  the successor now owns {org}");
    }
    for t in &report.reassigned {
        println!(
            "  reassigned task {} \"{}\" ({} / {})",
            t.id, t.title, t.organization, t.project
        );
    }
    for (t, why) in &report.left_unassigned {
        println!(
            "  left unassigned: task {} \"{}\" ({} / {}): {why}",
            t.id, t.title, t.organization, t.project
        );
    }
    for (id, org, login) in &report.bi_logins_to_rotate {
        println!("  they could read the BI login {login} of {org}: crust bi rotate --org {id}");
    }
    println!(
        "{} task(s) reassigned, {} left unassigned",
        report.reassigned.len(),
        report.left_unassigned.len()
    );
    Ok(())
}

fn export(email: &str, out: Option<&std::path::Path>, full: bool) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let (op, mut conn) = console()?;
    let user = account(&op, &mut conn, email)?;
    let data = crust_dal::gdpr::export_user(&op, &mut conn, user, full)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let text = serde_json::to_string_pretty(&crust_api::gdpr::personal_data_json(&data))?;
    match out {
        Some(path) => {
            // A new file only the operator can read: personal data, never through a
            // link or into someone else's file.
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .with_context(|| {
                    format!("cannot create {} (it must not exist yet)", path.display())
                })?;
            writeln!(file, "{text}").with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote the data of {email} to {}", path.display());
        }
        None => println!("{text}"),
    }
    if full {
        eprintln!(
            "--full: this holds what the person may no longer see; do not hand it over as is"
        );
    }
    Ok(())
}

fn erase(email: &str) -> anyhow::Result<()> {
    let (op, mut conn) = console()?;
    let user = account(&op, &mut conn, email)?;
    let erased =
        crust_dal::gdpr::erase_user(&op, &mut conn, user).map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "erased {email}: {} membership(s) and {} session(s) removed, {} audit event(s) pseudonymized",
        erased.memberships, erased.sessions, erased.audit_events_pseudonymized
    );
    Ok(())
}
