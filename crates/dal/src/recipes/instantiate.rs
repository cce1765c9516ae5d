//! Making a project from a recipe: its structure and dependencies copied, dates
//! counted from the project's start, role placeholders filled with people.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use crust_domain::recipe::{self, CastError, Casting};
use crust_domain::roles::DependencyKind;
use crust_domain::{Classification, OrgId, ProjectRole, RecipeId, UserId, Visibility, WorkspaceId};
use diesel::prelude::*;
use uuid::Uuid;

use super::read::tree;
use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::Project;
use crate::schema::{boxes, project_members, slices, task_assignees, task_dependencies, tasks};

/// Who fills which role placeholder in a new project.
#[derive(Clone, Debug)]
pub struct Assignment {
    pub role: String,
    pub user: UserId,
}

#[derive(Clone, Debug)]
pub struct FromRecipe {
    pub recipe: RecipeId,
    pub name: String,
    pub start_date: NaiveDate,
    pub assignments: Vec<Assignment>,
    pub workspace: Option<WorkspaceId>,
    pub visibility: Visibility,
    pub classification: Classification,
}

/// Makes a project from a recipe: its structure, dependencies, real dates counted from
/// `start_date`, and the role placeholders filled with the people given (who become
/// project EDITORs so they can see their tasks).
pub fn create_project(
    conn: &mut PgConnection,
    actor: &Actor,
    input: FromRecipe,
) -> DalResult<Project> {
    conn.transaction(|conn| {
        let tree = tree(conn, actor, input.recipe)?;
        let org = OrgId(tree.recipe.org_id);
        // Each person's role in the organization, for the casting rule to judge.
        let mut org_roles = Vec::with_capacity(input.assignments.len());
        for a in &input.assignments {
            org_roles.push(crate::orgs::role_of(conn, org, a.user.0)?);
        }
        let castings: Vec<Casting> = input
            .assignments
            .iter()
            .zip(org_roles)
            .map(|(a, org_role)| Casting {
                role: &a.role,
                user: a.user,
                org_role,
            })
            .collect();
        let people: HashMap<String, Uuid> = recipe::cast(&recipe::roles(&tree.slices), &castings)
            .map_err(|e| match e {
                CastError::NotAMember => DalError::NotFound,
                other => DalError::Invalid(other.to_string()),
            })?
            .into_iter()
            .map(|(role, user)| (role, user.0))
            .collect();
        let project = crate::projects::create(
            conn,
            actor,
            crate::projects::NewProject {
                org,
                workspace: input.workspace,
                name: input.name.clone(),
                description: Some(tree.recipe.description.clone()),
                visibility: input.visibility,
                classification: input.classification,
                start_date: Some(input.start_date),
                due_date: None,
            },
        )?;
        let newcomers: HashSet<Uuid> = people
            .values()
            .copied()
            .filter(|u| *u != actor.uid())
            .collect();
        for user in newcomers {
            diesel::insert_into(project_members::table)
                .values((
                    project_members::project_id.eq(project.id),
                    project_members::user_id.eq(user),
                    project_members::role.eq(ProjectRole::Editor.as_str()),
                ))
                .on_conflict_do_nothing()
                .execute(conn)?;
        }
        let day = |offset: Option<i32>| recipe::date_at(input.start_date, offset);
        let mut new_ids: HashMap<String, Uuid> = HashMap::new();
        let mut links: Vec<(Uuid, String, DependencyKind)> = Vec::new();
        for (si, s) in tree.slices.iter().enumerate() {
            let slice_id: Uuid = diesel::insert_into(slices::table)
                .values((
                    slices::project_id.eq(project.id),
                    slices::name.eq(&s.name),
                    slices::position.eq(si as i32),
                ))
                .returning(slices::id)
                .get_result(conn)?;
            for (bi, b) in s.boxes.iter().enumerate() {
                let box_id: Uuid = diesel::insert_into(boxes::table)
                    .values((
                        boxes::slice_id.eq(slice_id),
                        boxes::project_id.eq(project.id),
                        boxes::name.eq(&b.name),
                        boxes::position.eq(bi as i32),
                        boxes::board_column.eq(b.board_column),
                        boxes::done_column.eq(b.done_column),
                    ))
                    .returning(boxes::id)
                    .get_result(conn)?;
                for (ti, t) in b.tasks.iter().enumerate() {
                    let task_id: Uuid = diesel::insert_into(tasks::table)
                        .values((
                            tasks::org_id.eq(project.org_id),
                            tasks::project_id.eq(project.id),
                            tasks::box_id.eq(box_id),
                            tasks::title.eq(&t.title),
                            tasks::description.eq(&t.description),
                            tasks::start_date.eq(day(t.start_offset_days)?),
                            tasks::due_date.eq(day(t.due_offset_days)?),
                            tasks::duration_days.eq(t.duration_days),
                            tasks::position.eq(ti as i32),
                            tasks::recipe_role.eq(&t.role),
                            tasks::created_by.eq(actor.uid()),
                        ))
                        .returning(tasks::id)
                        .get_result(conn)?;
                    if let Some(user) = t.role.as_ref().and_then(|r| people.get(r)) {
                        diesel::insert_into(task_assignees::table)
                            .values((
                                task_assignees::task_id.eq(task_id),
                                task_assignees::user_id.eq(user),
                            ))
                            .execute(conn)?;
                    }
                    new_ids.insert(t.id.to_string(), task_id);
                    links.extend(
                        t.depends_on
                            .iter()
                            .map(|(on, kind)| (task_id, on.clone(), *kind)),
                    );
                }
            }
        }
        for (task, on, kind) in links {
            if let Some(on) = new_ids.get(&on) {
                diesel::insert_into(task_dependencies::table)
                    .values((
                        task_dependencies::task_id.eq(task),
                        task_dependencies::depends_on_task_id.eq(on),
                        task_dependencies::org_id.eq(project.org_id),
                        task_dependencies::kind.eq(kind.as_str()),
                    ))
                    .execute(conn)?;
            }
        }
        Ok(project)
    })
}
