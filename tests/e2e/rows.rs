//! Rows read by position (`crust_dal`'s `by_position!`) decode exactly as by name: with
//! the columns in the struct's order, after or before other columns, after a column of
//! the same name as one of the struct's (where by name takes the first), and in any
//! other order.

use crust_dal::models::{Comment, Task, User};
use crust_e2e::db::TestDb;
use diesel::prelude::*;

const TASK: [(&str, &str); 16] = [
    ("id", "'6f1c6a3e-0000-4000-8000-000000000001'::uuid"),
    ("org_id", "'6f1c6a3e-0000-4000-8000-000000000002'::uuid"),
    ("project_id", "'6f1c6a3e-0000-4000-8000-000000000003'::uuid"),
    ("box_id", "NULL::uuid"),
    ("title", "'a title'"),
    ("description", "'a description'"),
    ("status", "'DONE'"),
    ("progress", "40::int2"),
    ("classification", "'SECRET'"),
    ("start_date", "'2026-01-02'::date"),
    ("due_date", "NULL::date"),
    ("duration_days", "3"),
    ("position", "7"),
    ("created_at", "'2026-01-02 03:04:05+00'::timestamptz"),
    ("updated_at", "'2026-02-03 04:05:06+00'::timestamptz"),
    ("recipe_role", "'reviewer'"),
];

fn select(columns: &[(&str, &str)]) -> String {
    let list: Vec<String> = columns.iter().map(|(n, v)| format!("{v} AS {n}")).collect();
    format!("SELECT {}", list.join(", "))
}

fn load<T: QueryableByName<diesel::pg::Pg> + 'static>(conn: &mut PgConnection, sql: &str) -> T {
    diesel::sql_query(sql).get_result::<T>(conn).unwrap()
}

/// Reads `columns` in order (by position) and with two of them swapped (by name): the
/// same value.
fn read_alike<T>(conn: &mut PgConnection, columns: &[(&str, &str)], swap: (usize, usize)) -> T
where
    T: QueryableByName<diesel::pg::Pg> + std::fmt::Debug + 'static,
{
    let in_order: T = load(conn, &select(columns));
    let mut swapped = columns.to_vec();
    swapped.swap(swap.0, swap.1);
    let by_name: T = load(conn, &select(&swapped));
    assert_eq!(format!("{in_order:?}"), format!("{by_name:?}"));
    in_order
}

#[tokio::test]
async fn rows_read_by_position_equal_rows_read_by_name() {
    let db = TestDb::empty().await;
    let mut conn = PgConnection::establish(&db.url).unwrap();

    let in_order: Task = load(&mut conn, &select(&TASK));
    let t = &in_order;
    let read = [
        t.id.to_string(),
        t.project_id.to_string(),
        format!("{:?}", t.box_id),
        t.title.clone(),
        t.description.clone(),
        t.status.to_string(),
        t.classification.to_string(),
        format!("{} {:?} {}", t.progress, t.duration_days, t.position),
        format!("{:?} {:?}", t.start_date, t.due_date),
        t.created_at.to_rfc3339(),
        t.updated_at.to_rfc3339(),
        format!("{:?}", t.recipe_role),
    ];
    let wanted = [
        "6f1c6a3e-0000-4000-8000-000000000001",
        "6f1c6a3e-0000-4000-8000-000000000003",
        "None",
        "a title",
        "a description",
        "DONE",
        "SECRET",
        "40 Some(3) 7",
        "Some(2026-01-02) None",
        "2026-01-02T03:04:05+00:00",
        "2026-02-03T04:05:06+00:00",
        "Some(\"reviewer\")",
    ];
    assert_eq!(read, wanted);
    let expected = format!("{in_order:?}");

    // After other columns (as the dependencies' `parent` and `kind`).
    let mut after = vec![
        ("parent", "'6f1c6a3e-0000-4000-8000-00000000beef'::uuid"),
        ("kind", "'FINISH_TO_START'"),
    ];
    after.extend(TASK);
    let shifted: Task = load(&mut conn, &select(&after));
    assert_eq!(format!("{shifted:?}"), expected);

    // After another `id`: read as by name (diesel takes the first column of a name),
    // not from the run of the task's columns.
    let mut decoy = vec![("id", "'6f1c6a3e-0000-4000-8000-00000000dead'::uuid")];
    decoy.extend(TASK);
    let first_id: Task = load(&mut conn, &select(&decoy));
    assert_eq!(
        first_id.id.to_string(),
        "6f1c6a3e-0000-4000-8000-00000000dead"
    );
    assert_eq!(first_id.title, "a title");

    // Out of order: read by name, the same task.
    let mut reversed = TASK.to_vec();
    reversed.reverse();
    let by_name: Task = load(&mut conn, &select(&reversed));
    assert_eq!(format!("{by_name:?}"), expected);

    // Followed by more columns (as the pages' `parent`, `total`, `rn`).
    let mut before = TASK.to_vec();
    before.push(("total", "12::bigint"));
    let followed: Task = load(&mut conn, &select(&before));
    assert_eq!(format!("{followed:?}"), expected);

    // A stored status or classification the code does not know (the CHECK constraints
    // keep them out of the tables) reads as the least it could grant, in either order.
    let mut unknown = TASK.to_vec();
    unknown[6].1 = "'ARCHIVED'";
    unknown[8].1 = "'PUBLIC'";
    for columns in [unknown.clone(), unknown.iter().rev().copied().collect()] {
        let odd: Task = load(&mut conn, &select(&columns));
        assert_eq!(
            (odd.status(), odd.classification()),
            (
                crust_domain::TaskStatus::NotStarted,
                crust_domain::Classification::Secret
            )
        );
    }

    // A column missing: an error, not a silent default.
    let missing = diesel::sql_query(select(&TASK[..15])).get_result::<Task>(&mut conn);
    assert!(missing.is_err());

    let user = [
        ("id", "'6f1c6a3e-0000-4000-8000-000000000009'::uuid"),
        ("email", "'ann@example.test'"),
        ("name", "'Ann'"),
        ("active", "true"),
        ("created_at", "'2026-01-02 03:04:05+00'::timestamptz"),
    ];
    let ann: User = read_alike(&mut conn, &user, (1, 2));
    assert_eq!(
        (ann.email.as_str(), ann.name.as_str(), ann.active),
        ("ann@example.test", "Ann", true)
    );

    let comment = [
        ("id", "'6f1c6a3e-0000-4000-8000-00000000000a'::uuid"),
        ("task_id", "'6f1c6a3e-0000-4000-8000-000000000001'::uuid"),
        ("org_id", "'6f1c6a3e-0000-4000-8000-000000000002'::uuid"),
        ("author_id", "NULL::uuid"),
        ("body", "'**hi**'"),
        ("created_at", "'2026-01-02 03:04:05+00'::timestamptz"),
        ("edited_at", "'2026-01-03 03:04:05+00'::timestamptz"),
    ];
    let note: Comment = read_alike(&mut conn, &comment, (0, 6));
    assert_eq!((note.body.as_str(), note.author_id), ("**hi**", None));
    assert!(note.edited_at.is_some());
}
