//! Recipes: reusable project templates. A recipe holds slices, boxes and tasks with
//! dates relative to a project's start and role placeholders instead of people. A
//! project is made from a recipe, and a project can be saved back as a new recipe.
//! Copies never carry comments, attachments or grants, and never a SECRET task.
//!
//! Recipes belong to an organization and are visible to its MEMBERs and above.
//!
//! The rules (a recipe's well-formedness, who may fill a role, offsets to dates and
//! back) are [`crust_domain::recipe`]'s; the modules here load, check rights and store:
//! - [`read`]: a recipe, an organization's recipes, a recipe's whole structure;
//! - [`write`]: creating a recipe with its structure;
//! - [`instantiate`]: making a project from a recipe;
//! - [`capture`]: saving a project as a new recipe.

mod capture;
mod instantiate;
mod read;
mod write;

use crust_domain::{OrgId, WorkspaceId};

use crate::models::Recipe;

pub use capture::save_project;
// The structure is plain data, and its rules are the domain's.
pub use crust_domain::recipe::{RecipeBox, RecipeSlice, RecipeTask};
pub use instantiate::{create_project, Assignment, FromRecipe};
pub use read::{get, list, tree};
pub use write::create;

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
