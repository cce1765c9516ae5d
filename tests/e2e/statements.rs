//! The nested board query costs the same number of SQL statements whatever the size
//! of the project (DataLoaders batch each level of the tree into one statement).

use crust_dal::tasks::{NewTask, TaskPatch};
use crust_dal::Actor;
use crust_domain::roles::DependencyKind;
use crust_domain::{BoxId, Classification, ProjectId, SliceId, TaskId, UserId};
use crust_e2e::{Session, TestApp};
use serde_json::json;

const NESTED: &str = "query($p: ID!) { project(id: $p) { name slices(first: 10) { nodes { name boxes(first: 10) { nodes { name
    tasks(first: 10) { totalCount nodes { title isBlocked assignees { name } dependsOn { type task { title } } dependents { task { title } }
      comments(first: 3) { totalCount nodes { body bodyHtml author { name } } } } } } } } } } }";

/// A project of `slices` × `boxes` × `tasks` tasks, each assigned, commented four
/// times and depending on the task before it — seeded through the DAL directly.
fn seed(
    app: &TestApp,
    owner: &Session,
    org: &str,
    slices: usize,
    boxes: usize,
    tasks: usize,
) -> String {
    let mut conn = app.db.connect();
    let actor = Actor::for_operator(
        &crust_dal::Operator::at_console(),
        &mut conn,
        UserId(owner.id.parse().unwrap()),
    )
    .unwrap();
    let project = crust_dal::projects::create(
        &mut conn,
        &actor,
        crust_dal::projects::NewProject {
            org: org.parse().unwrap(),
            workspace: None,
            name: format!("{slices}x{boxes}x{tasks}"),
            description: None,
            visibility: crust_domain::Visibility::Organization,
            classification: Classification::Confidential,
            start_date: None,
            due_date: None,
        },
    )
    .unwrap();
    for s in 0..slices {
        let slice = crust_dal::structure::create_slice(
            &mut conn,
            &actor,
            ProjectId(project.id),
            &format!("S{s}"),
        )
        .unwrap();
        for b in 0..boxes {
            let bx = crust_dal::structure::create_box(
                &mut conn,
                &actor,
                SliceId(slice.id),
                &format!("B{b}"),
                Default::default(),
            )
            .unwrap();
            let mut previous: Option<TaskId> = None;
            for t in 0..tasks {
                let task = crust_dal::tasks::create(
                    &mut conn,
                    &actor,
                    NewTask {
                        project: ProjectId(project.id),
                        box_id: Some(BoxId(bx.id)),
                        title: format!("T{s}.{b}.{t}"),
                        description: None,
                        classification: Classification::Confidential,
                        start_date: None,
                        due_date: None,
                        duration_days: None,
                    },
                )
                .unwrap();
                let id = TaskId(task.id);
                let patch = TaskPatch {
                    assignees: Some(vec![actor.user_id()]),
                    ..TaskPatch::default()
                };
                crust_dal::tasks::update(&mut conn, &actor, id, patch).unwrap();
                for c in 0..4 {
                    crust_dal::comments::add(&mut conn, &actor, id, &format!("comment **{c}**"))
                        .unwrap();
                }
                if let Some(prev) = previous {
                    crust_dal::dependencies::add(
                        &mut conn,
                        &actor,
                        id,
                        prev,
                        DependencyKind::FinishToStart,
                    )
                    .unwrap();
                }
                previous = Some(id);
            }
        }
    }
    project.id.to_string()
}

#[tokio::test]
async fn nested_queries_cost_a_fixed_number_of_statements() {
    let app = TestApp::start_with(|c| c.diagnostics.report_sql_statements = true).await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Org").await;
    let small = seed(&app, &owner, &org, 2, 2, 3); // 12 tasks
    let large = seed(&app, &owner, &org, 5, 4, 6); // 120 tasks
    let (small_statements, _, small_tasks) = measure(&app, &owner, &small).await;
    let (large_statements, _, large_tasks) = measure(&app, &owner, &large).await;
    assert_eq!((small_tasks, large_tasks), (12, 120));
    assert_eq!(
        small_statements, large_statements,
        "statements must not grow with the project"
    );
    assert!(
        small_statements <= 12,
        "one statement per level: {small_statements}"
    );
}

/// Statements and round trips of one nested query: (statements, round trips, tasks).
async fn measure(app: &TestApp, owner: &Session, project: &str) -> (u64, u64, usize) {
    let body = app
        .gql(Some(&owner.access), NESTED, json!({ "p": project }))
        .await;
    assert!(body["errors"].is_null(), "{body}");
    let tasks = body["data"]["project"]["slices"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["boxes"]["nodes"].as_array().unwrap().clone())
        .map(|b| b["tasks"]["nodes"].as_array().unwrap().len())
        .sum();
    let n = |k: &str| body["extensions"][k].as_u64().unwrap();
    (n("sqlStatements"), n("sqlRoundTrips"), tasks)
}

/// No `SELECT 1` per checkout: once a connection has prepared a request's statements,
/// the request's round trips are its statements. And a connection whose backend was
/// terminated between two requests is found out at checkout and replaced: the next
/// request succeeds on a new connection (which prepares its statements again).
#[tokio::test]
async fn connections_are_checked_out_without_a_ping_and_dead_ones_are_replaced() {
    let app = TestApp::start_with(|c| {
        c.diagnostics.report_sql_statements = true;
        // One connection, so the terminated backend is certainly the one checked out.
        c.database.pool_size = 1;
    })
    .await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Org").await;
    let project = seed(&app, &owner, &org, 2, 2, 3);
    measure(&app, &owner, &project).await;
    let (statements, round_trips, tasks) = measure(&app, &owner, &project).await;
    assert_eq!(tasks, 12);
    assert_eq!(
        round_trips, statements,
        "a warm connection makes one round trip per statement and none to check it out"
    );

    let mut admin = app.db.connect();
    let backends = |admin: &mut diesel::PgConnection| {
        crust_e2e::db::texts(
            admin,
            "SELECT pid::text AS v FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend' AND $1 = $1",
            "",
        )
    };
    let before = backends(&mut admin);
    assert_eq!(before.len(), 1, "{before:?}");
    // Waits (up to 5 s) until the backend has exited.
    let terminated = crust_e2e::db::texts(
        &mut admin,
        "SELECT pg_terminate_backend(pid::int, 5000)::text AS v FROM unnest(string_to_array($1, ',')) AS pid",
        &before.join(","),
    );
    assert_eq!(terminated, ["true"]);

    let (after_statements, after_round_trips, tasks) = measure(&app, &owner, &project).await;
    assert_eq!(
        tasks, 12,
        "the request after the termination is answered in full"
    );
    assert_eq!(after_statements, statements);
    assert!(
        after_round_trips > after_statements,
        "a new connection prepares its statements again: {after_round_trips} round trips for {after_statements} statements"
    );
    let after = backends(&mut admin);
    assert_eq!(after.len(), 1, "{after:?}");
    assert_ne!(after, before, "the dead connection was replaced");
}
