//! Writing a recipe and its structure: checked by the domain's rules first, then
//! stored with its dependencies linked by task key (never a cycle).

use std::collections::HashMap;

use crust_domain::dependency::cycle_if_added;
use crust_domain::recipe;
use crust_domain::roles::DependencyKind;
use crust_domain::Action;
use diesel::prelude::*;
use uuid::Uuid;

use super::NewRecipe;
use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::Recipe;
use crate::schema::{recipe_boxes, recipe_slices, recipe_task_dependencies, recipe_tasks, recipes};

/// Writes a recipe and its structure (dependencies by task key; a cycle is refused).
pub(super) fn insert_tree(
    conn: &mut PgConnection,
    actor: &Actor,
    new: &NewRecipe,
) -> DalResult<Recipe> {
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
