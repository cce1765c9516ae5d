//! `crust`: the command line for operators and newcomers.
//!
//! One module per command under `commands/`. Commands reach the database through the
//! DAL like the API does; only `migrate` and `seed` work below it where they must.

mod commands;
mod postgres;

use clap::{Parser, Subcommand};
use crust_api::auth::hash_worker;

#[derive(Parser)]
#[command(
    name = "crust",
    version,
    about = "Crust: a secure GraphQL backend for project and process management"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the API server (applies pending migrations first).
    Serve(commands::serve::Args),
    /// Find or provision PostgreSQL, migrate, seed demo data, print logins, serve.
    Dev(commands::dev::Args),
    /// Apply pending migrations (or revert them all).
    Migrate(commands::migrate::Args),
    /// Load seed data.
    #[command(subcommand)]
    Seed(commands::seed::SeedCommand),
    /// Manage user accounts.
    #[command(subcommand)]
    User(commands::user::UserCommand),
    /// Print the GraphQL schema (SDL), or write it to a file.
    ExportSchema(commands::export_schema::Args),
    /// Benchmark the nested board query over HTTP on a scratch database.
    Bench(commands::bench::Args),
    /// Check the configuration (`--deploy`: for production), print every finding.
    Check(commands::check::Args),
    /// Send a test message, or list the outbox (queued, retrying, dead).
    #[command(subcommand)]
    Mail(commands::mail::MailCommand),
    /// Manage organizations and add members without an invitation.
    #[command(subcommand)]
    Org(commands::org::OrgCommand),
    /// BI logins for the read-only replica: grant, rotate, revoke, list, describe.
    #[command(subcommand)]
    Bi(commands::bi::BiCommand),
    /// Attachments' master keys: which wrap how many files; re-wrap them all under one.
    #[command(subcommand)]
    Keys(commands::keys::KeysCommand),
    /// Verify, prune or export the audit log.
    #[command(subcommand)]
    Audit(commands::audit::AuditCommand),
    /// Back up the application database (pg_dump custom format, optionally encrypted).
    Backup(commands::backup::BackupArgs),
    /// Restore a backup made by `crust backup` into an empty database.
    Restore(commands::backup::RestoreArgs),
    /// Exit 0 when the server answers /healthz (the container's HEALTHCHECK).
    Healthcheck(commands::healthcheck::Args),
}

fn main() -> std::process::ExitCode {
    // Not a subcommand of the CLI: started by the server itself (see the module).
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if hash_worker::is_worker_invocation(&args) {
        return match hash_worker::serve_stdio(&args) {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("crust {}: {e}", hash_worker::SUBCOMMAND);
                std::process::ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => {
            hash_worker::hash_in_a_worker_process();
            commands::serve::run(args)
        }
        Command::Dev(args) => {
            hash_worker::hash_in_a_worker_process();
            commands::dev::run(args)
        }
        Command::Migrate(args) => commands::migrate::run(args),
        Command::Seed(cmd) => commands::seed::run(cmd),
        Command::User(cmd) => commands::user::run(cmd),
        Command::ExportSchema(args) => commands::export_schema::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::Audit(cmd) => commands::audit::run(cmd),
        Command::Keys(cmd) => commands::keys::run(cmd),
        Command::Mail(cmd) => commands::mail::run(cmd),
        Command::Bi(cmd) => commands::bi::run(cmd),
        Command::Org(cmd) => commands::org::run(cmd),
        Command::Backup(args) => commands::backup::backup(args),
        Command::Restore(args) => commands::backup::restore(args),
        Command::Healthcheck(args) => commands::healthcheck::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
