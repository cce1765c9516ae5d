//! A project's read brings the levels of its tree that the query asks for in the same
//! database hop (`crust_api::graphql::ahead`): fewer hops, the same statements, and
//! the same answers as when each level is loaded on its own — for a caller who sees
//! every task and one from whom a SECRET task is hidden, whatever form the query takes.

use crust_e2e::{Session, TestApp};
use serde_json::{json, Value};

use crate::hidden::{board_on, task};
use crate::plain::{in_a_batch, over_get};

/// The bench's tree, the page of slices from a variable.
const TREE: &str = "query($p: ID!, $n: Int) { project(id: $p) { name progress slices(first: $n) { totalCount nodes { name progress
    boxes(first: 10) { totalCount nodes { name progress tasks(first: 50) { totalCount nodes { title status progress isBlocked
      assignees { name } dependsOn { task { title } } comments(first: 3) { nodes { bodyHtml } } } } } } } } } }";

/// The same tree through a named fragment and inline fragments.
const FRAGMENTS: &str = "query($p: ID!, $n: Int) { project(id: $p) { ...P } }
  fragment P on Project { name ... on Project { progress } slices(first: $n) { totalCount nodes { ...S } } }
  fragment S on Slice { name progress boxes(first: 10) { ... { totalCount } nodes { name progress ...T } } }
  fragment T on Box { tasks(first: 50) { totalCount nodes { title status progress isBlocked
      assignees { name } dependsOn { task { title } } comments(first: 3) { nodes { bodyHtml } } } } }";

/// The project twice, and the organization's projects with their rollups.
const TWICE: &str = "query($p: ID!, $n: Int, $o: ID!) { projects(organizationId: $o, first: 50) { nodes { id progress } }
  a: project(id: $p) { ...P } b: project(id: $p) { ...P } }
  fragment P on Project { name ... on Project { progress } slices(first: $n) { totalCount nodes { ...S } } }
  fragment S on Slice { name progress boxes(first: 10) { ... { totalCount } nodes { name progress ...T } } }
  fragment T on Box { tasks(first: 50) { totalCount nodes { title status progress isBlocked
      assignees { name } dependsOn { task { title } } comments(first: 3) { nodes { bodyHtml } } } } }";

/// A query of the `TREE` kind with its slices from the cursor `$c` on.
fn after_cursor(query: &str) -> String {
    query
        .replacen(
            "query($p: ID!, $n: Int)",
            "query($p: ID!, $n: Int, $c: String)",
            1,
        )
        .replacen("slices(first: $n) {", "slices(first: $n, after: $c) {", 1)
}

/// `TREE` with a level asked a second time (under the alias `again`): reading ahead
/// stops above that level, and the loaders answer it and those below.
fn asked_twice(level: &str) -> String {
    let (field, page) = match level {
        "slices" => ("slices(first: $n) {", "slices(first: 1)"),
        "boxes" => ("boxes(first: 10) {", "boxes(first: 1)"),
        _ => ("tasks(first: 50) {", "tasks(first: 1)"),
    };
    TREE.replacen(field, &format!("again: {page} {{ totalCount }} {field}"), 1)
}

/// The answer without the `again` keys.
fn without_again(v: Value) -> Value {
    without(v, "again")
}

/// The answer without the keys `key`, at any depth.
fn without(mut v: Value, key: &str) -> Value {
    match &mut v {
        Value::Object(map) => {
            map.remove(key);
            for x in map.values_mut() {
                *x = without(x.take(), key);
            }
        }
        Value::Array(items) => {
            for x in items.iter_mut() {
                *x = without(x.take(), key);
            }
        }
        _ => {}
    }
    v
}

/// (data, statements, hops) of one request.
async fn asked(app: &TestApp, who: &Session, query: &str, vars: &Value) -> (Value, u64, u64) {
    let body = app.gql(Some(&who.access), query, vars.clone()).await;
    assert!(body["errors"].is_null(), "{query}: {body}");
    let n = |k: &str| body["extensions"][k].as_u64().unwrap();
    (body["data"].clone(), n("sqlStatements"), n("sqlHops"))
}

/// The titles of every task in the answer, in order.
fn titles(data: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for s in data["project"]["slices"]["nodes"].as_array().unwrap() {
        for b in s["boxes"]["nodes"].as_array().unwrap() {
            for t in b["tasks"]["nodes"].as_array().unwrap() {
                out.push(t["title"].as_str().unwrap().to_owned());
            }
        }
    }
    out
}

/// Alice's and Bob's board (`hidden::board_on`) with more to read — a second task Bob
/// sees, depending on a first; a comment; an empty slice; a box with only Alice's
/// SECRET task (empty for Bob) — and a second project both may read, with one task.
async fn two_projects() -> (crate::hidden::Board, String) {
    let app = TestApp::start_with(|c| {
        c.diagnostics.report_sql_statements = true;
        c.graphql.max_batch = 2;
    })
    .await;
    let b = board_on(app).await;
    let app = &b.app;
    let first = task(app, &b.alice, &b.project, &b.todo, "First", "CONFIDENTIAL").await;
    let second = task(app, &b.bob, &b.project, &b.todo, "Second", "CONFIDENTIAL").await;
    app.ok(
        &b.alice,
        "mutation($t: ID!, $o: ID!) { addTaskDependency(input: {taskId: $t, dependsOnTaskId: $o}) { task { id } } }",
        json!({ "t": second, "o": first }),
    )
    .await;
    app.ok(
        &b.alice,
        "mutation($t: ID!) { addComment(input: {taskId: $t, body: \"**soon**\"}) { comment { id } } }",
        json!({ "t": first }),
    )
    .await;
    app.create_slice(&b.alice, &b.project, "Empty").await;
    let other = app.create_slice(&b.alice, &b.project, "Other").await;
    let hidden_only = app
        .create_column(&b.alice, &other, "Hidden only", false)
        .await;
    task(
        app,
        &b.alice,
        &b.project,
        &hidden_only,
        "Only Alice",
        "SECRET",
    )
    .await;

    let second_project = app
        .create_project(&b.alice, &b.org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    app.add_project_member(&b.alice, &second_project, &b.bob, "EDITOR")
        .await;
    let second_slice = app.create_slice(&b.alice, &second_project, "Board").await;
    let second_box = app
        .create_column(&b.alice, &second_slice, "To do", false)
        .await;
    task(
        app,
        &b.alice,
        &second_project,
        &second_box,
        "Elsewhere",
        "CONFIDENTIAL",
    )
    .await;
    (b, second_project)
}

#[tokio::test]
async fn a_projects_tree_comes_in_one_hop_and_answers_as_level_by_level() {
    let (b, second_project) = two_projects().await;
    let app = &b.app;
    let vars = json!({ "p": b.project, "n": 10 });
    for (who, sees_secret) in [(&b.alice, true), (&b.bob, false)] {
        let (tree, statements, hops) = asked(app, who, TREE, &vars).await;
        // Every level came with the project's read: one hop for the whole tree, and
        // for Alice one more that records her need-to-know reads of the SECRET task.
        assert_eq!(hops, if sees_secret { 2 } else { 1 }, "{tree}");
        let seen = titles(&tree);
        assert_eq!(
            seen.iter().any(|t| t == "Secret" || t == "Only Alice"),
            sees_secret,
            "{seen:?}"
        );
        assert!(seen.contains(&"Second".to_owned()), "{seen:?}");

        // The same answer, with the same statements and hops, through fragments.
        let (by_fragments, s, h) = asked(app, who, FRAGMENTS, &vars).await;
        assert_eq!(by_fragments, tree);
        assert_eq!((s, h), (statements, hops));

        // Level by level (a level asked twice stops reading ahead above it): the same
        // answer, in more hops.
        let mut hops_by_level = Vec::new();
        for level in ["slices", "boxes", "tasks"] {
            let (data, _, h) = asked(app, who, &asked_twice(level), &vars).await;
            assert_eq!(without_again(data), tree, "{level}");
            hops_by_level.push(h);
        }
        assert!(
            hops_by_level.iter().all(|h| *h > hops),
            "{hops_by_level:?} against {hops}"
        );

        // Over GET, and two trees in one batch (each item its own loaders).
        assert_eq!(over_get(app, who, TREE, &vars).await, tree);
        let [one, two] = in_a_batch(app, who, [TREE, FRAGMENTS], &vars).await;
        assert_eq!((one, two), (tree.clone(), tree.clone()));

        // No rollup asked, so no pass: the task pages count their own totals, and
        // agree with the pass's (hidden tasks left out alike).
        let no_rollups = TREE.replace("name progress", "name");
        let (counted, _, h) = asked(app, who, &no_rollups, &vars).await;
        assert_eq!(h, hops);
        assert_eq!(
            without(counted, "progress"),
            without(tree.clone(), "progress")
        );

        // Two projects: the first read reads ahead, the second's levels are the
        // loaders' — each answered as alone.
        let two = format!(
            "query($p: ID!, $q: ID!, $n: Int) {{ a: project(id: $p) {{ ...P }} b: project(id: $q) {{ ...P }} }} {}",
            &FRAGMENTS[FRAGMENTS.find("fragment P").unwrap()..]
        );
        let both = json!({ "p": b.project, "q": second_project, "n": 10 });
        let (pair, _, pair_hops) = asked(app, who, &two, &both).await;
        // One read ahead per request (each holds a connection of its own): the second
        // project is read, and its levels loaded, hop by hop — not in a second hop of
        // its own (two read ahead would be two hops, three for Alice).
        assert!(pair_hops >= 5, "{pair_hops}");
        let alone = json!({ "p": second_project, "n": 10 });
        let (second_alone, _, _) = asked(app, who, TREE, &alone).await;
        assert_eq!(pair["a"], tree["project"]);
        assert_eq!(pair["b"], second_alone["project"]);
        assert_eq!(titles(&second_alone), vec!["Elsewhere".to_owned()]);

        // From a cursor on: as level by level.
        let cursor = app
            .ok(
                who,
                "query($p: ID!) { project(id: $p) { slices(first: 1) { pageInfo { endCursor } } } }",
                json!({ "p": b.project }),
            )
            .await["project"]["slices"]["pageInfo"]["endCursor"]
            .clone();
        let from = json!({ "p": b.project, "n": 2, "c": cursor });
        let (later, _, h) = asked(app, who, &after_cursor(TREE), &from).await;
        assert!(h < hops_by_level[0], "{h}");
        let (by_level, _, _) = asked(app, who, &after_cursor(&asked_twice("slices")), &from).await;
        assert_eq!(without_again(by_level), later);
        assert_eq!(
            later["project"]["slices"]["nodes"]
                .as_array()
                .unwrap()
                .len(),
            2,
            "{later}"
        );

        // The project twice (the first read reads ahead, the second leaves its levels
        // to the loaders), beside the organization's list of projects with their
        // rollups: the same trees, and every rollup answered (a batch of project
        // rollups whose pass had run with the project's read once waited for itself
        // until the deadline).
        for _ in 0..10 {
            let (twice, _, _) = asked(
                app,
                who,
                TWICE,
                &json!({ "p": b.project, "n": 10, "o": b.org }),
            )
            .await;
            assert_eq!(twice["a"], tree["project"]);
            assert_eq!(twice["b"], tree["project"]);
            let listed = twice["projects"]["nodes"].as_array().unwrap();
            let this = listed.iter().find(|p| p["id"] == json!(b.project)).unwrap();
            assert_eq!(this["progress"], tree["project"]["progress"]);
        }

        // A page that is not one (first: -1) is refused as before, by the loaders.
        let body = app
            .gql(Some(&who.access), TREE, json!({ "p": b.project, "n": -1 }))
            .await;
        assert_eq!(
            crust_e2e::error_code(&body),
            Some("BAD_USER_INPUT"),
            "{body}"
        );
        // Worded and placed as level by level, the rest of the answer alike.
        let by_level = app
            .gql(
                Some(&who.access),
                &asked_twice("slices"),
                json!({ "p": b.project, "n": -1 }),
            )
            .await;
        assert_eq!(
            body["errors"][0]["message"],
            by_level["errors"][0]["message"]
        );
        assert_eq!(body["errors"][0]["path"], by_level["errors"][0]["path"]);
        assert_eq!(
            body["data"],
            without_again(by_level["data"].clone()),
            "{body}"
        );
    }
}
