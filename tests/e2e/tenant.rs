//! Cross-tenant probing: the owner of another organization sends every operation at
//! our objects and gets exactly what a missing id gets: NOT_FOUND, the same message,
//! and nothing changed.

use crust_e2e::{error_code, Session, TestApp};
use serde_json::{json, Value};

use crate::operations::{all, Ids};

struct Tenants {
    app: TestApp,
    victim: Session,
    victim_ids: Ids,
    attacker: Session,
    attacker_ids: Ids,
}

async fn org_with_everything(app: &TestApp, owner: &Session, member: &Session) -> Ids {
    let org = app.create_org(owner, "Tenant").await;
    app.add_org_member(owner, &org, member, "MEMBER").await;
    let workspace = app.create_workspace(owner, &org, "WS").await;
    let project = app
        .create_project(owner, &org, "ORGANIZATION", "CONFIDENTIAL")
        .await;
    let slice = app.create_slice(owner, &project, "Plan").await;
    let box_id = app.create_box(owner, &slice, "Todo").await;
    let task = app
        .create_task(owner, &project, Some(&box_id), "CONFIDENTIAL")
        .await;
    let task2 = app
        .create_task(owner, &project, Some(&box_id), "CONFIDENTIAL")
        .await;
    app.grant(owner, &task, member, "VIEW").await;
    let recipe = app
        .ok(owner, "mutation($p: ID!) { saveProjectAsRecipe(input: {projectId: $p, name: \"R\"}) { recipe { id } } }", json!({ "p": project }))
        .await["saveProjectAsRecipe"]["recipe"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let comment = app
        .ok(owner, "mutation($t: ID!) { addComment(input: {taskId: $t, body: \"secret plans\"}) { comment { id } } }", json!({ "t": task }))
        .await["addComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let attachment = crate::attachments::uploaded(
        app,
        owner,
        &task,
        "plans.png",
        crate::attachments::png(1000, 1),
    )
    .await;
    app.ok(owner, "mutation($o: ID!) { inviteToOrganization(input: {organizationId: $o, email: \"invitee@example.test\", role: MEMBER}) { email } }", json!({ "o": org }))
        .await;
    let invitation = app
        .ok(
            owner,
            "query($o: ID!) { organizationInvitations(organizationId: $o) { id } }",
            json!({ "o": org }),
        )
        .await["organizationInvitations"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    Ids {
        invitation,
        org,
        workspace,
        project,
        slice,
        box_id,
        task,
        task2,
        recipe,
        comment,
        attachment,
        user: member.id.clone(),
        user_email: member.email.clone(),
    }
}

async fn setup() -> Tenants {
    let app = TestApp::start().await;
    let victim = app.user("victim").await;
    let victim_member = app.user("victimmember").await;
    let attacker = app.user("attacker").await;
    let attacker_member = app.user("attackermember").await;
    let victim_ids = org_with_everything(&app, &victim, &victim_member).await;
    let attacker_ids = org_with_everything(&app, &attacker, &attacker_member).await;
    Tenants {
        app,
        victim,
        victim_ids,
        attacker,
        attacker_ids,
    }
}

fn shape(body: &Value) -> (Option<String>, Value, Value) {
    (
        error_code(body).map(str::to_owned),
        body["errors"][0]["message"].clone(),
        body["data"].clone(),
    )
}

/// A fingerprint of everything in the victim's organization that the probes could touch.
async fn victim_state(t: &Tenants) -> Value {
    t.app
        .ok(
            &t.victim,
            "query($o: ID!, $t: ID!) {
               organization(id: $o) { name members { totalCount nodes { role user { id } } } workspaces { nodes { id name } }
                 projects { totalCount nodes { id name members { nodes { role user { id } } }
                   slices(first: 5) { nodes { id name boxes(first: 5) { nodes { id name tasks(first: 10) { nodes { id title progress } } } } } } } } }
               task(id: $t) { title progress status startDate assignees { id } grants { access user { id } }
                 dependsOn { task { id } } dependents { task { id } } comments { nodes { body } } }
               recipes(organizationId: $o) { totalCount }
             }",
            json!({ "o": t.victim_ids.org, "t": t.victim_ids.task }),
        )
        .await
}

#[tokio::test]
async fn every_operation_on_another_tenants_ids_answers_like_a_missing_id() {
    let t = setup().await;
    let before = victim_state(&t).await;
    let mut probed = 0;
    for op in all().into_iter().filter(|o| o.targets_tenant) {
        let foreign = t
            .app
            .gql(Some(&t.attacker.access), op.query, (op.vars)(&t.victim_ids))
            .await;
        let missing = t
            .app
            .gql(
                Some(&t.attacker.access),
                op.query,
                (op.vars)(&Ids::missing()),
            )
            .await;
        assert_eq!(
            error_code(&foreign),
            Some("NOT_FOUND"),
            "{}: {foreign}",
            op.field
        );
        assert_eq!(
            shape(&foreign),
            shape(&missing),
            "{} must answer as for a missing id",
            op.field
        );
        probed += 1;
    }
    assert!(probed >= 20);
    assert_eq!(
        victim_state(&t).await,
        before,
        "nothing of the victim changed"
    );
}

#[tokio::test]
async fn own_objects_cannot_be_pointed_at_foreign_ones() {
    let t = setup().await;
    let (mine, theirs) = (&t.attacker_ids, &t.victim_ids);
    let mixed = [
        ("createProject into a foreign workspace", "mutation($i: CreateProjectInput!) { createProject(input: $i) { project { id } } }",
            json!({ "i": { "organizationId": mine.org, "workspaceId": theirs.workspace, "name": "X" } })),
        ("updateProject into a foreign workspace", "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { project { id } } }",
            json!({ "i": { "projectId": mine.project, "workspaceId": theirs.workspace } })),
        ("createTask into a foreign box", "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
            json!({ "i": { "projectId": mine.project, "boxId": theirs.box_id, "title": "X" } })),
        ("addProjectMember of a foreign user", "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { member { role } } }",
            json!({ "i": { "projectId": mine.project, "userId": theirs.user, "role": "VIEWER" } })),
        ("assign a foreign user", "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }",
            json!({ "i": { "taskId": mine.task, "assigneeIds": [theirs.user] } })),
        ("grant a foreign user", "mutation($i: GrantTaskAccessInput!) { grantTaskAccess(input: $i) { grant { access } } }",
            json!({ "i": { "taskId": mine.task, "userId": theirs.user, "access": "EDIT" } })),
        ("revoke a foreign user", "mutation($i: RevokeTaskAccessInput!) { revokeTaskAccess(input: $i) { revokedUserId } }",
            json!({ "i": { "taskId": mine.task, "userId": theirs.user } })),
        ("update a foreign member", "mutation($i: UpdateOrganizationMemberInput!) { updateOrganizationMember(input: $i) { member { role } } }",
            json!({ "i": { "organizationId": mine.org, "userId": theirs.user, "role": "ADMIN" } })),
        ("remove a foreign member", "mutation($i: RemoveOrganizationMemberInput!) { removeOrganizationMember(input: $i) { removedUserId } }",
            json!({ "i": { "organizationId": mine.org, "userId": theirs.user } })),
        ("remove a foreign project member", "mutation($i: RemoveProjectMemberInput!) { removeProjectMember(input: $i) { removedUserId } }",
            json!({ "i": { "projectId": mine.project, "userId": theirs.user } })),
    ];
    for (what, query, vars) in mixed {
        let body = t.app.gql(Some(&t.attacker.access), query, vars).await;
        assert_eq!(error_code(&body), Some("NOT_FOUND"), "{what}: {body}");
    }
}

#[tokio::test]
async fn lists_and_counts_never_include_another_tenant() {
    let t = setup().await;
    let search = t
        .app
        .ok(
            &t.attacker,
            "query($o: ID!) { inOrg: tasks(filter: {organizationId: $o}) { totalCount }
                              words: tasks(filter: {text: \"task\"}) { totalCount }
                              all: tasks { totalCount } }",
            json!({ "o": t.victim_ids.org }),
        )
        .await;
    assert_eq!(
        search["inOrg"]["totalCount"], 0,
        "search never reaches another tenant"
    );
    assert_eq!(
        search["all"]["totalCount"], 2,
        "only the attacker's own two tasks"
    );
    assert_eq!(search["words"]["totalCount"], 2);
    let orgs = t
        .app
        .ok(
            &t.attacker,
            "{ organizations { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(orgs["organizations"]["totalCount"], 1);
    assert_eq!(
        orgs["organizations"]["nodes"][0]["id"],
        t.attacker_ids.org.as_str()
    );
    // A foreign workspace id as a filter on one's own org finds nothing.
    let filtered = t
        .app
        .ok(&t.attacker, "query($o: ID!, $w: ID) { projects(organizationId: $o, workspaceId: $w) { totalCount } }",
            json!({ "o": t.attacker_ids.org, "w": t.victim_ids.workspace }))
        .await;
    assert_eq!(filtered["projects"]["totalCount"], 0);
}
