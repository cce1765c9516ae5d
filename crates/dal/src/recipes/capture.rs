//! Saving a project as a new recipe (lessons learned): what the actor sees of it,
//! never a SECRET task, its dates turned into offsets.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use crust_domain::recipe;
use crust_domain::roles::DependencyKind;
use crust_domain::{Action, Classification, OrgId, ProjectId, Visibility, WorkspaceId};
use diesel::prelude::*;
use uuid::Uuid;

use super::write::insert_tree;
use super::{NewRecipe, RecipeBox, RecipeSlice, RecipeTask};
use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::{parse_dependency_kind, Recipe, Slice, Task, TaskBox};
use crate::schema::{boxes, slices, task_dependencies, tasks};

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
