//! `crust dev`: the newcomer's one command. Finds or provisions PostgreSQL, creates
//! the database, migrates, seeds the demo organization, prints logins and the URL,
//! and serves.

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
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut config = super::load_config()?;
    crust_api::logging::init(config.log_format);
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
    config.database_url = Secret::new(postgres::with_database(&server, &database)?);

    let mut conn = super::connect(&config)?;
    super::migrate(&mut conn)?;
    let logins = super::seed::demo(&config, &mut conn)?;
    drop(conn);

    let listener = TcpListener::bind(config.bind)
        .with_context(|| format!("cannot listen on {} (set CRUST_BIND)", config.bind))?;
    let addr = listener.local_addr()?;
    println!();
    super::seed::print_logins(&logins);
    println!();
    println!("GraphQL endpoint: http://{addr}/graphql");
    if config.graphiql {
        println!("GraphiQL:         http://{addr}/graphiql");
    }
    println!("Database:         {database}");
    if args.no_serve {
        return Ok(());
    }
    println!("Serving (Ctrl-C stops) …");
    actix_web::rt::System::new()
        .block_on(crust_api::server::serve(&config, listener))
        .map_err(|e| anyhow::anyhow!("server failed: {e}"))
}
