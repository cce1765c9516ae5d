//! Migrations run up, down and up again, and leave every foreign key indexed.

use crust_e2e::TestDb;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

#[derive(QueryableByName, Debug)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn tables(conn: &mut PgConnection) -> Vec<String> {
    diesel::sql_query("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations' ORDER BY 1")
        .load::<Name>(conn)
        .unwrap()
        .into_iter()
        .map(|n| n.name)
        .collect()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let db = TestDb::empty().await;
    let mut conn = db.connect();
    let applied =
        crust_dal::migrate::run_pending(&crust_dal::Operator::at_console(), &mut conn).unwrap();
    assert_eq!(applied.len(), crust_dal::migrate::embedded_count());
    let expected = [
        "attachments",
        "audit_chain_heads",
        "audit_events",
        "bi_logins",
        "blob_purges",
        "boxes",
        "comments",
        "email_tokens",
        "invitations",
        "memberships",
        "notifications",
        "organizations",
        "outbox",
        "project_members",
        "projects",
        "recipe_boxes",
        "recipe_slices",
        "recipe_task_dependencies",
        "recipe_tasks",
        "recipes",
        "refresh_tokens",
        "sessions",
        "slices",
        "task_assignees",
        "task_dependencies",
        "task_grants",
        "task_status_history",
        "tasks",
        "users",
        "workspaces",
    ];
    assert_eq!(tables(&mut conn), expected);
    assert_eq!(crust_dal::migrate::pending_count(&mut conn).unwrap(), 0);
    crust_dal::migrate::revert_all(&crust_dal::Operator::at_console(), &mut conn).unwrap();
    assert!(
        tables(&mut conn).is_empty(),
        "down migrations drop everything"
    );
    crust_dal::migrate::run_pending(&crust_dal::Operator::at_console(), &mut conn).unwrap();
    assert_eq!(tables(&mut conn), expected);
}

#[tokio::test]
async fn every_foreign_key_has_an_index() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect();
    // A foreign key is covered when some index starts with exactly its columns.
    let missing = diesel::sql_query(
        "SELECT c.conrelid::regclass::text || ' (' || c.conname || ')' AS name
           FROM pg_constraint c
          WHERE c.contype = 'f'
            AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                 WHERE i.indrelid = c.conrelid
                   AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] @> c.conkey
                   AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] <@ c.conkey)
          ORDER BY 1",
    )
    .load::<Name>(&mut conn)
    .unwrap();
    assert!(
        missing.is_empty(),
        "foreign keys without an index: {missing:?}"
    );
}

#[tokio::test]
async fn the_database_protects_its_own_invariants() {
    let db = TestDb::migrated().await;
    let mut conn = db.connect();
    let run = |conn: &mut PgConnection, sql: &str| diesel::sql_query(sql).execute(conn);
    run(
        &mut conn,
        "INSERT INTO users (email, name, password_hash) VALUES ('Ann@example.test', 'Ann', 'x')",
    )
    .unwrap();
    assert!(run(&mut conn, "INSERT INTO users (email, name, password_hash) VALUES ('ann@EXAMPLE.test', 'Ann 2', 'x')").is_err(), "emails are unique case-insensitively");
    run(&mut conn, "INSERT INTO organizations (id, name) VALUES ('00000000-0000-0000-0000-000000000001', 'A'), ('00000000-0000-0000-0000-000000000002', 'B')").unwrap();
    run(&mut conn, "INSERT INTO projects (id, org_id, name) VALUES ('00000000-0000-0000-0000-00000000000a', '00000000-0000-0000-0000-000000000001', 'P')").unwrap();
    let task = |org: &str, progress: i32, status: &str| {
        format!("INSERT INTO tasks (org_id, project_id, title, status, progress, position) VALUES ('{org}', '00000000-0000-0000-0000-00000000000a', 'T', '{status}', {progress}, 0)")
    };
    let a = "00000000-0000-0000-0000-000000000001";
    assert!(
        run(&mut conn, &task(a, 101, "IN_PROGRESS")).is_err(),
        "progress ≤ 100"
    );
    assert!(
        run(&mut conn, &task(a, -1, "IN_PROGRESS")).is_err(),
        "progress ≥ 0"
    );
    assert!(run(&mut conn, &task(a, 50, "DONE")).is_err(), "DONE ⇒ 100");
    assert!(
        run(&mut conn, &task(a, 50, "NOT_STARTED")).is_err(),
        "NOT_STARTED ⇒ 0"
    );
    assert!(
        run(
            &mut conn,
            &task("00000000-0000-0000-0000-000000000002", 0, "NOT_STARTED")
        )
        .is_err(),
        "a task cannot name another org than its project's"
    );
    run(&mut conn, &task(a, 100, "DONE")).unwrap();
    let n: Count = diesel::sql_query("SELECT count(*) AS n FROM tasks")
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(n.n, 1);
}
