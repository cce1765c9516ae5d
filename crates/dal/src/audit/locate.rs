//! Where an event's target lives and which objects it names are need-to-know, found in
//! one statement per audited mutation; and which of them a reader may see now.

use super::*;

/// Where a target lives, and what else the request named that is need-to-know.
pub(super) struct Location {
    pub(super) org: Uuid,
    pub(super) secret: bool,
    pub(super) named: Vec<Uuid>,
}

/// Which of the ids bound at `{ids}` are need-to-know objects: SECRET projects and tasks,
/// the tasks, slices and boxes of SECRET projects, comments on and attachments of
/// need-to-know tasks. Ids
/// of anything else (users, organizations, objects that do not exist) are not.
const NEED_TO_KNOW_AMONG: &str = "
SELECT p.id FROM projects p WHERE p.id = ANY({ids}) AND p.classification = 'SECRET'
UNION
SELECT x.id FROM slices x JOIN projects p ON p.id = x.project_id
 WHERE x.id = ANY({ids}) AND p.classification = 'SECRET'
UNION
SELECT x.id FROM boxes x JOIN projects p ON p.id = x.project_id
 WHERE x.id = ANY({ids}) AND p.classification = 'SECRET'
UNION
SELECT t.id FROM tasks t JOIN projects p ON p.id = t.project_id
 WHERE t.id = ANY({ids}) AND (t.classification = 'SECRET' OR p.classification = 'SECRET')
UNION
SELECT c.id FROM comments c JOIN tasks t ON t.id = c.task_id JOIN projects p ON p.id = t.project_id
 WHERE c.id = ANY({ids}) AND (t.classification = 'SECRET' OR p.classification = 'SECRET')
UNION
SELECT a.id FROM attachments a JOIN tasks t ON t.id = a.task_id JOIN projects p ON p.id = t.project_id
 WHERE a.id = ANY({ids}) AND (t.classification = 'SECRET' OR p.classification = 'SECRET')";

#[derive(QueryableByName)]
struct LocatedRow {
    #[diesel(sql_type = SqlUuid)]
    org: Uuid,
    #[diesel(sql_type = Bool)]
    secret: bool,
    #[diesel(sql_type = diesel::sql_types::Array<SqlUuid>)]
    named: Vec<Uuid>,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
}

/// The organization a target belongs to, whether it is need-to-know, and which of
/// `named` are need-to-know objects, in one statement (this runs for every audited
/// mutation); `None` when the target does not exist (or belongs to no organization).
pub(super) fn locate(
    conn: &mut PgConnection,
    target: Target,
    named: &[Uuid],
) -> DalResult<Option<Location>> {
    const TASK: &str = "tasks t JOIN projects p ON p.id = t.project_id";
    const TASK_SECRET: &str = "(t.classification = 'SECRET' OR p.classification = 'SECRET')";
    let (columns, rest) = match target.kind {
        TargetKind::Organization => (
            "id AS org, false AS secret".to_owned(),
            "organizations WHERE id = $1".to_owned(),
        ),
        TargetKind::Workspace => (
            "org_id AS org, false AS secret".to_owned(),
            "workspaces WHERE id = $1".to_owned(),
        ),
        TargetKind::Recipe => (
            "org_id AS org, false AS secret".to_owned(),
            "recipes WHERE id = $1".to_owned(),
        ),
        TargetKind::Invitation => (
            "org_id AS org, false AS secret".to_owned(),
            "invitations WHERE id = $1".to_owned(),
        ),
        TargetKind::Project => (
            "org_id AS org, classification = 'SECRET' AS secret".to_owned(),
            "projects WHERE id = $1".to_owned(),
        ),
        TargetKind::Slice | TargetKind::Box => (
            "p.org_id AS org, p.classification = 'SECRET' AS secret".to_owned(),
            format!(
                "{} x JOIN projects p ON p.id = x.project_id WHERE x.id = $1",
                if target.kind == TargetKind::Slice {
                    "slices"
                } else {
                    "boxes"
                }
            ),
        ),
        TargetKind::Task => (
            format!("t.org_id AS org, {TASK_SECRET} AS secret"),
            format!("{TASK} WHERE t.id = $1"),
        ),
        TargetKind::Comment => (
            format!("t.org_id AS org, {TASK_SECRET} AS secret"),
            format!("{TASK} JOIN comments c ON c.task_id = t.id WHERE c.id = $1"),
        ),
        TargetKind::Attachment => (
            format!("t.org_id AS org, {TASK_SECRET} AS secret"),
            format!("{TASK} JOIN attachments a ON a.task_id = t.id WHERE a.id = $1"),
        ),
        TargetKind::Session | TargetKind::User => return Ok(None),
    };
    let sql = format!(
        "SELECT {columns}, ARRAY({}) AS named FROM {rest}",
        NEED_TO_KNOW_AMONG.replace("{ids}", "$2")
    );
    Ok(diesel::sql_query(sql)
        .bind::<SqlUuid, _>(target.id)
        .bind::<diesel::sql_types::Array<SqlUuid>, _>(named)
        .get_result::<LocatedRow>(conn)
        .optional()?
        .map(|l| Location {
            org: l.org,
            secret: l.secret,
            named: l.named,
        }))
}

/// [`NEED_TO_KNOW_AMONG`] on its own, for an event whose target is not located.
pub(super) fn need_to_know_among(conn: &mut PgConnection, ids: &[Uuid]) -> DalResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(diesel::sql_query(NEED_TO_KNOW_AMONG.replace("{ids}", "$1"))
        .bind::<diesel::sql_types::Array<SqlUuid>, _>(ids)
        .load::<Id>(conn)?
        .into_iter()
        .map(|r| r.id)
        .collect())
}

/// Which of these ids name an object the actor may see now (of the kinds that can be
/// need-to-know).
pub(super) fn visible_among(
    conn: &mut PgConnection,
    actor: &Actor,
    ids: &[Uuid],
) -> DalResult<Vec<Uuid>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Raw::new("SELECT p.id FROM projects p WHERE p.id = ANY(");
    q.uuids(ids.to_vec()).sql(") AND ").project_rule(actor, "p");
    for table in ["slices", "boxes"] {
        q.sql(&format!(
            " UNION SELECT x.id FROM {table} x JOIN projects p ON p.id = x.project_id WHERE x.id = ANY("
        ))
        .uuids(ids.to_vec())
        .sql(") AND ")
        .project_rule(actor, "p");
    }
    q.sql(" UNION SELECT t.id FROM tasks t WHERE t.id = ANY(")
        .uuids(ids.to_vec())
        .sql(") AND ")
        .task_rule(actor, "t");
    q.sql(" UNION SELECT c.id FROM comments c JOIN tasks t ON t.id = c.task_id WHERE c.id = ANY(")
        .uuids(ids.to_vec())
        .sql(") AND ")
        .task_rule(actor, "t");
    q.sql(
        " UNION SELECT a.id FROM attachments a JOIN tasks t ON t.id = a.task_id WHERE a.id = ANY(",
    )
    .uuids(ids.to_vec())
    .sql(") AND ")
    .task_rule(actor, "t");
    Ok(q.load::<Id>(conn)?.into_iter().map(|r| r.id).collect())
}
