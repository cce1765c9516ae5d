//! `crust keys`: the master keys that wrap attachments' data keys.
//!
//! Rotation, with the server running throughout:
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
    let config = super::load_config()?;
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
