use std::io::Write;

#[derive(clap::Args)]
pub struct Args {
    /// Revert every migration (drops all Crust tables and their data).
    #[arg(long)]
    revert_all: bool,
    /// Do not ask for confirmation.
    #[arg(long)]
    yes: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = super::load_config()?;
    let mut conn = super::connect(&config)?;
    if args.revert_all {
        if !args.yes && !confirm("Revert ALL migrations and drop every Crust table with its data?")?
        {
            anyhow::bail!("cancelled");
        }
        let reverted =
            crust_dal::migrate::revert_all(&crust_dal::Operator::at_console(), &mut conn)
                .map_err(|e| anyhow::anyhow!("revert failed: {e}"))?;
        println!("reverted {} migration(s)", reverted.len());
        return Ok(());
    }
    let applied = crust_dal::migrate::run_pending(&crust_dal::Operator::at_console(), &mut conn)
        .map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    if applied.is_empty() {
        println!("database is up to date");
    } else {
        for v in &applied {
            println!("applied {v}");
        }
    }
    Ok(())
}

pub fn confirm(question: &str) -> anyhow::Result<bool> {
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
