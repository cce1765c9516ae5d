//! `crust dev`: the newcomer's one command. Finds or provisions PostgreSQL, creates
//! the database, migrates and seeds it as the owner, prints logins and the URL, and
//! serves with a login of its own that is only a member of `crust_app` — as production
//! should run — so the server never holds the owner's rights over the audit log.

use std::net::TcpListener;
use std::path::PathBuf;

use anyhow::Context;
use crust_api::config::Secret;
use crust_api::Profile;

use crate::postgres;

#[derive(clap::Args)]
pub struct Args {
    /// Where `crust dev` keeps its private PostgreSQL cluster.
    #[arg(long, default_value = ".crust")]
    data_dir: PathBuf,
    /// Skip DATABASE_URL and the local server: always use the private cluster.
    #[arg(long)]
    private_cluster: bool,
    /// Directory holding PostgreSQL's initdb and pg_ctl (found automatically otherwise).
    #[arg(long)]
    pg_bin_dir: Option<PathBuf>,
    /// Prepare everything, print the logins, but do not serve.
    #[arg(long)]
    no_serve: bool,
    /// Also serve this built single-page app at `/` (e.g. `examples/spa/dist` after
    /// `npm run build` there); sets CRUST_SPA_DIR.
    #[arg(long, value_name = "DIR")]
    spa: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut config = super::load_config()?;
    crust_api::logging::init(config.diagnostics.log_format);
    if let Some(dir) = args.spa {
        crust_api::config::check_spa_dir(&dir).map_err(|why| anyhow::anyhow!("--spa {why}"))?;
        config.http.spa_dir = Some(dir);
    }
    if config.profile == Profile::Prod {
        anyhow::bail!("`crust dev` refuses the prod profile; use `crust serve`");
    }
    let explicit = std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty() && !args.private_cluster);
    let server = postgres::find_or_provision(
        explicit.as_deref(),
        args.private_cluster,
        &args.data_dir,
        args.pg_bin_dir.as_deref(),
    )?;
    let database = match &explicit {
        Some(url) => postgres::database_of(url)
            .unwrap_or_else(|| config.profile.default_database_name().to_owned()),
        None => config.profile.default_database_name().to_owned(),
    };
    postgres::ensure_database(&server, &database)?;
    let owner_url = postgres::with_database(&server, &database)?;
    config.database.migration_url = Some(Secret::new(owner_url.clone()));
    config.database.url = Secret::new(owner_url.clone());

    let mut conn = super::connect(&config)?;
    super::migrate(&mut conn)?;
    let logins = super::seed::demo(&config, &mut conn)?;
    let serving_as = match server_login(&mut conn, &database, &owner_url) {
        Ok((login, url)) => {
            config.database.url = Secret::new(url);
            format!("{login} (a member of crust_app only; new password every run)")
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot make a member-only login; serving as the owner");
            "the owner's login (a member-only login could not be made: see the log)".to_owned()
        }
    };
    drop(conn);

    let listener = TcpListener::bind(config.http.bind)
        .with_context(|| format!("cannot listen on {} (set CRUST_BIND)", config.http.bind))?;
    let addr = listener.local_addr()?;
    println!();
    super::seed::print_logins(&logins);
    println!();
    if config.http.spa_dir.is_some() {
        println!("The app:          http://{addr}/");
    }
    println!("GraphQL endpoint: http://{addr}/graphql");
    if config.diagnostics.graphiql {
        println!("GraphiQL:         http://{addr}/graphiql");
    }
    println!("Database:         {database}");
    println!("Server login:     {serving_as}");
    match &config.mail.smtp {
        None => println!(
            "Mail:             written as .eml files to {} (set CRUST_SMTP_URL to send)",
            config.mail.dir.display()
        ),
        Some(s) => println!("Mail:             SMTP {}:{}", s.host, s.port),
    }
    if args.no_serve {
        return Ok(());
    }
    println!("Serving (Ctrl-C stops) …");
    actix_web::rt::System::new()
        .block_on(crust_api::server::serve(&config, listener))
        .map_err(|e| anyhow::anyhow!("server failed: {e}"))
}

/// The dev server's own login, `<database>_server`, made a member of `crust_app` only,
/// with a password generated now and never stored (a development default: production
/// names its serving login in `DATABASE_URL`). Returns the role and the URL to serve with.
fn server_login(
    conn: &mut crust_dal::PgConnection,
    database: &str,
    owner_url: &str,
) -> anyhow::Result<(String, String)> {
    let login = format!("{}_server", database.to_ascii_lowercase());
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let password: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    crust_dal::admin::ensure_member_login(
        &crust_dal::Operator::at_console(),
        conn,
        &login,
        &password,
        "crust_app",
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((
        login.clone(),
        postgres::with_login(owner_url, &login, &password)?,
    ))
}
