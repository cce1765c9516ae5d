//! Surviving failures, with the real `crust serve` over real HTTP: a PostgreSQL restart
//! under a load of reads and writes (on a cluster this test starts, never the shared
//! one), a start while the database is down, and a graceful shutdown that lets the
//! requests in flight finish.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crust_e2e::cluster::Cluster;
use crust_e2e::{TestDb, TEST_JWT_SECRET, TEST_PASSWORD, TEST_PEPPER};
use diesel::prelude::*;
use serde_json::{json, Value};

/// Kills the server when the test ends, whatever happens.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn serve(url: &str, port: u16, extra: &[(&str, &str)]) -> Server {
    let scratch = std::env::temp_dir().join(format!("crust-resilience-{port}"));
    Server(
        Command::new(env!("CARGO_BIN_EXE_crust"))
            .arg("serve")
            .env("CRUST_PROFILE", "test")
            .env("DATABASE_URL", url)
            .env("CRUST_BIND", format!("127.0.0.1:{port}"))
            .env("CRUST_JWT_SECRET", TEST_JWT_SECRET)
            .env("CRUST_PASSWORD_PEPPER", TEST_PEPPER)
            .env("CRUST_BCRYPT_COST", "4")
            .env("CRUST_DB_POOL_SIZE", "8")
            .env("CRUST_DB_CHECKOUT_TIMEOUT_MS", "1000")
            .env("CRUST_RATE_LIMIT_USER_PER_HOUR", "10000000")
            .env("CRUST_RATE_LIMIT_ANONYMOUS_PER_HOUR", "10000000")
            .env("CRUST_RATE_LIMIT_SIGN_IN_PER_HOUR", "10000000")
            .env("CRUST_MAIL_DIR", scratch.join("mail"))
            .env("CRUST_FILES_DIR", scratch.join("files"))
            .envs(extra.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

async fn wait_until(what: &str, within: Duration, mut ok: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !ok().await {
        assert!(started.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn status(http: &reqwest::Client, url: &str) -> Option<u16> {
    http.get(url).send().await.ok().map(|r| r.status().as_u16())
}

async fn gql(
    http: &reqwest::Client,
    base: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> reqwest::Result<(u16, Option<String>, Value)> {
    let mut req = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await?;
    let code = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = res.json::<Value>().await.unwrap_or(Value::Null);
    Ok((code, retry, body))
}

async fn login(
    http: &reqwest::Client,
    base: &str,
    email: &str,
    password: &str,
) -> (u16, Option<String>, Value) {
    gql(
        http,
        base,
        None,
        "mutation($i: LoginInput!) { login(input: $i) { accessToken } }",
        json!({ "i": { "email": email, "password": password } }),
    )
    .await
    .unwrap()
}

/// A migrated database named `crust` on the cluster, with one account; its URL.
fn prepared(cluster: &Cluster) -> String {
    let mut admin = PgConnection::establish(&cluster.url("postgres")).unwrap();
    diesel::sql_query("CREATE DATABASE crust")
        .execute(&mut admin)
        .unwrap();
    let url = cluster.url("crust");
    let op = crust_dal::Operator::at_console();
    let mut conn = crust_dal::establish(&op, &url).unwrap();
    crust_dal::migrate::run_pending(&op, &mut conn).unwrap();
    let hash = crust_dal::password::PasswordHasher::new(TEST_PEPPER, 4)
        .unwrap()
        .hash(TEST_PASSWORD)
        .unwrap();
    crust_dal::users::create_verified(&op, &mut conn, "ops@example.test", "Ops", &hash).unwrap();
    url
}

#[derive(Default)]
struct Tally {
    /// Task ids of writes answered 200 with data.
    acknowledged: Vec<String>,
    /// When each acknowledgement arrived.
    acknowledged_at: Vec<Instant>,
    reads_ok: usize,
    unavailable: usize,
    unavailable_without_retry_after: usize,
    /// Anything else: (status, body).
    other: Vec<(u16, String)>,
    slowest: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_restart_under_load_answers_503_then_recovers_and_loses_no_acknowledged_write() {
    let cluster = Cluster::start();
    let url = prepared(&cluster);
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = serve(&url, port, &[]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    wait_until("ready", Duration::from_secs(30), async || {
        status(&http, &format!("{base}/readyz")).await == Some(200)
    })
    .await;
    let (_, _, body) = login(&http, &base, "ops@example.test", TEST_PASSWORD).await;
    let token = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();
    let (_, _, body) = gql(
        &http,
        &base,
        Some(&token),
        "mutation { createOrganization(input: {name: \"Ops\"}) { organization { id } } }",
        json!({}),
    )
    .await
    .unwrap();
    let org = body["data"]["createOrganization"]["organization"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, _, body) = gql(&http, &base, Some(&token),
        "mutation($o: ID!) { createProject(input: {organizationId: $o, name: \"Load\"}) { project { id } } }",
        json!({ "o": org })).await.unwrap();
    let project = body["data"]["createProject"]["project"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"))
        .to_owned();

    // The load: 3 writers and 2 readers, each one request after another.
    let tally = Arc::new(Mutex::new(Tally::default()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for worker in 0..5 {
        let (http, base, token, project, tally, stop) = (
            http.clone(),
            base.clone(),
            token.clone(),
            project.clone(),
            tally.clone(),
            stop.clone(),
        );
        load.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                n += 1;
                let write = worker < 3;
                let started = Instant::now();
                let answer = if write {
                    gql(
                        &http,
                        &base,
                        Some(&token),
                        "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
                        json!({ "i": { "projectId": project, "title": format!("w{worker}-{n}") } }),
                    )
                    .await
                } else {
                    gql(
                        &http,
                        &base,
                        Some(&token),
                        "query($p: ID!) { project(id: $p) { tasks(first: 5) { totalCount } } }",
                        json!({ "p": project }),
                    )
                    .await
                };
                let took = started.elapsed();
                {
                    let mut t = tally.lock().unwrap();
                    t.slowest = t.slowest.max(took);
                    match answer {
                        Ok((200, _, body)) if body.get("errors").is_none() => {
                            if write {
                                let id = body["data"]["createTask"]["task"]["id"].as_str().unwrap();
                                t.acknowledged.push(id.to_owned());
                                t.acknowledged_at.push(Instant::now());
                            } else {
                                t.reads_ok += 1;
                            }
                        }
                        Ok((503, retry, _)) => {
                            t.unavailable += 1;
                            if retry.is_none() {
                                t.unavailable_without_retry_after += 1;
                            }
                        }
                        Ok((code, _, body)) => t.other.push((code, body.to_string())),
                        Err(e) => t.other.push((0, e.to_string())),
                    }
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let before = tally.lock().unwrap().acknowledged.len();
    assert!(before > 0, "no write went through before the restart");

    // The restart: down for three seconds.
    let cluster = tokio::task::spawn_blocking(move || {
        cluster.down();
        cluster
    })
    .await
    .unwrap();
    wait_until("readyz red", Duration::from_secs(5), async || {
        status(&http, &format!("{base}/readyz")).await == Some(503)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let during = tally.lock().unwrap().unavailable;
    assert!(during > 0, "no request was told to retry during the outage");
    let (cluster, back_at) = tokio::task::spawn_blocking(move || {
        cluster.up();
        let at = Instant::now();
        (cluster, at)
    })
    .await
    .unwrap();
    wait_until("readyz green", Duration::from_secs(10), async || {
        status(&http, &format!("{base}/readyz")).await == Some(200)
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for l in load {
        l.await.unwrap();
    }

    let t = tally.lock().unwrap();
    let recovered = t
        .acknowledged_at
        .iter()
        .find(|at| **at > back_at)
        .map(|at| at.duration_since(back_at))
        .expect("no write went through after the database came back");
    println!(
        "writes acknowledged: {}, reads: {}, 503s: {}, slowest answer: {:?}, first write {:?} after the database was back",
        t.acknowledged.len(),
        t.reads_ok,
        t.unavailable,
        t.slowest,
        recovered
    );
    assert!(
        recovered < Duration::from_secs(5),
        "recovered only after {recovered:?}"
    );
    assert!(
        t.other.is_empty(),
        "answers other than 200 or 503: {:?}",
        t.other
    );
    assert_eq!(
        t.unavailable_without_retry_after, 0,
        "a 503 without Retry-After"
    );
    // Failing fast: a request checks a connection out at most twice (its caller, then
    // its work), each bounded by the checkout timeout (1 s); the rest is margin for a
    // loaded machine, far below a hang.
    assert!(
        t.slowest < Duration::from_secs(5),
        "a request took {:?}",
        t.slowest
    );

    // Every acknowledged write is there.
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = PgConnection::establish(&cluster.url("crust")).unwrap();
    let ids: Vec<uuid::Uuid> = t
        .acknowledged
        .iter()
        .map(|id| uuid::Uuid::parse_str(id).unwrap())
        .collect();
    let present = diesel::sql_query("SELECT count(*) AS n FROM tasks WHERE id = ANY($1)")
        .bind::<diesel::sql_types::Array<diesel::sql_types::Uuid>, _>(&ids)
        .get_result::<N>(&mut conn)
        .unwrap()
        .n;
    assert_eq!(present as usize, ids.len(), "acknowledged writes were lost");
}

#[tokio::test]
async fn the_server_starts_while_the_database_is_down_and_becomes_ready_when_it_comes_up() {
    let cluster = Cluster::start();
    let mut admin = PgConnection::establish(&cluster.url("postgres")).unwrap();
    // Not migrated: the server applies the migrations once it can.
    diesel::sql_query("CREATE DATABASE crust")
        .execute(&mut admin)
        .unwrap();
    drop(admin);
    cluster.down();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(&cluster.url("crust"), port, &[]);
    let http = reqwest::Client::new();
    wait_until("alive", Duration::from_secs(30), async || {
        status(&http, &format!("{base}/healthz")).await == Some(200)
    })
    .await;
    let ready = http.get(format!("{base}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503);
    assert_eq!(
        ready.json::<Value>().await.unwrap()["database"],
        "unreachable"
    );
    // Nothing runs against a schema older than the code: every request is told to
    // retry until the migrations are in.
    let (code, retry, body) = gql(&http, &base, None, "{ me { id } }", json!({}))
        .await
        .unwrap();
    assert_eq!((code, retry.as_deref()), (503, Some("1")), "{body}");
    assert!(body.to_string().contains("not ready yet"), "{body}");
    let (code, retry, body) = login(&http, &base, "nobody@example.test", "not a password").await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(server.0.try_wait().unwrap().is_none(), "the server exited");

    cluster.up();
    wait_until(
        "ready after the database came up",
        Duration::from_secs(10),
        async || status(&http, &format!("{base}/readyz")).await == Some(200),
    )
    .await;
    assert!(server.0.try_wait().unwrap().is_none(), "the server exited");
    let (code, _, body) = login(&http, &base, "nobody@example.test", "not a password").await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        crust_e2e::error_code(&body),
        Some("UNAUTHENTICATED"),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish_and_refuses_new_connections() {
    let db = TestDb::migrated().await;
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = serve(
        &db.url,
        port,
        &[
            ("CRUST_TEST_HOOKS", "true"),
            ("CRUST_SHUTDOWN_GRACE_SECS", "10"),
        ],
    );
    let http = reqwest::Client::new();
    wait_until("alive", Duration::from_secs(30), async || {
        status(&http, &format!("{base}/healthz")).await == Some(200)
    })
    .await;
    // Three requests that take two seconds each, answered without a database.
    let mut in_flight = Vec::new();
    for _ in 0..3 {
        let (http, base) = (http.clone(), base.clone());
        in_flight.push(tokio::spawn(async move {
            gql(
                &http,
                &base,
                None,
                "{ crustTestSlow: __typename }",
                json!({}),
            )
            .await
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap()
        .success());
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No new connection is taken while the others finish.
    let fresh = reqwest::Client::new();
    assert!(
        fresh.get(format!("{base}/healthz")).send().await.is_err(),
        "a new connection was accepted during shutdown"
    );
    for request in in_flight {
        let (code, _, body) = request
            .await
            .unwrap()
            .expect("an in-flight request was cut");
        assert_eq!(code, 200, "{body}");
        assert_eq!(body["data"]["crustTestSlow"], "Query", "{body}");
    }
    loop {
        if let Some(exit) = server.0.try_wait().unwrap() {
            assert!(exit.success(), "{exit}");
            break;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(10),
            "still running after the grace period"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "{:?}",
        signalled.elapsed()
    );
}

/// A verified account with `TEST_PASSWORD`, hashed at bcrypt cost 10 (a check takes
/// tens of milliseconds).
fn verified_account_at_cost_10(url: &str, email: &str) {
    let op = crust_dal::Operator::at_console();
    let mut conn = crust_dal::establish(&op, url).unwrap();
    let hash = crust_dal::password::PasswordHasher::new(TEST_PEPPER, 10)
        .unwrap()
        .hash(TEST_PASSWORD)
        .unwrap();
    crust_dal::users::create_verified(&op, &mut conn, email, "Signs in", &hash).unwrap();
}

/// A sign-in storm cannot take the machine: at most CRUST_PASSWORD_HASH_CONCURRENCY
/// password hashes run at once (the peak is read from /metrics), and a sign-in that
/// cannot get a slot in time is told to retry instead of piling up.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn password_hashing_is_bounded_under_a_sign_in_storm() {
    let db = TestDb::migrated().await;
    verified_account_at_cost_10(&db.url, "storm@example.test");
    let sign_in = |http: reqwest::Client, base: String| async move {
        login(&http, &base, "storm@example.test", TEST_PASSWORD).await
    };

    // One slot, a generous wait: every sign-in succeeds, one hash at a time.
    let (port, metrics) = (free_port(), free_port());
    let metrics_bind = format!("127.0.0.1:{metrics}");
    let base = format!("http://127.0.0.1:{port}");
    let _server = serve(
        &db.url,
        port,
        &[
            ("CRUST_BCRYPT_COST", "10"),
            // One account signing in many times at once from one address: the
            // guessing throttle would (rightly) refuse most; this test is not about it.
            ("CRUST_LOGIN_MAX_FAILURES", "1000"),
            ("CRUST_PASSWORD_HASH_CONCURRENCY", "1"),
            // The bound is under test here, not the priority: at the default (idle)
            // priority, on a machine kept busy by other tests, eight hashes in a row
            // could outwait the 10 s turn.
            ("CRUST_PASSWORD_HASH_PRIORITY", "normal"),
            ("CRUST_METRICS_BIND", &metrics_bind),
        ],
    );
    let http = reqwest::Client::new();
    wait_until("alive", Duration::from_secs(30), async || {
        status(&http, &format!("{base}/healthz")).await == Some(200)
    })
    .await;
    let storm: Vec<_> = (0..8)
        .map(|_| tokio::spawn(sign_in(http.clone(), base.clone())))
        .collect();
    for s in storm {
        let (code, _, body) = s.await.unwrap();
        assert_eq!(code, 200, "{body}");
        assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
    }
    let text = http
        .get(format!("http://{metrics_bind}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("crust_password_hash_slots 1\n"), "{text}");
    assert!(
        text.contains("crust_password_hash_peak_running 1\n"),
        "{text}"
    );
    drop(_server);

    // One slot and no patience: a storm of slow hashes is partly told to retry.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let _server = serve(
        &db.url,
        port,
        &[
            ("CRUST_BCRYPT_COST", "12"),
            ("CRUST_LOGIN_MAX_FAILURES", "1000"),
            ("CRUST_PASSWORD_HASH_CONCURRENCY", "1"),
            ("CRUST_PASSWORD_HASH_WAIT_MS", "1"),
            ("CRUST_PASSWORD_HASH_PRIORITY", "normal"),
        ],
    );
    wait_until("alive", Duration::from_secs(30), async || {
        status(&http, &format!("{base}/healthz")).await == Some(200)
    })
    .await;
    let storm: Vec<_> = (0..6)
        .map(|_| tokio::spawn(sign_in(http.clone(), base.clone())))
        .collect();
    let mut answers = Vec::new();
    for s in storm {
        let (code, retry, body) = s.await.unwrap();
        answers.push((code, retry, body));
    }
    let told_to_retry = answers
        .iter()
        .filter(|(code, retry, _)| *code == 503 && retry.as_deref() == Some("1"))
        .count();
    let served = answers.iter().filter(|(code, _, _)| *code == 200).count();
    assert!(told_to_retry >= 1 && served >= 1, "{answers:?}");
    assert_eq!(told_to_retry + served, answers.len(), "{answers:?}");
}

/// Fields 3 onwards of `/proc/<pid>/stat` (or of a thread's), after the command name.
fn stat_fields(path: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(path).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    Some(rest.split(' ').map(str::to_owned).collect())
}

/// Field `n` (numbered as in proc(5)) of a stat line's fields from 3 on.
fn field(fields: &[String], n: usize) -> u64 {
    fields[n - 3].parse().unwrap()
}

/// The password hashing process a server started, if one runs.
fn hash_worker_of(server: u32) -> Option<u32> {
    std::fs::read_dir("/proc").unwrap().find_map(|entry| {
        let pid: u32 = entry.ok()?.file_name().to_str()?.parse().ok()?;
        let fields = stat_fields(&format!("/proc/{pid}/stat"))?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        (field(&fields, 4) == u64::from(server)
            && fields[0] != "Z"
            && String::from_utf8_lossy(&cmdline).contains("hash-worker"))
        .then_some(pid)
    })
}

/// CPU time (clock ticks) a process has used.
fn cpu_ticks(pid: u32) -> u64 {
    let fields = stat_fields(&format!("/proc/{pid}/stat")).unwrap();
    field(&fields, 14) + field(&fields, 15)
}

/// The scheduling policy (sched(7); SCHED_IDLE is 5) of every thread of `pid`.
fn thread_policies(pid: u32) -> Vec<u64> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|t| {
            let tid = t.ok()?.file_name();
            stat_fields(&format!("/proc/{pid}/task/{}/stat", tid.to_str()?))
        })
        .map(|fields| field(&fields, 41))
        .collect()
}

/// Password hashes run in a process of their own (Linux shares CPU time between
/// sessions before threads, so a hashing thread inside the server's session took time
/// from PostgreSQL): a session and autogroup of its own at nice 19, every thread at
/// SCHED_IDLE. Right and wrong passwords are told apart through it, also when many run
/// at once, and an unknown email takes as long as a wrong password; a changed password
/// is hashed by it; killed, it is replaced and no sign-in fails meanwhile; it ends with
/// the server. At `normal` priority the server hashes on threads of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_hashes_run_in_a_process_that_steps_aside_and_is_replaced_when_killed() {
    const SCHED_IDLE: u64 = 5;
    let db = TestDb::migrated().await;
    verified_account_at_cost_10(&db.url, "worker@example.test");
    let settings = [
        // The stored hash's cost: a check costs tens of ms, which the worker's CPU
        // time shows, and no sign-in rehashes it at another cost.
        ("CRUST_BCRYPT_COST", "10"),
        ("CRUST_LOGIN_MAX_FAILURES", "1000"),
        // Jobs at once in the worker: each answer must reach its own sign-in.
        ("CRUST_PASSWORD_HASH_CONCURRENCY", "3"),
    ];
    let http = reqwest::Client::new();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let server = serve(&db.url, port, &settings);
    wait_until("alive", Duration::from_secs(30), async || {
        status(&http, &format!("{base}/healthz")).await == Some(200)
    })
    .await;
    let server_pid = server.0.id();
    // Started in the background at start-up.
    wait_until("a hashing process", Duration::from_secs(10), async || {
        hash_worker_of(server_pid).is_some()
    })
    .await;
    let worker = hash_worker_of(server_pid).unwrap();

    let (server_stat, worker_stat) = (
        stat_fields(&format!("/proc/{server_pid}/stat")).unwrap(),
        stat_fields(&format!("/proc/{worker}/stat")).unwrap(),
    );
    assert_eq!(field(&worker_stat, 6), u64::from(worker), "leads a session");
    assert_ne!(field(&worker_stat, 6), field(&server_stat, 6));
    let autogroups = std::fs::read_to_string("/proc/sys/kernel/sched_autogroup_enabled")
        .is_ok_and(|on| on.trim() == "1");
    if autogroups {
        let of = |pid: u32| std::fs::read_to_string(format!("/proc/{pid}/autogroup")).unwrap();
        assert!(of(worker).trim_end().ends_with("nice 19"), "{}", of(worker));
        assert_ne!(of(worker), of(server_pid));
    }
    let policies = thread_policies(worker);
    assert!(
        !policies.is_empty() && policies.iter().all(|p| *p == SCHED_IDLE),
        "{policies:?}"
    );

    // Right and wrong passwords, told apart by the worker (its CPU time grows).
    let before = cpu_ticks(worker);
    for _ in 0..3 {
        let (code, _, body) = login(&http, &base, "worker@example.test", TEST_PASSWORD).await;
        assert_eq!(code, 200, "{body}");
        assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
        let (_, _, body) = login(&http, &base, "worker@example.test", "not the password").await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
            "{body}"
        );
    }
    let used = cpu_ticks(worker) - before;
    assert!(
        used >= 5,
        "six bcrypt-10 checks in the worker: {used} ticks"
    );

    // An unknown email costs what a wrong password does through the worker too (the
    // dummy check goes the same way): alternated, medians of 7.
    let (mut t_unknown, mut t_wrong) = (Vec::new(), Vec::new());
    for _ in 0..7 {
        let t = Instant::now();
        login(&http, &base, "nobody@example.test", "not the password").await;
        t_unknown.push(t.elapsed());
        let t = Instant::now();
        login(&http, &base, "worker@example.test", "not the password").await;
        t_wrong.push(t.elapsed());
    }
    t_unknown.sort();
    t_wrong.sort();
    let ratio = t_unknown[3].as_secs_f64() / t_wrong[3].as_secs_f64();
    assert!(
        (0.4..2.5).contains(&ratio),
        "unknown {:?} vs wrong password {:?}",
        t_unknown[3],
        t_wrong[3]
    );

    // Many at once, right and wrong interleaved: each is answered as its password says.
    let at_once: Vec<_> = (0..12)
        .map(|n| {
            let (http, base) = (http.clone(), base.clone());
            let password = if n % 2 == 0 {
                TEST_PASSWORD
            } else {
                "wrong one"
            };
            tokio::spawn(async move {
                (
                    n,
                    login(&http, &base, "worker@example.test", password).await,
                )
            })
        })
        .collect();
    for one in at_once {
        let (n, (code, _, body)) = one.await.unwrap();
        assert_eq!(code, 200, "{body}");
        let signed_in = body["data"]["login"]["accessToken"].is_string();
        assert_eq!(signed_in, n % 2 == 0, "sign-in {n}: {body}");
    }

    // A new password is hashed by the worker (its CPU time grows) and then checks.
    let (_, _, body) = login(&http, &base, "worker@example.test", TEST_PASSWORD).await;
    let token = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let password = "a brand new passphrase for the worker";
    let before = cpu_ticks(worker);
    let (code, _, body) = gql(
        &http,
        &base,
        Some(&token),
        "mutation($i: ChangePasswordInput!) { changePassword(input: $i) { endedSessions } }",
        json!({ "i": { "currentPassword": TEST_PASSWORD, "newPassword": password } }),
    )
    .await
    .unwrap();
    assert_eq!(code, 200, "{body}");
    assert!(body["errors"].is_null(), "{body}");
    assert!(
        cpu_ticks(worker) > before,
        "the worker hashed the new password"
    );
    let (_, _, body) = login(&http, &base, "worker@example.test", password).await;
    assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
    let (_, _, body) = login(&http, &base, "worker@example.test", TEST_PASSWORD).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{body}"
    );

    // Killed: sign-ins go on (on the server's threads), and a new worker follows.
    assert!(Command::new("kill")
        .args(["-KILL", &worker.to_string()])
        .status()
        .unwrap()
        .success());
    let mut replaced = None;
    let started = Instant::now();
    while replaced.is_none() {
        assert!(started.elapsed() < Duration::from_secs(30), "not replaced");
        let (code, _, body) = login(&http, &base, "worker@example.test", password).await;
        assert_eq!(code, 200, "{body}");
        assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
        replaced = hash_worker_of(server_pid).filter(|p| *p != worker);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let replaced = replaced.unwrap();
    // The killed worker was reaped by the server, not left a zombie.
    assert!(
        stat_fields(&format!("/proc/{worker}/stat")).is_none(),
        "{:?}",
        stat_fields(&format!("/proc/{worker}/stat"))
    );
    let before = cpu_ticks(replaced);
    for _ in 0..3 {
        let (code, _, _) = login(&http, &base, "worker@example.test", password).await;
        assert_eq!(code, 200);
    }
    assert!(cpu_ticks(replaced) > before, "the new worker hashes");

    // It ends with the server (its stdin closes).
    drop(server);
    let gone =
        |pid: u32| stat_fields(&format!("/proc/{pid}/stat")).is_none_or(|fields| fields[0] == "Z");
    wait_until("the worker ends", Duration::from_secs(10), async || {
        gone(replaced)
    })
    .await;

    // At `normal`, no worker: the server's own threads hash.
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut normal = settings.to_vec();
    normal.push(("CRUST_PASSWORD_HASH_PRIORITY", "normal"));
    let server = serve(&db.url, port, &normal);
    wait_until("alive", Duration::from_secs(30), async || {
        status(&http, &format!("{base}/healthz")).await == Some(200)
    })
    .await;
    let (code, _, body) = login(&http, &base, "worker@example.test", password).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(hash_worker_of(server.0.id()), None);
}
