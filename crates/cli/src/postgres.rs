//! Finding or provisioning a PostgreSQL server for `crust dev`:
//! 1. `DATABASE_URL` when set;
//! 2. else the local server on 127.0.0.1:5432 (user `postgres`);
//! 3. else, when PostgreSQL's server binaries are installed, a private cluster under
//!    `.crust/postgres` on a free port (created once, started when needed);
//! 4. else an error that says how to get one.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{anyhow, bail, Context};

/// The local server. Loopback, so without TLS: libpq's default (`prefer`) would encrypt
/// without checking who answers, which protects nothing here and costs CPU per read.
/// Where `PGSSLMODE` is set, the URL leaves TLS to it (an `sslmode` in the URL would
/// override it): 127.0.0.1:5432 may then be a tunnel to a remote database.
fn local_server() -> &'static str {
    local_server_for(crust_api::config::pgsslmode_set())
}

fn local_server_for(pgsslmode_set: bool) -> &'static str {
    if pgsslmode_set {
        "postgres://postgres@127.0.0.1:5432/postgres?connect_timeout=3"
    } else {
        "postgres://postgres@127.0.0.1:5432/postgres?connect_timeout=3&sslmode=disable"
    }
}

pub const HOW_TO_GET_POSTGRES: &str = "No PostgreSQL server could be found or started.
Crust needs PostgreSQL 13 or newer. Any one of these works:
  - Debian/Ubuntu:  sudo apt-get install postgresql   (then run `crust dev` again)
  - macOS:          brew install postgresql@16 && brew services start postgresql@16
  - any server:     DATABASE_URL=postgres://USER:PASSWORD@HOST:5432/crust_dev crust dev";

/// Replaces the database name of a `postgres://` URL, keeping its query string.
pub fn with_database(url: &str, database: &str) -> anyhow::Result<String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base
        .find("://")
        .ok_or_else(|| anyhow!("DATABASE_URL must look like postgres://user@host:port/database"))?
        + 3;
    let host_part = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    Ok(match query {
        Some(q) => format!("{host_part}/{database}?{q}"),
        None => format!("{host_part}/{database}"),
    })
}

/// Replaces the login (user and password) of a `postgres://` URL. Both must need no
/// percent-encoding (the callers make them of letters, digits and underscores).
pub fn with_login(url: &str, user: &str, password: &str) -> anyhow::Result<String> {
    let scheme_end = url
        .find("://")
        .ok_or_else(|| anyhow!("DATABASE_URL must look like postgres://user@host:port/database"))?
        + 3;
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let host = match rest[..authority_end].rfind('@') {
        Some(at) => &rest[at + 1..],
        None => rest,
    };
    Ok(format!("{}{user}:{password}@{host}", &url[..scheme_end]))
}

/// The database name of a `postgres://` URL.
pub fn database_of(url: &str) -> Option<String> {
    let base = url.split('?').next()?;
    let after_scheme = &base[base.find("://")? + 3..];
    let name = &after_scheme[after_scheme.find('/')? + 1..];
    (!name.is_empty()).then(|| name.to_owned())
}

fn reachable(url: &str) -> bool {
    crust_dal::establish(&crust_dal::Operator::at_console(), url).is_ok()
}

/// Creates the database when it does not exist yet.
pub fn ensure_database(server_url: &str, name: &str) -> anyhow::Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("database name `{name}`: use letters, digits and underscores only");
    }
    let maintenance = with_database(server_url, "postgres")?;
    let mut conn = crust_dal::establish(&crust_dal::Operator::at_console(), &maintenance)
        .with_context(|| "cannot connect to the PostgreSQL server".to_string())?;
    crust_dal::admin::create_database_if_missing(
        &crust_dal::Operator::at_console(),
        &mut conn,
        name,
    )
    .map_err(|e| anyhow!("cannot create database {name}: {e}"))
}

/// Finds a server and returns a URL for it (database part to be replaced).
pub fn find_or_provision(
    explicit: Option<&str>,
    private_only: bool,
    data_dir: &Path,
    bin_dir: Option<&Path>,
) -> anyhow::Result<String> {
    if let Some(url) = explicit {
        return Ok(url.to_owned());
    }
    if !private_only && reachable(local_server()) {
        println!("Using the local PostgreSQL on 127.0.0.1:5432.");
        return Ok(local_server().to_owned());
    }
    let bin = match bin_dir.map(Path::to_path_buf).or_else(find_server_binaries) {
        Some(bin) if bin.join("initdb").is_file() && bin.join("pg_ctl").is_file() => bin,
        _ => bail!("{HOW_TO_GET_POSTGRES}"),
    };
    private_cluster(&bin, &data_dir.join("postgres"))
}

fn find_server_binaries() -> Option<PathBuf> {
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    // Highest version first (directory names are major versions).
    candidates.sort_by_key(|p| {
        std::cmp::Reverse(
            p.parent()
                .and_then(|v| v.file_name())
                .and_then(|v| v.to_str())
                .and_then(|v| v.parse::<u32>().ok()),
        )
    });
    candidates.push(PathBuf::from("/usr/local/pgsql/bin"));
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    candidates
        .into_iter()
        .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0\n"))
        .unwrap_or(false)
}

/// PostgreSQL refuses to run as root; as root we run it as the `postgres` user.
fn pg_command(bin: &Path, tool: &str, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(tool));
        c
    } else {
        Command::new(bin.join(tool))
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn private_cluster(bin: &Path, dir: &Path) -> anyhow::Result<String> {
    let data = dir.join("data");
    let port_file = dir.join("port");
    let as_postgres = is_root();
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let dir = dir.canonicalize()?;
    let data = dir.join(data.file_name().unwrap_or_default());
    if as_postgres {
        run(
            Command::new("chown").args(["-R", "postgres:"]).arg(&dir),
            "chown the private cluster to postgres",
        )?;
    }
    if !data.join("PG_VERSION").is_file() {
        println!(
            "Creating a private PostgreSQL cluster in {} …",
            data.display()
        );
        run(
            pg_command(bin, "initdb", as_postgres)
                .args([
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                    "-D",
                ])
                .arg(&data),
            "initdb",
        )?;
    }
    if let Ok(port) = std::fs::read_to_string(&port_file) {
        let url = format!(
            "postgres://postgres@127.0.0.1:{}/postgres?connect_timeout=3",
            port.trim()
        );
        if reachable(&url) {
            println!(
                "Using the private PostgreSQL cluster on port {}.",
                port.trim()
            );
            return Ok(url);
        }
    }
    let port = free_port()?;
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -k {}",
        dir.display()
    );
    run(
        pg_command(bin, "pg_ctl", as_postgres)
            .args(["-w", "-t", "60", "-D"])
            .arg(&data)
            .arg("-l")
            .arg(dir.join("server.log"))
            .args(["-o", &options, "start"]),
        "pg_ctl start",
    )?;
    std::fs::write(&port_file, port.to_string())?;
    println!(
        "Started a private PostgreSQL cluster on port {port} (log: {}).",
        dir.join("server.log").display()
    );
    Ok(format!(
        "postgres://postgres@127.0.0.1:{port}/postgres?connect_timeout=3"
    ))
}

fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
    if !out.status.success() {
        bail!(
            "{what} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the server offers TLS, and whether a connection to `url` runs through it.
    fn tls_offered_and_used(url: &str) -> (bool, bool) {
        #[derive(diesel::QueryableByName)]
        struct Ssl {
            #[diesel(sql_type = diesel::sql_types::Bool)]
            offered: bool,
            #[diesel(sql_type = diesel::sql_types::Bool)]
            used: bool,
        }
        use diesel::RunQueryDsl;
        let mut conn = crust_dal::establish(&crust_dal::Operator::at_console(), url)
            .expect("the local PostgreSQL on 127.0.0.1:5432");
        let rows: Vec<Ssl> = diesel::sql_query(
            "SELECT current_setting('ssl') = 'on' AS offered, ssl AS used \
             FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
        )
        .load(&mut conn)
        .expect("pg_stat_ssl is readable");
        assert_eq!(rows.len(), 1);
        (rows[0].offered, rows[0].used)
    }

    /// The local server is on loopback: reaching it through TLS would cost CPU on both
    /// sides for no protection, even where the server offers TLS (as Debian's does, and
    /// then libpq's default encrypts: checked first, so that the test means something
    /// there); unless `PGSSLMODE` says otherwise.
    #[test]
    fn the_local_server_is_reached_without_tls_unless_pgsslmode_says_otherwise() {
        assert!(local_server_for(false).ends_with("&sslmode=disable"));
        assert!(!local_server_for(true).contains("sslmode"));
        if crust_api::config::pgsslmode_set() {
            return;
        }
        let (offered, used_by_default) = tls_offered_and_used(local_server_for(true));
        assert_eq!(
            used_by_default, offered,
            "libpq's `prefer` takes TLS when offered"
        );
        assert_eq!(tls_offered_and_used(local_server()), (offered, false));
    }

    #[test]
    fn database_names_are_swapped_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "crust_dev")
                .ok()
                .as_deref(),
            Some("postgres://u@h:5432/crust_dev")
        );
        assert_eq!(
            with_database("postgres://u@h/x?sslmode=require", "y")
                .ok()
                .as_deref(),
            Some("postgres://u@h/y?sslmode=require")
        );
        assert_eq!(
            with_database("postgres://u@h", "y").ok().as_deref(),
            Some("postgres://u@h/y")
        );
        assert!(with_database("nonsense", "y").is_err());
        assert_eq!(
            database_of("postgres://u@h:1/abc?x=1").as_deref(),
            Some("abc")
        );
        assert_eq!(database_of("postgres://u@h:1/"), None);
    }

    #[test]
    fn logins_are_swapped_in_urls() {
        assert_eq!(
            with_login(
                "postgres://postgres@127.0.0.1:5432/crust_dev?connect_timeout=3",
                "web",
                "pw"
            )
            .ok()
            .as_deref(),
            Some("postgres://web:pw@127.0.0.1:5432/crust_dev?connect_timeout=3")
        );
        assert_eq!(
            with_login("postgres://o:s3cr@t@h/db", "web", "pw")
                .ok()
                .as_deref(),
            Some("postgres://web:pw@h/db")
        );
        assert_eq!(
            with_login("postgres://h:5432/db", "web", "pw")
                .ok()
                .as_deref(),
            Some("postgres://web:pw@h:5432/db")
        );
    }
}
