//! `crust backup` and `crust restore`: the application database as one file that
//! proves its own integrity, optionally encrypted with [age](https://age-encryption.org).
//!
//! # The file
//!
//! ```text
//! CRUST-BACKUP 1\n                       magic line: this format, version 1
//! {"format":1,"created_at":…,…}\n        header: one line of JSON (below)
//! <pg_dump --format=custom bytes>        the dump, streamed from pg_dump's stdout
//! CRUST-BACKUP-END <len> <sha256>\n      trailer, 103 bytes: the dump's length in 20
//!                                        decimal digits and the SHA-256 (hex) of every
//!                                        byte before the trailer: magic, header, dump
//! ```
//!
//! The header holds `format` (1), `created_at` (RFC 3339), `crust_version`, `database`
//! and `server_version` of the source, `migrations` (every applied migration version)
//! and `newest_migration`, `roles` (the cluster roles the dump's objects belong to or
//! are granted to: they must exist where it is restored), `temporary_revoked` (whether
//! PUBLIC had lost TEMPORARY on the source database, which a dump without `--create`
//! does not carry) and `tables` (each table's row count). Header and counts are read in
//! the very snapshot pg_dump dumps (`pg_export_snapshot`, `pg_dump --snapshot`), so they
//! describe exactly the rows in the file. Unknown header keys are ignored.
//!
//! With `--encrypt-to` (age X25519 recipients, `age1…`) the whole file above is
//! encrypted as one age stream; age authenticates every 64 KiB chunk and the end of the
//! stream, so a truncated or changed encrypted file fails to decrypt, and the trailer
//! inside is checked as well.
//!
//! The file is written to `FILE.partial` (mode 0600), synced and renamed to `FILE`
//! only once pg_dump has succeeded and the trailer is written: a `FILE` that exists is
//! complete. pg_dump's output never sits in memory.
//!
//! # Restoring
//!
//! `crust restore` first reads the whole file (decrypting it when it is age-encrypted)
//! into a temporary file (0600, removed afterwards, on error too) and checks the magic,
//! header, length and checksum; a truncated, changed or foreign file is refused before
//! anything touches the target. Then it refuses a target that is not empty (a table, a
//! view or a sequence anywhere, or any schema but `public`) unless `--force` (then
//! `pg_restore --clean --if-exists`: objects of the backup are dropped and recreated,
//! others are left alone), a backup with migrations this binary does not know, and a
//! target cluster that lacks a role the backup names. pg_restore runs in one
//! transaction (`--single-transaction`, so `--exit-on-error`): it restores all or
//! nothing.
//!
//! Ownership and grants are restored as they were (no `--no-owner`): the `bi` views
//! must stay owned by `crust_bi_reader`, not by the tables' owner, or row-level
//! security would no longer apply to what they read, and the server needs its grants
//! to `crust_app`. Roles belong to the cluster, not to the database: restored into the
//! same cluster, everything works at once; into another cluster, the roles must exist
//! first (`crust migrate` on any database of that cluster creates `crust_app`,
//! `crust_bi` and `crust_bi_reader`; the owner login must exist; BI logins are recreated
//! with `crust bi revoke` / `crust bi grant`). The `--into` login should be a superuser
//! or the tables' owner (then a member of `crust_bi_reader`, as migrations make it).
//!
//! Afterwards it compares every table's row count with the header's, verifies every
//! audit chain (as `crust audit verify`) and fails loudly on any difference.
//!
//! Passwords in database URLs are handed to pg_dump and pg_restore through `PGPASSWORD`,
//! never on their command line; a URL without one uses `PGPASSWORD` or `~/.pgpass`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;

use anyhow::{anyhow, bail, Context};
use crust_dal::{Operator, PgConnection};
use diesel::sql_types::{Array, BigInt, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The first line of every backup.
const MAGIC: &[u8] = b"CRUST-BACKUP 1\n";
/// What every version's magic line starts with.
const MAGIC_PREFIX: &[u8] = b"CRUST-BACKUP ";
const FORMAT: u64 = 1;
const TRAILER_TAG: &[u8] = b"CRUST-BACKUP-END ";
/// Tag, 20 digits, a space, 64 hex digits, a newline.
const TRAILER_LEN: usize = 17 + 20 + 1 + 64 + 1;
/// The longest header line read.
const MAX_HEADER: usize = 1 << 20;
const AGE_MAGIC: &[u8] = b"age-encryption.org/";
const AGE_ARMOR: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
const PG_DUMP_MAGIC: &[u8] = b"PGDMP";
const CHUNK: usize = 1 << 16;

#[derive(clap::Args)]
pub struct BackupArgs {
    /// Where to write the backup (written as FILE.partial, renamed when complete).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Encrypt the backup to this age recipient (an X25519 public key, `age1…`);
    /// repeat it for several.
    #[arg(long = "encrypt-to", value_name = "AGE_RECIPIENT")]
    encrypt_to: Vec<String>,
    /// Encrypt to every recipient in this file (one `age1…` per line; `#` comments).
    #[arg(long, value_name = "FILE")]
    recipients_file: Vec<PathBuf>,
    /// Replace FILE (and a left-over FILE.partial) if it exists.
    #[arg(long)]
    force: bool,
    /// Directory of PostgreSQL's pg_dump (default: the one on PATH).
    #[arg(long, value_name = "DIR")]
    pg_bin_dir: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct RestoreArgs {
    /// The backup file made by `crust backup`.
    file: PathBuf,
    /// The database to restore into (postgres://…); it must exist and be empty.
    #[arg(
        long,
        value_name = "DATABASE_URL",
        env = "CRUST_RESTORE_INTO",
        hide_env_values = true
    )]
    into: String,
    /// Restore into a database that is not empty: the backup's objects are dropped and
    /// recreated (pg_restore --clean --if-exists); other objects stay.
    #[arg(long)]
    force: bool,
    /// An age identity file (`AGE-SECRET-KEY-1…`) to decrypt an encrypted backup;
    /// repeatable.
    #[arg(long, value_name = "FILE")]
    identity: Vec<PathBuf>,
    /// Where the verified dump is staged (default: the system's temporary directory);
    /// it needs room for the whole dump.
    #[arg(long, value_name = "DIR")]
    temp_dir: Option<PathBuf>,
    /// Directory of PostgreSQL's pg_restore (default: the one on PATH).
    #[arg(long, value_name = "DIR")]
    pg_bin_dir: Option<PathBuf>,
}

// ---------------------------------------------------------------------------------
// backup

pub fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let recipients = read_recipients(&args.encrypt_to, &args.recipients_file)?;
    if std::fs::symlink_metadata(&args.out).is_ok() && !args.force {
        bail!(
            "{} exists: choose another name or pass --force to replace it",
            args.out.display()
        );
    }
    let config = super::load_config()?;
    let url = config.database.owner_url().expose().to_owned();
    let mut conn = super::connect(&config)?;

    let partial = partial_path(&args.out);
    if args.force {
        match std::fs::remove_file(&partial) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("cannot remove {}", partial.display()))
            }
            _ => {}
        }
    }
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&partial)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                anyhow!(
                    "{} exists: another backup is being written, or one failed and left it \
                     (remove it, or pass --force)",
                    partial.display()
                )
            } else {
                anyhow!(e).context(format!("cannot create {}", partial.display()))
            }
        })?;
    let mut partial_guard = Removed(Some(partial.clone()));

    // One snapshot for the header and the dump: the transaction stays open until
    // pg_dump is done, so the snapshot it imported stays valid.
    let (header, dump_len) = conn.build_transaction().repeatable_read().read_only().run(
        |conn| -> anyhow::Result<(Value, u64)> {
            diesel::sql_query("SET LOCAL idle_in_transaction_session_timeout = 0").execute(conn)?;
            let header = describe_source(conn)?;
            let snapshot = one_text(conn, "SELECT pg_export_snapshot() AS v")?;
            let dump_len = dump(&args, &url, &snapshot, &header, &recipients, file)?;
            Ok((header, dump_len))
        },
    )?;

    std::fs::rename(&partial, &args.out).with_context(|| {
        format!(
            "cannot rename {} to {}",
            partial.display(),
            args.out.display()
        )
    })?;
    partial_guard.0 = None;
    if let Some(dir) = args.out.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        // Makes the rename itself durable (best effort: not every system allows it).
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    let tables = header["tables"].as_object().map_or(0, |t| t.len());
    let rows: u64 = header["tables"]
        .as_object()
        .map_or(0, |t| t.values().filter_map(Value::as_u64).sum());
    println!(
        "backup written: {} ({} bytes of dump; {tables} tables, {rows} rows; newest migration {}; {})",
        args.out.display(),
        dump_len,
        header["newest_migration"].as_str().unwrap_or("?"),
        if recipients.is_empty() {
            "NOT encrypted: keep it as safe as the database".to_owned()
        } else {
            format!("encrypted to {} age recipient(s)", recipients.len())
        }
    );
    Ok(())
}

/// Runs pg_dump on the snapshot and writes the whole container to `file`; returns the
/// dump's length.
fn dump(
    args: &BackupArgs,
    url: &str,
    snapshot: &str,
    header: &Value,
    recipients: &[age::x25519::Recipient],
    file: File,
) -> anyhow::Result<u64> {
    let (dbname, password) = split_password(url);
    let mut cmd = pg_tool(args.pg_bin_dir.as_deref(), "pg_dump");
    cmd.args(["--format=custom", "--no-password", "--snapshot", snapshot])
        .arg("--dbname")
        .arg(&dbname)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let mut child = Killed(Some(spawn(&mut cmd, "pg_dump", &args.pg_bin_dir)?));
    let stderr = collect_stderr(child.get()?);
    let stdout = child
        .get()?
        .stdout
        .take()
        .context("pg_dump's output is not connected")?;

    let buffered = BufWriter::with_capacity(CHUNK, file);
    let sink = if recipients.is_empty() {
        Sink::Plain(buffered)
    } else {
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| anyhow!("cannot encrypt to these recipients: {e}"))?;
        Sink::Age(
            encryptor
                .wrap_output(buffered)
                .context("cannot write the backup file")?,
        )
    };
    let mut out = Hashing {
        sink,
        hasher: Sha256::new(),
    };
    let header_line = serde_json::to_string(header)?;
    out.write_all(MAGIC)
        .and_then(|()| out.write_all(header_line.as_bytes()))
        .and_then(|()| out.write_all(b"\n"))
        .context("cannot write the backup file")?;
    let mut reader = stdout;
    let dump_len = copy(&mut reader, &mut out).map_err(|e| match e {
        CopyError::Read(e) => anyhow!(e).context("cannot read pg_dump's output"),
        CopyError::Write(e) => anyhow!(e).context("cannot write the backup file"),
    })?;
    drop(reader);
    let status = child.take()?.wait().context("cannot wait for pg_dump")?;
    let messages = stderr.join().unwrap_or_default();
    if !status.success() {
        bail!("pg_dump failed ({status}): {}", messages.trim());
    }
    if !messages.trim().is_empty() {
        eprintln!("pg_dump: {}", messages.trim());
    }
    let Hashing { mut sink, hasher } = out;
    let trailer = trailer(dump_len, &hasher.finalize());
    sink.write_all(trailer.as_bytes())
        .context("cannot write the backup file")?;
    let file = sink.finish().context("cannot write the backup file")?;
    file.sync_all().context("cannot sync the backup file")?;
    Ok(dump_len)
}

fn trailer(len: u64, sha: &[u8]) -> String {
    format!(
        "CRUST-BACKUP-END {len:020} {}\n",
        crust_domain::audit::hex(sha)
    )
}

/// The header: what the source database is, read in the dump's snapshot.
fn describe_source(conn: &mut PgConnection) -> anyhow::Result<Value> {
    let migrations = match texts(
        conn,
        "SELECT version AS v FROM __diesel_schema_migrations ORDER BY version",
    ) {
        Ok(m) if !m.is_empty() => m,
        _ => bail!(
            "the database has no crust migrations applied (no __diesel_schema_migrations): \
             is CRUST_MIGRATION_DATABASE_URL / DATABASE_URL the application's database?"
        ),
    };
    let roles = texts(conn, &roles_sql())?;
    let tables: BTreeMap<String, Value> = table_counts(conn)?
        .into_iter()
        .map(|(name, n)| (name, json!(n)))
        .collect();
    Ok(json!({
        "format": FORMAT,
        "created_at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "crust_version": env!("CARGO_PKG_VERSION"),
        "database": one_text(conn, "SELECT current_database()::text AS v")?,
        "server_version": one_text(conn, "SELECT current_setting('server_version') AS v")?,
        "newest_migration": migrations.last(),
        "migrations": migrations,
        "roles": roles,
        "temporary_revoked": one_text(
            conn,
            "SELECT (NOT has_database_privilege('public', current_database(), 'TEMPORARY'))::text AS v",
        )? == "true",
        "tables": tables,
    }))
}

/// Schemas that are not PostgreSQL's own.
const APP_SCHEMA: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') \
     AND n.nspname NOT LIKE 'pg\\_temp\\_%' AND n.nspname NOT LIKE 'pg\\_toast\\_temp\\_%'";

/// Every role that owns, or is granted or named by a policy on, something in this
/// database (pg_shdepend does not record the bootstrap superuser: owners are added).
const ROLES_SQL: &str = "SELECT DISTINCT r.rolname::text AS v FROM pg_roles r WHERE r.oid IN (
    SELECT refobjid FROM pg_shdepend
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND refclassid = 'pg_authid'::regclass
    UNION SELECT n.nspowner FROM pg_namespace n WHERE {APP}
    UNION SELECT c.relowner FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE {APP}
    UNION SELECT p.proowner FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE {APP}
    UNION SELECT t.typowner FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE {APP}
) ORDER BY 1";

fn roles_sql() -> String {
    ROLES_SQL.replace("{APP}", APP_SCHEMA)
}

/// Every ordinary table of the application's schemas with its exact row count.
fn table_counts(conn: &mut PgConnection) -> anyhow::Result<Vec<(String, i64)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let sql = format!(
        "SELECT format('%I.%I', n.nspname, c.relname) AS name,
                (xpath('/row/n/text()', query_to_xml(
                    format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname),
                    false, true, '')))[1]::text::bigint AS n
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND {APP_SCHEMA}
          ORDER BY 1"
    );
    Ok(diesel::sql_query(sql)
        .load::<Row>(conn)
        .context("cannot count the tables' rows")?
        .into_iter()
        .map(|r| (r.name, r.n))
        .collect())
}

fn read_recipients(
    given: &[String],
    files: &[PathBuf],
) -> anyhow::Result<Vec<age::x25519::Recipient>> {
    let mut all: Vec<(String, String)> = given
        .iter()
        .map(|r| ("--encrypt-to".to_owned(), r.trim().to_owned()))
        .collect();
    for path in files {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the recipients file {}", path.display()))?;
        all.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(|l| (path.display().to_string(), l.to_owned())),
        );
    }
    if !files.is_empty() && all.is_empty() {
        bail!("the recipients files name no recipient");
    }
    all.iter()
        .map(|(from, r)| {
            age::x25519::Recipient::from_str(r).map_err(|e| {
                anyhow!(
                    "{from}: `{}` is not an age X25519 recipient (age1…): {e}",
                    shorten(r)
                )
            })
        })
        .collect()
}

fn shorten(s: &str) -> String {
    if s.chars().count() > 24 {
        format!("{}…", s.chars().take(24).collect::<String>())
    } else {
        s.to_owned()
    }
}

fn partial_path(out: &Path) -> PathBuf {
    let mut name = out.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Where the container goes: the file itself, or an age stream over it.
enum Sink {
    Plain(BufWriter<File>),
    Age(age::stream::StreamWriter<BufWriter<File>>),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Age(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Age(w) => w.flush(),
        }
    }
}

impl Sink {
    /// Ends the age stream (its last chunk) and flushes everything to the file.
    fn finish(self) -> io::Result<File> {
        let buffered = match self {
            Sink::Plain(w) => w,
            Sink::Age(w) => w.finish()?,
        };
        buffered.into_inner().map_err(|e| e.into_error())
    }
}

/// A writer that hashes what passes through it.
struct Hashing<W> {
    sink: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.sink.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// `io::copy`, telling read errors from write errors.
fn copy(from: &mut impl Read, to: &mut impl Write) -> Result<u64, CopyError> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(CopyError::Read(e)),
        };
        to.write_all(&buf[..n]).map_err(CopyError::Write)?;
        total += n as u64;
    }
}

// ---------------------------------------------------------------------------------
// restore

pub fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let identities = read_identities(&args.identity)?;
    let temp_dir = args.temp_dir.clone().unwrap_or_else(std::env::temp_dir);
    let (staged, staged_file) = staging_file(&temp_dir)?;
    let verified = verify(&args.file, &identities, staged_file)?;
    println!(
        "verified {}: {}, made {} from database {} (crust {}), {} bytes of dump, SHA-256 {}",
        args.file.display(),
        if verified.encrypted {
            "age-encrypted"
        } else {
            "not encrypted"
        },
        verified.header["created_at"].as_str().unwrap_or("?"),
        verified.header["database"].as_str().unwrap_or("?"),
        verified.header["crust_version"].as_str().unwrap_or("?"),
        verified.dump_len,
        verified.sha256,
    );

    let migrations = strings(&verified.header["migrations"]);
    let embedded = embedded_migrations()?;
    let unknown: Vec<&String> = migrations
        .iter()
        .filter(|m| !embedded.contains(*m))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "the backup's schema is newer than this crust knows (migration {} is not one of \
             its {} migrations): restore it with the crust version that made it ({}) or a newer one",
            unknown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            embedded.len(),
            verified.header["crust_version"].as_str().unwrap_or("?")
        );
    }
    let pending = embedded.iter().filter(|m| !migrations.contains(*m)).count();

    let mut conn = crust_dal::establish(&Operator::at_console(), &args.into)
        .context("cannot connect to the --into database")?;
    let roles = strings(&verified.header["roles"]);
    let present: BTreeSet<String> =
        diesel::sql_query("SELECT rolname::text AS v FROM pg_roles WHERE rolname = ANY($1)")
            .bind::<Array<Text>, _>(&roles)
            .load::<TextRow>(&mut conn)
            .context("cannot list the target's roles")?
            .into_iter()
            .map(|r| r.v)
            .collect();
    let missing: Vec<&str> = roles
        .iter()
        .filter(|r| !present.contains(*r))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        bail!(
            "the target's PostgreSQL server lacks roles the backup's objects belong to or are \
             granted to: {}. Roles belong to the server, not to a database: create them first \
             (`crust migrate` on any database of that server creates crust_app, crust_bi and \
             crust_bi_reader; the tables' owner must be a login there)",
            missing.join(", ")
        );
    }
    let found = texts(&mut conn, &non_empty_sql())?;
    if !found.is_empty() && !args.force {
        bail!(
            "the target database is not empty (it has {}{}): restore into an empty database, \
             or pass --force to drop and recreate the backup's objects in it",
            found.join(", "),
            if found.len() >= 5 { ", …" } else { "" }
        );
    }
    if !found.is_empty() {
        // The target's default privileges would grant every table pg_restore re-creates
        // to whom they name (the migrations give crust_app everything on new tables,
        // then revoke what it must not have, e.g. UPDATE on the audit log): a dump
        // records only a table's own grants, so they would stay. The dump brings its
        // default privileges back at its end.
        diesel::sql_query(CLEAR_SCHEMA_DEFAULT_PRIVILEGES)
            .execute(&mut conn)
            .context("cannot clear the target's default privileges before replacing its objects")?;
    }
    drop(conn);

    pg_restore(&args, &staged.path(), !found.is_empty())?;
    drop(staged);

    let mut conn = crust_dal::establish(&Operator::at_console(), &args.into)
        .context("cannot connect to the restored database")?;
    let restored = "the backup was restored, but";
    if verified.header["temporary_revoked"].as_bool() == Some(true) {
        diesel::sql_query(
            "DO $$ BEGIN EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); END $$",
        )
        .execute(&mut conn)
        .with_context(|| {
            format!("{restored} TEMPORARY could not be revoked from PUBLIC on it as on the source (BI logins must not create temporary tables)")
        })?;
    }

    let expected: BTreeMap<String, i64> = verified.header["tables"]
        .as_object()
        .map(|t| {
            t.iter()
                .map(|(k, v)| (k.clone(), v.as_i64().unwrap_or(-1)))
                .collect()
        })
        .unwrap_or_default();
    let counted: BTreeMap<String, i64> = table_counts(&mut conn)
        .with_context(|| restored.to_owned())?
        .into_iter()
        .collect();
    let mut differences = Vec::new();
    for (table, n) in &expected {
        match counted.get(table) {
            Some(m) if m == n => {}
            Some(m) => differences.push(format!("{table}: {m} rows, the backup has {n}")),
            None => differences.push(format!("{table}: missing")),
        }
    }
    if !differences.is_empty() {
        bail!(
            "{restored} its tables differ from the backup's counts: {}",
            differences.join("; ")
        );
    }
    let rows: i64 = expected.values().sum();
    println!(
        "restored: {} tables, {rows} rows, as counted when the backup was made",
        expected.len()
    );

    let report = crust_dal::audit::verify(&Operator::at_console(), &mut conn).map_err(|e| {
        anyhow!(
            "{restored} its audit log could not be verified: {e}{}",
            if pending > 0 {
                " (run `crust migrate`, then `crust audit verify`)"
            } else {
                ""
            }
        )
    })?;
    for b in &report.broken {
        eprintln!(
            "BROKEN: audit chain {} at event #{}{}: {}",
            b.chain,
            b.seq,
            b.event.map(|e| format!(" ({e})")).unwrap_or_default(),
            b.problem
        );
    }
    if !report.broken.is_empty() {
        bail!(
            "{restored} {} of its {} audit chains are broken: the log was changed outside the \
             application (before the backup, or since)",
            report.broken.len(),
            report.chains
        );
    }
    println!(
        "audit log intact: {} events in {} chains verified",
        report.events, report.chains
    );
    if pending == 0 {
        drop(conn);
        let checked = super::restore_check::compare_with_migrations(&args.into)
            .with_context(|| restored.to_owned())?;
        println!("protection as the migrations make it: {checked} triggers, grants, policies and functions compared");
        conn = crust_dal::establish(&Operator::at_console(), &args.into)
            .context("cannot connect to the restored database")?;
    } else {
        println!(
            "note: triggers, grants and policies not compared (the backup predates this crust's \
             migrations): after `crust migrate`, restore a fresh backup of it to compare"
        );
    }

    if let Ok(absent) = texts(
        &mut conn,
        "SELECT role_name AS v FROM bi_logins WHERE role_name NOT IN (SELECT rolname FROM pg_roles) ORDER BY 1",
    ) {
        if !absent.is_empty() {
            println!(
                "note: {} BI login(s) of the backup do not exist on this server ({}): \
                 `crust bi revoke` and `crust bi grant` them again",
                absent.len(),
                absent.join(", ")
            );
        }
    }
    if pending > 0 {
        println!(
            "note: the backup predates {pending} migration(s) of this crust: `crust migrate` \
             (or `crust serve`) with CRUST_MIGRATION_DATABASE_URL set to the restored database \
             brings it up to date"
        );
    }
    Ok(())
}

/// Revokes every per-schema default privilege of the database.
const CLEAR_SCHEMA_DEFAULT_PRIVILEGES: &str = "DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT pg_get_userbyid(d.defaclrole) AS owner, n.nspname AS schema,
           CASE d.defaclobjtype WHEN 'r' THEN 'TABLES' WHEN 'S' THEN 'SEQUENCES'
                WHEN 'f' THEN 'FUNCTIONS' WHEN 'T' THEN 'TYPES' ELSE 'SCHEMAS' END AS kind,
           CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END AS grantee
      FROM pg_default_acl d
      JOIN pg_namespace n ON n.oid = d.defaclnamespace
      CROSS JOIN LATERAL aclexplode(d.defaclacl) a
  LOOP
    EXECUTE format('ALTER DEFAULT PRIVILEGES FOR ROLE %I IN SCHEMA %I REVOKE ALL ON %s FROM %s',
                   r.owner, r.schema, r.kind, r.grantee);
  END LOOP;
END $$";

/// What a verified backup is.
struct Verified {
    header: Value,
    dump_len: u64,
    sha256: String,
    encrypted: bool,
}

fn verify(
    path: &Path,
    identities: &[Box<dyn age::Identity>],
    out: File,
) -> anyhow::Result<Verified> {
    let file =
        File::open(path).with_context(|| format!("cannot open the backup {}", path.display()))?;
    let mut reader = BufReader::with_capacity(CHUNK, file);
    let mut prefix = Vec::with_capacity(64);
    (&mut reader)
        .take(64)
        .read_to_end(&mut prefix)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let whole = io::Cursor::new(prefix.clone()).chain(reader);
    let mut out = BufWriter::with_capacity(CHUNK, out);
    let result = if prefix.starts_with(AGE_MAGIC) {
        if identities.is_empty() {
            bail!(
                "this backup is encrypted (age): pass --identity FILE, an age identity file \
                 (AGE-SECRET-KEY-1…) of one of the recipients it was encrypted to"
            );
        }
        let decryptor = age::Decryptor::new_buffered(BufReader::new(whole))
            .map_err(|e| age_error(e, "its age header is damaged"))?;
        let plain = decryptor
            .decrypt(identities.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .map_err(|e| age_error(e, "it cannot be decrypted"))?;
        read_container(plain, &mut out, true)
    } else if prefix.starts_with(AGE_ARMOR) {
        bail!(
            "this is an ASCII-armored age file: crust backups are binary (`age -d` it, or \
             use the original file)"
        );
    } else if prefix.is_empty() {
        bail!("the backup is truncated: the file is empty");
    } else if prefix.starts_with(PG_DUMP_MAGIC) {
        bail!(
            "this file is not a crust backup: it is a plain pg_dump archive (pg_restore reads \
             it; crust restore reads only files made by crust backup)"
        );
    } else if MAGIC_PREFIX.starts_with(&prefix) || prefix.starts_with(MAGIC_PREFIX) {
        read_container(whole, &mut out, false)
    } else {
        bail!("this file is not a crust backup (it does not start with CRUST-BACKUP)");
    }?;
    out.flush()
        .and_then(|()| out.get_ref().sync_all())
        .context("cannot write the staged dump (is the temporary directory full?)")?;
    Ok(result)
}

fn age_error(e: age::DecryptError, what: &str) -> anyhow::Error {
    match e {
        age::DecryptError::NoMatchingKeys => anyhow!(
            "this backup is encrypted to other age recipients: none of the --identity keys \
             opens it (wrong identity file?)"
        ),
        age::DecryptError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
            anyhow!("the backup is truncated: it ends inside its age header ({e})")
        }
        age::DecryptError::Io(e) => anyhow!(e).context("cannot read the backup"),
        other => anyhow!("the backup does not match its checksum: {what} ({other})"),
    }
}

/// Reads magic, header, dump and trailer from `input`, writing the dump to `out` and
/// checking length and checksum.
fn read_container(
    mut input: impl Read,
    out: &mut impl Write,
    encrypted: bool,
) -> anyhow::Result<Verified> {
    let read_error = |e: io::Error| -> anyhow::Error {
        if encrypted && e.kind() == io::ErrorKind::UnexpectedEof {
            anyhow!("the backup is truncated: the encrypted stream ends early ({e})")
        } else if encrypted && e.kind() == io::ErrorKind::InvalidData {
            // age cannot tell a chunk cut short from a changed one: both fail to
            // authenticate.
            anyhow!(
                "the backup is truncated or was changed: its encrypted data fails \
                 authentication ({e})"
            )
        } else {
            anyhow!(e).context("cannot read the backup")
        }
    };
    let mut hasher = Sha256::new();

    let mut magic = Vec::with_capacity(MAGIC.len());
    (&mut input)
        .take(MAGIC.len() as u64)
        .read_to_end(&mut magic)
        .map_err(read_error)?;
    if magic != MAGIC {
        if magic.starts_with(MAGIC_PREFIX) && magic.len() == MAGIC.len() {
            bail!(
                "this backup's format ({}) is not one this crust reads (version {FORMAT}): \
                 restore it with a newer crust",
                String::from_utf8_lossy(&magic).trim()
            );
        }
        if MAGIC.starts_with(&magic) {
            bail!("the backup is truncated: it ends inside its first line");
        }
        bail!(
            "this file is not a crust backup{}",
            if encrypted {
                " (it is age-encrypted, but what it holds is not a crust backup)"
            } else {
                ""
            }
        );
    }
    hasher.update(&magic);

    let mut line = Vec::new();
    (&mut input)
        .take(MAX_HEADER as u64)
        .read_until_newline(&mut line)
        .map_err(read_error)?;
    if line.last() != Some(&b'\n') {
        if line.len() >= MAX_HEADER {
            bail!("this file is not a crust backup: its header line is too long");
        }
        bail!("the backup is truncated: it ends inside its header");
    }
    hasher.update(&line);
    let header: Value = serde_json::from_slice(&line[..line.len() - 1]).map_err(|e| {
        anyhow!("the backup does not match its checksum: its header is damaged ({e})")
    })?;
    match header["format"].as_u64() {
        Some(FORMAT) => {}
        other => bail!(
            "this backup's header says format {}: this crust reads format {FORMAT}",
            other.map_or("(none)".into(), |f| f.to_string())
        ),
    }

    // Everything but the last TRAILER_LEN bytes is dump.
    let mut buf = vec![0u8; CHUNK + TRAILER_LEN];
    let mut held = 0usize;
    let mut dump_len = 0u64;
    loop {
        let n = match input.read(&mut buf[held..]) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(read_error(e)),
        };
        held += n;
        if held > TRAILER_LEN {
            let emit = held - TRAILER_LEN;
            hasher.update(&buf[..emit]);
            out.write_all(&buf[..emit])
                .context("cannot write the staged dump (is the temporary directory full?)")?;
            dump_len += emit as u64;
            buf.copy_within(emit..held, 0);
            held = TRAILER_LEN;
        }
    }
    let tail = &buf[..held];
    if tail.len() < TRAILER_LEN || !tail.starts_with(TRAILER_TAG) {
        bail!(
            "the backup is truncated: it ends after {} bytes of dump without its end marker \
             (was the copy cut short?)",
            dump_len + tail.len() as u64
        );
    }
    let (len, sha) = parse_trailer(tail).ok_or_else(|| {
        anyhow!("the backup does not match its checksum: its end marker is damaged")
    })?;
    if len > dump_len {
        bail!("the backup is truncated: it holds {dump_len} of the {len} bytes of its dump");
    }
    if len < dump_len {
        bail!(
            "the backup does not match its checksum: it holds {dump_len} bytes of dump where \
             its end marker says {len}"
        );
    }
    let actual = crust_domain::audit::hex(&hasher.finalize());
    if actual != sha {
        bail!(
            "the backup does not match its checksum: its SHA-256 is {actual}, its end marker \
             says {sha}: the file was changed or damaged"
        );
    }
    Ok(Verified {
        header,
        dump_len,
        sha256: actual,
        encrypted,
    })
}

/// `CRUST-BACKUP-END <20 digits> <64 hex>\n` → (length, hex).
fn parse_trailer(tail: &[u8]) -> Option<(u64, String)> {
    let text = std::str::from_utf8(tail).ok()?;
    let rest = text.strip_prefix("CRUST-BACKUP-END ")?.strip_suffix('\n')?;
    let (len, sha) = rest.split_once(' ')?;
    if len.len() != 20
        || !len.bytes().all(|b| b.is_ascii_digit())
        || sha.len() != 64
        || !sha.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    Some((len.parse().ok()?, sha.to_owned()))
}

trait ReadUntilNewline {
    /// Appends bytes up to and including the first newline, or to the end.
    fn read_until_newline(&mut self, line: &mut Vec<u8>) -> io::Result<()>;
}

impl<R: Read> ReadUntilNewline for R {
    fn read_until_newline(&mut self, line: &mut Vec<u8>) -> io::Result<()> {
        // Byte by byte: what follows the header must stay in the reader. The header is
        // one short line.
        let mut byte = [0u8; 1];
        loop {
            match self.read(&mut byte) {
                Ok(0) => return Ok(()),
                Ok(_) => {
                    line.push(byte[0]);
                    if byte[0] == b'\n' {
                        return Ok(());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

fn read_identities(paths: &[PathBuf]) -> anyhow::Result<Vec<Box<dyn age::Identity>>> {
    let mut all = Vec::new();
    for path in paths {
        let file = File::open(path)
            .with_context(|| format!("cannot open the identity file {}", path.display()))?;
        let identities = age::IdentityFile::from_buffer(BufReader::new(file))
            .and_then(|f| {
                f.into_identities()
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))
            })
            .map_err(|e| {
                anyhow!(
                    "{} is not an age identity file (AGE-SECRET-KEY-1… lines): {e}",
                    path.display()
                )
            })?;
        if identities.is_empty() {
            bail!("{} holds no age identity", path.display());
        }
        all.extend(identities);
    }
    Ok(all)
}

fn embedded_migrations() -> anyhow::Result<BTreeSet<String>> {
    use diesel::migration::MigrationSource;
    Ok(
        MigrationSource::<diesel::pg::Pg>::migrations(&crust_dal::migrate::MIGRATIONS)
            .map_err(|e| anyhow!("cannot list this crust's migrations: {e}"))?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
    )
}

/// Up to five things that make a database not empty.
fn non_empty_sql() -> String {
    format!(
        "(SELECT format('%s %I.%I', CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' \
                WHEN 'm' THEN 'materialized view' ELSE 'table' END, n.nspname, c.relname) AS v
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') AND {APP_SCHEMA}
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                              AND d.objid = c.oid AND d.deptype = 'e')
           ORDER BY 1 LIMIT 5)
         UNION ALL
         (SELECT format('schema %I', n.nspname) AS v FROM pg_namespace n
           WHERE {APP_SCHEMA} AND n.nspname <> 'public'
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass
                              AND d.objid = n.oid AND d.deptype = 'e')
           ORDER BY 1 LIMIT 5)
         LIMIT 5"
    )
}

fn pg_restore(args: &RestoreArgs, dump: &Path, clean: bool) -> anyhow::Result<()> {
    let (dbname, password) = split_password(&args.into);
    let mut cmd = pg_tool(args.pg_bin_dir.as_deref(), "pg_restore");
    cmd.args(["--exit-on-error", "--single-transaction", "--no-password"]);
    if clean {
        cmd.args(["--clean", "--if-exists"]);
    }
    cmd.arg("--dbname")
        .arg(&dbname)
        .arg(dump)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let mut child = Killed(Some(spawn(&mut cmd, "pg_restore", &args.pg_bin_dir)?));
    let stderr = collect_stderr(child.get()?);
    let status = child.take()?.wait().context("cannot wait for pg_restore")?;
    let messages = stderr.join().unwrap_or_default();
    if !status.success() {
        bail!(
            "pg_restore failed ({status}); it ran in one transaction, so nothing was restored: {}",
            messages.trim()
        );
    }
    if !messages.trim().is_empty() {
        eprintln!("pg_restore: {}", messages.trim());
    }
    Ok(())
}

/// A new file in `dir`, mode 0600, removed when the guard drops.
fn staging_file(dir: &Path) -> anyhow::Result<(Removed, File)> {
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| anyhow!("no randomness: {e}"))?;
    let path = dir.join(format!(
        "crust-restore-{}.dump",
        crust_domain::audit::hex(&random)
    ));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    Ok((Removed(Some(path)), file))
}

// ---------------------------------------------------------------------------------
// shared helpers

/// Removes its file when dropped (unless disarmed with `.0 = None`).
struct Removed(Option<PathBuf>);

impl Removed {
    fn path(&self) -> PathBuf {
        self.0.clone().unwrap_or_default()
    }
}

impl Drop for Removed {
    fn drop(&mut self) {
        if let Some(path) = self.0.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// A child process killed (and reaped) when dropped before it was waited for.
struct Killed(Option<Child>);

impl Killed {
    fn get(&mut self) -> anyhow::Result<&mut Child> {
        self.0.as_mut().context("the child process is gone")
    }

    fn take(&mut self) -> anyhow::Result<Child> {
        self.0.take().context("the child process is gone")
    }
}

impl Drop for Killed {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn pg_tool(bin_dir: Option<&Path>, tool: &str) -> Command {
    match bin_dir {
        Some(dir) => Command::new(dir.join(tool)),
        None => Command::new(tool),
    }
}

fn spawn(cmd: &mut Command, tool: &str, bin_dir: &Option<PathBuf>) -> anyhow::Result<Child> {
    cmd.spawn().map_err(|e| {
        if e.kind() == io::ErrorKind::NotFound {
            anyhow!(
                "{tool} not found{}: install PostgreSQL's client programs (the server's major \
                 version or newer) or pass --pg-bin-dir",
                bin_dir
                    .as_ref()
                    .map(|d| format!(" in {}", d.display()))
                    .unwrap_or_else(|| " on PATH".into())
            )
        } else {
            anyhow!(e).context(format!("cannot run {tool}"))
        }
    })
}

/// Reads the child's stderr to its end on a thread (so a chatty child never blocks).
fn collect_stderr(child: &mut Child) -> std::thread::JoinHandle<String> {
    let stderr = child.stderr.take();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut e) = stderr {
            let _ = e.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// The URL without its password (for a command line, which other local users can read)
/// and the password (for `PGPASSWORD`). A string that is not a URL is left as it is.
fn split_password(url: &str) -> (String, Option<String>) {
    let Ok(mut parsed) = url::Url::parse(url) else {
        return (url.to_owned(), None);
    };
    let mut password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    if password.is_some() && parsed.set_password(None).is_err() {
        return (url.to_owned(), None);
    }
    if parsed.query_pairs().any(|(k, _)| k == "password") {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        let mut query = parsed.query_pairs_mut();
        query.clear();
        for (k, v) in pairs {
            if k == "password" {
                password = Some(v);
            } else {
                query.append_pair(&k, &v);
            }
        }
        drop(query);
        if parsed.query() == Some("") {
            parsed.set_query(None);
        }
    }
    (parsed.to_string(), password)
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    v: String,
}

fn texts(conn: &mut PgConnection, sql: &str) -> anyhow::Result<Vec<String>> {
    Ok(diesel::sql_query(sql)
        .load::<TextRow>(conn)?
        .into_iter()
        .map(|r| r.v)
        .collect())
}

fn one_text(conn: &mut PgConnection, sql: &str) -> anyhow::Result<String> {
    texts(conn, sql)?
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("no answer to {sql}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn container(dump: &[u8]) -> Vec<u8> {
        let mut out = Hashing {
            sink: Vec::new(),
            hasher: Sha256::new(),
        };
        out.write_all(MAGIC).unwrap();
        out.write_all(b"{\"format\":1}\n").unwrap();
        out.write_all(dump).unwrap();
        let Hashing { mut sink, hasher } = out;
        sink.extend_from_slice(trailer(dump.len() as u64, &hasher.finalize()).as_bytes());
        sink
    }

    fn check(bytes: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        read_container(bytes, &mut out, false)
            .map(|_| out)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_trailer_has_its_fixed_length() {
        assert_eq!(trailer(5, &[0u8; 32]).len(), TRAILER_LEN);
    }

    #[test]
    fn a_container_reads_back_and_every_damage_is_named() {
        for size in [0usize, 1, 102, 103, 104, CHUNK - 1, CHUNK, 3 * CHUNK + 7] {
            let dump: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let bytes = container(&dump);
            assert_eq!(check(&bytes).unwrap(), dump, "size {size}");
            let cut = check(&bytes[..bytes.len() - 1]).unwrap_err();
            assert!(cut.contains("truncated"), "{cut}");
            let cut = check(&bytes[..bytes.len() / 2]).unwrap_err();
            assert!(cut.contains("truncated"), "{cut}");
            if size > 0 {
                let mut changed = bytes.clone();
                let at = MAGIC.len() + 13 + size / 2;
                changed[at] ^= 1;
                let e = check(&changed).unwrap_err();
                assert!(e.contains("does not match its checksum"), "{e}");
            }
        }
        let e = check(b"hello world, this is not it").unwrap_err();
        assert!(e.contains("not a crust backup"), "{e}");
    }

    #[test]
    fn passwords_leave_the_url() {
        let (url, pw) = split_password("postgres://u:p%40ss@h:5432/db?sslmode=require");
        assert_eq!(url, "postgres://u@h:5432/db?sslmode=require");
        assert_eq!(pw.as_deref(), Some("p@ss"));
        let (url, pw) = split_password("postgres://u@h/db?password=x&sslmode=require");
        assert_eq!(url, "postgres://u@h/db?sslmode=require");
        assert_eq!(pw.as_deref(), Some("x"));
        let (url, pw) = split_password("postgres://u@h/db");
        assert_eq!(url, "postgres://u@h/db");
        assert_eq!(pw, None);
        let (url, pw) = split_password("host=h dbname=db");
        assert_eq!(url, "host=h dbname=db");
        assert_eq!(pw, None);
    }
}
