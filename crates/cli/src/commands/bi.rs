//! `crust bi`: the BI logins, one per organization, that read its `bi` views on the
//! read-only replica (README: BI tools).

use crust_dal::Operator;
use crust_domain::OrgId;

#[derive(clap::Subcommand)]
pub enum BiCommand {
    /// Make the organization's BI login; prints its password once and the pg_hba.conf
    /// lines for the replica.
    Grant {
        /// The organization's id.
        #[arg(long)]
        org: uuid::Uuid,
        /// Networks the BI tool connects from (CIDR), one per --allow.
        #[arg(long)]
        allow: Vec<String>,
        #[arg(long, default_value_t = 5)]
        connection_limit: i32,
    },
    /// A new password for the organization's BI login (the old one stops working).
    Rotate {
        #[arg(long)]
        org: uuid::Uuid,
    },
    /// Drop the organization's BI login.
    Revoke {
        #[arg(long)]
        org: uuid::Uuid,
    },
    /// Every BI login.
    List,
    /// The data dictionary: every view of the `bi` schema and its columns.
    Describe,
}

fn dal<T>(r: crust_dal::DalResult<T>) -> anyhow::Result<T> {
    r.map_err(|e| match e {
        crust_dal::DalError::NotFound => {
            anyhow::anyhow!("no such organization, or it has no BI login")
        }
        other => anyhow::anyhow!("{other}"),
    })
}

/// The database the pg_hba.conf lines name; refused when the URL names none (a line
/// for `all` would open every database of the cluster).
fn database_of(url: &str) -> anyhow::Result<String> {
    crate::postgres::database_of(url)
        .filter(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .ok_or_else(|| {
            anyhow::anyhow!(
                "DATABASE_URL names no plain database name; set it to the application database"
            )
        })
}

pub fn run(cmd: BiCommand) -> anyhow::Result<()> {
    let config = super::load_config()?;
    let mut conn = super::connect(&config)?;
    let op = Operator::at_console();
    match cmd {
        BiCommand::Grant {
            org,
            allow,
            connection_limit,
        } => {
            let granted = dal(crust_dal::bi::grant(
                &op,
                &mut conn,
                OrgId(org),
                &allow,
                connection_limit,
            ))?;
            let database = database_of(config.database.url.expose())?;
            println!("BI login:  {}", granted.role_name);
            println!(
                "password:  {} (shown once; `crust bi rotate` makes a new one)",
                granted.password
            );
            println!("database:  {database}, schema bi (read the views on the replica)");
            // One line per login, not `+crust_bi`: the owner login that runs the
            // migrations administers crust_bi, and pg_hba's `+` counts that as membership.
            println!("pg_hba.conf lines for the primary, before any other line (BI logins read the replica only):");
            println!("host all {} all reject", granted.role_name);
            println!("local all {} reject", granted.role_name);
            if allow.is_empty() {
                println!("no --allow given: no pg_hba.conf line; the login cannot connect until you add one");
            } else {
                println!("pg_hba.conf lines for the replica (TLS only, SCRAM):");
                for cidr in &allow {
                    let cidr = crust_dal::bi::parse_cidr(cidr).map_err(|e| anyhow::anyhow!(e))?;
                    println!(
                        "hostssl {database} {} {cidr} scram-sha-256",
                        granted.role_name
                    );
                }
            }
        }
        BiCommand::Rotate { org } => {
            let granted = dal(crust_dal::bi::rotate(&op, &mut conn, OrgId(org)))?;
            println!("BI login:  {}", granted.role_name);
            println!(
                "password:  {} (shown once; the old one no longer works)",
                granted.password
            );
        }
        BiCommand::Revoke { org } => {
            let role = dal(crust_dal::bi::revoke(&op, &mut conn, OrgId(org)))?;
            println!("dropped BI login {role}; remove its pg_hba.conf lines from the replica");
            println!(
                "connections already open on the replica stay open until ended there: SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}';"
            );
        }
        BiCommand::List => {
            let logins = dal(crust_dal::bi::list(&op, &mut conn))?;
            if logins.is_empty() {
                println!("no BI logins");
            }
            for l in logins {
                println!(
                    "{}  {} ({})  allow {}  limit {}  created {}{}",
                    l.role_name,
                    l.org_name,
                    l.org_id,
                    if l.allow.is_empty() {
                        "-".to_owned()
                    } else {
                        l.allow.join(",")
                    },
                    l.connection_limit,
                    l.created_at.format("%Y-%m-%d %H:%M"),
                    l.rotated_at
                        .map(|r| format!("  rotated {}", r.format("%Y-%m-%d %H:%M")))
                        .unwrap_or_default()
                );
            }
        }
        BiCommand::Describe => {
            let entries = dal(crust_dal::bi::dictionary(&op, &mut conn))?;
            let mut current = String::new();
            for e in entries {
                if e.view != current {
                    println!();
                    println!("bi.{}: {}", e.view, e.view_comment.as_deref().unwrap_or(""));
                    current = e.view.clone();
                }
                println!(
                    "  {:<22} {:<26} {}",
                    e.column,
                    e.data_type,
                    e.column_comment.as_deref().unwrap_or("")
                );
            }
        }
    }
    Ok(())
}
