//! The server `crust bench` measures: a `crust serve` child process of its own, on the
//! bench's database, so that its CPU time and memory are its own — not the load
//! generator's, nor what seeding left behind.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// `crust serve` as a child process, once it answers; killed when dropped.
pub struct Server {
    child: std::process::Child,
    pub base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Settings every bench server gets: one user drives every request, so no rate limit
/// or lockout may measure itself; statements are reported per request.
fn bench_settings(config: &crust_api::Config, port: u16) -> Vec<(&'static str, String)> {
    vec![
        ("CRUST_PROFILE", "test".into()),
        ("DATABASE_URL", config.database.url.expose().into()),
        ("CRUST_JWT_SECRET", config.auth.jwt_secret.expose().into()),
        (
            "CRUST_PASSWORD_PEPPER",
            config.auth.password_pepper.expose().into(),
        ),
        // Production's cost: the sign-in storm measures what real sign-ins cost.
        ("CRUST_BCRYPT_COST", "12".into()),
        ("CRUST_BIND", format!("127.0.0.1:{port}")),
        ("CRUST_FILES_DIR", config.files.dir.display().to_string()),
        ("CRUST_DB_POOL_SIZE", config.database.pool_size.to_string()),
        ("CRUST_REPORT_SQL_STATEMENTS", "true".into()),
        ("CRUST_RATE_LIMIT_USER_PER_HOUR", "1000000000".into()),
        ("CRUST_RATE_LIMIT_ANONYMOUS_PER_HOUR", "1000000000".into()),
        ("CRUST_RATE_LIMIT_SIGN_IN_PER_HOUR", "1000000000".into()),
        ("RUST_LOG", "warn".into()),
    ]
}

/// Starts `crust serve --no-migrate` with the bench's settings, and `extra` ones.
pub async fn serve(config: &crust_api::Config, extra: &[(&str, &str)]) -> anyhow::Result<Server> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    // Another build's server may be measured by the same bench (the README's before
    // and after figures): CRUST_BENCH_SERVER names its binary.
    let binary = match std::env::var_os("CRUST_BENCH_SERVER") {
        Some(path) => std::path::PathBuf::from(path),
        None => std::env::current_exe()?,
    };
    let mut command = Command::new(binary);
    command
        .args(["serve", "--no-migrate"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // Your CRUST_* settings reach the server (to measure one, say
    // CRUST_GRAPHQL_CONCURRENCY); the bench's own, below, win over them.
    for (k, v) in
        std::env::vars().filter(|(k, _)| k.starts_with("CRUST_") && k != "CRUST_BENCH_SERVER")
    {
        command.env(k, v);
    }
    for (k, v) in bench_settings(config, port) {
        command.env(k, v);
    }
    for (k, v) in extra {
        command.env(k, v);
    }
    let child = command.spawn().context("cannot start `crust serve`")?;
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = super::bench_server::http_client()?;
    let started = Instant::now();
    while !http
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        if started.elapsed().as_secs() > 30 {
            anyhow::bail!("`crust serve` did not answer within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(server)
}

impl Server {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory now, in MiB.
    pub fn rss_mib(&self) -> Option<f64> {
        status_kib(self.pid(), "VmRSS:").map(|k| k as f64 / 1024.0)
    }

    /// Of the resident memory, what is mapped from files (the program's code and its
    /// libraries: clean pages the kernel can drop and read again), in MiB.
    pub fn file_backed_mib(&self) -> Option<f64> {
        status_kib(self.pid(), "RssFile:").map(|k| k as f64 / 1024.0)
    }

    /// The most resident memory since start or the last [`Server::reset_peak`], in MiB.
    pub fn peak_mib(&self) -> Option<f64> {
        status_kib(self.pid(), "VmHWM:").map(|k| k as f64 / 1024.0)
    }

    /// Resets the peak to the current resident memory (Linux ≥ 4.0); false where
    /// `/proc/<pid>/clear_refs` is not writable.
    pub fn reset_peak(&self) -> bool {
        std::fs::write(format!("/proc/{}/clear_refs", self.pid()), "5").is_ok()
    }

    /// CPU time the process has used, user and system, in seconds: what `getrusage`
    /// counts for a process, read from `/proc/<pid>/stat` since the bench is not the
    /// server process.
    pub fn cpu_seconds(&self) -> Option<f64> {
        cpu_seconds(self.pid())
    }
}

/// CPU time process `pid` has used, user and system, in seconds (Linux).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are plain numbers.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line; 12 and 13 after the name.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / clock_ticks_per_second())
}

/// A KiB field of `/proc/<pid>/status` (`VmRSS`, `VmHWM`, `RssFile` …) (Linux).
pub fn status_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// The kernel's clock tick (`getconf CLK_TCK`), the unit of `/proc/<pid>/stat`'s times;
/// 100 on every Linux we know of.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The bench's HTTP client. Its idle connections are dropped before the server's
/// keep-alive (5 s) would close them: a request sent on a connection the server is
/// closing at that moment fails with "connection closed before message completed"
/// (seen once, at the start of a row after its ceiling's turn).
pub(super) fn http_client() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_idle_timeout(Duration::from_secs(3))
        .build()?)
}
