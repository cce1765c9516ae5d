//! Recipes: project templates.

use async_graphql::{Context, InputObject, Object, Result, SimpleObject, ID};
use chrono::{DateTime, NaiveDate, Utc};
use crust_dal::models;
use crust_dal::recipes::{self as dal, Assignment, FromRecipe, NewRecipe};
use crust_domain::{OrgId, ProjectId, RecipeId, UserId, WorkspaceId};

use super::connection::{paged, Conn};
use super::enums::{Classification, DependencyType, Visibility};
use super::ids::{id, parse};
use super::project::Project;
use super::{actor, db};

pub struct Recipe(pub models::Recipe);

#[Object]
impl Recipe {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Markdown.
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn organization_id(&self) -> ID {
        id(self.0.org_id)
    }
    async fn workspace_id(&self) -> Option<ID> {
        self.0.workspace_id.map(id)
    }
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
    /// The whole structure, in order.
    #[graphql(complexity = "super::connection::TREE_COST * child_complexity")]
    async fn slices(&self, ctx: &Context<'_>) -> Result<Vec<RecipeSlice>> {
        let (actor, rid) = (actor(ctx)?, RecipeId(self.0.id));
        let tree = db(ctx)?.run(move |c| dal::tree(c, &actor, rid)).await?;
        Ok(tree.slices.into_iter().map(RecipeSlice).collect())
    }
}

pub struct RecipeSlice(dal::RecipeSlice);

#[Object]
impl RecipeSlice {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn boxes(&self) -> Vec<RecipeBox> {
        self.0.boxes.iter().cloned().map(RecipeBox).collect()
    }
}

pub struct RecipeBox(dal::RecipeBox);

#[Object]
impl RecipeBox {
    async fn name(&self) -> &str {
        &self.0.name
    }
    async fn board_column(&self) -> bool {
        self.0.board_column
    }
    async fn done_column(&self) -> bool {
        self.0.done_column
    }
    async fn tasks(&self) -> Vec<RecipeTask> {
        self.0.tasks.iter().cloned().map(RecipeTask).collect()
    }
}

pub struct RecipeTask(dal::RecipeTask);

#[Object]
impl RecipeTask {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Days from the project's start to the task's start.
    async fn start_offset_days(&self) -> Option<i32> {
        self.0.start_offset_days
    }
    /// Days from the project's start to the task's due date.
    async fn due_offset_days(&self) -> Option<i32> {
        self.0.due_offset_days
    }
    async fn duration_days(&self) -> Option<i32> {
        self.0.duration_days
    }
    /// The role placeholder filled when a project is made from the recipe.
    async fn role(&self) -> Option<&str> {
        self.0.role.as_deref()
    }
    /// Ids of the recipe tasks this one depends on.
    #[graphql(complexity = "super::connection::LIST_COST * child_complexity")]
    async fn depends_on(&self) -> Vec<RecipeDependency> {
        self.0
            .depends_on
            .iter()
            .map(|(on, kind)| RecipeDependency {
                task_id: ID(on.clone()),
                kind: (*kind).into(),
            })
            .collect()
    }
}

#[derive(SimpleObject)]
pub struct RecipeDependency {
    pub task_id: ID,
    #[graphql(name = "type")]
    pub kind: DependencyType,
}

#[derive(Default)]
pub struct RecipeQuery;

#[Object]
impl RecipeQuery {
    /// An organization's recipes (optionally one workspace's), by name.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn recipes(
        &self,
        ctx: &Context<'_>,
        organization_id: ID,
        workspace_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Conn<Recipe>> {
        let org: OrgId = parse("organizationId", &organization_id)?;
        let ws: Option<WorkspaceId> = workspace_id.map(|w| parse("workspaceId", &w)).transpose()?;
        let fetch = move |c: &mut _, a: &_, p| dal::list(c, a, org, ws, p);
        Ok(paged(ctx, first, after, fetch, Recipe).await?)
    }

    async fn recipe(&self, ctx: &Context<'_>, id: ID) -> Result<Recipe> {
        let (actor, rid): (_, RecipeId) = (actor(ctx)?, parse("id", &id)?);
        Ok(Recipe(
            db(ctx)?.run(move |c| dal::get(c, &actor, rid)).await?,
        ))
    }
}

#[derive(InputObject)]
pub struct RecipeDependencyInput {
    /// The `key` of the task depended on.
    pub key: String,
    #[graphql(name = "type", default_with = "DependencyType::FinishToStart")]
    pub kind: DependencyType,
}

#[derive(InputObject)]
pub struct RecipeTaskInput {
    /// A name for this task that other tasks' `dependsOn` use.
    pub key: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub start_offset_days: Option<i32>,
    pub due_offset_days: Option<i32>,
    pub duration_days: Option<i32>,
    pub role: Option<String>,
    #[graphql(default)]
    pub depends_on: Vec<RecipeDependencyInput>,
}

#[derive(InputObject)]
pub struct RecipeBoxInput {
    pub name: String,
    #[graphql(default)]
    pub board_column: bool,
    #[graphql(default)]
    pub done_column: bool,
    #[graphql(default)]
    pub tasks: Vec<RecipeTaskInput>,
}

#[derive(InputObject)]
pub struct RecipeSliceInput {
    pub name: String,
    #[graphql(default)]
    pub boxes: Vec<RecipeBoxInput>,
}

#[derive(InputObject)]
pub struct CreateRecipeInput {
    pub organization_id: ID,
    pub workspace_id: Option<ID>,
    pub name: String,
    pub description: Option<String>,
    #[graphql(default)]
    pub slices: Vec<RecipeSliceInput>,
}

#[derive(SimpleObject)]
pub struct RecipePayload {
    pub recipe: Recipe,
}

#[derive(InputObject)]
pub struct RoleAssignmentInput {
    /// A role placeholder used by the recipe's tasks.
    pub role: String,
    /// A member of the organization (they become a project EDITOR).
    pub user_id: ID,
}

#[derive(InputObject)]
pub struct CreateProjectFromRecipeInput {
    pub recipe_id: ID,
    pub name: String,
    /// Task dates are this date plus the recipe's offsets.
    pub start_date: NaiveDate,
    #[graphql(default)]
    pub assignments: Vec<RoleAssignmentInput>,
    pub workspace_id: Option<ID>,
    #[graphql(default_with = "Visibility::Organization")]
    pub visibility: Visibility,
    #[graphql(default_with = "Classification::Confidential")]
    pub classification: Classification,
}

#[derive(SimpleObject)]
pub struct CreateProjectFromRecipePayload {
    pub project: Project,
}

#[derive(InputObject)]
pub struct SaveProjectAsRecipeInput {
    pub project_id: ID,
    pub name: String,
}

fn recipe_slices(input: Vec<RecipeSliceInput>) -> Vec<dal::RecipeSlice> {
    input
        .into_iter()
        .map(|s| dal::RecipeSlice {
            name: s.name,
            boxes: s
                .boxes
                .into_iter()
                .map(|b| dal::RecipeBox {
                    name: b.name,
                    board_column: b.board_column,
                    done_column: b.done_column,
                    tasks: b
                        .tasks
                        .into_iter()
                        .map(|t| dal::RecipeTask {
                            id: uuid::Uuid::nil(),
                            key: t.key,
                            title: t.title,
                            description: t.description.unwrap_or_default(),
                            start_offset_days: t.start_offset_days,
                            due_offset_days: t.due_offset_days,
                            duration_days: t.duration_days,
                            role: t.role,
                            depends_on: t
                                .depends_on
                                .into_iter()
                                .map(|d| (d.key, d.kind.into()))
                                .collect(),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect()
}

#[derive(Default)]
pub struct RecipeMutation;

#[Object]
impl RecipeMutation {
    /// Creates a recipe, with its structure (org MEMBER and above).
    async fn create_recipe(
        &self,
        ctx: &Context<'_>,
        input: CreateRecipeInput,
    ) -> Result<RecipePayload> {
        let actor = actor(ctx)?;
        let new = NewRecipe {
            org: parse("organizationId", &input.organization_id)?,
            workspace: input
                .workspace_id
                .map(|w| parse("workspaceId", &w))
                .transpose()?,
            name: input.name,
            description: input.description,
            slices: recipe_slices(input.slices),
        };
        let recipe = db(ctx)?
            .create(move |c| dal::create(c, &actor, new))
            .await?;
        Ok(RecipePayload {
            recipe: Recipe(recipe),
        })
    }

    /// Makes a project from a recipe: structure, dependencies, dates from `startDate`,
    /// roles filled with the people given. Never comments, attachments or grants.
    async fn create_project_from_recipe(
        &self,
        ctx: &Context<'_>,
        input: CreateProjectFromRecipeInput,
    ) -> Result<CreateProjectFromRecipePayload> {
        let actor = actor(ctx)?;
        let assignments = input
            .assignments
            .iter()
            .map(|a| {
                Ok(Assignment {
                    role: a.role.clone(),
                    user: parse::<UserId>("assignments.userId", &a.user_id)?,
                })
            })
            .collect::<Result<Vec<_>, crate::error::ApiError>>()?;
        let from = FromRecipe {
            recipe: parse("recipeId", &input.recipe_id)?,
            name: input.name,
            start_date: input.start_date,
            assignments,
            workspace: input
                .workspace_id
                .map(|w| parse("workspaceId", &w))
                .transpose()?,
            visibility: input.visibility.into(),
            classification: input.classification.into(),
        };
        let project = db(ctx)?
            .create(move |c| dal::create_project(c, &actor, from))
            .await?;
        Ok(CreateProjectFromRecipePayload {
            project: Project::served(ctx, project),
        })
    }

    /// Saves a project's structure as a new recipe (what you see of it; never SECRET
    /// tasks).
    async fn save_project_as_recipe(
        &self,
        ctx: &Context<'_>,
        input: SaveProjectAsRecipeInput,
    ) -> Result<RecipePayload> {
        let (actor, pid): (_, ProjectId) = (actor(ctx)?, parse("projectId", &input.project_id)?);
        let recipe = db(ctx)?
            .run(move |c| dal::save_project(c, &actor, pid, &input.name))
            .await?;
        Ok(RecipePayload {
            recipe: Recipe(recipe),
        })
    }
}
