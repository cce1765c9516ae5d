//! `crust bench`: seeds a scratch database with a project of 6 slices, 30 boxes and
//! 600 tasks and a board whose one column holds 3,000 cards, and measures a `crust
//! serve` of its own: the nested tree query on both, at 8 and 32 clients, each against
//! its SQL ceiling, with CPU per field, memory and a sign-in storm (`bench_reads`);
//! attachments against `cat` (`bench_files`); `updateTask` mutations with the audit log
//! on and off; and the BI views' plans.
//!
//! Over 400 lines on purpose: one command — its seeding and its report — read top to
//! bottom.

use std::time::Instant;

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
/// Accounts the sign-in storm takes turns with: twenty people a second signing in, not
/// one account hammered (whose attempts in flight the lockout would count).
const STORM_ACCOUNTS: usize = 100;

#[derive(clap::Args)]
pub struct Args {
    /// Concurrent clients, one row each (comma-separated); mutations use the first.
    #[arg(long, value_delimiter = ',', default_values_t = [8, 32])]
    clients: Vec<usize>,
    /// Seconds each scenario runs.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// Seed this fraction of the standard sizes (1 = 600 tasks and 3,000 cards); for
    /// quick smoke runs.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Only the read rows (tree queries, ceilings, memory, sign-in storm): for trying
    /// a setting quickly.
    #[arg(long)]
    reads_only: bool,
    /// Keep the scratch database (and the bench's attachment files) afterwards, to
    /// EXPLAIN its statements by hand; the next run drops the database.
    #[arg(long)]
    keep: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    if args.clients.is_empty()
        || args.clients.contains(&0)
        || args.seconds.is_nan()
        || args.seconds < 0.5
    {
        anyhow::bail!("--clients must each be at least 1 and --seconds at least 0.5");
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
    // The sign-in storm's account: a production-cost hash, made once here.
    let mut storm_config = config.clone();
    storm_config.auth.bcrypt_cost = 12;
    let storm_hash = dal(storm_config
        .auth
        .password_hasher()
        .map_err(|e| crust_dal::DalError::Internal(e.to_string()))
        .and_then(|h| {
            h.hash(PASSWORD)
                .map_err(|e| crust_dal::DalError::Internal(e.to_string()))
        }))?;
    let mut storm_emails = Vec::with_capacity(STORM_ACCOUNTS);
    for i in 0..STORM_ACCOUNTS {
        let email = format!("storm{i}@example.test");
        dal(crust_dal::users::create_verified(
            &Operator::at_console(),
            &mut conn,
            &email,
            "Storm",
            &storm_hash,
        ))?;
        storm_emails.push(email);
    }
    // Planner statistics, as autovacuum would have gathered them on a database that has
    // been in use: without them a fresh table reads as empty, and the board's page is
    // sorted from all its cards instead of read through its index.
    diesel::RunQueryDsl::execute(diesel::sql_query("ANALYZE"), &mut conn)?;
    println!(
        "Seeded {} tasks in {:.1} s.",
        sizes.tasks_per_box * 30 + sizes.cards,
        started.elapsed().as_secs_f64()
    );
    drop(conn);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let scenarios = [
        super::bench_reads::Scenario {
            name: format!(
                "project: 6 slices, 30 boxes, {} tasks",
                sizes.tasks_per_box * 30
            ),
            project,
        },
        super::bench_reads::Scenario {
            name: format!("board: one column of {} cards", sizes.cards),
            project: board,
        },
    ];
    let result = rt.block_on(measure(
        &config,
        &args,
        &scenarios,
        &task_ids,
        &storm_emails,
    ));
    let result = result.and_then(|()| match args.reads_only {
        true => Ok(()),
        false => bi_report(&url),
    });
    if args.keep {
        println!(
            "Kept the database {BENCH_DB} (the next run drops it) and the files under {}.",
            config.files.dir.display()
        );
        return result;
    }
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

/// Everything measured against running servers, each a `crust serve` of its own.
async fn measure(
    config: &crust_api::Config,
    args: &Args,
    scenarios: &[super::bench_reads::Scenario],
    task_ids: &[String],
    storm_emails: &[String],
) -> anyhow::Result<()> {
    let http = super::bench_server::http_client()?;
    let server = super::bench_server::serve(config, &[]).await?;
    let token = sign_in(&http, &server.base).await?;
    let pool = crust_dal::build_pool(
        config.database.url.expose(),
        &crust_dal::PoolSettings {
            max_size: config.database.pool_size,
            role: config.database.role.clone(),
            ..Default::default()
        },
    );
    let setup = super::bench_reads::Setup {
        server: &server,
        token: &token,
        pool,
        seconds: args.seconds,
        clients: args.clients.clone(),
        storm_accounts: (storm_emails, PASSWORD),
    };
    super::bench_reads::report(setup, scenarios).await?;
    drop(server);
    if args.reads_only {
        return Ok(());
    }

    let task = task_ids
        .first()
        .ok_or_else(|| anyhow!("no task to attach files to"))?;
    super::bench_files::report(config, task).await?;

    println!();
    println!(
        "{:<42} {:>7} {:>9} {:>9} {:>9} {:>7}",
        "mutations", "clients", "req/s", "p50 ms", "p99 ms", "SQL"
    );
    let mut per_second = Vec::new();
    for audit in ["true", "false"] {
        let server = super::bench_server::serve(config, &[("CRUST_AUDIT_ENABLED", audit)]).await?;
        let name = format!(
            "updateTask, audit {}",
            if audit == "true" { "on" } else { "off" }
        );
        per_second.push(drive_mutations(&server.base, args, &name, task_ids).await?);
    }
    if let [on, off] = per_second[..] {
        println!(
            "mutation throughput with the audit log on is {:.0}% of that with it off (ratio {:.2})",
            100.0 * on / off,
            on / off
        );
    }
    Ok(())
}

/// Each client updates tasks of its own (so clients never wait on one task's lock,
/// only on what they share: the organization's audit chain, the pool). Returns
/// requests per second.
async fn drive_mutations(
    base: &str,
    args: &Args,
    name: &str,
    task_ids: &[String],
) -> anyhow::Result<f64> {
    const UPDATE: &str =
        "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id progress } } }";
    let http = super::bench_server::http_client()?;
    let token = sign_in(&http, base).await?;
    let clients = args.clients[0].min(task_ids.len()).max(1);
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
    let run = super::bench_reads::load(&http, base, &token, args.seconds, clients, request).await?;
    println!(
        "{:<42} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>7}",
        name,
        clients,
        run.per_second(),
        run.percentile(0.5),
        run.percentile(0.99),
        run.sample["extensions"]["sqlStatements"]
            .as_u64()
            .map_or("?".into(), |s| s.to_string())
    );
    Ok(run.per_second())
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
