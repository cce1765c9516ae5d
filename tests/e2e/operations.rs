//! One sample request for every root field of the schema, parameterized by the ids it
//! targets. Used to prove that every field needs authentication and that every field
//! taking an id answers NOT_FOUND across tenants. A test fails when a root field is
//! added to the schema without a sample here.

use serde_json::{json, Value};

/// The objects an operation may point at.
#[derive(Clone, Debug)]
pub struct Ids {
    pub org: String,
    pub workspace: String,
    pub project: String,
    pub slice: String,
    pub box_id: String,
    pub task: String,
    /// A second task, for dependencies.
    pub task2: String,
    pub recipe: String,
    /// A comment on `task`.
    pub comment: String,
    /// A file attached to `task`.
    pub attachment: String,
    /// A member of `org` (not the caller).
    pub user: String,
    pub user_email: String,
    /// An open invitation of `org`.
    pub invitation: String,
}

impl Ids {
    /// Well-formed ids that name nothing.
    pub fn missing() -> Ids {
        let r = || uuid::Uuid::new_v4().to_string();
        Ids {
            org: r(),
            workspace: r(),
            project: r(),
            slice: r(),
            box_id: r(),
            task: r(),
            task2: r(),
            recipe: r(),
            comment: r(),
            attachment: r(),
            user: r(),
            user_email: "nobody@example.test".into(),
            invitation: r(),
        }
    }
}

pub struct Op {
    pub field: &'static str,
    pub query: &'static str,
    pub vars: fn(&Ids) -> Value,
    /// Does the operation name an object of a tenant (so must answer NOT_FOUND across)?
    pub targets_tenant: bool,
}

macro_rules! op {
    ($field:literal, $tenant:expr, $query:literal, |$ids:ident| $vars:expr) => {
        Op {
            field: $field,
            query: $query,
            vars: |$ids: &Ids| $vars,
            targets_tenant: $tenant,
        }
    };
}

pub fn all() -> Vec<Op> {
    vec![
        // Queries
        op!("me", false, "{ me { id } }", |_i| json!({})),
        op!("exportMyData", false, "{ exportMyData }", |_i| json!({})),
        op!("organizations", false, "{ organizations { totalCount nodes { id } } }", |_i| json!({})),
        op!("organization", true, "query($id: ID!) { organization(id: $id) { id name } }", |i| json!({ "id": i.org })),
        op!("workspaces", true, "query($o: ID!) { workspaces(organizationId: $o) { totalCount } }", |i| json!({ "o": i.org })),
        op!("projects", true, "query($o: ID!) { projects(organizationId: $o) { totalCount nodes { id } } }", |i| json!({ "o": i.org })),
        op!("project", true, "query($id: ID!) { project(id: $id) { id name } }", |i| json!({ "id": i.project })),
        op!("task", true, "query($id: ID!) { task(id: $id) { id title } }", |i| json!({ "id": i.task })),
        op!("tasks", false, "{ tasks(filter: {text: \"probe\"}) { totalCount } }", |_i| json!({})),
        op!("recipes", true, "query($o: ID!) { recipes(organizationId: $o) { totalCount } }", |i| json!({ "o": i.org })),
        op!("recipe", true, "query($id: ID!) { recipe(id: $id) { id slices { name } } }", |i| json!({ "id": i.recipe })),
        op!("auditEvents", true, "query($o: ID!) { auditEvents(organizationId: $o) { totalCount nodes { action } } }", |i| json!({ "o": i.org })),
        // Sign-in
        op!("organizationInvitations", true, "query($o: ID!) { organizationInvitations(organizationId: $o) { id email } }", |i| json!({ "o": i.org })),
        op!("signUp", false, "mutation { signUp(input: {email: \"x@example.test\", password: \"short\", name: \"X\"}) { accepted } }", |_i| json!({})),
        op!("verifyEmail", false, "mutation { verifyEmail(input: {token: \"not-a-token\", password: \"whatever it was\"}) { accessToken } }", |_i| json!({})),
        op!("resendVerification", false, "mutation { resendVerification(input: {email: \"x@example.test\"}) { accepted } }", |_i| json!({})),
        op!("requestPasswordReset", false, "mutation { requestPasswordReset(input: {email: \"x@example.test\"}) { accepted } }", |_i| json!({})),
        op!("resetPassword", false, "mutation { resetPassword(input: {token: \"not-a-token\", password: \"a brand new passphrase\"}) { endedSessions } }", |_i| json!({})),
        op!("confirmEmailChange", false, "mutation { confirmEmailChange(input: {token: \"not-a-token\"}) { changed } }", |_i| json!({})),
        op!("acceptInvitation", false, "mutation { acceptInvitation(input: {token: \"not-a-token\"}) { organizationId } }", |_i| json!({})),
        op!("login", false, "mutation { login(input: {email: \"x@example.test\", password: \"whatever\"}) { accessToken } }", |_i| json!({})),
        op!("refreshSession", false, "mutation { refreshSession(input: {refreshToken: \"x\"}) { accessToken } }", |_i| json!({})),
        op!("logout", false, "mutation { logout { revoked } }", |_i| json!({})),
        op!("changeEmail", false, "mutation { changeEmail(input: {password: \"not the password\", newEmail: \"new@example.test\"}) { message } }", |_i| json!({})),
        op!("markNotificationsRead", false, "mutation { markNotificationsRead(input: {}) { marked } }", |_i| json!({})),
        op!("updateNotificationSettings", false, "mutation { updateNotificationSettings(input: {taskReadyEmail: true}) { settings { taskReadyEmail } } }", |_i| json!({})),
        op!("changePassword", false, "mutation { changePassword(input: {currentPassword: \"not the password\", newPassword: \"a brand new passphrase\"}) { endedSessions } }", |_i| json!({})),
        op!("deleteMyAccount", false, "mutation { deleteMyAccount(input: {password: \"not the password\"}) { message } }", |_i| json!({})),
        op!("revokeSession", false, "mutation($s: ID!) { revokeSession(input: {sessionId: $s}) { revokedSessionId } }", |_i| json!({ "s": uuid::Uuid::new_v4().to_string() })),
        // Organizations
        op!("createOrganization", false, "mutation { createOrganization(input: {name: \"Probe\"}) { organization { id } } }", |_i| json!({})),
        op!("inviteToOrganization", true, "mutation($i: InviteToOrganizationInput!) { inviteToOrganization(input: $i) { email } }",
            |i| json!({ "i": { "organizationId": i.org, "email": i.user_email, "role": "MEMBER" } })),
        op!("revokeInvitation", true, "mutation($i: ID!) { revokeInvitation(input: {invitationId: $i}) { revokedInvitationId } }",
            |i| json!({ "i": i.invitation })),
        op!("resendInvitation", true, "mutation($i: ID!) { resendInvitation(input: {invitationId: $i}) { invitation { id } } }",
            |i| json!({ "i": i.invitation })),
        op!("updateOrganizationMember", true, "mutation($i: UpdateOrganizationMemberInput!) { updateOrganizationMember(input: $i) { member { role } } }",
            |i| json!({ "i": { "organizationId": i.org, "userId": i.user, "role": "ADMIN" } })),
        op!("removeOrganizationMember", true, "mutation($i: RemoveOrganizationMemberInput!) { removeOrganizationMember(input: $i) { removedUserId } }",
            |i| json!({ "i": { "organizationId": i.org, "userId": i.user } })),
        op!("deactivateMember", true, "mutation($i: DeactivateMemberInput!) { deactivateMember(input: $i) { deactivatedUserId } }",
            |i| json!({ "i": { "organizationId": i.org, "userId": i.user } })),
        op!("createWorkspace", true, "mutation($i: CreateWorkspaceInput!) { createWorkspace(input: $i) { workspace { id } } }",
            |i| json!({ "i": { "organizationId": i.org, "name": "Probe" } })),
        op!("updateWorkspace", true, "mutation($i: UpdateWorkspaceInput!) { updateWorkspace(input: $i) { workspace { id } } }",
            |i| json!({ "i": { "workspaceId": i.workspace, "name": "Renamed" } })),
        op!("deleteWorkspace", true, "mutation($i: DeleteWorkspaceInput!) { deleteWorkspace(input: $i) { deletedWorkspaceId } }",
            |i| json!({ "i": { "workspaceId": i.workspace } })),
        // Projects
        op!("createProject", true, "mutation($i: CreateProjectInput!) { createProject(input: $i) { project { id } } }",
            |i| json!({ "i": { "organizationId": i.org, "name": "Probe" } })),
        op!("updateProject", true, "mutation($i: UpdateProjectInput!) { updateProject(input: $i) { project { id } } }",
            |i| json!({ "i": { "projectId": i.project, "name": "Renamed" } })),
        op!("deleteProject", true, "mutation($i: DeleteProjectInput!) { deleteProject(input: $i) { deletedProjectId } }",
            |i| json!({ "i": { "projectId": i.project } })),
        op!("addProjectMember", true, "mutation($i: AddProjectMemberInput!) { addProjectMember(input: $i) { member { role } } }",
            |i| json!({ "i": { "projectId": i.project, "userId": i.user, "role": "VIEWER" } })),
        op!("removeProjectMember", true, "mutation($i: RemoveProjectMemberInput!) { removeProjectMember(input: $i) { removedUserId } }",
            |i| json!({ "i": { "projectId": i.project, "userId": i.user } })),
        op!("createSlice", true, "mutation($i: CreateSliceInput!) { createSlice(input: $i) { slice { id } } }",
            |i| json!({ "i": { "projectId": i.project, "name": "Probe" } })),
        op!("createBox", true, "mutation($i: CreateBoxInput!) { createBox(input: $i) { box { id } } }",
            |i| json!({ "i": { "sliceId": i.slice, "name": "Probe" } })),
        // Tasks
        op!("createTask", true, "mutation($i: CreateTaskInput!) { createTask(input: $i) { task { id } } }",
            |i| json!({ "i": { "projectId": i.project, "boxId": i.box_id, "title": "Probe" } })),
        op!("updateTask", true, "mutation($i: UpdateTaskInput!) { updateTask(input: $i) { task { id } } }",
            |i| json!({ "i": { "taskId": i.task, "progress": 50 } })),
        op!("deleteTask", true, "mutation($i: DeleteTaskInput!) { deleteTask(input: $i) { deletedTaskId } }",
            |i| json!({ "i": { "taskId": i.task } })),
        op!("grantTaskAccess", true, "mutation($i: GrantTaskAccessInput!) { grantTaskAccess(input: $i) { grant { access } } }",
            |i| json!({ "i": { "taskId": i.task, "userId": i.user, "access": "VIEW" } })),
        op!("revokeTaskAccess", true, "mutation($i: RevokeTaskAccessInput!) { revokeTaskAccess(input: $i) { revokedUserId } }",
            |i| json!({ "i": { "taskId": i.task, "userId": i.user } })),
        // Recipes
        op!("createRecipe", true, "mutation($i: CreateRecipeInput!) { createRecipe(input: $i) { recipe { id } } }",
            |i| json!({ "i": { "organizationId": i.org, "name": "Probe" } })),
        op!("createProjectFromRecipe", true, "mutation($i: CreateProjectFromRecipeInput!) { createProjectFromRecipe(input: $i) { project { id } } }",
            |i| json!({ "i": { "recipeId": i.recipe, "name": "Probe", "startDate": "2027-01-04" } })),
        op!("saveProjectAsRecipe", true, "mutation($i: SaveProjectAsRecipeInput!) { saveProjectAsRecipe(input: $i) { recipe { id } } }",
            |i| json!({ "i": { "projectId": i.project, "name": "Probe" } })),
        // Structure and boards
        op!("moveTask", true, "mutation($i: MoveTaskInput!) { moveTask(input: $i) { task { id } } }",
            |i| json!({ "i": { "taskId": i.task, "boxId": i.box_id, "position": 0 } })),
        op!("moveBox", true, "mutation($i: MoveBoxInput!) { moveBox(input: $i) { box { id } } }",
            |i| json!({ "i": { "boxId": i.box_id, "sliceId": i.slice, "position": 0 } })),
        op!("moveSlice", true, "mutation($i: MoveSliceInput!) { moveSlice(input: $i) { slice { id } } }",
            |i| json!({ "i": { "sliceId": i.slice, "position": 0 } })),
        op!("updateBox", true, "mutation($i: UpdateBoxInput!) { updateBox(input: $i) { box { id } } }",
            |i| json!({ "i": { "boxId": i.box_id, "doneColumn": true } })),
        op!("finishSprint", true, "mutation($i: FinishSprintInput!) { finishSprint(input: $i) { movedTaskCount } }",
            |i| json!({ "i": { "boxId": i.box_id } })),
        // Dependencies
        op!("addTaskDependency", true, "mutation($i: AddTaskDependencyInput!) { addTaskDependency(input: $i) { task { id } } }",
            |i| json!({ "i": { "taskId": i.task2, "dependsOnTaskId": i.task } })),
        op!("removeTaskDependency", true, "mutation($i: RemoveTaskDependencyInput!) { removeTaskDependency(input: $i) { task { id } } }",
            |i| json!({ "i": { "taskId": i.task2, "dependsOnTaskId": i.task } })),
        op!("shiftDates", true, "mutation($i: ShiftDatesInput!) { shiftDates(input: $i) { tasks { id } } }",
            |i| json!({ "i": { "taskId": i.task, "days": 3 } })),
        op!("sequenceBox", true, "mutation($i: SequenceBoxInput!) { sequenceBox(input: $i) { linkCount } }",
            |i| json!({ "i": { "boxId": i.box_id } })),
        // Comments
        op!("addComment", true, "mutation($i: AddCommentInput!) { addComment(input: $i) { comment { id } } }",
            |i| json!({ "i": { "taskId": i.task, "body": "probe" } })),
        op!("editComment", true, "mutation($i: EditCommentInput!) { editComment(input: $i) { comment { id } } }",
            |i| json!({ "i": { "commentId": i.comment, "body": "probe" } })),
        op!("deleteComment", true, "mutation($i: DeleteCommentInput!) { deleteComment(input: $i) { deletedCommentId } }",
            |i| json!({ "i": { "commentId": i.comment } })),
        // Attachments (the bytes travel over REST)
        op!("deleteAttachment", true, "mutation($i: DeleteAttachmentInput!) { deleteAttachment(input: $i) { deletedAttachmentId } }",
            |i| json!({ "i": { "attachmentId": i.attachment } })),
    ]
}

/// Every root field of Query and Mutation, read from the exported schema.
pub fn root_fields() -> Vec<String> {
    let sdl = crust_api::graphql::export_sdl();
    let mut fields = Vec::new();
    for root in ["type Query {", "type Mutation {"] {
        let start = sdl.find(root).unwrap_or_else(|| panic!("{root} in SDL")) + root.len();
        let body = &sdl[start..start + sdl[start..].find("\n}").unwrap()];
        let mut depth = 0;
        let mut in_doc = false;
        for line in body.lines() {
            let t = line.trim();
            if t.starts_with("\"\"\"") {
                // A one-line doc string opens and closes on the same line.
                if !(t.len() > 3 && t.ends_with("\"\"\"")) {
                    in_doc = !in_doc;
                }
                continue;
            }
            if in_doc || t.is_empty() {
                continue;
            }
            if depth == 0 {
                let name: String = t
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    fields.push(name);
                }
            }
            depth += t.matches('(').count() as i32 - t.matches(')').count() as i32;
        }
    }
    fields
}

#[test]
fn every_root_field_has_a_sample_operation() {
    let samples: Vec<&str> = all().iter().map(|o| o.field).collect();
    let fields = root_fields();
    assert!(
        fields.len() >= 30,
        "parsed the schema's root fields: {fields:?}"
    );
    for field in &fields {
        assert!(
            samples.contains(&field.as_str()),
            "root field `{field}` has no sample in operations.rs"
        );
    }
    for sample in samples {
        assert!(
            fields.iter().any(|f| f == sample),
            "sample `{sample}` is not a root field"
        );
    }
}
