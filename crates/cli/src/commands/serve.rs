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
        migrate_now_or_when_reachable(&config)?;
    }
    let listener = TcpListener::bind(config.http.bind)
        .with_context(|| format!("cannot listen on {}", config.http.bind))?;
    tracing::info!(addr = %config.http.bind, profile = config.profile.as_str(), "serving");
    actix_web::rt::System::new()
        .block_on(crust_api::server::serve(&config, listener))
        .map_err(|e| anyhow::anyhow!("server failed: {e}"))
}

/// Applies pending migrations before serving. A database that cannot be reached is no
/// reason to exit (an orchestrator would restart us in a loop, and a database restart
/// would take every server down with it): the server starts, answers every request but
/// the health checks with 503 (`/readyz` too), and migrates as soon as the database
/// answers. A migration that fails on a
/// reachable database still stops the start.
fn migrate_now_or_when_reachable(config: &crust_api::Config) -> anyhow::Result<()> {
    match super::connect(config) {
        Ok(mut conn) => super::migrate(&mut conn),
        Err(e) if !unreachable(&e) => Err(e),
        Err(e) => {
            tracing::warn!(
                error = %format!("{e:#}"),
                "the database is unreachable: serving anyway (not ready) and migrating once it answers"
            );
            crust_api::http::startup::hold_until_migrated();
            let config = config.clone();
            std::thread::spawn(move || loop {
                std::thread::sleep(std::time::Duration::from_millis(500));
                let Ok(mut conn) = super::connect(&config) else {
                    continue;
                };
                match super::migrate(&mut conn) {
                    Ok(()) => {
                        crust_api::http::startup::migrated();
                        tracing::info!("the database answers: migrations are current; serving");
                        return;
                    }
                    Err(e) => {
                        // Requests keep answering 503, readiness says how many are
                        // pending: fix and restart.
                        tracing::error!(error = %format!("{e:#}"), "migrating failed: not serving until fixed");
                        return;
                    }
                }
            });
            Ok(())
        }
    }
}

/// Whether a failed connection means the database is not there (yet), rather than a
/// setting that will never work (a wrong password, a missing database or role).
fn unreachable(e: &anyhow::Error) -> bool {
    let text = format!("{e:#}");
    const CONFIGURATION: [&str; 4] = [
        "authentication failed",
        "pg_hba.conf",
        "does not exist",
        "invalid connection option",
    ];
    !CONFIGURATION.iter().any(|c| text.contains(c))
}
