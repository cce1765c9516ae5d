//! Recipes: reusable project templates. A recipe holds slices, boxes and tasks with
//! dates relative to a project's start and role placeholders instead of people. A
//! project is made from a recipe, and a project can be saved back as a new recipe.
//! Copies never carry comments, attachments or grants, and never a SECRET task.
//!
//! Recipes belong to an organization and are visible to its MEMBERs and above.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use crust_domain::dependency::cycle_if_added;
use crust_domain::recipe::{self, CastError, Casting};
use crust_domain::roles::DependencyKind;
use crust_domain::{
    Action, Classification, OrgId, OrgRole, ProjectId, ProjectRole, RecipeId, UserId, Visibility,
    WorkspaceId,
};
use diesel::prelude::*;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::{parse_dependency_kind, Project, Recipe, Slice, Task, TaskBox};
use crate::page::{Page, Paged};
use crate::schema::{
    boxes, project_members, recipe_boxes, recipe_slices, recipe_task_dependencies, recipe_tasks,
    recipes, slices, task_assignees, task_dependencies, tasks,
};

// The structure is plain data, and its rules are the domain's.
pub use crust_domain::recipe::{RecipeBox, RecipeSlice, RecipeTask};

/// A recipe with its whole structure.
#[derive(Clone, Debug)]
pub struct RecipeTree {
    pub recipe: Recipe,
    pub slices: Vec<RecipeSlice>,
}

#[derive(Clone, Debug)]
pub struct NewRecipe {
    pub org: OrgId,
    pub workspace: Option<WorkspaceId>,
    pub name: String,
    pub description: Option<String>,
    pub slices: Vec<RecipeSlice>,
}

fn visible(actor: &Actor) -> Vec<Uuid> {
    actor.orgs_with(OrgRole::Member)
}

pub fn get(conn: &mut PgConnection, actor: &Actor, id: RecipeId) -> DalResult<Recipe> {
    Ok(recipes::table
        .find(id.0)
        .filter(recipes::org_id.eq_any(visible(actor)))
        .select(Recipe::as_select())
        .first(conn)?)
}

/// Recipes of an organization (optionally of one workspace), by name.
pub fn list(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    workspace: Option<WorkspaceId>,
    page: Page,
) -> DalResult<Paged<Recipe>> {
    crate::orgs::check(
        actor,
        org,
        Action::ReadOrgDirectory,
        "list this organization's recipes",
    )?;
    let query = || {
        let mut q = recipes::table
            .filter(recipes::org_id.eq(org.0))
            .into_boxed();
        if let Some(ws) = workspace {
            q = q.filter(recipes::workspace_id.eq(ws.0));
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let items = query()
        .order((recipes::name, recipes::id))
        .offset(page.offset)
        .limit(page.limit)
        .select(Recipe::as_select())
        .load(conn)?;
    Ok(Paged {
        items,
        total,
        offset: page.offset,
    })
}

/// The recipe's structure, in order.
pub fn tree(conn: &mut PgConnection, actor: &Actor, id: RecipeId) -> DalResult<RecipeTree> {
    let recipe = get(conn, actor, id)?;
    let slice_rows: Vec<(Uuid, String)> = recipe_slices::table
        .filter(recipe_slices::recipe_id.eq(recipe.id))
        .order((recipe_slices::position, recipe_slices::id))
        .select((recipe_slices::id, recipe_slices::name))
        .load(conn)?;
    let slice_ids: Vec<Uuid> = slice_rows.iter().map(|s| s.0).collect();
    let box_rows: Vec<(Uuid, Uuid, String, bool, bool)> = recipe_boxes::table
        .filter(recipe_boxes::slice_id.eq_any(&slice_ids))
        .order((recipe_boxes::position, recipe_boxes::id))
        .select((
            recipe_boxes::id,
            recipe_boxes::slice_id,
            recipe_boxes::name,
            recipe_boxes::board_column,
            recipe_boxes::done_column,
        ))
        .load(conn)?;
    let box_ids: Vec<Uuid> = box_rows.iter().map(|b| b.0).collect();
    #[allow(clippy::type_complexity)]
    let task_rows: Vec<(
        Uuid,
        Uuid,
        String,
        String,
        Option<i32>,
        Option<i32>,
        Option<i32>,
        Option<String>,
    )> = recipe_tasks::table
        .filter(recipe_tasks::box_id.eq_any(&box_ids))
        .order((recipe_tasks::position, recipe_tasks::id))
        .select((
            recipe_tasks::id,
            recipe_tasks::box_id,
            recipe_tasks::title,
            recipe_tasks::description,
            recipe_tasks::start_offset_days,
            recipe_tasks::due_offset_days,
            recipe_tasks::duration_days,
            recipe_tasks::role,
        ))
        .load(conn)?;
    let task_ids: Vec<Uuid> = task_rows.iter().map(|t| t.0).collect();
    let deps: Vec<(Uuid, Uuid, String)> = recipe_task_dependencies::table
        .filter(recipe_task_dependencies::task_id.eq_any(&task_ids))
        .select((
            recipe_task_dependencies::task_id,
            recipe_task_dependencies::depends_on_task_id,
            recipe_task_dependencies::kind,
        ))
        .load(conn)?;
    // Dependencies in tree order of the tasks they point at, so that equal structures
    // read back equal whatever their ids.
    let slice_rank: HashMap<Uuid, usize> =
        slice_ids.iter().enumerate().map(|(i, s)| (*s, i)).collect();
    let box_rank: HashMap<Uuid, (usize, usize)> = box_rows
        .iter()
        .enumerate()
        .map(|(i, b)| {
            (
                b.0,
                (slice_rank.get(&b.1).copied().unwrap_or(usize::MAX), i),
            )
        })
        .collect();
    let task_rank: HashMap<Uuid, (usize, usize, usize)> = task_rows
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let (s, b) = box_rank
                .get(&t.1)
                .copied()
                .unwrap_or((usize::MAX, usize::MAX));
            (t.0, (s, b, i))
        })
        .collect();
    let mut deps = deps;
    deps.sort_by_key(|(_, on, _)| task_rank.get(on).copied());
    let mut deps_of: HashMap<Uuid, Vec<(String, DependencyKind)>> = HashMap::new();
    for (t, on, kind) in deps {
        deps_of
            .entry(t)
            .or_default()
            .push((on.to_string(), parse_dependency_kind(&kind)));
    }
    let mut tasks_of: HashMap<Uuid, Vec<RecipeTask>> = HashMap::new();
    for (id, box_id, title, description, start, due, duration, role) in task_rows {
        tasks_of.entry(box_id).or_default().push(RecipeTask {
            id,
            key: Some(id.to_string()),
            title,
            description,
            start_offset_days: start,
            due_offset_days: due,
            duration_days: duration,
            role,
            depends_on: deps_of.remove(&id).unwrap_or_default(),
        });
    }
    let mut boxes_of: HashMap<Uuid, Vec<RecipeBox>> = HashMap::new();
    for (id, slice_id, name, board_column, done_column) in box_rows {
        boxes_of.entry(slice_id).or_default().push(RecipeBox {
            name,
            board_column,
            done_column,
            tasks: tasks_of.remove(&id).unwrap_or_default(),
        });
    }
    let slices = slice_rows
        .into_iter()
        .map(|(id, name)| RecipeSlice {
            name,
            boxes: boxes_of.remove(&id).unwrap_or_default(),
        })
        .collect();
    Ok(RecipeTree { recipe, slices })
}

/// Writes a recipe and its structure (dependencies by task key; a cycle is refused).
fn insert_tree(conn: &mut PgConnection, actor: &Actor, new: &NewRecipe) -> DalResult<Recipe> {
    let name = crust_domain::validate::name("name", &new.name)?;
    let description = crust_domain::validate::description(
        "description",
        new.description.as_deref().unwrap_or(""),
    )?;
    recipe::check_structure(&new.slices)?;
    let recipe: Recipe = diesel::insert_into(recipes::table)
        .values((
            recipes::org_id.eq(new.org.0),
            recipes::workspace_id.eq(new.workspace.map(|w| w.0)),
            recipes::name.eq(&name),
            recipes::description.eq(&description),
            recipes::created_by.eq(actor.uid()),
        ))
        .returning(Recipe::as_returning())
        .get_result(conn)?;
    let mut ids_by_key: HashMap<String, Uuid> = HashMap::new();
    let mut wanted: Vec<(Uuid, String, DependencyKind)> = Vec::new();
    for (si, s) in new.slices.iter().enumerate() {
        let slice_id: Uuid = diesel::insert_into(recipe_slices::table)
            .values((
                recipe_slices::recipe_id.eq(recipe.id),
                recipe_slices::name.eq(s.name.trim()),
                recipe_slices::position.eq(si as i32),
            ))
            .returning(recipe_slices::id)
            .get_result(conn)?;
        for (bi, b) in s.boxes.iter().enumerate() {
            let box_id: Uuid = diesel::insert_into(recipe_boxes::table)
                .values((
                    recipe_boxes::slice_id.eq(slice_id),
                    recipe_boxes::name.eq(b.name.trim()),
                    recipe_boxes::position.eq(bi as i32),
                    recipe_boxes::board_column.eq(b.board_column || b.done_column),
                    recipe_boxes::done_column.eq(b.done_column),
                ))
                .returning(recipe_boxes::id)
                .get_result(conn)?;
            for (ti, t) in b.tasks.iter().enumerate() {
                let task_id: Uuid = diesel::insert_into(recipe_tasks::table)
                    .values((
                        recipe_tasks::box_id.eq(box_id),
                        recipe_tasks::title.eq(t.title.trim()),
                        recipe_tasks::description.eq(&t.description),
                        recipe_tasks::position.eq(ti as i32),
                        recipe_tasks::start_offset_days.eq(t.start_offset_days),
                        recipe_tasks::due_offset_days.eq(t.due_offset_days),
                        recipe_tasks::duration_days.eq(t.duration_days),
                        recipe_tasks::role.eq(t.role.as_deref().map(str::trim)),
                    ))
                    .returning(recipe_tasks::id)
                    .get_result(conn)?;
                if let Some(k) = &t.key {
                    ids_by_key.insert(k.clone(), task_id);
                }
                for (on, kind) in &t.depends_on {
                    wanted.push((task_id, on.clone(), *kind));
                }
            }
        }
    }
    let mut edges = Vec::new();
    for (task, on_key, kind) in wanted {
        let on = *ids_by_key.get(&on_key).ok_or_else(|| {
            DalError::Invalid(format!("tasks.dependsOn: no task has the key \"{on_key}\""))
        })?;
        if cycle_if_added(&edges, task, on).is_some() {
            return Err(DalError::Invalid(format!(
                "tasks.dependsOn: \"{on_key}\" would close a cycle"
            )));
        }
        edges.push((task, on));
        diesel::insert_into(recipe_task_dependencies::table)
            .values((
                recipe_task_dependencies::task_id.eq(task),
                recipe_task_dependencies::depends_on_task_id.eq(on),
                recipe_task_dependencies::kind.eq(kind.as_str()),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
    }
    Ok(recipe)
}

/// Creates a recipe (org MEMBER and above).
pub fn create(conn: &mut PgConnection, actor: &Actor, new: NewRecipe) -> DalResult<Recipe> {
    crate::orgs::check(
        actor,
        new.org,
        Action::CreateProject,
        "create recipes in this organization",
    )?;
    conn.transaction(|conn| {
        if let Some(ws) = new.workspace {
            crate::workspaces::get(conn, actor, ws).and_then(|w| {
                if w.org_id == new.org.0 {
                    Ok(())
                } else {
                    Err(DalError::NotFound)
                }
            })?;
        }
        insert_tree(conn, actor, &new)
    })
}

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

/// Saves a project's structure as a new recipe (lessons learned): project EDITORs and
/// up, MANAGERs for a members-only project. Only what the actor sees is copied, never a
/// SECRET task, and a SECRET project cannot become an organization-wide recipe. Dates become offsets from the project's start (or its
/// earliest task date); tasks without a box go to a final "Unsorted" slice.
pub fn save_project(
    conn: &mut PgConnection,
    actor: &Actor,
    project: ProjectId,
    name: &str,
) -> DalResult<Recipe> {
    conn.transaction(|conn| {
        // Shaping the organization's templates is editing work, and a recipe is seen by
        // the whole organization: a members-only project needs its MANAGER to publish it.
        let project = crate::projects::authorize(
            conn,
            actor,
            project,
            Action::EditProjectStructure,
            "save this project as a recipe",
        )?;
        let org = OrgId(project.org_id);
        crate::orgs::check(
            actor,
            org,
            Action::CreateProject,
            "create recipes in this organization",
        )?;
        if project.classification() == Classification::Secret {
            return Err(DalError::forbidden(
                "save a SECRET project as a recipe (recipes are visible to the whole organization)",
            ));
        }
        if project.visibility() == Visibility::Members {
            crate::projects::authorize(
                conn,
                actor,
                ProjectId(project.id),
                Action::UpdateProject,
                "publish a members-only project as an organization-wide recipe",
            )?;
        }
        let slice_rows: Vec<Slice> = slices::table
            .filter(slices::project_id.eq(project.id))
            .order((slices::position, slices::id))
            .select(Slice::as_select())
            .load(conn)?;
        let box_rows: Vec<TaskBox> = boxes::table
            .filter(boxes::project_id.eq(project.id))
            .order((boxes::position, boxes::id))
            .select(TaskBox::as_select())
            .load(conn)?;
        let task_rows: Vec<Task> = tasks::table
            .filter(tasks::project_id.eq(project.id))
            .filter(tasks::classification.ne(Classification::Secret.as_str()))
            .filter(crate::visibility::task_visible(actor))
            .order((tasks::position, tasks::id))
            .select(Task::as_select())
            .load(conn)?;
        let kept: HashSet<Uuid> = task_rows.iter().map(|t| t.id).collect();
        let deps: Vec<(Uuid, Uuid, String)> = task_dependencies::table
            .filter(task_dependencies::task_id.eq_any(kept.iter().copied().collect::<Vec<_>>()))
            .select((
                task_dependencies::task_id,
                task_dependencies::depends_on_task_id,
                task_dependencies::kind,
            ))
            .load(conn)?;
        let base = recipe::offset_base(
            project.start_date,
            task_rows.iter().map(|t| (t.start_date, t.due_date)),
        );
        let offset = |d: Option<NaiveDate>| recipe::offset_of(d, base);
        let mut deps_of: HashMap<Uuid, Vec<(String, DependencyKind)>> = HashMap::new();
        for (t, on, kind) in deps.into_iter().filter(|(_, on, _)| kept.contains(on)) {
            deps_of
                .entry(t)
                .or_default()
                .push((on.to_string(), parse_dependency_kind(&kind)));
        }
        let to_recipe_task =
            |t: &Task, deps_of: &mut HashMap<Uuid, Vec<(String, DependencyKind)>>| RecipeTask {
                id: t.id,
                key: Some(t.id.to_string()),
                title: t.title.clone(),
                description: t.description.clone(),
                start_offset_days: offset(t.start_date),
                due_offset_days: offset(t.due_date),
                duration_days: t.duration_days,
                role: t.recipe_role.clone(),
                depends_on: deps_of.remove(&t.id).unwrap_or_default(),
            };
        let mut slices_out = Vec::new();
        for s in &slice_rows {
            let mut boxes_out = Vec::new();
            for b in box_rows.iter().filter(|b| b.slice_id == s.id) {
                let tasks = task_rows
                    .iter()
                    .filter(|t| t.box_id == Some(b.id))
                    .map(|t| to_recipe_task(t, &mut deps_of))
                    .collect();
                boxes_out.push(RecipeBox {
                    name: b.name.clone(),
                    board_column: b.board_column,
                    done_column: b.done_column,
                    tasks,
                });
            }
            slices_out.push(RecipeSlice {
                name: s.name.clone(),
                boxes: boxes_out,
            });
        }
        let unboxed: Vec<RecipeTask> = task_rows
            .iter()
            .filter(|t| t.box_id.is_none())
            .map(|t| to_recipe_task(t, &mut deps_of))
            .collect();
        if !unboxed.is_empty() {
            slices_out.push(RecipeSlice {
                name: "Unsorted".into(),
                boxes: vec![RecipeBox {
                    name: "Tasks".into(),
                    board_column: false,
                    done_column: false,
                    tasks: unboxed,
                }],
            });
        }
        insert_tree(
            conn,
            actor,
            &NewRecipe {
                org,
                workspace: project.workspace_id.map(WorkspaceId),
                name: name.to_owned(),
                description: Some(project.description.clone()),
                slices: slices_out,
            },
        )
    })
}
