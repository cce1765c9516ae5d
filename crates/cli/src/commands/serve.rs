use std::net::TcpListener;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Do not apply pending migrations at start (readiness then waits for them).
    #[arg(long)]
    no_migrate: bool,
    /// Serve HTTPS with this PEM certificate chain (with --tls-key; or CRUST_TLS_CERT).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// The PEM private key of --tls-cert (or CRUST_TLS_KEY).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut config = super::load_config()?;
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config.http.tls_cert = Some(cert);
        config.http.tls_key = Some(key);
        config.validate().map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    crust_api::logging::init(config.diagnostics.log_format);
    if !args.no_migrate {
        super::migrate(&mut super::connect(&config)?)?;
    }
    let listener = TcpListener::bind(config.http.bind)
        .with_context(|| format!("cannot listen on {}", config.http.bind))?;
    tracing::info!(addr = %config.http.bind, profile = config.profile.as_str(), "serving");
    actix_web::rt::System::new()
        .block_on(crust_api::server::serve(&config, listener))
        .map_err(|e| anyhow::anyhow!("server failed: {e}"))
}
