//! `crust keys`: every key the server holds — which sign or hash, which only verify,
//! how old they are (`status`) — and their rotation: token signing keys (`rotate-jwt`),
//! the password pepper (`rotate-pepper`), and the master keys that wrap attachments'
//! data keys (`rotate-files`).
//!
//! A token signing key or pepper is rotated by deploying the settings `rotate-…` prints:
//! the new key signs (or hashes) at once; the old one stays configured to verify what
//! it made — tokens until they expire, password hashes until each account signs in
//! again (and is rehashed) — then is removed.
//!
//! Attachments' master keys, with the server running throughout:
//! 1. Configure the new key next to the old one (`CRUST_FILE_PREVIOUS_KEYS=new=…`
//!    beside the current `CRUST_FILE_KEY`, or the new key as `CRUST_FILE_KEY` and the
//!    old one in `CRUST_FILE_PREVIOUS_KEYS`) and restart: every server reads both.
//! 2. `crust keys rotate-files --to NEW` (with the same settings) re-wraps every file's
//!    data key under NEW, a batch at a time; files stay readable all along, and uploads
//!    made meanwhile are picked up (run it again if it says some are left).
//! 3. Once `crust keys files` shows nothing under the old key, remove it.
//!
//! Only the small wrapped keys change: the files themselves are not re-encrypted.

use anyhow::Context;
use crust_dal::attachments;

#[derive(clap::Subcommand)]
pub enum KeysCommand {
    /// Every configured key: what it does, its age; how many accounts each pepper
    /// still serves. Warns about keys older than CRUST_KEY_MAX_AGE_DAYS.
    Status,
    /// Make a new token signing key and print the settings that deploy it.
    RotateJwt,
    /// Make a new password pepper and print the settings that deploy it.
    RotatePepper,
    /// Make an age identity for encrypted backups (`crust backup --encrypt-to`): the
    /// identity goes to FILE (mode 0600; keep it offline), its recipient is printed.
    BackupKey {
        #[arg(long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
    /// How many files each master key wraps, and which keys are configured.
    Files,
    /// Re-wrap every file's data key under the configured master key KID.
    RotateFiles {
        #[arg(long = "to", value_name = "KID")]
        to: String,
        /// Files per transaction.
        #[arg(long, default_value_t = 500)]
        batch: i64,
    },
}

pub fn run(cmd: KeysCommand) -> anyhow::Result<()> {
    if let KeysCommand::BackupKey { out } = &cmd {
        return backup_key(out);
    }
    let config = super::load_config()?;
    match cmd {
        KeysCommand::Status => return status(&config),
        KeysCommand::RotateJwt => return rotate_jwt(&config),
        KeysCommand::RotatePepper => return rotate_pepper(&config),
        _ => {}
    }
    let keys = crust_api::files::master_keys(&config.files).map_err(|e| anyhow::anyhow!(e))?;
    let op = crust_dal::Operator::at_console();
    let mut conn = super::connect(&config)?;
    match cmd {
        KeysCommand::Files => {
            println!(
                "configured master keys: {} (new files: {})",
                keys.ids().join(", "),
                keys.active()
            );
            let counts =
                attachments::count_by_key(&op, &mut conn).map_err(|e| anyhow::anyhow!("{e}"))?;
            if counts.is_empty() {
                println!("no files");
            }
            for (kid, n) in counts {
                let note = if keys.knows(&kid) {
                    ""
                } else {
                    "  (NOT CONFIGURED: unreadable)"
                };
                println!("{kid}: {n} file(s){note}");
            }
            Ok(())
        }
        KeysCommand::Status
        | KeysCommand::RotateJwt
        | KeysCommand::RotatePepper
        | KeysCommand::BackupKey { .. } => Ok(()),
        KeysCommand::RotateFiles { to, batch } => {
            if !(1..=10_000).contains(&batch) {
                anyhow::bail!("--batch must be between 1 and 10000");
            }
            if !keys.knows(&to) {
                anyhow::bail!(
                    "no master key `{to}` is configured (configured: {}); set it in CRUST_FILE_KEY/CRUST_FILE_KEY_ID or CRUST_FILE_PREVIOUS_KEYS first",
                    keys.ids().join(", ")
                );
            }
            let (mut rewrapped, mut skipped, mut unreadable) = (0u64, 0u64, Vec::new());
            let mut after = None;
            loop {
                let rows = attachments::wrapped_keys_not_under(&op, &mut conn, &to, after, batch)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let Some(last) = rows.last() else { break };
                after = Some(last.id);
                crust_dal::transaction(&mut conn, |c| {
                    for row in &rows {
                        let data_key = match keys.unwrap(&row.key_id, row.id, &row.wrapped_key) {
                            Ok(k) => k,
                            Err(e) => {
                                unreadable.push(format!("{} ({}): {e}", row.id, row.key_id));
                                continue;
                            }
                        };
                        let wrapped = keys
                            .wrap(&to, row.id, &data_key)
                            .map_err(|e| crust_dal::DalError::Internal(e.to_string()))?;
                        if attachments::rewrap(&op, c, row, &to, &wrapped)? {
                            rewrapped += 1;
                        } else {
                            skipped += 1;
                        }
                    }
                    Ok(())
                })
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("re-wrapping a batch")?;
            }
            println!("re-wrapped {rewrapped} file key(s) under `{to}`");
            if skipped > 0 {
                println!(
                    "{skipped} file(s) changed or were deleted meanwhile and were left as they are"
                );
            }
            let left: i64 = attachments::count_by_key(&op, &mut conn)
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .into_iter()
                .filter(|(kid, _)| *kid != to)
                .map(|(_, n)| n)
                .sum();
            if !unreadable.is_empty() {
                for u in &unreadable {
                    eprintln!("cannot open: {u}");
                }
                anyhow::bail!(
                    "{} file key(s) could not be opened with the configured keys and were not re-wrapped",
                    unreadable.len()
                );
            }
            if left > 0 {
                println!(
                    "{left} file(s) are still under other keys (uploaded meanwhile?): run it again"
                );
            } else {
                println!("every file is now under `{to}`: older keys can be removed once every server uses `{to}` for new files");
            }
            Ok(())
        }
    }
}

fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

/// 48 random bytes, base64: well over the 32 bytes the prod profile asks for.
fn new_secret() -> anyhow::Result<String> {
    use base64::Engine;
    let mut bytes = [0u8; 48];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn new_id(prefix: &str) -> anyhow::Result<String> {
    crust_api::keys::new_key_id(prefix, today()).map_err(|e| anyhow::anyhow!("no randomness: {e}"))
}

fn rotate_jwt(config: &crust_api::Config) -> anyhow::Result<()> {
    let auth = &config.auth;
    let kid = new_id("jwt")?;
    let secret = new_secret()?;
    // A browser's CSRF token is renewed at each refresh, so the old key must also
    // outlive the refresh idle time.
    let keep = auth.access_token_ttl_secs.max(auth.refresh_idle_ttl_secs);
    let mut previous: Vec<String> =
        vec![format!("{}=<the current CRUST_JWT_SECRET>", auth.jwt_kid)];
    let mut older: Vec<&String> = auth.jwt_previous.keys().collect();
    older.sort();
    println!("A new token signing key (shown once: put it in your secret store now).");
    println!();
    println!("  CRUST_JWT_KID={kid}");
    println!("  CRUST_JWT_SECRET={secret}");
    if !older.is_empty() {
        previous.push("<the older ones, if still needed (below)>".into());
    }
    println!("  CRUST_JWT_PREVIOUS_KEYS={}", previous.join(","));
    println!();
    println!(
        "Deploy these to every server at once. From then on `{kid}` signs and `{}` only verifies \
         the tokens it signed.",
        auth.jwt_kid
    );
    println!(
        "The longest a token or a browser's CSRF token signed with it lives is {keep} s \
         (CRUST_ACCESS_TOKEN_TTL_SECS, CRUST_REFRESH_IDLE_TTL_SECS): remove `{}` from \
         CRUST_JWT_PREVIOUS_KEYS once that long has passed after the deploy (not before {}).",
        auth.jwt_kid,
        (chrono::Utc::now() + chrono::Duration::seconds(keep)).format("%Y-%m-%d %H:%M UTC")
    );
    for kid in older {
        println!("`{kid}` (already in CRUST_JWT_PREVIOUS_KEYS) can go as soon as it has been there {keep} s.");
    }
    Ok(())
}

fn rotate_pepper(config: &crust_api::Config) -> anyhow::Result<()> {
    let auth = &config.auth;
    let id = new_id("pepper")?;
    let pepper = new_secret()?;
    let mut older: Vec<&String> = auth.password_previous_peppers.keys().collect();
    older.sort();
    let mut previous = vec![format!(
        "{}=<the current CRUST_PASSWORD_PEPPER>",
        auth.password_pepper_id
    )];
    previous.extend(older.iter().map(|id| format!("{id}=<as now>")));
    println!("A new password pepper (shown once: put it in your secret store now).");
    println!();
    println!("  CRUST_PASSWORD_PEPPER_ID={id}");
    println!("  CRUST_PASSWORD_PEPPER={pepper}");
    println!("  CRUST_PASSWORD_PREVIOUS_PEPPERS={}", previous.join(","));
    println!();
    println!(
        "Deploy these to every server. New hashes use `{id}`; each account is rehashed with it \
         at its next sign-in. `crust keys status` counts the accounts still on each old pepper: \
         remove one when none is left (an account still on a removed pepper can only reset its \
         password)."
    );
    Ok(())
}

fn status(config: &crust_api::Config) -> anyhow::Result<()> {
    use crust_api::keys::{keys_in_use, Use};
    let today = today();
    let max = config.auth.key_max_age_days;
    // Counting accounts per pepper needs the database; the rest does not.
    let peppers = super::connect(config).and_then(|mut conn| {
        crust_dal::users::count_by_pepper(&crust_dal::Operator::at_console(), &mut conn)
            .map_err(|e| anyhow::anyhow!("{e}"))
    });
    let mut warnings = 0;
    for k in keys_in_use(config) {
        let role = match (k.kind, k.role) {
            ("token signing", Use::Active) => "signs and verifies",
            ("token signing", Use::Previous) => "verifies only",
            ("password pepper", Use::Active) => "hashes and checks",
            ("password pepper", Use::Previous) => "checks only",
            (_, Use::Active) => "wraps and unwraps",
            (_, Use::Previous) => "unwraps only",
        };
        let age = match k.created {
            Some(d) => {
                let days = (today - d).num_days();
                if k.role == Use::Active && days > max {
                    warnings += 1;
                    format!("{days} days old  WARNING: over {max} days, rotate it")
                } else {
                    format!("{days} days old")
                }
            }
            None if k.role == Use::Active => {
                warnings += 1;
                "age unknown (undated id)  WARNING: rotate once to get a dated id".into()
            }
            None => "age unknown (undated id)".into(),
        };
        let accounts = match (&peppers, k.kind) {
            (Ok(counts), "password pepper") => {
                let n = counts.iter().find(|(id, _)| *id == k.id).map_or(0, |c| c.1);
                format!(", {n} account(s)")
            }
            _ => String::new(),
        };
        println!("{:<16} {:<32} {role}{accounts}; {age}", k.kind, k.id);
    }
    match &peppers {
        Ok(counts) => {
            for (id, n) in counts {
                let known = *id == config.auth.password_pepper_id
                    || config.auth.password_previous_peppers.contains_key(id);
                if !known {
                    warnings += 1;
                    println!(
                        "WARNING: {n} account(s) hashed with pepper `{id}`, which is not configured: \
                         they cannot sign in until they reset their password"
                    );
                }
            }
        }
        Err(e) => println!("(accounts per pepper unknown: {e:#})"),
    }
    println!("{warnings} warning(s)");
    Ok(())
}

fn backup_key(out: &std::path::Path) -> anyhow::Result<()> {
    use age::secrecy::ExposeSecret;
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public();
    // create_new: an existing identity is never overwritten (its backups would be lost).
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .with_context(|| format!("cannot create {} (it must not exist yet)", out.display()))?;
    writeln!(
        file,
        "# crust backup identity, made {}\n# public key: {recipient}\n{}",
        chrono::Utc::now().format("%Y-%m-%d"),
        identity.to_string().expose_secret()
    )
    .and_then(|()| file.sync_all())
    .with_context(|| format!("cannot write {}", out.display()))?;
    println!(
        "identity written to {} (keep it offline, never beside the backups)",
        out.display()
    );
    println!("recipient: {recipient}");
    println!("back up with: crust backup --out FILE --encrypt-to {recipient}");
    Ok(())
}
