//! Task search across everything the caller may see, and "my work".

use async_graphql::{Context, Enum, InputObject, Object, Result, ID};
use chrono::NaiveDate;
use crust_dal::search::{TaskFilter, TaskOrder as DalOrder};
use crust_domain::UserId;

use super::connection::{paged, Conn};
use super::enums::TaskStatus;
use super::ids::parse;
use super::task::Task;
use crate::error::ApiError;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Default)]
pub enum TaskOrder {
    /// Soonest due first; tasks without a due date last.
    #[default]
    DueDate,
    /// Most recently changed first.
    UpdatedAt,
    Title,
}

#[derive(InputObject, Default)]
pub struct TaskSearchFilter {
    pub organization_id: Option<ID>,
    pub project_id: Option<ID>,
    /// Any of these statuses.
    pub status: Option<Vec<TaskStatus>>,
    pub assignee_id: Option<ID>,
    /// Due strictly before this date.
    pub due_before: Option<NaiveDate>,
    /// Due strictly after this date.
    pub due_after: Option<NaiveDate>,
    /// Words in the title or description (full-text; "quotes", OR and -word work).
    pub text: Option<String>,
}

pub(super) fn to_dal(f: TaskSearchFilter) -> Result<TaskFilter, ApiError> {
    Ok(TaskFilter {
        org: f
            .organization_id
            .map(|o| parse("filter.organizationId", &o))
            .transpose()?,
        project: f
            .project_id
            .map(|p| parse("filter.projectId", &p))
            .transpose()?,
        statuses: f.status.map(|s| s.into_iter().map(Into::into).collect()),
        assignee: f
            .assignee_id
            .map(|a| parse::<UserId>("filter.assigneeId", &a))
            .transpose()?,
        due_before: f.due_before,
        due_after: f.due_after,
        text: f.text,
    })
}

fn order(o: TaskOrder) -> DalOrder {
    match o {
        TaskOrder::DueDate => DalOrder::DueDate,
        TaskOrder::UpdatedAt => DalOrder::UpdatedAt,
        TaskOrder::Title => DalOrder::Title,
    }
}

pub(super) async fn search(
    ctx: &Context<'_>,
    filter: TaskFilter,
    order_by: TaskOrder,
    first: Option<i32>,
    after: Option<String>,
) -> Result<Conn<Task>> {
    let o = order(order_by);
    let fetch = move |c: &mut _, a: &_, p| crust_dal::search::tasks(c, a, &filter, o, p);
    Ok(paged(ctx, first, after, fetch, |t| Task::served(ctx, t)).await?)
}

#[derive(Default)]
pub struct SearchQuery;

#[Object]
impl SearchQuery {
    /// Tasks matching the filter among all you may see.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] filter: TaskSearchFilter,
        first: Option<i32>,
        after: Option<String>,
        #[graphql(default)] order_by: TaskOrder,
    ) -> Result<Conn<Task>> {
        search(ctx, to_dal(filter)?, order_by, first, after).await
    }
}
