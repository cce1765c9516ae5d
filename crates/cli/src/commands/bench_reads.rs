//! `crust bench`'s read rows: the nested tree query on the big project and on the big
//! board, at 8 and at 32 concurrent clients, against a `crust serve` child process.
//!
//! Each row is set against its **ceiling**: the very SQL statements one such request
//! runs, with the same parameters, through a pool of the same size, by as many
//! concurrent clients, without HTTP or GraphQL (see [`replay`]); the two take turns
//! (see [`TURN_SECONDS`]). It also reports the server's own CPU time per request and
//! per field resolved, SQL statements, round trips and hops to a pooled connection
//! per request, the server's memory at start, at its peak under 32 clients, and idle
//! 5 s and 15 s after its last request, and the board's p99 while 20 sign-ins per second (bcrypt cost 12) run
//! beside it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::anyhow;
use crust_dal::batch::{self, Direction, TaskParent};
use crust_dal::{Actor, DalError, Page, Paged, PgConnection, PgPool, SqlCounts};
use crust_domain::{ProjectId, SessionId, UserId};
use serde_json::{json, Value};
use uuid::Uuid;

use super::bench_server::{cpu_seconds, Server};

pub const TREE_QUERY: &str = "query($p: ID!) { project(id: $p) { name progress slices(first: 10) { nodes { name progress
    boxes(first: 10) { nodes { name progress tasks(first: 50) { totalCount nodes { title status progress isBlocked
      assignees { name } dependsOn { task { title } } comments(first: 3) { nodes { bodyHtml } } } } } } } } } }";

/// One read scenario: its name and the project its tree query asks for.
pub struct Scenario {
    pub name: String,
    pub project: String,
}

/// What one load run measured.
#[derive(Default)]
pub struct Run {
    pub latencies: Vec<Duration>,
    pub elapsed: f64,
    /// The response with the fewest round trips: its extensions say what a request
    /// costs on warm connections. (A connection's first use of a statement prepares it
    /// in a round trip of its own; a ping per checkout would show in every response.)
    pub sample: Value,
}

impl Run {
    pub fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed
    }

    /// Latency percentile `p` (0–1), in ms.
    pub fn percentile(&self, p: f64) -> f64 {
        let mut all = self.latencies.clone();
        all.sort();
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    }

    /// Adds `other`'s requests and time to this run's; keeps the sample with fewer
    /// round trips.
    pub fn absorb(&mut self, other: Run) {
        self.latencies.extend(other.latencies);
        self.elapsed += other.elapsed;
        if !other.sample.is_null()
            && (self.sample.is_null()
                || round_trips(&other.sample["extensions"])
                    < round_trips(&self.sample["extensions"]))
        {
            self.sample = other.sample;
        }
    }

    fn extension(&self, key: &str) -> Option<u64> {
        self.sample["extensions"][key].as_u64()
    }
}

/// What the load generator reads of every answer: whether it has errors, and its
/// extensions (the data is skipped over, not built).
#[derive(serde::Deserialize)]
struct Skim {
    /// Any `errors` key, even `null`, fails the run.
    #[serde(default, deserialize_with = "present")]
    errors: bool,
    /// Skipped over, not built; missing or `null` fails the run.
    data: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    extensions: Value,
}

fn present<'de, D: serde::Deserializer<'de>>(value: D) -> Result<bool, D::Error> {
    <serde::de::IgnoredAny as serde::Deserialize>::deserialize(value).map(|_| true)
}

/// Round trips an answer's extensions report (the most there can be when they do not).
fn round_trips(extensions: &Value) -> u64 {
    extensions["sqlRoundTrips"].as_u64().unwrap_or(u64::MAX)
}

/// Runs `clients` loops for `seconds`, each sending what `request(client, n)` makes,
/// with `token`. Any error in a response ends the run.
pub async fn load<R>(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    seconds: f64,
    clients: usize,
    request: R,
) -> anyhow::Result<Run>
where
    R: Fn(usize, usize) -> Value + Clone + Send + 'static,
{
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut running = Vec::new();
    for client in 0..clients {
        let (http, token, url, request) = (
            http.clone(),
            token.to_owned(),
            format!("{base}/graphql"),
            request.clone(),
        );
        running.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let (mut sample, mut sample_trips) = (None, u64::MAX);
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                let res = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&request(client, n))
                    .send()
                    .await?;
                let status = res.status();
                let body = res.bytes().await?;
                // Up to the last byte received; the answer is checked below.
                latencies.push(t.elapsed());
                n += 1;
                // The load generator shares the machine with the server: it checks each
                // answer for errors and reads its extensions without building the
                // tree, and builds only the sample it keeps.
                let skim: Skim = serde_json::from_slice(&body)?;
                if !status.is_success() || skim.errors || skim.data.is_none() {
                    return Err(anyhow!(
                        "request failed ({status}): {}",
                        String::from_utf8_lossy(&body)
                    ));
                }
                let trips = round_trips(&skim.extensions);
                if sample.is_none() || trips < sample_trips {
                    sample = Some(body);
                    sample_trips = trips;
                }
            }
            let sample = match sample {
                Some(body) => serde_json::from_slice(&body)?,
                None => Value::Null,
            };
            Ok::<_, anyhow::Error>((latencies, sample))
        }));
    }
    let mut run = Run::default();
    for c in running {
        let (latencies, sample) = c.await??;
        run.absorb(Run {
            latencies,
            elapsed: 0.0,
            sample,
        });
    }
    run.elapsed = started.elapsed().as_secs_f64();
    Ok(run)
}

/// Fields a response resolved: every key of every object under `data` (a list's
/// items are resolved as the field that holds them).
fn fields_resolved(value: &Value) -> u64 {
    match value {
        Value::Object(map) => map.values().map(|v| 1 + fields_resolved(v)).sum(),
        Value::Array(items) => items.iter().map(fields_resolved).sum(),
        _ => 0,
    }
}

/// Who the bench's access token speaks for (its claims, read without checking: the
/// bench made it).
fn claims(token: &str) -> anyhow::Result<(SessionId, UserId)> {
    use base64::Engine;
    let payload = token
        .split('.')
        .nth(1)
        .ok_or_else(|| anyhow!("not a JWT"))?;
    let claims: Value =
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload)?)?;
    let id = |k: &str| -> anyhow::Result<Uuid> {
        Ok(claims[k]
            .as_str()
            .ok_or_else(|| anyhow!("no {k} claim"))?
            .parse()?)
    };
    Ok((SessionId(id("sid")?), UserId(id("sub")?)))
}

/// One unit of work on a pooled connection off the executor, as the server's `Db::run`
/// does it; counted into `counts` when given.
async fn run<T, F>(pool: &PgPool, counts: Option<&Arc<SqlCounts>>, f: F) -> anyhow::Result<T>
where
    F: FnOnce(&mut PgConnection) -> crust_dal::DalResult<T> + Send + 'static,
    T: Send + 'static,
{
    let (pool, counts) = (pool.clone(), counts.cloned());
    tokio::task::spawn_blocking(move || {
        let mut conn = pool.get().map_err(|e| anyhow!("{e}"))?;
        if let Some(counts) = counts {
            crust_dal::count_statements(&mut conn, counts);
        }
        let out = f(&mut conn).map_err(|e| anyhow!("{e}"));
        crust_dal::stop_counting(&mut conn);
        out
    })
    .await?
}

/// The SQL of one tree-query request, replayed: the sign-in check, then each level of
/// the tree as the server's DataLoaders fetch it (siblings of a level at once), with
/// the same pages. `counts` counts the statements after the sign-in check (which the
/// server does not count either).
async fn replay(
    pool: &PgPool,
    who: (SessionId, UserId),
    project: Uuid,
    counts: Option<&Arc<SqlCounts>>,
) -> anyhow::Result<()> {
    let actor: Actor = run(pool, None, move |c| {
        let principal =
            crust_dal::sessions::authenticate(c, who.0, who.1)?.ok_or(DalError::NotFound)?;
        Actor::signed_in(c, &principal)
    })
    .await?;
    let a = actor.clone();
    let project = run(pool, counts, move |c| {
        crust_dal::projects::get(c, &a, ProjectId(project))
    })
    .await?;
    // The project's rollup is one pass that also answers its slices' and boxes'
    // rollups and the boxes' task counts; its slices are read beside it.
    let (a, b, ids) = (actor.clone(), actor.clone(), vec![project.id]);
    let (sums, slices) = tokio::try_join!(
        run(pool, counts, move |c| crust_dal::sums::level_sums(
            c,
            &a,
            &[project.id]
        )),
        run(pool, counts, move |c| batch::slices_of_projects(
            c,
            &b,
            &ids,
            Page::first(10)
        )),
    )?;
    let a = actor.clone();
    let slices = children(&slices, |s| s.id);
    let boxes = run(pool, counts, move |c| {
        batch::boxes_of_slices(c, &a, &slices, Page::first(10))
    })
    .await?;
    let boxes = children(&boxes, |b| b.id);
    let known: batch::HashMap<Uuid, i64> = boxes
        .iter()
        .filter_map(|b| Some((*b, *sums.tasks.get(&(TaskParent::Box, *b))?)))
        .collect();
    // The pass answers every box of the project, empty ones too. The page, then what
    // the query asks of its tasks, on one connection (as the tasks' loader fetches
    // them).
    run(pool, counts, move |c| {
        let tasks =
            batch::tasks_of_counted(c, &actor, TaskParent::Box, &boxes, Page::first(50), known)?;
        let ids = children(&tasks, |t| t.id);
        batch::assignees_of_tasks(c, &actor, &ids)?;
        batch::dependencies_of_tasks(c, &actor, &ids, Direction::DependsOn)?;
        batch::comments_of_tasks(c, &actor, &ids, Page::first(3))
    })
    .await?;
    Ok(())
}

/// CPU milliseconds PostgreSQL's backends of this database have used so far: the
/// database's cost, as `cpu_seconds` is the server's (same host; the backends read
/// from `/proc`). A backend that ended meanwhile is missed: the pools keep theirs.
async fn database_cpu_ms(pool: &PgPool) -> Option<f64> {
    #[derive(diesel::QueryableByName)]
    struct Backend {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        pid: i32,
    }
    let pool = pool.clone();
    let pids = tokio::task::spawn_blocking(move || {
        use diesel::RunQueryDsl;
        let mut conn = pool.get().ok()?;
        diesel::sql_query(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .load::<Backend>(&mut *conn)
        .ok()
    })
    .await
    .ok()
    .flatten()?;
    let seconds: f64 = pids
        .iter()
        .filter_map(|b| super::bench_server::cpu_seconds(u32::try_from(b.pid).ok()?))
        .sum();
    Some(seconds * 1000.0)
}

/// The ids of what a level's pages list: the next level's parents.
fn children<T>(pages: &batch::HashMap<Uuid, Paged<T>>, id: fn(&T) -> Uuid) -> Vec<Uuid> {
    pages
        .values()
        .flat_map(|page| page.items.iter().map(id))
        .collect()
}

/// Replays done by `clients` concurrent clients in about `seconds`, and the seconds
/// they took (up to the last one's end).
async fn ceiling(
    pool: &PgPool,
    who: (SessionId, UserId),
    project: Uuid,
    clients: usize,
    seconds: f64,
) -> anyhow::Result<(u64, f64)> {
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(seconds);
    let mut running = Vec::new();
    for _ in 0..clients {
        let pool = pool.clone();
        running.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                replay(&pool, who, project, None).await?;
                n += 1;
            }
            Ok::<_, anyhow::Error>(n)
        }));
    }
    let mut total = 0;
    for r in running {
        total += r.await??;
    }
    Ok((total, started.elapsed().as_secs_f64()))
}

/// How long the row and its ceiling each run before the other takes a turn. Run one
/// after the other, a row and its ceiling met different moments of a shared machine
/// (the board's ratio ranged over 55–90 % for one build); in turns of a few seconds
/// both meet the same ones. A turn ends when its last request does, so a turn much
/// shorter than a request would measure mostly the clients' start and end.
const TURN_SECONDS: f64 = 2.0;

/// `seconds` split into turns of about [`TURN_SECONDS`]: (how many, each one's length).
fn turns(seconds: f64) -> (usize, f64) {
    let n = (seconds / TURN_SECONDS).round().max(1.0) as usize;
    (n, seconds / n as f64)
}

/// `after - before`, when both were measured.
fn spent(before: Option<f64>, after: Option<f64>) -> Option<f64> {
    Some(after? - before?)
}

/// `a + b`, unknown if either is.
fn plus(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? + b?)
}

/// The figures the README's performance section quotes.
pub struct Figures {
    /// (scenario, clients, fraction of the ceiling).
    pub of_ceiling: Vec<(String, usize, f64)>,
}

pub struct Setup<'a> {
    pub server: &'a Server,
    pub token: &'a str,
    /// A pool like the server's, for the ceiling.
    pub pool: PgPool,
    pub seconds: f64,
    pub clients: Vec<usize>,
    /// The cost-12 accounts the sign-in storm signs in as, and their password.
    pub storm_accounts: (&'a [String], &'a str),
}

pub async fn report(setup: Setup<'_>, scenarios: &[Scenario]) -> anyhow::Result<Figures> {
    let Setup {
        server,
        token,
        ref pool,
        seconds,
        ref clients,
        storm_accounts,
    } = setup;
    let http = super::bench_server::http_client()?;
    let base = server.base.as_str();
    let who = claims(token)?;
    let at_start = server.rss_mib();
    let mut figures = Figures {
        of_ceiling: Vec::new(),
    };
    println!();
    println!(
        "Reads: the tree query, {seconds} s per row; `crust serve` as a process of its own ({} cores); the ceiling is the same SQL replayed through a pool of the same size without HTTP or GraphQL, {seconds} s too, taking turns of {:.1} s with its row",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        turns(seconds).1
    );
    println!(
        "{:<40} {:>7} {:>8} {:>8} {:>8} {:>8} {:>6} {:>4} {:>5} {:>4} {:>7} {:>6} {:>6} {:>8} {:>9}",
        "scenario",
        "clients",
        "req/s",
        "p50 ms",
        "p99 ms",
        "ceiling",
        "of it",
        "SQL",
        "trips",
        "hops",
        "SQL CPU",
        "fields",
        "CPU ms",
        "µs/field",
        "client ms"
    );
    let mut board_p99 = None;
    let mut peak = None;
    // When the server last answered a request: idle is measured 5 s after it (the
    // ceilings run meanwhile without the server).
    let mut last_request = Instant::now();
    for &n in clients {
        if n == *clients.iter().max().unwrap_or(&n) {
            server.reset_peak();
        }
        for scenario in scenarios {
            let project = scenario.project.clone();
            let request = move |_: usize, _: usize| json!({ "query": TREE_QUERY, "variables": { "p": project } });
            let project: Uuid = scenario.project.parse()?;
            // The row and its ceiling take turns; the costs (server, PostgreSQL, load
            // generator) are summed over the row's turns only.
            let (count, turn) = turns(seconds);
            let mut run = Run::default();
            let (mut cpu, mut sql_ms, mut client) = (Some(0.0), Some(0.0), Some(0.0));
            let (mut replays, mut replaying) = (0, 0.0);
            for _ in 0..count {
                let (cpu_before, busy_before) = (server.cpu_seconds(), database_cpu_ms(pool).await);
                let client_before = cpu_seconds(std::process::id());
                run.absorb(load(&http, base, token, turn, n, request.clone()).await?);
                last_request = Instant::now();
                client = plus(
                    client,
                    spent(client_before, cpu_seconds(std::process::id())),
                );
                cpu = plus(cpu, spent(cpu_before, server.cpu_seconds()));
                sql_ms = plus(sql_ms, spent(busy_before, database_cpu_ms(pool).await));
                let (done, took) = ceiling(pool, who, project, n, turn).await?;
                (replays, replaying) = (replays + done, replaying + took);
            }
            let requests = run.latencies.len().max(1) as f64;
            let per_request = |total: Option<f64>| total.map(|t| t / requests);
            // The load generator's own CPU: on one machine, it is taken from the server.
            let (client, cpu, sql_ms) =
                (per_request(client), per_request(cpu), per_request(sql_ms));
            let fields = fields_resolved(&run.sample["data"]);
            let ceiling = replays as f64 / replaying;
            let of_ceiling = run.per_second() / ceiling;
            figures
                .of_ceiling
                .push((scenario.name.clone(), n, of_ceiling));
            if scenario.name.starts_with("board") && n == clients[0] {
                board_p99 = Some((scenario.project.clone(), run.percentile(0.99)));
            }
            let statements = run.extension("sqlStatements");
            let round_trips = run.extension("sqlRoundTrips");
            let hops = run.extension("sqlHops");
            println!(
                "{:<40} {:>7} {:>8.1} {:>8.1} {:>8.1} {:>8.1} {:>5.0}% {:>4} {:>5} {:>4} {:>7} {:>6} {:>6} {:>8} {:>9}",
                scenario.name,
                n,
                run.per_second(),
                run.percentile(0.5),
                run.percentile(0.99),
                ceiling,
                100.0 * of_ceiling,
                statements.map_or("?".into(), |s| s.to_string()),
                round_trips.map_or("?".into(), |s| s.to_string()),
                hops.map_or("?".into(), |s| s.to_string()),
                sql_ms.map_or("?".into(), |m| format!("{m:.1}")),
                fields,
                cpu.map_or("?".into(), |c| format!("{:.1}", c * 1000.0)),
                cpu.map_or("?".into(), |c| format!("{:.2}", c * 1e6 / fields.max(1) as f64)),
                client.map_or("?".into(), |c| format!("{:.1}", c * 1000.0)),
            );
            // The replay must be the request's SQL: same number of statements.
            let counts = Arc::new(SqlCounts::default());
            replay(pool, who, project, Some(&counts)).await?;
            if Some(counts.statements() as u64) != statements {
                println!(
                    "  (the ceiling's replay ran {} statements where the request ran {}: it no longer mirrors the request)",
                    counts.statements(),
                    statements.map_or("?".into(), |s| s.to_string())
                );
            }
        }
        if n == *clients.iter().max().unwrap_or(&n) {
            peak = server.peak_mib();
        }
    }
    // Idle 5 s after, as the target is set; and 15 s after, to show what more time
    // alone hands back (the bench before turns read its idle figure ~15 s after).
    tokio::time::sleep_until((last_request + Duration::from_secs(5)).into()).await;
    let idle = server.rss_mib();
    // Part of it is code, mapped from the program's files: pages read once and kept
    // while the kernel has room, not memory the server holds on to.
    let idle_code = server.file_backed_mib();
    tokio::time::sleep_until((last_request + Duration::from_secs(15)).into()).await;
    let later = server.rss_mib();
    let mib = |m: Option<f64>| m.map_or("?".into(), |m| format!("{m:.0} MiB"));
    println!(
        "server memory (RSS): {} at start, {} at its peak under {} clients, {} idle 5 s after its last request ({} of it code and libraries mapped from their files; {} 15 s after)",
        mib(at_start),
        mib(peak),
        clients.iter().max().unwrap_or(&0),
        mib(idle),
        mib(idle_code),
        mib(later)
    );
    if let Some((project, quiet_p99)) = board_p99 {
        storm(
            &http,
            base,
            token,
            &project,
            clients[0],
            seconds,
            quiet_p99,
            storm_accounts,
        )
        .await?;
    }
    Ok(figures)
}

/// The board read by `clients` clients while 20 sign-ins per second (bcrypt cost 12)
/// run beside it: its p99 against the p99 without them.
#[allow(clippy::too_many_arguments)]
async fn storm(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    project: &str,
    clients: usize,
    seconds: f64,
    quiet_p99: f64,
    (emails, password): (&[String], &str),
) -> anyhow::Result<()> {
    const PER_SECOND: u32 = 20;
    let sign_ins = {
        let (http, url) = (http.clone(), format!("{base}/graphql"));
        let (emails, password) = (emails.to_vec(), password.to_owned());
        tokio::spawn(async move {
            let deadline = Instant::now() + Duration::from_secs_f64(seconds);
            let mut every = tokio::time::interval(Duration::from_secs(1) / PER_SECOND);
            let mut sent = Vec::new();
            while Instant::now() < deadline {
                every.tick().await;
                let email = emails
                    .get(sent.len() % emails.len().max(1))
                    .cloned()
                    .unwrap_or_default();
                let body = json!({
                    "query": "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }",
                    "variables": { "e": email, "p": password },
                });
                let (http, url) = (http.clone(), url.clone());
                sent.push(tokio::spawn(async move {
                    let t = Instant::now();
                    let res = http.post(&url).json(&body).send().await?;
                    // More sign-ins than the machine can hash wait their turn, and past
                    // the bounded wait are turned away (503): load shed, as designed.
                    if res.status() == reqwest::StatusCode::SERVICE_UNAVAILABLE {
                        return Ok(None);
                    }
                    let answer: Value = res.json().await?;
                    match answer["data"]["login"]["accessToken"].as_str() {
                        Some(_) => Ok(Some(t.elapsed())),
                        None => Err(anyhow!("a sign-in of the storm failed: {answer}")),
                    }
                }));
            }
            let mut latencies = Vec::new();
            let mut shed = 0;
            for s in sent {
                match s.await?? {
                    Some(latency) => latencies.push(latency),
                    None => shed += 1,
                }
            }
            Ok::<_, anyhow::Error>((latencies, shed))
        })
    };
    let project = project.to_owned();
    let request =
        move |_: usize, _: usize| json!({ "query": TREE_QUERY, "variables": { "p": project } });
    let run = load(http, base, token, seconds, clients, request).await?;
    let (mut logins, shed) = sign_ins.await??;
    logins.sort();
    let p99 = run.percentile(0.99);
    println!(
        "sign-in storm: {PER_SECOND} sign-ins/s offered (bcrypt cost 12) beside the board at {clients} clients: board p99 {p99:.1} ms against {quiet_p99:.1} ms without (ratio {:.2}); {} sign-ins done (median {:.0} ms), {shed} turned away (503)",
        p99 / quiet_p99,
        logins.len(),
        logins.get(logins.len() / 2).map_or(0.0, |d| d.as_secs_f64() * 1000.0),
    );
    Ok(())
}
