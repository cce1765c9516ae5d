use super::*;

fn task(title: &str) -> RecipeTask {
    RecipeTask {
        title: title.into(),
        ..RecipeTask::default()
    }
}

fn one_box(tasks: Vec<RecipeTask>) -> Vec<RecipeSlice> {
    vec![RecipeSlice {
        name: "Plan".into(),
        boxes: vec![RecipeBox {
            name: "Box".into(),
            tasks,
            ..RecipeBox::default()
        }],
    }]
}

fn message(r: Result<(), ValidationError>) -> Option<String> {
    r.err().map(|e| e.to_string())
}

#[test]
fn recipe_task_schedule_table() {
    // (start offset, due offset, duration) → problem, if any
    type Row<'a> = (Option<i32>, Option<i32>, Option<i32>, Option<&'a str>);
    let table: [Row; 12] = [
        (None, None, None, None),
        (Some(0), Some(0), Some(1), None),
        (Some(-5), Some(3), None, None),
        (Some(36_500), None, None, None),
        (None, Some(-36_500), None, None),
        (
            Some(36_501),
            None,
            None,
            Some("tasks.startOffsetDays/dueOffsetDays: must be within ±36500 days"),
        ),
        (
            None,
            Some(-36_501),
            None,
            Some("tasks.startOffsetDays/dueOffsetDays: must be within ±36500 days"),
        ),
        (
            None,
            Some(2_000_000_000),
            None,
            Some("tasks.startOffsetDays/dueOffsetDays: must be within ±36500 days"),
        ),
        (
            Some(3),
            Some(2),
            None,
            Some("tasks.dueOffsetDays: \"T\" is due before it starts"),
        ),
        (
            None,
            None,
            Some(0),
            Some("tasks.durationDays: must be at least 1"),
        ),
        (
            None,
            None,
            Some(-3),
            Some("tasks.durationDays: must be at least 1"),
        ),
        // The bound is checked before the order of the dates.
        (
            Some(40_000),
            Some(1),
            Some(0),
            Some("tasks.startOffsetDays/dueOffsetDays: must be within ±36500 days"),
        ),
    ];
    for (start, due, duration, expected) in table {
        let t = RecipeTask {
            start_offset_days: start,
            due_offset_days: due,
            duration_days: duration,
            ..task("T")
        };
        assert_eq!(
            message(check_structure(&one_box(vec![t]))).as_deref(),
            expected,
            "{start:?} {due:?} {duration:?}"
        );
    }
}

#[test]
fn recipe_structure_table() {
    let keyed = |title: &str, key: &str| RecipeTask {
        key: Some(key.into()),
        ..task(title)
    };
    let roled = |role: &str| RecipeTask {
        role: Some(role.into()),
        ..task("T")
    };
    let done = |name: &str| RecipeBox {
        name: name.into(),
        done_column: true,
        ..RecipeBox::default()
    };
    let slice = |name: &str, boxes: Vec<RecipeBox>| RecipeSlice {
        name: name.into(),
        boxes,
    };
    // structure → problem, if any
    let table: Vec<(Vec<RecipeSlice>, Option<String>)> = vec![
        (vec![], None),
        (one_box(vec![task("A"), task("B")]), None),
        (one_box(vec![keyed("A", "a"), keyed("B", "b")]), None),
        (
            one_box(vec![keyed("A", "a"), keyed("B", "a")]),
            Some("tasks.key: \"a\" is used twice".into()),
        ),
        (one_box(vec![roled("Lead")]), None),
        (one_box(vec![roled(&"r".repeat(100))]), None),
        (
            one_box(vec![roled("  ")]),
            Some("tasks.role: 1 to 100 characters".into()),
        ),
        (
            one_box(vec![roled(&"r".repeat(101))]),
            Some("tasks.role: 1 to 100 characters".into()),
        ),
        (
            one_box(vec![task(" ")]),
            Some("tasks.title: must not be empty".into()),
        ),
        (
            vec![slice("", vec![])],
            Some("slices.name: must not be empty".into()),
        ),
        (
            vec![slice("S", vec![RecipeBox::default()])],
            Some("boxes.name: must not be empty".into()),
        ),
        (vec![slice("Board", vec![done("Done")])], None),
        (
            vec![slice("Board", vec![done("Done"), done("Also done")])],
            Some("slices: \"Board\" has more than one done column".into()),
        ),
        // One done column per slice, not per recipe.
        (
            vec![
                slice("A", vec![done("Done")]),
                slice("B", vec![done("Done")]),
            ],
            None,
        ),
        (one_box(vec![task("A"); MAX_RECIPE_TASKS]), None),
        (
            one_box(vec![task("A"); MAX_RECIPE_TASKS + 1]),
            Some("slices: a recipe holds at most 5000 tasks (got 5001)".into()),
        ),
    ];
    for (slices, expected) in table {
        assert_eq!(
            message(check_structure(&slices)),
            expected,
            "{:?}",
            expected
        );
    }
}

#[test]
fn role_casting_table() {
    let (ann, bob) = (UserId(Uuid::from_u128(1)), UserId(Uuid::from_u128(2)));
    let roles: HashSet<&str> = ["Lead", "Designer"].into_iter().collect();
    let c = |role, user, org_role| Casting {
        role,
        user,
        org_role,
    };
    let member = Some(OrgRole::Member);
    // castings → who fills which role, or why not
    type Row<'a> = (Vec<Casting<'a>>, Result<Vec<(&'a str, UserId)>, CastError>);
    let table: Vec<Row> = vec![
        (vec![], Ok(vec![])),
        (
            vec![
                c("Lead", ann, member),
                c("Designer", bob, Some(OrgRole::Owner)),
            ],
            Ok(vec![("Lead", ann), ("Designer", bob)]),
        ),
        // One person in two roles.
        (
            vec![
                c("Lead", ann, Some(OrgRole::Admin)),
                c("Designer", ann, Some(OrgRole::Admin)),
            ],
            Ok(vec![("Lead", ann), ("Designer", ann)]),
        ),
        (
            vec![c("Astronaut", ann, member)],
            Err(CastError::NoSuchRole("Astronaut".into())),
        ),
        // Role names match exactly.
        (
            vec![c("lead", ann, member)],
            Err(CastError::NoSuchRole("lead".into())),
        ),
        (
            vec![c("Designer", bob, Some(OrgRole::Guest))],
            Err(CastError::Guest),
        ),
        (vec![c("Lead", bob, None)], Err(CastError::NotAMember)),
        (
            vec![c("Lead", ann, member), c("Lead", bob, member)],
            Err(CastError::GivenTwice("Lead".into())),
        ),
        // The first problem in the order given: the unknown role before the
        // outsider, the outsider before the guest.
        (
            vec![
                c("Astronaut", bob, None),
                c("Lead", ann, Some(OrgRole::Guest)),
            ],
            Err(CastError::NoSuchRole("Astronaut".into())),
        ),
        (
            vec![
                c("Lead", bob, None),
                c("Designer", ann, Some(OrgRole::Guest)),
            ],
            Err(CastError::NotAMember),
        ),
    ];
    for (castings, expected) in table {
        let expected = expected.map(|pairs| {
            pairs
                .into_iter()
                .map(|(r, u)| (r.to_owned(), u))
                .collect::<HashMap<_, _>>()
        });
        assert_eq!(cast(&roles, &castings), expected, "{castings:?}");
    }
    assert_eq!(
        CastError::Guest.to_string(),
        "assignments: guests cannot fill a role; grant them single tasks"
    );
    assert_eq!(
        CastError::NoSuchRole("Astronaut".into()).to_string(),
        "assignments: the recipe has no role \"Astronaut\""
    );
    assert_eq!(
        CastError::GivenTwice("Lead".into()).to_string(),
        "assignments: role \"Lead\" is given twice"
    );
}

#[test]
fn roles_are_those_the_tasks_use() {
    let with_role = |role: Option<&str>| RecipeTask {
        role: role.map(str::to_owned),
        ..task("T")
    };
    let slices = one_box(vec![
        with_role(Some("Lead")),
        with_role(None),
        with_role(Some("Lead")),
    ]);
    assert_eq!(roles(&slices), HashSet::from(["Lead"]));
    assert!(roles(&[]).is_empty());
}

#[test]
fn offsets_become_dates_table() {
    let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day);
    let start = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap_or_default();
    let off = Err(ValidationError::new(
        "startDate",
        "the recipe's dates would leave the calendar",
    ));
    // (start, offset) → date
    let table = [
        (start, None, Ok(None)),
        (start, Some(0), Ok(d(2027, 3, 1))),
        (start, Some(3), Ok(d(2027, 3, 4))),
        (start, Some(-1), Ok(d(2027, 2, 28))),
        (start, Some(MAX_OFFSET_DAYS), Ok(d(2127, 2, 5))),
        (NaiveDate::MAX, Some(1), off.clone()),
        (NaiveDate::MIN, Some(-1), off),
    ];
    for (start, offset, expected) in table {
        assert_eq!(date_at(start, offset), expected, "{start} {offset:?}");
    }
}

#[test]
fn dates_become_offsets_table() {
    let d = |m, day| NaiveDate::from_ymd_opt(2027, m, day);
    // (project start, tasks' (start, due)) → the base offsets count from
    type Dates = (Option<NaiveDate>, Option<NaiveDate>);
    let table: [(Option<NaiveDate>, Vec<Dates>, Option<NaiveDate>); 5] = [
        (d(3, 1), vec![(d(2, 1), None)], d(3, 1)),
        (None, vec![(d(3, 5), d(3, 9)), (None, d(3, 2))], d(3, 2)),
        // A task's start counts, not its later due date.
        (None, vec![(d(3, 5), d(3, 1))], d(3, 5)),
        (None, vec![(None, None)], None),
        (None, vec![], None),
    ];
    for (project_start, tasks, expected) in table {
        assert_eq!(
            offset_base(project_start, tasks.clone()),
            expected,
            "{project_start:?} {tasks:?}"
        );
    }
    // (date, base) → offset
    let table = [
        (d(3, 4), d(3, 1), Some(3)),
        (d(3, 1), d(3, 1), Some(0)),
        (d(2, 27), d(3, 1), Some(-2)),
        (None, d(3, 1), None),
        (d(3, 1), None, None),
    ];
    for (date, base, expected) in table {
        assert_eq!(offset_of(date, base), expected, "{date:?} {base:?}");
    }
    // A date and its offset round-trip.
    let start = NaiveDate::from_ymd_opt(2027, 3, 1).unwrap_or_default();
    assert_eq!(
        date_at(start, offset_of(d(5, 17), Some(start))),
        Ok(d(5, 17))
    );
}
