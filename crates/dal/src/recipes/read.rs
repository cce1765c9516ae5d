//! Reading recipes: one recipe, an organization's recipes, and a recipe's structure
//! in order. Recipes are visible to their organization's MEMBERs and above.

use std::collections::HashMap;

use crust_domain::roles::DependencyKind;
use crust_domain::{Action, OrgId, OrgRole, RecipeId, WorkspaceId};
use diesel::prelude::*;
use uuid::Uuid;

use super::{RecipeBox, RecipeSlice, RecipeTask, RecipeTree};
use crate::actor::Actor;
use crate::error::DalResult;
use crate::models::{parse_dependency_kind, Recipe};
use crate::page::{Page, Paged};
use crate::schema::{recipe_boxes, recipe_slices, recipe_task_dependencies, recipe_tasks, recipes};

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
    Ok(Paged::new(items, total, page))
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
