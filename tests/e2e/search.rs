//! Search and "my work": full-text, filters, order; never a hidden task.

use crust_e2e::TestApp;
use serde_json::{json, Value};

async fn titles(body: &Value, at: &str) -> Vec<String> {
    body[at]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn search_finds_filters_orders_and_hides() {
    let app = TestApp::start().await;
    let owner = app.user("owner").await;
    let member = app.user("member").await;
    let org = app.create_org(&owner, "Org").await;
    app.add_org_member(&owner, &org, &member, "MEMBER").await;
    let p = app
        .create_project(&owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let hidden = app
        .create_project(&owner, &org, "MEMBERS", "CONFIDENTIAL")
        .await;
    let make = |project: &str, title: &str, description: &str, due: Option<&str>, class: &str| {
        let (app, owner) = (&app, &owner);
        let input = json!({ "projectId": project, "title": title, "description": description, "dueDate": due, "classification": class });
        async move {
            app.ok(
                owner,
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
                json!({ "i": input }),
            )
            .await["createTask"]["task"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let invoice = make(
        &p,
        "Send the invoice",
        "to the customer",
        Some("2027-02-01"),
        "CONFIDENTIAL",
    )
    .await;
    make(
        &p,
        "Plan the launch party",
        "invoice the caterer later",
        Some("2027-01-10"),
        "CONFIDENTIAL",
    )
    .await;
    make(
        &p,
        "Secret invoice review",
        "",
        Some("2027-01-05"),
        "SECRET",
    )
    .await;
    make(&hidden, "Invoice the board", "", None, "CONFIDENTIAL").await;
    app.ok(&owner, "mutation($t: ID!, $u: ID!) { updateTask(input: {taskId: $t, assigneeIds: [$u], status: IN_PROGRESS}) { task { id } } }",
        json!({ "t": invoice, "u": member.id })).await;

    let q = "query($f: TaskSearchFilter!, $o: TaskOrder!) { tasks(filter: $f, orderBy: $o) { totalCount nodes { title } } }";
    // The member sees neither the SECRET task nor the members-only project's task.
    let d = app
        .ok(
            &member,
            q,
            json!({ "f": { "text": "invoice" }, "o": "DUE_DATE" }),
        )
        .await;
    assert_eq!(d["tasks"]["totalCount"], 2);
    assert_eq!(
        titles(&d, "tasks").await,
        ["Plan the launch party", "Send the invoice"]
    );
    // The owner (listed on the SECRET task, org owner) sees all four.
    let d = app
        .ok(
            &owner,
            q,
            json!({ "f": { "text": "invoice" }, "o": "TITLE" }),
        )
        .await;
    assert_eq!(d["tasks"]["totalCount"], 4, "{d}");
    // Filters.
    let d = app
        .ok(
            &owner,
            q,
            json!({ "f": { "text": "invoice", "status": ["IN_PROGRESS"] }, "o": "TITLE" }),
        )
        .await;
    assert_eq!(titles(&d, "tasks").await, ["Send the invoice"]);
    let d = app.ok(&owner, q, json!({ "f": { "dueBefore": "2027-01-20", "dueAfter": "2027-01-06", "projectId": p }, "o": "DUE_DATE" })).await;
    assert_eq!(titles(&d, "tasks").await, ["Plan the launch party"]);
    let d = app
        .ok(
            &owner,
            q,
            json!({ "f": { "assigneeId": member.id }, "o": "DUE_DATE" }),
        )
        .await;
    assert_eq!(titles(&d, "tasks").await, ["Send the invoice"]);
    let d = app
        .ok(
            &owner,
            q,
            json!({ "f": { "text": "\"launch party\" -caterer" }, "o": "DUE_DATE" }),
        )
        .await;
    assert_eq!(d["tasks"]["totalCount"], 0, "web-search syntax works: {d}");
    // My work.
    let d = app
        .ok(
            &member,
            "{ me { assignedTasks { totalCount nodes { title } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        d["me"]["assignedTasks"]["nodes"][0]["title"],
        "Send the invoice"
    );
    assert_eq!(d["me"]["assignedTasks"]["totalCount"], 1);
}

#[tokio::test]
async fn text_search_uses_an_index() {
    use diesel::prelude::*;
    let app = TestApp::start().await;
    let mut conn = app.db.connect();
    #[derive(QueryableByName)]
    struct Plan {
        #[diesel(sql_type = diesel::sql_types::Text, column_name = "QUERY PLAN")]
        line: String,
    }
    diesel::sql_query("SET enable_seqscan = off")
        .execute(&mut conn)
        .unwrap();
    let plan: Vec<Plan> = diesel::sql_query(
        "EXPLAIN SELECT id FROM tasks WHERE search @@ websearch_to_tsquery('simple', 'invoice')",
    )
    .load(&mut conn)
    .unwrap();
    let text: String = plan
        .into_iter()
        .map(|p| p.line)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("tasks_search_idx"), "{text}");
}
