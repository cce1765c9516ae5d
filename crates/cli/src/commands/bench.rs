//! `crust bench`: seeds a scratch database with a project of 6 slices, 30 boxes and
//! 600 tasks and a board whose one column holds 3,000 cards, serves it in-process,
//! drives the nested board query with concurrent HTTP clients for a fixed time, and
//! prints requests/s, latency percentiles and SQL statements per request. Then it
//! drives `updateTask` mutations (each client on its own tasks of one organization)
//! with the audit log on and off, and prints the throughput ratio. Last, attachments:
//! upload and download throughput against `cat`, and memory during an upload
//! (`bench_files`).
//!
//! Over 400 lines on purpose: one command — its seeding, its load loop and its report —
//! read top to bottom.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use crust_api::config::Source;
use crust_dal::structure::BoxKind;
use crust_dal::tasks::{NewTask, TaskPatch};
use crust_dal::{Actor, Operator, PgConnection};
use crust_domain::roles::DependencyKind;
use crust_domain::{BoxId, Classification, ProjectId, SliceId, TaskId, UserId, Visibility};
use serde_json::{json, Value};

use crate::postgres;

const BENCH_DB: &str = "crust_bench";
const PASSWORD: &str = "bench-only-password-7f3a";

#[derive(clap::Args)]
pub struct Args {
    /// Concurrent clients.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// Seconds each scenario runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Seed this fraction of the standard sizes (1 = 600 tasks and 3,000 cards); for
    /// quick smoke runs.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
}

const TREE_QUERY: &str = "query($p: ID!) { project(id: $p) { name progress slices(first: 10) { nodes { name progress
    boxes(first: 10) { nodes { name progress tasks(first: 50) { totalCount nodes { title status progress isBlocked
      assignees { name } dependsOn { task { title } } comments(first: 3) { nodes { bodyHtml } } } } } } } } } }";

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.clients == 0 || args.seconds == 0 {
        anyhow::bail!("--clients and --seconds must be at least 1");
    }
    if !(args.scale > 0.0 && args.scale <= 1.0) {
        anyhow::bail!("--scale must be above 0 and at most 1");
    }
    let base = super::load_config()?;
    let server = base.database.url.expose().to_owned();
    let mut admin = crust_dal::establish(
        &crust_dal::Operator::at_console(),
        &postgres::with_database(&server, "postgres")?,
    )
    .context("cannot reach PostgreSQL")?;
    crust_dal::admin::drop_database_if_exists(&Operator::at_console(), &mut admin, BENCH_DB)
        .map_err(|e| anyhow!("{e}"))?;
    crust_dal::admin::create_database_if_missing(&Operator::at_console(), &mut admin, BENCH_DB)
        .map_err(|e| anyhow!("{e}"))?;
    let url = postgres::with_database(&server, BENCH_DB)?;
    let config = bench_config(&url)?;
    let mut conn = crust_dal::establish(&crust_dal::Operator::at_console(), &url)?;
    super::migrate(&mut conn)?;
    println!("Seeding {BENCH_DB} …");
    let started = Instant::now();
    let sizes = Sizes::scaled(args.scale);
    let (project, board, task_ids) = seed(&mut conn, &config, &sizes)?;
    println!(
        "Seeded {} tasks in {:.1} s.",
        sizes.tasks_per_box * 30 + sizes.cards,
        started.elapsed().as_secs_f64()
    );
    drop(conn);

    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let running =
        crust_api::server::spawn(&config, listener, workers).map_err(|e| anyhow!("{e}"))?;
    let base_url = format!("http://{}", running.addr);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let scenarios = [
        (
            format!(
                "project: 6 slices, 30 boxes, {} tasks",
                sizes.tasks_per_box * 30
            ),
            project,
        ),
        (format!("board: one column of {} cards", sizes.cards), board),
    ];
    let result = rt.block_on(drive(&base_url, &args, &scenarios));
    running.stop();
    let result = result.and_then(|()| {
        let task = task_ids
            .first()
            .cloned()
            .ok_or_else(|| anyhow!("no task to attach files to"))?;
        rt.block_on(super::bench_files::report(&config, &task))
    });
    let result = result.and_then(|()| {
        let mut per_second = Vec::new();
        for audit in [true, false] {
            let mut config = config.clone();
            config.audit.enabled = audit;
            let listener = TcpListener::bind("127.0.0.1:0")?;
            let running = crust_api::server::spawn(&config, listener, workers)
                .map_err(|e| anyhow!("{e}"))?;
            let base_url = format!("http://{}", running.addr);
            let name = format!("updateTask, audit {}", if audit { "on" } else { "off" });
            let measured = rt.block_on(drive_mutations(&base_url, &args, &name, &task_ids));
            running.stop();
            per_second.push(measured?);
        }
        if let [on, off] = per_second[..] {
            println!(
                "mutation throughput with the audit log on is {:.0}% of that with it off (ratio {:.2})",
                100.0 * on / off,
                on / off
            );
        }
        bi_report(&url)
    });
    let mut admin = crust_dal::establish(
        &crust_dal::Operator::at_console(),
        &postgres::with_database(&server, "postgres")?,
    )?;
    crust_dal::admin::drop_database_if_exists(&Operator::at_console(), &mut admin, BENCH_DB)
        .map_err(|e| anyhow!("{e}"))?;
    let _ = std::fs::remove_dir_all(&config.files.dir);
    result
}

fn bench_config(url: &str) -> anyhow::Result<crust_api::Config> {
    let secret = format!("bench-{}", uuid::Uuid::new_v4().simple());
    let files_dir = std::env::temp_dir()
        .join(format!("crust-bench-files-{}", std::process::id()))
        .display()
        .to_string();
    let vars = [
        ("CRUST_PROFILE", "test"),
        ("DATABASE_URL", url),
        ("CRUST_JWT_SECRET", secret.as_str()),
        ("CRUST_PASSWORD_PEPPER", secret.as_str()),
        ("CRUST_BCRYPT_COST", "4"),
        ("CRUST_REPORT_SQL_STATEMENTS", "true"),
        ("CRUST_DB_POOL_SIZE", "16"),
        // One user drives every request: the per-user limit would measure itself.
        ("CRUST_RATE_LIMIT_USER_PER_HOUR", "1000000000"),
        ("CRUST_FILES_DIR", files_dir.as_str()),
    ];
    Source::from_vars(
        vars.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
    .and_then(|s| s.load())
    .map_err(|e| anyhow!("{e}"))
}

fn dal<T>(r: crust_dal::DalResult<T>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow!("{e}"))
}

struct Sizes {
    tasks_per_box: usize,
    cards: usize,
}

impl Sizes {
    fn scaled(scale: f64) -> Sizes {
        let at_least_one = |n: f64| (n * scale).round().max(1.0) as usize;
        Sizes {
            tasks_per_box: at_least_one(20.0),
            cards: at_least_one(3000.0),
        }
    }
}

/// Returns (project id, board project id, the project's task ids).
fn seed(
    conn: &mut PgConnection,
    config: &crust_api::Config,
    sizes: &Sizes,
) -> anyhow::Result<(String, String, Vec<String>)> {
    let hasher = config.auth.password_hasher().map_err(|e| anyhow!("{e}"))?;
    let hash = hasher.hash(PASSWORD).map_err(|e| anyhow!("{e}"))?;
    let user = dal(crust_dal::users::create_verified(
        &Operator::at_console(),
        conn,
        "bench@example.test",
        "Bench",
        &hash,
    ))?;
    let actor = dal(Actor::for_operator(
        &Operator::at_console(),
        conn,
        UserId(user.id),
    ))?;
    let org = dal(crust_dal::orgs::create(conn, &actor, "Bench"))?;
    let actor = dal(Actor::for_operator(
        &Operator::at_console(),
        conn,
        UserId(user.id),
    ))?;
    let new_project = |name: &str| crust_dal::projects::NewProject {
        org: crust_domain::OrgId(org.id),
        workspace: None,
        name: name.into(),
        description: None,
        visibility: Visibility::Organization,
        classification: Classification::Confidential,
        start_date: None,
        due_date: None,
    };
    let project = dal(crust_dal::projects::create(
        conn,
        &actor,
        new_project("Big project"),
    ))?;
    let mut task_ids = Vec::new();
    for s in 0..6 {
        let slice = dal(crust_dal::structure::create_slice(
            conn,
            &actor,
            ProjectId(project.id),
            &format!("Slice {s}"),
        ))?;
        for b in 0..5 {
            let bx = dal(crust_dal::structure::create_box(
                conn,
                &actor,
                SliceId(slice.id),
                &format!("Box {s}.{b}"),
                BoxKind::Group,
            ))?;
            task_ids.extend(tasks(
                conn,
                &actor,
                project.id,
                bx.id,
                sizes.tasks_per_box,
                true,
            )?);
        }
    }
    let board = dal(crust_dal::projects::create(
        conn,
        &actor,
        new_project("Big board"),
    ))?;
    let slice = dal(crust_dal::structure::create_slice(
        conn,
        &actor,
        ProjectId(board.id),
        "Board",
    ))?;
    let todo = dal(crust_dal::structure::create_box(
        conn,
        &actor,
        SliceId(slice.id),
        "To do",
        BoxKind::Column,
    ))?;
    dal(crust_dal::structure::create_box(
        conn,
        &actor,
        SliceId(slice.id),
        "Doing",
        BoxKind::Column,
    ))?;
    dal(crust_dal::structure::create_box(
        conn,
        &actor,
        SliceId(slice.id),
        "Done",
        BoxKind::DoneColumn,
    ))?;
    tasks(conn, &actor, board.id, todo.id, sizes.cards, false)?;
    Ok((project.id.to_string(), board.id.to_string(), task_ids))
}

fn tasks(
    conn: &mut PgConnection,
    actor: &Actor,
    project: uuid::Uuid,
    bx: uuid::Uuid,
    n: usize,
    chain: bool,
) -> anyhow::Result<Vec<String>> {
    let mut previous: Option<TaskId> = None;
    let mut ids = Vec::with_capacity(n);
    for t in 0..n {
        let task = dal(crust_dal::tasks::create(
            conn,
            actor,
            NewTask {
                project: ProjectId(project),
                box_id: Some(BoxId(bx)),
                title: format!("Task {t}"),
                description: Some("Some *markdown* description.".into()),
                classification: Classification::Confidential,
                start_date: None,
                due_date: None,
                duration_days: Some(1 + (t % 5) as i32),
            },
        ))?;
        let id = TaskId(task.id);
        ids.push(task.id.to_string());
        let patch = TaskPatch {
            assignees: Some(vec![actor.user_id()]),
            progress: Some((t % 101) as i16),
            ..TaskPatch::default()
        };
        dal(crust_dal::tasks::update(conn, actor, id, patch))?;
        if t % 4 == 0 {
            dal(crust_dal::comments::add(conn, actor, id, "A **comment**."))?;
        }
        if chain {
            if let Some(prev) = previous {
                dal(crust_dal::dependencies::add(
                    conn,
                    actor,
                    id,
                    prev,
                    DependencyKind::FinishToStart,
                ))?;
            }
            previous = Some(id);
        }
    }
    Ok(ids)
}

pub(super) async fn sign_in(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let login: Value = http
        .post(format!("{base}/graphql"))
        .json(&json!({ "query": "mutation($p: String!) { login(input: {email: \"bench@example.test\", password: $p}) { accessToken } }", "variables": { "p": PASSWORD } }))
        .send()
        .await?
        .json()
        .await?;
    Ok(login["data"]["login"]["accessToken"]
        .as_str()
        .ok_or_else(|| anyhow!("login failed: {login}"))?
        .to_owned())
}

/// Each client updates tasks of its own (so clients never wait on one task's lock,
/// only on what they share: the organization's audit chain, the pool).
async fn drive_mutations(
    base: &str,
    args: &Args,
    name: &str,
    task_ids: &[String],
) -> anyhow::Result<f64> {
    const UPDATE: &str =
        "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id progress } } }";
    let http = reqwest::Client::new();
    let token = sign_in(&http, base).await?;
    let clients = args.clients.min(task_ids.len()).max(1);
    let ids = std::sync::Arc::new(task_ids.to_vec());
    let request = move |client: usize, n: usize| {
        // Client c takes the tasks c, c + clients, c + 2 × clients, …
        let mine = (ids.len() - client).div_ceil(clients).max(1);
        let task = ids
            .get(client + (n % mine) * clients)
            .cloned()
            .unwrap_or_default();
        json!({ "query": UPDATE, "variables": { "i": { "taskId": task, "progress": (n % 99) + 1 } } })
    };
    let (latencies, statements, elapsed) =
        load(&http, base, &token, args, clients, request).await?;
    Ok(report_row(name, latencies, elapsed, statements))
}

/// Runs `clients` loops for `--seconds`, each sending what `request(client, n)` makes;
/// returns every latency, the SQL statements per request the responses reported, and
/// the time taken. Any error in a response ends the run.
async fn load<R>(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    args: &Args,
    clients: usize,
    request: R,
) -> anyhow::Result<(Vec<Duration>, Option<u64>, f64)>
where
    R: Fn(usize, usize) -> Value + Clone + Send + 'static,
{
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
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
            let mut statements = None;
            let mut n = 0;
            while Instant::now() < deadline {
                let t = Instant::now();
                let body: Value = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&request(client, n))
                    .send()
                    .await?
                    .json()
                    .await?;
                latencies.push(t.elapsed());
                n += 1;
                if body.get("errors").is_some() {
                    return Err(anyhow!("request failed: {body}"));
                }
                statements = body["extensions"]["sqlStatements"].as_u64().or(statements);
            }
            Ok::<_, anyhow::Error>((latencies, statements))
        }));
    }
    let mut all = Vec::new();
    let mut statements = None;
    for c in running {
        let (lat, st) = c.await??;
        all.extend(lat);
        statements = st.or(statements);
    }
    Ok((all, statements, started.elapsed().as_secs_f64()))
}

/// Prints one row of the report; returns requests per second.
fn report_row(name: &str, mut all: Vec<Duration>, elapsed: f64, statements: Option<u64>) -> f64 {
    all.sort();
    let pct = |p: f64| {
        all.get(((all.len() as f64 * p) as usize).min(all.len().saturating_sub(1)))
            .map_or(0.0, |d| d.as_secs_f64() * 1000.0)
    };
    let per_second = all.len() as f64 / elapsed;
    println!(
        "{:<42} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>14}",
        name,
        all.len(),
        per_second,
        pct(0.50),
        pct(0.99),
        statements.map_or("?".into(), |s| s.to_string())
    );
    per_second
}

async fn drive(base: &str, args: &Args, scenarios: &[(String, String)]) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let token = sign_in(&http, base).await?;
    println!();
    println!(
        "{} clients, {} s per scenario, {} server workers",
        args.clients,
        args.seconds,
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
    );
    println!(
        "{:<42} {:>9} {:>9} {:>9} {:>9} {:>14}",
        "scenario", "requests", "req/s", "p50 ms", "p99 ms", "SQL/request"
    );
    for (name, project) in scenarios {
        let project = project.clone();
        let request =
            move |_: usize, _: usize| json!({ "query": TREE_QUERY, "variables": { "p": project } });
        let (all, statements, elapsed) =
            load(&http, base, &token, args, args.clients, request).await?;
        report_row(name, all, elapsed, statements);
    }
    Ok(())
}

/// Tasks of the organization whose BI views are measured, and of the others beside it.
const BI_TASKS: i64 = 10_000;
const OTHER_TASKS: i64 = 90_000;

/// `EXPLAIN ANALYZE` of `bi.project_progress` and `bi.tasks` as a BI login of an
/// organization with 10,000 tasks among 100,000: one statement each, and the plan shows
/// whether other organizations' rows are read.
fn bi_report(url: &str) -> anyhow::Result<()> {
    let op = Operator::at_console();
    let mut conn = crust_dal::establish(&op, url)?;
    let measured = dal(crust_dal::bi::bulk_organization(
        &op,
        &mut conn,
        "BI measured",
        20,
        BI_TASKS as i32,
    ))?;
    for i in 0..9 {
        dal(crust_dal::bi::bulk_organization(
            &op,
            &mut conn,
            &format!("BI other {i}"),
            20,
            (OTHER_TASKS / 9) as i32,
        ))?;
    }
    let granted = dal(crust_dal::bi::grant(&op, &mut conn, measured, &[], 2))?;
    let bi_url = postgres::with_login(url, &granted.role_name, &granted.password)?;
    let result = (|| -> anyhow::Result<()> {
        let mut bi = crust_dal::establish(&op, &bi_url).context("connecting as the BI login")?;
        println!();
        println!(
            "BI views as one organization's BI login ({BI_TASKS} of its tasks among {} in all):",
            BI_TASKS + OTHER_TASKS
        );
        for view in ["project_progress", "tasks"] {
            let plan = dal(crust_dal::bi::explain(&op, &mut bi, view))?;
            let time = plan
                .iter()
                .find_map(|l| l.trim().strip_prefix("Execution Time: "))
                .unwrap_or("?");
            let index = plan
                .iter()
                .find(|l| l.contains("Index") && l.contains("tasks"))
                .map(|l| l.trim().trim_start_matches("->").trim().to_owned());
            let full_scan = plan.iter().any(|l| l.contains("Seq Scan on tasks"));
            println!("bi.{view}: 1 statement, {time}");
            println!(
                "  tasks read through: {}{}",
                index.as_deref().unwrap_or("no index"),
                if full_scan {
                    " (and a full scan of tasks)"
                } else {
                    "; no full scan of tasks"
                }
            );
        }
        Ok(())
    })();
    dal(crust_dal::bi::revoke(&op, &mut conn, measured))?;
    result
}
