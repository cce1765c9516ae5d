//! A hot standby of the test cluster: `pg_basebackup -R` of the local primary into a
//! fresh directory, started on a free port with TLS on (a certificate generated here)
//! and a `pg_hba.conf` the test writes. If the primary lets no replication connection
//! in, a loopback line is added to its `pg_hba.conf` for this standby and taken out
//! again when the standby stops.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use diesel::prelude::*;

/// PostgreSQL's server programs (Debian keeps them out of PATH).
pub(crate) fn bin(name: &str) -> PathBuf {
    let dirs = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default();
    let mut dirs: Vec<_> = dirs
        .into_iter()
        .filter(|d| d.join("bin").join(name).exists())
        .collect();
    dirs.sort();
    dirs.pop()
        .map(|d| d.join("bin").join(name))
        .unwrap_or_else(|| PathBuf::from(name))
}

/// Runs a PostgreSQL program as the `postgres` OS user when we are root (the server
/// refuses to run as root), as ourselves otherwise.
pub(crate) fn as_postgres(program: &Path) -> Command {
    let root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

/// A port nothing listens on now, for a server of the test's own.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Hands a directory (and what is in it) to the `postgres` OS user, which the server
/// programs run as when we are root.
pub(crate) fn chown(p: &Path) {
    let _ = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(p)
        .status();
}

/// Stops the cluster whose data is under `dir`/data at once and deletes `dir`.
pub(crate) fn discard(dir: &Path) {
    let mut stop = as_postgres(&bin("pg_ctl"));
    stop.arg("-D")
        .arg(dir.join("data"))
        .args(["-m", "immediate", "stop"]);
    let _ = stop.output();
    let _ = std::fs::remove_dir_all(dir);
}

/// A new temporary directory for a cluster, owned by `postgres`.
pub(crate) fn postgres_dir(kind: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("crust-{kind}-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    chown(&dir);
    dir
}

fn run(mut cmd: Command, what: &str) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[derive(QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    v: String,
}

fn text(conn: &mut PgConnection, sql: &str) -> String {
    diesel::sql_query(sql)
        .get_result::<Text>(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .v
}

const REPLICATION_LINE: &str =
    "host replication all 127.0.0.1/32 trust # crust test suite: its standby, removed after";

/// Lets loopback replication connections in for this standby, if the primary has no
/// replication line; the file it changed, to take the line out again when done.
fn allow_replication(primary: &mut PgConnection) -> Option<PathBuf> {
    let has = text(
        primary,
        "SELECT (count(*) > 0)::text AS v FROM pg_hba_file_rules WHERE 'replication' = ANY(database)",
    );
    if has == "true" {
        return None;
    }
    let file = text(primary, "SELECT current_setting('hba_file') AS v");
    let mut hba = std::fs::read_to_string(&file).unwrap();
    if !hba.ends_with('\n') {
        hba.push('\n');
    }
    hba.push_str(REPLICATION_LINE);
    hba.push('\n');
    std::fs::write(&file, hba).unwrap();
    text(primary, "SELECT pg_reload_conf()::text AS v");
    Some(PathBuf::from(file))
}

pub struct Replica {
    pub port: u16,
    dir: PathBuf,
    /// The primary (a superuser URL) and the pg_hba.conf this standby added a line to.
    primary: String,
    added_line: Option<PathBuf>,
}

impl Replica {
    /// A standby of the primary at `admin_url` (a superuser), serving `hba` (the lines
    /// of its pg_hba.conf; a trust line for the local superuser is added for the
    /// test's own checks over the Unix socket).
    pub fn start(admin_url: &str, hba: &[String]) -> Replica {
        let mut primary = PgConnection::establish(admin_url).unwrap();
        let added_line = allow_replication(&mut primary);
        let (port, dir) = (free_port(), postgres_dir("replica"));
        let data = dir.join("data");
        let mut backup = as_postgres(&bin("pg_basebackup"));
        backup
            .args([
                "-h",
                "127.0.0.1",
                "-p",
                "5432",
                "-U",
                "postgres",
                "-X",
                "stream",
                "-c",
                "fast",
                "-R",
                "-D",
            ])
            .arg(&data);
        run(backup, "pg_basebackup");
        // TLS with a certificate made now.
        let cert = rcgen::generate_simple_self_signed(vec![
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ])
        .unwrap();
        std::fs::write(data.join("server.crt"), cert.cert.pem()).unwrap();
        std::fs::write(data.join("server.key"), cert.signing_key.serialize_pem()).unwrap();
        // A standby needs these at least as high as its primary.
        let mut at_least = String::new();
        for setting in [
            "max_connections",
            "max_worker_processes",
            "max_wal_senders",
            "max_prepared_transactions",
            "max_locks_per_transaction",
        ] {
            let value = text(
                &mut primary,
                &format!("SELECT current_setting('{setting}') AS v"),
            );
            at_least.push_str(&format!("{setting} = {value}\n"));
        }
        let replica = Replica {
            port,
            dir,
            primary: admin_url.to_owned(),
            added_line,
        };
        replica.write_hba(hba);
        std::fs::write(data.join("pg_ident.conf"), "").unwrap();
        std::fs::write(
            data.join("postgresql.conf"),
            format!(
                "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
                 ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
                 hba_file = '{}'\nhot_standby = on\nshared_buffers = 16MB\n\
                 password_encryption = 'scram-sha-256'\ntemp_file_limit = '2GB'\n{at_least}",
                replica.dir.display(),
                replica.dir.join("pg_hba.conf").display()
            ),
        )
        .unwrap();
        chown(&replica.dir);
        let _ = Command::new("chmod")
            .arg("600")
            .arg(data.join("server.key"))
            .status();
        let mut start = as_postgres(&bin("pg_ctl"));
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(replica.dir.join("log"))
            .args(["-w", "-t", "60", "start"]);
        let out = start.output().unwrap();
        assert!(
            out.status.success(),
            "the standby did not start: {}",
            std::fs::read_to_string(replica.dir.join("log")).unwrap_or_default()
        );
        replica
    }

    fn write_hba(&self, lines: &[String]) {
        let mut hba = String::from("local all postgres trust\n");
        for l in lines {
            hba.push_str(l);
            hba.push('\n');
        }
        std::fs::write(self.dir.join("pg_hba.conf"), hba).unwrap();
        let _ = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(self.dir.join("pg_hba.conf"))
            .status();
    }

    /// New pg_hba.conf lines, in effect at once.
    pub fn set_hba(&self, lines: &[String]) {
        self.write_hba(lines);
        let mut reload = as_postgres(&bin("pg_ctl"));
        reload.arg("-D").arg(self.dir.join("data")).arg("reload");
        run(reload, "pg_ctl reload");
        // The postmaster rereads the file on SIGHUP; new connections see it at once
        // after that.
        std::thread::sleep(Duration::from_millis(300));
    }

    /// The local superuser over the standby's Unix socket (for waiting and checking).
    pub fn admin(&self, database: &str) -> PgConnection {
        PgConnection::establish(&format!(
            "postgres:///{database}?host={}&port={}&user=postgres",
            self.dir.display(),
            self.port
        ))
        .unwrap()
    }

    /// A TCP URL for `user` with `sslmode`.
    pub fn url(&self, user: &str, password: &str, database: &str, sslmode: &str) -> String {
        format!(
            "postgres://{user}:{password}@127.0.0.1:{}/{database}?sslmode={sslmode}",
            self.port
        )
    }

    /// Waits until the standby has replayed everything the primary wrote so far.
    pub fn caught_up(&self, primary: &mut PgConnection, database: &str) {
        let target = text(primary, "SELECT pg_current_wal_lsn()::text AS v");
        let mut standby = self.admin(database);
        let started = Instant::now();
        loop {
            let done = text(
                &mut standby,
                &format!("SELECT (pg_last_wal_replay_lsn() >= '{target}'::pg_lsn)::text AS v"),
            );
            if done == "true" {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "the standby never caught up"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        discard(&self.dir);
        // The primary's pg_hba.conf as it was.
        if let Some(file) = &self.added_line {
            if let Ok(hba) = std::fs::read_to_string(file) {
                let kept: String = hba
                    .lines()
                    .filter(|l| *l != REPLICATION_LINE)
                    .map(|l| format!("{l}\n"))
                    .collect();
                let _ = std::fs::write(file, kept);
                if let Ok(mut primary) = PgConnection::establish(&self.primary) {
                    let _ = diesel::sql_query("SELECT pg_reload_conf()").execute(&mut primary);
                }
            }
        }
    }
}

/// Lines put first in the primary's pg_hba.conf for as long as this lives (then taken
/// out again), e.g. the lines `crust bi grant` asks for on the primary.
pub struct PrimaryHbaLines {
    file: PathBuf,
    lines: Vec<String>,
    primary: String,
}

impl PrimaryHbaLines {
    pub fn add(admin_url: &str, lines: &[&str]) -> PrimaryHbaLines {
        let mut primary = PgConnection::establish(admin_url).unwrap();
        let file = PathBuf::from(text(
            &mut primary,
            "SELECT current_setting('hba_file') AS v",
        ));
        let lines: Vec<String> = lines
            .iter()
            .map(|l| format!("{l} # crust test suite, removed after"))
            .collect();
        let hba = std::fs::read_to_string(&file).unwrap();
        std::fs::write(&file, format!("{}\n{hba}", lines.join("\n"))).unwrap();
        text(&mut primary, "SELECT pg_reload_conf()::text AS v");
        std::thread::sleep(Duration::from_millis(300));
        PrimaryHbaLines {
            file,
            lines,
            primary: admin_url.to_owned(),
        }
    }
}

impl Drop for PrimaryHbaLines {
    fn drop(&mut self) {
        if let Ok(hba) = std::fs::read_to_string(&self.file) {
            let kept: String = hba
                .lines()
                .filter(|l| !self.lines.iter().any(|ours| ours == l))
                .map(|l| format!("{l}\n"))
                .collect();
            let _ = std::fs::write(&self.file, kept);
            if let Ok(mut primary) = PgConnection::establish(&self.primary) {
                let _ = diesel::sql_query("SELECT pg_reload_conf()").execute(&mut primary);
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}
