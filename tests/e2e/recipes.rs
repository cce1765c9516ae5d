//! Recipes: create, make projects from them, save projects back; the round trip keeps
//! the structure; copies never carry comments, grants or SECRET tasks.

use crust_e2e::{error_code, Session, TestApp};
use serde_json::{json, Value};

const PROJECT_TREE: &str = "query($p: ID!) { project(id: $p) { name startDate
    slices(first: 10) { nodes { name boxes(first: 10) { nodes { name boardColumn doneColumn
      tasks(first: 20) { nodes { id title startDate dueDate durationDays recipeRole assignees { id }
        dependsOn { type task { title } } comments { totalCount } } } } } } } } }";

const RECIPE_TREE: &str = "query($r: ID!) { recipe(id: $r) { name slices { name boxes { name boardColumn doneColumn
    tasks { id title startOffsetDays dueOffsetDays durationDays role dependsOn { type taskId } } } } } }";

fn recipe_input(org: &str) -> Value {
    json!({
        "organizationId": org,
        "name": "Website launch",
        "description": "How we launch a site",
        "slices": [
            { "name": "Plan", "boxes": [
                { "name": "Brief", "tasks": [
                    { "key": "brief", "title": "Write the brief", "dueOffsetDays": 3, "durationDays": 3, "role": "Lead" },
                    { "key": "budget", "title": "Agree on budget", "startOffsetDays": 3, "dueOffsetDays": 5, "role": "Lead",
                      "dependsOn": [{ "key": "brief" }] }
                ] }
            ] },
            { "name": "Build", "boxes": [
                { "name": "To do", "boardColumn": true, "tasks": [
                    { "key": "design", "title": "Design", "startOffsetDays": 5, "dueOffsetDays": 12, "role": "Designer",
                      "dependsOn": [{ "key": "budget" }, { "key": "brief", "type": "START_TO_START" }] }
                ] },
                { "name": "Done", "boardColumn": true, "doneColumn": true }
            ] }
        ]
    })
}

async fn setup() -> (TestApp, Session, Session, String) {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let designer = app.user("designer").await;
    let org = app.create_org(&owner, "Org").await;
    app.add_org_member(&owner, &org, &designer, "MEMBER").await;
    (app, owner, designer, org)
}

async fn create_recipe(app: &TestApp, who: &Session, org: &str) -> String {
    let d = app
        .ok(
            who,
            "mutation($i: CreateRecipeInput!) { createRecipe(input: $i) { recipe { id } } }",
            json!({ "i": recipe_input(org) }),
        )
        .await;
    d["createRecipe"]["recipe"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn project_from(
    app: &TestApp,
    who: &Session,
    recipe: &str,
    start: &str,
    assignments: Value,
) -> String {
    let d = app
        .ok(
            who,
            "mutation($i: CreateProjectFromRecipeInput!) { createProjectFromRecipe(input: $i) { project { id } } }",
            json!({ "i": { "recipeId": recipe, "name": "Launch", "startDate": start, "assignments": assignments } }),
        )
        .await;
    d["createProjectFromRecipe"]["project"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The structure of a project without ids (comparable between copies).
fn shape(project: &Value) -> Value {
    let mut slices = Vec::new();
    for s in project["slices"]["nodes"].as_array().unwrap() {
        let mut boxes = Vec::new();
        for b in s["boxes"]["nodes"].as_array().unwrap() {
            let tasks: Vec<Value> = b["tasks"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| {
                    json!([
                        t["title"],
                        t["startDate"],
                        t["dueDate"],
                        t["durationDays"],
                        t["recipeRole"],
                        t["dependsOn"]
                    ])
                })
                .collect();
            boxes.push(json!([b["name"], b["boardColumn"], b["doneColumn"], tasks]));
        }
        slices.push(json!([s["name"], boxes]));
    }
    json!(slices)
}

#[tokio::test]
async fn a_project_made_from_a_recipe_has_its_structure_dates_and_people() {
    let (app, owner, designer, org) = setup().await;
    let recipe = create_recipe(&app, &owner, &org).await;
    let p = project_from(
        &app,
        &owner,
        &recipe,
        "2027-03-01",
        json!([{ "role": "Designer", "userId": designer.id }]),
    )
    .await;
    let d = app.ok(&owner, PROJECT_TREE, json!({ "p": p })).await;
    let project = &d["project"];
    assert_eq!(project["startDate"], "2027-03-01");
    let plan = &project["slices"]["nodes"][0];
    assert_eq!(plan["name"], "Plan");
    let brief = &plan["boxes"]["nodes"][0]["tasks"]["nodes"];
    assert_eq!(brief[0]["title"], "Write the brief");
    assert_eq!(brief[0]["dueDate"], "2027-03-04");
    assert_eq!(brief[1]["startDate"], "2027-03-04");
    assert_eq!(
        brief[1]["dependsOn"],
        json!([{ "type": "FINISH_TO_START", "task": { "title": "Write the brief" } }])
    );
    let build = &project["slices"]["nodes"][1]["boxes"]["nodes"];
    assert_eq!(build[1]["doneColumn"], true);
    let design = &build[0]["tasks"]["nodes"][0];
    assert_eq!(design["recipeRole"], "Designer");
    assert_eq!(design["assignees"], json!([{ "id": designer.id }]));
    assert_eq!(design["dueDate"], "2027-03-13");
    assert_eq!(design["dependsOn"].as_array().unwrap().len(), 2);
    // The unfilled "Lead" role leaves its tasks unassigned.
    assert_eq!(brief[0]["assignees"], json!([]));
    // The designer was made a project member and sees their task.
    let mine = app
        .ok(
            &designer,
            "{ me { assignedTasks { totalCount nodes { title } } } }",
            json!({}),
        )
        .await;
    assert_eq!(mine["me"]["assignedTasks"]["nodes"][0]["title"], "Design");
}

#[tokio::test]
async fn project_to_recipe_to_project_keeps_the_structure() {
    let (app, owner, designer, org) = setup().await;
    let recipe = create_recipe(&app, &owner, &org).await;
    let assignments = json!([{ "role": "Designer", "userId": designer.id }]);
    let first = project_from(&app, &owner, &recipe, "2027-03-01", assignments.clone()).await;
    let saved = app
        .ok(&owner, "mutation($p: ID!) { saveProjectAsRecipe(input: {projectId: $p, name: \"Lessons learned\"}) { recipe { id } } }", json!({ "p": first }))
        .await["saveProjectAsRecipe"]["recipe"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The saved recipe equals the original, ids aside.
    let strip = |r: Value| {
        let text = r.to_string();
        let ids: Vec<String> = r["recipe"]["slices"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["boxes"].as_array().unwrap().clone())
            .flat_map(|b| b["tasks"].as_array().unwrap().clone())
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .collect();
        let mut text = text;
        for (i, id) in ids.iter().enumerate() {
            text = text.replace(id, &format!("task-{i}"));
        }
        serde_json::from_str::<Value>(&text).unwrap()["recipe"]["slices"].clone()
    };
    let original = strip(app.ok(&owner, RECIPE_TREE, json!({ "r": recipe })).await);
    let copy = strip(app.ok(&owner, RECIPE_TREE, json!({ "r": saved })).await);
    assert_eq!(original, copy);
    // And a project from the saved recipe equals the first project.
    let second = project_from(&app, &owner, &saved, "2027-03-01", assignments).await;
    let a = app.ok(&owner, PROJECT_TREE, json!({ "p": first })).await;
    let b = app.ok(&owner, PROJECT_TREE, json!({ "p": second })).await;
    assert_eq!(shape(&a["project"]), shape(&b["project"]));
}

#[tokio::test]
async fn copies_never_carry_comments_grants_or_secret_tasks() {
    let (app, owner, designer, org) = setup().await;
    let guest = app.user("guest").await;
    app.add_org_member(&owner, &org, &guest, "GUEST").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let s = app.create_slice(&owner, &p, "Only").await;
    let b = app.create_box(&owner, &s, "Box").await;
    let t = app.create_task(&owner, &p, Some(&b), "CONFIDENTIAL").await;
    app.create_task(&owner, &p, Some(&b), "SECRET").await;
    app.grant(&owner, &t, &guest, "EDIT").await;
    app.ok(&owner, "mutation($t: ID!) { addComment(input: {taskId: $t, body: \"internal\"}) { comment { id } } }", json!({ "t": t })).await;
    let r = app
        .ok(&owner, "mutation($p: ID!) { saveProjectAsRecipe(input: {projectId: $p, name: \"Copy\"}) { recipe { id } } }", json!({ "p": p }))
        .await["saveProjectAsRecipe"]["recipe"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tree = app.ok(&designer, RECIPE_TREE, json!({ "r": r })).await;
    let tasks = tree["recipe"]["slices"][0]["boxes"][0]["tasks"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(tasks, 1, "the SECRET task stays out of the recipe: {tree}");
    let copy = project_from(&app, &owner, &r, "2027-01-04", json!([])).await;
    let d = app
        .ok(&owner, "query($p: ID!) { project(id: $p) { tasks { nodes { id grants { user { id } } comments { totalCount } } } } }", json!({ "p": copy }))
        .await;
    let task = &d["project"]["tasks"]["nodes"][0];
    assert_eq!(task["grants"], json!([]));
    assert_eq!(task["comments"]["totalCount"], 0);
}

#[tokio::test]
async fn recipe_mistakes_are_explained() {
    let (app, owner, _designer, org) = setup().await;
    let guest = app.user("guest").await;
    app.add_org_member(&owner, &org, &guest, "GUEST").await;
    let mut cyclic = recipe_input(&org);
    cyclic["slices"][0]["boxes"][0]["tasks"][0]["dependsOn"] = json!([{ "key": "design" }]);
    let body = app
        .gql(
            Some(&owner.access),
            "mutation($i: CreateRecipeInput!) { createRecipe(input: $i) { recipe { id } } }",
            json!({ "i": cyclic }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("cycle"));
    let recipe = create_recipe(&app, &owner, &org).await;
    let from = "mutation($i: CreateProjectFromRecipeInput!) { createProjectFromRecipe(input: $i) { project { id } } }";
    for (assignments, expected) in [
        (
            json!([{ "role": "Astronaut", "userId": owner.id }]),
            "no role \"Astronaut\"",
        ),
        (
            json!([{ "role": "Designer", "userId": guest.id }]),
            "guests cannot fill a role",
        ),
    ] {
        let body = app
            .gql(Some(&owner.access), from, json!({ "i": { "recipeId": recipe, "name": "X", "startDate": "2027-01-04", "assignments": assignments } }))
            .await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{body}"
        );
    }
    let mut far = recipe_input(&org);
    far["slices"][0]["boxes"][0]["tasks"][0]["dueOffsetDays"] = json!(2_000_000_000);
    let body = app
        .gql(
            Some(&owner.access),
            "mutation($i: CreateRecipeInput!) { createRecipe(input: $i) { recipe { id } } }",
            json!({ "i": far }),
        )
        .await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let secret = app.create_project(&owner, &org, "MEMBERS", "SECRET").await;
    let body = app
        .gql(Some(&owner.access), "mutation($p: ID!) { saveProjectAsRecipe(input: {projectId: $p, name: \"X\"}) { recipe { id } } }", json!({ "p": secret }))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    // A project VIEWER may not publish the project as a recipe.
    let viewer = app.user("viewer").await;
    app.add_org_member(&owner, &org, &viewer, "MEMBER").await;
    let members_only = app
        .create_project(&owner, &org, "MEMBERS", "CONFIDENTIAL")
        .await;
    app.add_project_member(&owner, &members_only, &viewer, "VIEWER")
        .await;
    let body = app
        .gql(Some(&viewer.access), "mutation($p: ID!) { saveProjectAsRecipe(input: {projectId: $p, name: \"Leak\"}) { recipe { id } } }", json!({ "p": members_only }))
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "{body}");
    // Guests neither list nor read recipes.
    let body = app
        .gql(
            Some(&guest.access),
            "query($o: ID!) { recipes(organizationId: $o) { totalCount } }",
            json!({ "o": org }),
        )
        .await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"));
    let body = app
        .gql(
            Some(&guest.access),
            "query($r: ID!) { recipe(id: $r) { name } }",
            json!({ "r": recipe }),
        )
        .await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
}
