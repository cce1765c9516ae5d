use std::net::TcpListener;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Do not apply pending migrations at start (readiness then waits for them).
    #[arg(long)]
    no_migrate: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let config = super::load_config()?;
    crust_api::logging::init(config.log_format);
    if !args.no_migrate {
        super::migrate(&mut super::connect(&config)?)?;
    }
    let listener = TcpListener::bind(config.bind)
        .with_context(|| format!("cannot listen on {}", config.bind))?;
    tracing::info!(addr = %config.bind, profile = config.profile.as_str(), "serving");
    actix_web::rt::System::new()
        .block_on(crust_api::server::serve(&config, listener))
        .map_err(|e| anyhow::anyhow!("server failed: {e}"))
}
