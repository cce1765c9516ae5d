//! The `crust` binary, run as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crust_e2e::{TestDb, TEST_PEPPER};
use diesel::prelude::*;
use serde_json::{json, Value};

fn crust() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_crust"));
    // A clean environment: only what each test sets.
    for (key, _) in std::env::vars() {
        if key.starts_with("CRUST_") || key == "DATABASE_URL" {
            c.env_remove(key);
        }
    }
    c.env("RUST_LOG", "warn");
    c
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the child's stdout until `marker`, returning every line read.
fn read_until(child: &mut Child, marker: &str) -> Vec<String> {
    let stdout = child.stdout.take().unwrap();
    let mut lines = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap();
        let done = line.contains(marker);
        lines.push(line);
        if done {
            return lines;
        }
    }
    panic!("`{marker}` never printed; output: {lines:#?}");
}

fn password_of(lines: &[String], email_prefix: &str) -> String {
    let line = lines
        .iter()
        .find(|l| l.contains(email_prefix))
        .unwrap_or_else(|| panic!("{email_prefix} in {lines:#?}"));
    line.split_whitespace().last().unwrap().to_owned()
}

async fn gql(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    vars: Value,
) -> Value {
    let mut req = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": vars }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crust_dev_prepares_demo_data_and_serves_it() {
    let db = TestDb::empty().await;
    let port = free_port();
    let mut child = crust()
        .arg("dev")
        .env("DATABASE_URL", &db.url)
        .env("CRUST_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = tokio::task::block_in_place(|| read_until(&mut child, "Serving"));
    let _guard = Killed(child);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&format!("http://127.0.0.1:{port}/graphql"))),
        "{lines:#?}"
    );
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // Wait until it accepts requests.
    let start = Instant::now();
    while http
        .get(format!("{base}/readyz"))
        .send()
        .await
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let login = |email: &'static str, password: String| {
        let (http, base) = (http.clone(), base.clone());
        async move {
            let body = gql(&http, &base, None, "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }",
                json!({ "e": email, "p": password })).await;
            body["data"]["login"]["accessToken"]
                .as_str()
                .unwrap_or_else(|| panic!("{email}: {body}"))
                .to_owned()
        }
    };
    let owner = login(
        "olivia.owner@demo.crust.test",
        password_of(&lines, "olivia.owner"),
    )
    .await;
    let guest = login(
        "gina.guest@demo.crust.test",
        password_of(&lines, "gina.guest"),
    )
    .await;
    let mine = gql(&http, &base, Some(&owner), "{ organizations { nodes { name projects { totalCount nodes { name classification } } } } }", json!({})).await;
    assert_eq!(
        mine["data"]["organizations"]["nodes"][0]["name"],
        "Acme (demo)"
    );
    assert_eq!(
        mine["data"]["organizations"]["nodes"][0]["projects"]["totalCount"],
        3
    );
    let theirs = gql(
        &http,
        &base,
        Some(&guest),
        "{ organizations { nodes { id projects { totalCount } } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        theirs["data"]["organizations"]["nodes"][0]["projects"]["totalCount"], 0,
        "the guest sees no project"
    );
}

#[test]
fn crust_dev_provisions_a_private_cluster_when_asked() {
    let dir = std::env::temp_dir().join(format!("crust-dev-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let out = crust()
        .args(["dev", "--private-cluster", "--no-serve", "--data-dir"])
        .arg(&dir)
        .env("CRUST_BIND", "127.0.0.1:0")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pid = std::fs::read_to_string(dir.join("postgres/data/postmaster.pid")).ok();
    if let Some(pid) = pid.as_deref().and_then(|p| p.lines().next()) {
        // Stop the private cluster whatever happened.
        let _ = Command::new("kill").arg(pid).status();
    }
    assert!(
        out.status.success(),
        "stdout: {stdout}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("Started a private PostgreSQL cluster"),
        "{stdout}"
    );
    assert!(stdout.contains("olivia.owner@demo.crust.test"), "{stdout}");
    assert!(dir.join("postgres/data/PG_VERSION").is_file());
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn crust_dev_says_how_to_get_postgres_when_there_is_none() {
    let out = crust()
        .args([
            "dev",
            "--private-cluster",
            "--no-serve",
            "--pg-bin-dir",
            "/nonexistent",
            "--data-dir",
        ])
        .arg(std::env::temp_dir().join("crust-no-pg"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("No PostgreSQL server could be found"),
        "{stderr}"
    );
    assert!(
        stderr.contains("apt-get install postgresql") && stderr.contains("DATABASE_URL="),
        "{stderr}"
    );
}

#[tokio::test]
async fn migrate_user_create_and_revert() {
    let db = TestDb::empty().await;
    let run = |args: &[&str], stdin: &str| {
        let mut child = crust()
            .args(args)
            .env("DATABASE_URL", &db.url)
            .env("CRUST_PASSWORD_PEPPER", TEST_PEPPER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = run(&["migrate"], "");
    assert!(ok && out.contains("applied"), "{out}");
    let (ok, out) = run(&["migrate"], "");
    assert!(ok && out.contains("up to date"), "{out}");

    let (ok, out) = run(
        &[
            "user",
            "create",
            "--email",
            "ops@example.test",
            "--name",
            "Ops",
            "--password-stdin",
        ],
        "tangerine-orbit-lantern-42\n",
    );
    assert!(ok, "{out}");
    let (ok, out) = run(
        &[
            "user",
            "create",
            "--email",
            "OPS@example.test",
            "--name",
            "Ops",
            "--password-stdin",
        ],
        "tangerine-orbit-lantern-42\n",
    );
    assert!(!ok && out.contains("already exists"), "{out}");
    let (ok, out) = run(
        &[
            "user",
            "create",
            "--email",
            "weak@example.test",
            "--name",
            "Weak",
            "--password-stdin",
        ],
        "password\n",
    );
    assert!(!ok && out.contains("common"), "{out}");
    let (ok, out) = run(
        &[
            "user",
            "create",
            "--email",
            "gen@example.test",
            "--name",
            "Gen",
        ],
        "",
    );
    assert!(ok && out.contains("password (shown once): "), "{out}");

    let mut conn = db.connect();
    let hash: String = crust_dal::schema::users::table
        .filter(crust_dal::schema::users::email.eq("ops@example.test"))
        .select(crust_dal::schema::users::password_hash)
        .first(&mut conn)
        .unwrap();
    assert!(
        hash.starts_with("$2b$12$"),
        "the CLI hashes at the configured cost: {hash}"
    );
    drop(conn);

    let (ok, out) = run(&["migrate", "--revert-all"], "n\n");
    assert!(!ok && out.contains("cancelled"), "{out}");
    let (ok, out) = run(&["migrate", "--revert-all", "--yes"], "");
    let reverted = format!(
        "reverted {} migration",
        crust_dal::migrate::embedded_count()
    );
    assert!(ok && out.contains(&reverted), "{out}");
}

#[test]
fn export_schema_prints_the_committed_schema() {
    let out = crust().arg("export-schema").output().unwrap();
    assert!(out.status.success());
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema.graphql"))
            .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), committed);
}

#[test]
fn serve_refuses_prod_with_default_secrets() {
    let out = crust()
        .arg("serve")
        .env("CRUST_PROFILE", "prod")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("prod profile refuses") && stderr.contains("CRUST_JWT_SECRET"),
        "{stderr}"
    );
}

#[test]
fn bench_prints_its_report() {
    let out = crust()
        .args([
            "bench",
            "--seconds",
            "1",
            "--clients",
            "2",
            "--scale",
            "0.02",
        ])
        .env("DATABASE_URL", crust_e2e::db::admin_url())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for column in ["req/s", "p50 ms", "p99 ms", "SQL/request"] {
        assert!(stdout.contains(column), "{stdout}");
    }
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("project:") || l.starts_with("board:"))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    for row in rows {
        let statements: u64 = row.split_whitespace().last().unwrap().parse().unwrap();
        assert!(statements > 0 && statements <= 12, "{row}");
    }
}

#[test]
fn check_deploy_reports_every_finding() {
    let out = crust()
        .args(["check", "--deploy"])
        .env("CRUST_PROFILE", "prod")
        .env("CRUST_CORS_ORIGINS", "*")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    for finding in [
        "CRUST_JWT_SECRET",
        "CRUST_PASSWORD_PEPPER",
        "any origin",
        "no TLS",
        "sslmode",
    ] {
        assert!(
            stdout.contains(finding),
            "{finding} missing from:\n{stdout}"
        );
    }
    assert!(stdout.contains("SERIOUS") && stdout.contains("WARNING"));
    let strong = "a-production-secret-of-more-than-32-bytes";
    let out = crust()
        .args(["check", "--deploy"])
        .env("CRUST_PROFILE", "prod")
        .env("CRUST_JWT_SECRET", strong)
        .env("CRUST_PASSWORD_PEPPER", strong)
        .env("CRUST_BEHIND_TLS_PROXY", "true")
        .env("CRUST_CORS_ORIGINS", "https://app.example.com")
        .env("CRUST_TRUSTED_PROXIES", "10.0.0.1")
        .env("DATABASE_URL", "postgres://crust@db/crust?sslmode=require")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("0 serious"), "{stdout}");
}
