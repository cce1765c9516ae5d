//! Searching tasks across everything the actor may see ("my work" included).

use chrono::NaiveDate;
use crust_domain::{OrgId, ProjectId, TaskStatus, UserId};
use diesel::dsl::{exists, sql};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Text};

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::Task;
use crate::page::{Page, Paged};
use crate::schema::{task_assignees, tasks};
use crate::visibility::task_visible;

#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    pub org: Option<OrgId>,
    pub project: Option<ProjectId>,
    pub statuses: Option<Vec<TaskStatus>>,
    pub assignee: Option<UserId>,
    pub due_before: Option<NaiveDate>,
    pub due_after: Option<NaiveDate>,
    /// Words to find in title and description (PostgreSQL full-text search; quotes,
    /// OR and -word work as in a web search box).
    pub text: Option<String>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TaskOrder {
    /// Soonest due first, tasks without a due date last.
    #[default]
    DueDate,
    /// Most recently changed first.
    UpdatedAt,
    Title,
}

/// Tasks matching `filter` among those the actor may see. SECRET tasks the actor is
/// not listed on never match, so they are absent from results and counts alike.
pub fn tasks(
    conn: &mut PgConnection,
    actor: &Actor,
    filter: &TaskFilter,
    order: TaskOrder,
    page: Page,
) -> DalResult<Paged<Task>> {
    if let Some(text) = &filter.text {
        let chars = text.chars().count();
        if chars > 200 {
            return Err(DalError::Invalid(format!(
                "text: at most 200 characters (got {chars}); search for a shorter phrase"
            )));
        }
    }
    let query = || {
        let mut q = tasks::table.filter(task_visible(actor)).into_boxed();
        if let Some(org) = filter.org {
            q = q.filter(tasks::org_id.eq(org.0));
        }
        if let Some(p) = filter.project {
            q = q.filter(tasks::project_id.eq(p.0));
        }
        if let Some(statuses) = &filter.statuses {
            q = q.filter(
                tasks::status.eq_any(statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>()),
            );
        }
        if let Some(u) = filter.assignee {
            q = q.filter(exists(
                task_assignees::table
                    .filter(task_assignees::task_id.eq(tasks::id))
                    .filter(task_assignees::user_id.eq(u.0)),
            ));
        }
        if let Some(d) = filter.due_before {
            q = q.filter(tasks::due_date.lt(d));
        }
        if let Some(d) = filter.due_after {
            q = q.filter(tasks::due_date.gt(d));
        }
        if let Some(text) = filter
            .text
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            q = q.filter(
                sql::<Bool>("tasks.search @@ websearch_to_tsquery('simple', ")
                    .bind::<Text, _>(text.to_owned())
                    .sql(")"),
            );
        }
        q
    };
    let total = query().count().get_result(conn)?;
    let ordered = match order {
        TaskOrder::DueDate => {
            query().order((tasks::due_date.asc().nulls_last(), tasks::title, tasks::id))
        }
        TaskOrder::UpdatedAt => query().order((tasks::updated_at.desc(), tasks::id)),
        TaskOrder::Title => query().order((tasks::title, tasks::id)),
    };
    let items = ordered
        .offset(page.offset)
        .limit(page.limit)
        .select(Task::as_select())
        .load(conn)?;
    Ok(Paged::new(items, total, page))
}
