//! BI logins on the primary: one organization's rows through the `bi` views only,
//! nothing else readable or writable, the columns pinned, the rollup equal to the API's.
//! (The streaming replica with TLS and pg_hba is issue 12's next step.)

use crust_dal::Operator;
use crust_domain::OrgId;
use crust_e2e::{Session, TestApp};
use diesel::prelude::*;
use serde_json::json;

use crust_e2e::db::try_texts as texts;

fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    texts(conn, &format!("SELECT count(*)::text AS v FROM ({sql}) x")).unwrap()[0]
        .parse()
        .unwrap()
}

/// An organization with a plain project (two tasks, one assigned, one dependency), a
/// SECRET task in it, and a SECRET project; returns (org, plain project).
async fn org_with_work(app: &TestApp, owner: &Session, name: &str) -> (String, String) {
    let org = app.create_org(owner, name).await;
    let project = app
        .create_project(owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let slice = app
        .create_slice(owner, &project, &format!("{name} slice"))
        .await;
    let bx = app.create_box(owner, &slice, &format!("{name} box")).await;
    let a = app
        .create_task(owner, &project, Some(&bx), "CONFIDENTIAL")
        .await;
    let b = app
        .create_task(owner, &project, Some(&bx), "CONFIDENTIAL")
        .await;
    app.create_task(owner, &project, Some(&bx), "SECRET").await;
    app.ok(owner, "mutation($t: ID!, $d: ID!) { addTaskDependency(input: {taskId: $t, dependsOnTaskId: $d}) { task { id } } }", json!({ "t": b, "d": a })).await;
    app.ok(owner, "mutation($t: ID!, $a: [ID!]!) { updateTask(input: {taskId: $t, assigneeIds: $a, status: IN_PROGRESS, progress: 40}) { task { id } } }", json!({ "t": a, "a": [owner.id] })).await;
    let secret = app
        .create_project(owner, &org, "ORGANIZATION", "SECRET")
        .await;
    app.create_task(owner, &secret, None, "CONFIDENTIAL").await;
    (org, project)
}

fn bi_url(app: &TestApp, role: &str) -> String {
    app.db.url.replacen("postgres@", &format!("{role}@"), 1)
}

use crust_dal::bi::VIEWS;

#[tokio::test]
async fn a_bi_login_reads_its_organization_only_and_can_change_nothing() {
    let app = TestApp::start().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (org_a, _) = org_with_work(&app, &alice, "Alpha").await;
    let (org_b, project_b) = org_with_work(&app, &bob, "Bravo").await;
    let op = Operator::at_console();
    let mut admin = app.db.connect();
    let granted = crust_dal::bi::grant(
        &op,
        &mut admin,
        OrgId(org_a.parse().unwrap()),
        &["10.0.0.0/8".into()],
        3,
    )
    .unwrap();
    let mut bi = PgConnection::establish(&bi_url(&app, &granted.role_name)).unwrap();

    // Its organization's rows, SECRET work left out: counts equal the API's for Alpha.
    assert_eq!(count(&mut bi, "SELECT * FROM bi.projects"), 1);
    assert_eq!(
        count(&mut bi, "SELECT * FROM bi.tasks"),
        2,
        "the SECRET task and the SECRET project's task are left out"
    );
    assert_eq!(count(&mut bi, "SELECT * FROM bi.task_assignees"), 1);
    assert_eq!(count(&mut bi, "SELECT * FROM bi.task_dependencies"), 1);
    assert_eq!(count(&mut bi, "SELECT * FROM bi.members"), 1);
    let api = app
        .ok(
            &alice,
            "query($o: ID!) { projects(organizationId: $o) { nodes { name classification } } }",
            json!({ "o": org_a }),
        )
        .await;
    let visible: Vec<_> = api["projects"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["classification"] == "CONFIDENTIAL")
        .collect();
    assert_eq!(
        visible.len() as i64,
        count(&mut bi, "SELECT * FROM bi.projects")
    );
    // Nothing of Bravo in any view.
    for view in VIEWS {
        let rows = texts(
            &mut bi,
            &format!("SELECT row_to_json(v)::text AS v FROM bi.{view} v"),
        )
        .unwrap();
        for row in &rows {
            assert!(
                !row.contains("Bravo") && !row.contains(&org_b) && !row.contains(&project_b),
                "{view}: {row}"
            );
        }
    }
    // No base table, no bookkeeping, no writing, no creating, no other role.
    for table in [
        "tasks",
        "projects",
        "users",
        "bi_logins",
        "audit_events",
        "outbox",
        "email_tokens",
        "sessions",
    ] {
        let err = texts(
            &mut bi,
            &format!("SELECT 'x' AS v FROM public.{table} LIMIT 1"),
        )
        .unwrap_err();
        assert!(err.contains("permission denied"), "{table}: {err}");
    }
    for sql in [
        "INSERT INTO bi.members (user_id, name, role) VALUES (gen_random_uuid(), 'x', 'OWNER')",
        "UPDATE bi.tasks SET title = 'x'",
        "DELETE FROM bi.projects",
        "CREATE TEMP TABLE t (a int)",
        "CREATE TABLE bi.t (a int)",
        "CREATE TABLE public.t (a int)",
        "SET ROLE crust_app",
        "SET ROLE crust_bi_reader",
        "SET SESSION AUTHORIZATION postgres",
    ] {
        let err = diesel::sql_query(sql)
            .execute(&mut bi)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("permission denied") || err.contains("cannot"),
            "{sql}: {err}"
        );
    }
    // The catalog: no powers, owns nothing, no write privilege anywhere, member of
    // crust_bi only, the connection limit set.
    let role = &granted.role_name;
    let facts = texts(&mut admin, &format!(
        "SELECT concat_ws(' ', rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolconnlimit) AS v FROM pg_roles WHERE rolname = '{role}'"
    )).unwrap();
    assert_eq!(facts, ["f f f f f 3"]);
    assert_eq!(count(&mut admin, &format!("SELECT 1 FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner WHERE r.rolname = '{role}'")), 0);
    assert_eq!(count(&mut admin, &format!(
        "SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public' WHERE c.relkind IN ('r', 'p') AND has_table_privilege('{role}', c.oid, 'INSERT,UPDATE,DELETE,TRUNCATE,SELECT')"
    )), 0);
    let member_of = texts(&mut admin, &format!(
        "SELECT g.rolname AS v FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = '{role}'"
    )).unwrap();
    assert_eq!(member_of, ["crust_bi"]);

    // Listed, rotated, revoked; each in Alpha's audit log.
    assert!(crust_dal::bi::list(&op, &mut admin)
        .unwrap()
        .iter()
        .any(|l| &l.role_name == role && l.allow == ["10.0.0.0/8"]));
    let again = crust_dal::bi::grant(&op, &mut admin, OrgId(org_a.parse().unwrap()), &[], 3);
    assert!(again.is_err(), "one login per organization");
    let rotated = crust_dal::bi::rotate(&op, &mut admin, OrgId(org_a.parse().unwrap())).unwrap();
    assert_ne!(rotated.password, granted.password);
    drop(bi);
    crust_dal::bi::revoke(&op, &mut admin, OrgId(org_a.parse().unwrap())).unwrap();
    assert_eq!(
        count(
            &mut admin,
            &format!("SELECT 1 FROM pg_roles WHERE rolname = '{role}'")
        ),
        0
    );
    assert!(
        PgConnection::establish(&bi_url(&app, role)).is_err(),
        "a revoked login cannot connect"
    );
    let actions = texts(&mut admin, &format!("SELECT action AS v FROM audit_events WHERE chain = '{org_a}' AND action LIKE 'bi%' ORDER BY seq")).unwrap();
    assert_eq!(actions, ["biGrant", "biRotate", "biRevoke"]);
    assert_eq!(
        count(
            &mut admin,
            "SELECT 1 FROM audit_events WHERE action = 'biList'"
        ),
        1,
        "listing is recorded too"
    );
}

#[tokio::test]
async fn the_rollup_in_sql_equals_the_api_on_the_same_tasks() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let org = app.create_org(&owner, "Rollup").await;
    let project = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    // DONE (counts 100 whatever), NOT_NEEDED (left out), missing durations (weigh 1).
    let set = |t: String, fields: &'static str| {
        let app = &app;
        let owner = &owner;
        async move {
            app.ok(owner, &format!("mutation($t: ID!) {{ updateTask(input: {{taskId: $t, {fields}}}) {{ task {{ id }} }} }}"), json!({ "t": t })).await;
        }
    };
    for fields in [
        "status: DONE, durationDays: 3",
        "status: IN_PROGRESS, progress: 35",
        "status: NOT_NEEDED, durationDays: 9",
        "status: IN_PROGRESS, progress: 80, durationDays: 2",
        "durationDays: 5",
    ] {
        let t = app
            .create_task(&owner, &project, None, "CONFIDENTIAL")
            .await;
        set(t, fields).await;
    }
    let api = app
        .ok(
            &owner,
            "query($p: ID!) { project(id: $p) { progress } }",
            json!({ "p": project }),
        )
        .await["project"]["progress"]
        .as_f64()
        .unwrap();
    let op = Operator::at_console();
    let mut admin = app.db.connect();
    let granted =
        crust_dal::bi::grant(&op, &mut admin, OrgId(org.parse().unwrap()), &[], 1).unwrap();
    let mut bi = PgConnection::establish(&bi_url(&app, &granted.role_name)).unwrap();
    let sql: f64 = texts(
        &mut bi,
        "SELECT progress::text AS v FROM bi.project_progress",
    )
    .unwrap()[0]
        .parse()
        .unwrap();
    assert!((api - sql).abs() < 1e-3, "API {api} against SQL {sql}");
    // (3×100 + 1×35 + 2×80 + 5×0) / 11
    assert!((sql - 495.0 / 11.0).abs() < 1e-3, "{sql}");
    // Time in status: the IN_PROGRESS tasks went through NOT_STARTED first.
    assert!(count(&mut bi, "SELECT * FROM bi.task_status_history WHERE status = 'NOT_STARTED' AND left_at IS NOT NULL") >= 3);
    drop(bi);
    crust_dal::bi::revoke(&op, &mut admin, OrgId(org.parse().unwrap())).unwrap();
}

/// Column names and types are a contract with customers' reports: a change here must be
/// deliberate (and announced), never a side effect of a refactor.
#[tokio::test]
async fn every_bi_column_is_pinned_and_documented() {
    let app = TestApp::start().await;
    let mut admin = app.db.connect();
    let dictionary = crust_dal::bi::dictionary(&Operator::at_console(), &mut admin).unwrap();
    let got: Vec<String> = dictionary
        .iter()
        .map(|e| format!("{}.{} {}", e.view, e.column, e.data_type))
        .collect();
    let expected = "boxes.id uuid;boxes.slice_id uuid;boxes.slice_name text;boxes.project_id uuid;boxes.project_name text;boxes.name text;boxes.position integer;boxes.board_column boolean;boxes.done_column boolean;\
members.user_id uuid;members.name text;members.role text;members.joined_at timestamp with time zone;\
project_progress.project_id uuid;project_progress.project_name text;project_progress.task_count bigint;project_progress.counted_task_count bigint;project_progress.progress numeric;\
projects.id uuid;projects.name text;projects.status text;projects.workspace_name text;projects.visibility text;projects.start_date date;projects.due_date date;projects.created_at timestamp with time zone;projects.updated_at timestamp with time zone;\
slices.id uuid;slices.project_id uuid;slices.project_name text;slices.name text;slices.position integer;\
sprints.sprint_box_id uuid;sprints.project_id uuid;sprints.project_name text;sprints.name text;sprints.finished_at timestamp with time zone;sprints.task_count bigint;\
task_assignees.task_id uuid;task_assignees.user_id uuid;task_assignees.user_name text;task_assignees.assigned_at timestamp with time zone;\
task_dependencies.task_id uuid;task_dependencies.depends_on_task_id uuid;task_dependencies.dependency_type text;task_dependencies.created_at timestamp with time zone;\
task_status_history.task_id uuid;task_status_history.status text;task_status_history.entered_at timestamp with time zone;task_status_history.left_at timestamp with time zone;task_status_history.hours_in_status numeric;\
tasks.id uuid;tasks.project_id uuid;tasks.project_name text;tasks.slice_id uuid;tasks.slice_name text;tasks.box_id uuid;tasks.box_name text;tasks.title text;tasks.status text;tasks.progress smallint;tasks.start_date date;tasks.due_date date;tasks.duration_days integer;tasks.created_at timestamp with time zone;tasks.updated_at timestamp with time zone";
    assert_eq!(got.join(";"), expected);
    for e in &dictionary {
        assert!(
            e.view_comment.as_deref().is_some_and(|c| !c.is_empty()),
            "bi.{} has no comment",
            e.view
        );
        assert!(
            e.column_comment.as_deref().is_some_and(|c| !c.is_empty()),
            "bi.{}.{} has no comment",
            e.view,
            e.column
        );
    }
    // No function of ours is LEAKPROOF.
    let leakproof = texts(&mut admin, "SELECT p.proname AS v FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proleakproof AND n.nspname IN ('public', 'bi')").unwrap();
    assert!(leakproof.is_empty(), "{leakproof:?}");
    // Every view is a security barrier.
    let plain = texts(&mut admin, "SELECT c.relname AS v FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'bi' WHERE c.relkind = 'v' AND NOT coalesce(c.reloptions @> ARRAY['security_barrier=true'], false)").unwrap();
    assert!(plain.is_empty(), "{plain:?}");
}

/// EXPLAIN ANALYZE counts the rows a filter removed. Were a probe's condition pushed
/// below the views' filters (a security barrier lets leakproof ones such as uuid or text
/// equality through), the count would tell whether a row of another organization, or a
/// SECRET one, matches. The views' OFFSET 0 fence keeps it above: the plan is the same
/// for another tenant's task, a SECRET task of one's own and a task that does not exist.
#[tokio::test]
async fn explain_analyze_tells_nothing_of_rows_a_login_may_not_see() {
    let app = TestApp::start().await;
    let alice = app.user("alice").await;
    let bob = app.user("bob").await;
    let (org_a, project_a) = org_with_work(&app, &alice, "Alpha").await;
    let (_, project_b) = org_with_work(&app, &bob, "Bravo").await;
    let secret = app.create_task(&alice, &project_a, None, "SECRET").await;
    let foreign = app
        .create_task(&bob, &project_b, None, "CONFIDENTIAL")
        .await;
    let op = Operator::at_console();
    let mut admin = app.db.connect();
    let granted =
        crust_dal::bi::grant(&op, &mut admin, OrgId(org_a.parse().unwrap()), &[], 2).unwrap();
    let mut bi = PgConnection::establish(&bi_url(&app, &granted.role_name)).unwrap();
    diesel::sql_query("SET enable_seqscan = off")
        .execute(&mut bi)
        .unwrap();
    let plan = |bi: &mut PgConnection, sql: String| -> String {
        #[derive(QueryableByName)]
        struct Line {
            #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
            line: String,
        }
        diesel::sql_query(format!(
            "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {sql}"
        ))
        .load::<Line>(bi)
        .unwrap()
        .into_iter()
        .map(|l| l.line)
        .collect::<Vec<_>>()
        .join("\n")
    };
    let by_id = |id: &str| format!("SELECT id FROM bi.tasks WHERE id = '{id}'");
    let nothing = plan(&mut bi, by_id(&uuid::Uuid::new_v4().to_string()));
    for probe in [&secret, &foreign] {
        let p = plan(&mut bi, by_id(probe));
        let strip = |s: &str, id: &str| s.replace(id, "ID");
        let other = nothing
            .lines()
            .find(|l| l.contains("::uuid"))
            .unwrap()
            .to_owned();
        let other_id = other.split('\'').nth(1).unwrap().to_owned();
        assert_eq!(
            strip(&p, probe),
            strip(&nothing, &other_id),
            "a probe for {probe} shows in the plan"
        );
    }
    let by_title = |t: &str| {
        format!(
            "SELECT id FROM bi.tasks WHERE title = '{}'",
            t.replace('\'', "''")
        )
    };
    // Titles no visible task has.
    let mut retitle = |id: &str, title: &str| {
        texts(
            &mut admin,
            &format!("UPDATE tasks SET title = '{title}' WHERE id = '{id}' RETURNING title AS v"),
        )
        .unwrap()[0]
            .clone()
    };
    let (secret_title, foreign_title) = (
        retitle(&secret, "Acquisition of Zeta"),
        retitle(&foreign, "Bravo''s plan"),
    );
    let none = plan(&mut bi, by_title("no such title"));
    for t in [&secret_title, &foreign_title] {
        let quoted = t.replace('\'', "''");
        assert_eq!(
            plan(&mut bi, by_title(t)).replace(quoted.as_str(), "T"),
            none.replace("no such title", "T"),
            "{t}"
        );
    }
    // Plain EXPLAIN's estimates come from the tables' statistics, which hold values of
    // every tenant: 60 SECRET tasks of Bravo's and 40 of Alpha's share a title, yet the
    // estimate for it is that of a title no task has.
    texts(&mut admin, &format!("INSERT INTO tasks (org_id, project_id, title, position, classification) SELECT p.org_id, p.id, 'Falcon acquisition', 100 + n, 'SECRET' FROM projects p, generate_series(1, 60) n WHERE p.id = '{project_b}' RETURNING 'x' AS v")).unwrap();
    texts(&mut admin, &format!("INSERT INTO tasks (org_id, project_id, title, position, classification) SELECT p.org_id, p.id, 'Layoffs plan', 200 + n, 'SECRET' FROM projects p, generate_series(1, 40) n WHERE p.id = '{project_a}' RETURNING 'x' AS v")).unwrap();
    diesel::sql_query("ANALYZE tasks, users, projects")
        .execute(&mut admin)
        .unwrap();
    let estimate = |bi: &mut PgConnection, title: &str| -> String {
        #[derive(QueryableByName)]
        struct Line {
            #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
            line: String,
        }
        diesel::sql_query(format!("EXPLAIN SELECT 1 FROM bi.tasks t, generate_series(1, 1000000) g WHERE t.title = '{title}'"))
            .load::<Line>(bi)
            .unwrap()
            .into_iter()
            .map(|l| l.line.replace(title, "T"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let unknown = estimate(&mut bi, "No such title at all");
    for hidden in ["Falcon acquisition", "Layoffs plan"] {
        assert_eq!(estimate(&mut bi, hidden), unknown, "{hidden}");
    }
    drop(bi);
    crust_dal::bi::revoke(&op, &mut admin, OrgId(org_a.parse().unwrap())).unwrap();
}
