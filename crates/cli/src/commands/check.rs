//! `crust check --deploy`: every finding about a deployment's configuration, like
//! Django's `check --deploy`. Exits non-zero when any finding is serious (what the prod
//! profile refuses to start with).

use crust_api::config::Source;

#[derive(clap::Args)]
pub struct Args {
    /// Check the settings a production deployment needs.
    #[arg(long)]
    deploy: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if !args.deploy {
        anyhow::bail!("say what to check: `crust check --deploy`");
    }
    let config = Source::from_env()
        .and_then(|s| s.load_for_check())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let findings = config.deploy_findings();
    let serious = findings.iter().filter(|f| f.serious).count();
    for f in &findings {
        println!(
            "{} {}",
            if f.serious { "SERIOUS" } else { "WARNING" },
            f.message
        );
    }
    println!(
        "{} finding(s), {serious} serious (profile {})",
        findings.len(),
        config.profile.as_str()
    );
    if serious > 0 {
        anyhow::bail!("{serious} serious finding(s): the prod profile would refuse to start");
    }
    Ok(())
}
