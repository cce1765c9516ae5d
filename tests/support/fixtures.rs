//! Short builders for the objects tests need, all made through the GraphQL API.

use serde_json::{json, Value};

use crate::{Session, TestApp};

fn id(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("expected an id, got {v}"))
        .to_owned()
}

impl TestApp {
    pub async fn create_org(&self, who: &Session, name: &str) -> String {
        let d = self
            .ok(who, "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) { organization { id } } }", json!({ "i": { "name": name } }))
            .await;
        id(&d["createOrganization"]["organization"]["id"])
    }

    /// Adds `who` to the organization as an operator would (`crust org add-member`):
    /// the API only invites (see `e2e::invitations`). `_admin` names who asks, as the
    /// API's callers did; the console needs no one.
    pub async fn add_org_member(&self, _admin: &Session, org: &str, who: &Session, role: &str) {
        let role = match role {
            "OWNER" => crust_domain::OrgRole::Owner,
            "ADMIN" => crust_domain::OrgRole::Admin,
            "MEMBER" => crust_domain::OrgRole::Member,
            "GUEST" => crust_domain::OrgRole::Guest,
            other => panic!("unknown role {other}"),
        };
        let mut conn = self.db.connect();
        crust_dal::orgs::add_member_as_operator(
            &crust_dal::Operator::at_console(),
            &mut conn,
            crust_domain::OrgId(uuid::Uuid::parse_str(org).unwrap()),
            crust_domain::UserId(uuid::Uuid::parse_str(&who.id).unwrap()),
            role,
        )
        .unwrap();
    }

    pub async fn create_workspace(&self, who: &Session, org: &str, name: &str) -> String {
        let d = self
            .ok(who, "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }", json!({ "i": { "organizationId": org, "name": name } }))
            .await;
        id(&d["createWorkspace"]["workspace"]["id"])
    }

    pub async fn create_project(
        &self,
        who: &Session,
        org: &str,
        visibility: &str,
        classification: &str,
    ) -> String {
        let d = self
            .ok(
                who,
                "mutation($i: CreateProjectInput!) { createProject(input: $i) { project { id } } }",
                json!({ "i": { "organizationId": org, "name": format!("{visibility} {classification}"), "visibility": visibility, "classification": classification } }),
            )
            .await;
        id(&d["createProject"]["project"]["id"])
    }

    pub async fn add_project_member(
        &self,
        manager: &Session,
        project: &str,
        who: &Session,
        role: &str,
    ) {
        self.ok(
            manager,
            "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { member { role } } }",
            json!({ "i": { "projectId": project, "userId": who.id, "role": role } }),
        )
        .await;
    }

    pub async fn create_slice(&self, who: &Session, project: &str, name: &str) -> String {
        let d = self
            .ok(
                who,
                "mutation($i: CreateSliceInput!) { createSlice(input: $i) { slice { id } } }",
                json!({ "i": { "projectId": project, "name": name } }),
            )
            .await;
        id(&d["createSlice"]["slice"]["id"])
    }

    /// A board column (a box of a board), the done column when `done`.
    pub async fn create_column(
        &self,
        who: &Session,
        slice: &str,
        name: &str,
        done: bool,
    ) -> String {
        let d = self
            .ok(
                who,
                "mutation($s: ID!, $n: String!, $d: Boolean!) { createBox(input: {sliceId: $s, name: $n, boardColumn: true, doneColumn: $d}) { box { id } } }",
                json!({ "s": slice, "n": name, "d": done }),
            )
            .await;
        id(&d["createBox"]["box"]["id"])
    }

    /// The titles of a box's tasks, in order, as `who` sees them.
    pub async fn box_titles(&self, who: &Session, project: &str, box_id: &str) -> Vec<String> {
        let d = self
            .ok(who, "query($p: ID!) { project(id: $p) { slices { nodes { boxes { nodes { id tasks { nodes { title } } } } } } } }", json!({ "p": project }))
            .await;
        for s in d["project"]["slices"]["nodes"].as_array().unwrap() {
            for bx in s["boxes"]["nodes"].as_array().unwrap() {
                if bx["id"] == box_id {
                    return bx["tasks"]["nodes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|t| t["title"].as_str().unwrap().to_owned())
                        .collect();
                }
            }
        }
        panic!("box {box_id} not found in {d}")
    }

    pub async fn create_box(&self, who: &Session, slice: &str, name: &str) -> String {
        let d = self
            .ok(
                who,
                "mutation($i: CreateBoxInput!) { createBox(input: $i) { box { id } } }",
                json!({ "i": { "sliceId": slice, "name": name } }),
            )
            .await;
        id(&d["createBox"]["box"]["id"])
    }

    pub async fn create_task(
        &self,
        who: &Session,
        project: &str,
        box_id: Option<&str>,
        classification: &str,
    ) -> String {
        let d = self
            .ok(
                who,
                "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
                json!({ "i": { "projectId": project, "boxId": box_id, "title": "A task", "classification": classification } }),
            )
            .await;
        id(&d["createTask"]["task"]["id"])
    }

    pub async fn grant(&self, manager: &Session, task: &str, who: &Session, access: &str) {
        self.ok(
            manager,
            "mutation($i: GrantTaskAccessInput!) { grantTaskAccess(input: $i) { grant { access } } }",
            json!({ "i": { "taskId": task, "userId": who.id, "access": access } }),
        )
        .await;
    }
}
