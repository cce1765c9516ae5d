//! Rows as the DAL returns them. Enumerations are stored as checked TEXT; the typed
//! accessors turn them into domain enums (the CHECK constraints make the fallback
//! unreachable, it only keeps a corrupt row from panicking). A task's are read into
//! their enums as the row is read ([`Stored`]): a project's tree reads a thousand task
//! rows per request, and a string per column per row was a measurable share of it.

use chrono::{DateTime, NaiveDate, Utc};
use crust_domain::{
    Classification, OrgRole, ProjectRole, ProjectStatus, TaskAccess, TaskStatus, Visibility,
};
use diesel::prelude::*;
use uuid::Uuid;

use crate::by_position::by_position;
use crate::schema::*;

/// The SQL types of `by_position!`'s fields, as in `schema.rs`.
mod sql {
    pub use diesel::sql_types::{Bool, Date, Int2, Int4, Nullable, Text, Timestamptz, Uuid as Id};
}

fn parse<T: std::str::FromStr>(s: &str, fallback: T) -> T {
    s.parse().unwrap_or_else(|_| {
        tracing::error!(value = s, "unknown enum value in database row");
        fallback
    })
}

/// A checked TEXT column read straight into its domain enum, without a `String`; an
/// unknown value falls back (and is logged) as the accessors' [`parse`] does.
#[derive(diesel::deserialize::FromSqlRow)]
pub struct Stored<T>(T);

/// The value an unknown stored text reads as: the least a corrupt row may grant.
pub trait Fallback: std::str::FromStr {
    const FALLBACK: Self;
}

impl Fallback for TaskStatus {
    const FALLBACK: Self = TaskStatus::NotStarted;
}

impl Fallback for Classification {
    const FALLBACK: Self = Classification::Secret;
}

impl<T: Fallback> diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::pg::Pg>
    for Stored<T>
{
    fn from_sql(value: diesel::pg::PgValue<'_>) -> diesel::deserialize::Result<Self> {
        Ok(Stored(parse(
            std::str::from_utf8(value.as_bytes())?,
            T::FALLBACK,
        )))
    }
}

impl Fallback for crust_domain::roles::DependencyKind {
    const FALLBACK: Self = crust_domain::roles::DependencyKind::FinishToStart;
}

impl From<Stored<crust_domain::roles::DependencyKind>> for crust_domain::roles::DependencyKind {
    fn from(stored: Stored<crust_domain::roles::DependencyKind>) -> Self {
        stored.0
    }
}

impl From<Stored<TaskStatus>> for TaskStatus {
    fn from(stored: Stored<TaskStatus>) -> Self {
        stored.0
    }
}

impl From<Stored<Classification>> for Classification {
    fn from(stored: Stored<Classification>) -> Self {
        stored.0
    }
}

/// A user as others may see them. The password hash is never part of it.
#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub struct User {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub active: bool,
    pub created_at: DateTime<Utc>,
}

by_position!(User {
    id: sql::Id,
    email: sql::Text,
    name: sql::Text,
    active: sql::Bool,
    created_at: sql::Timestamptz,
});

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = organizations, check_for_backend(diesel::pg::Pg))]
pub struct Organization {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone, Debug)]
pub struct OrgMember {
    pub org_id: Uuid,
    pub user: User,
    pub role: OrgRole,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = workspaces, check_for_backend(diesel::pg::Pg))]
pub struct Workspace {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = projects, check_for_backend(diesel::pg::Pg))]
pub struct Project {
    pub id: Uuid,
    pub org_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub name: String,
    pub description: String,
    pub status: String,
    pub visibility: String,
    pub classification: String,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Project {
    pub fn status(&self) -> ProjectStatus {
        parse(&self.status, ProjectStatus::Active)
    }
    pub fn visibility(&self) -> Visibility {
        parse(&self.visibility, Visibility::Members)
    }
    pub fn classification(&self) -> Classification {
        parse(&self.classification, Classification::Secret)
    }
}

#[derive(Clone, Debug)]
pub struct ProjectMember {
    pub project_id: Uuid,
    pub user: User,
    pub role: ProjectRole,
}

#[derive(Queryable, QueryableByName, Selectable, Clone, Debug)]
#[diesel(table_name = slices, check_for_backend(diesel::pg::Pg))]
pub struct Slice {
    pub id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub position: i32,
}

/// A box of tasks (`Box` would clash with the standard library).
#[derive(Queryable, QueryableByName, Selectable, Clone, Debug)]
#[diesel(table_name = boxes, check_for_backend(diesel::pg::Pg))]
pub struct TaskBox {
    pub id: Uuid,
    pub slice_id: Uuid,
    pub project_id: Uuid,
    pub name: String,
    pub position: i32,
    pub board_column: bool,
    pub done_column: bool,
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg))]
pub struct Task {
    pub id: Uuid,
    pub org_id: Uuid,
    pub project_id: Uuid,
    pub box_id: Option<Uuid>,
    pub title: String,
    pub description: String,
    #[diesel(deserialize_as = Stored<TaskStatus>)]
    pub status: TaskStatus,
    pub progress: i16,
    #[diesel(deserialize_as = Stored<Classification>)]
    pub classification: Classification,
    pub start_date: Option<NaiveDate>,
    pub due_date: Option<NaiveDate>,
    pub duration_days: Option<i32>,
    pub position: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub recipe_role: Option<String>,
}

by_position!(Task {
    id: sql::Id,
    org_id: sql::Id,
    project_id: sql::Id,
    box_id: sql::Nullable<sql::Id>,
    title: sql::Text,
    description: sql::Text,
    status: sql::Text as Stored<TaskStatus>,
    progress: sql::Int2,
    classification: sql::Text as Stored<Classification>,
    start_date: sql::Nullable<sql::Date>,
    due_date: sql::Nullable<sql::Date>,
    duration_days: sql::Nullable<sql::Int4>,
    position: sql::Int4,
    created_at: sql::Timestamptz,
    updated_at: sql::Timestamptz,
    recipe_role: sql::Nullable<sql::Text>,
});

impl Task {
    pub fn status(&self) -> TaskStatus {
        self.status
    }
    pub fn classification(&self) -> Classification {
        self.classification
    }
}

#[derive(Clone, Debug)]
pub struct TaskGrant {
    pub task_id: Uuid,
    pub user: User,
    pub access: TaskAccess,
}

pub(crate) fn parse_org_role(s: &str) -> OrgRole {
    parse(s, OrgRole::Guest)
}

pub(crate) fn parse_project_role(s: &str) -> ProjectRole {
    parse(s, ProjectRole::Viewer)
}

pub(crate) fn parse_task_access(s: &str) -> TaskAccess {
    parse(s, TaskAccess::View)
}

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = comments, check_for_backend(diesel::pg::Pg))]
pub struct Comment {
    pub id: Uuid,
    pub task_id: Uuid,
    pub org_id: Uuid,
    pub author_id: Option<Uuid>,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
}

by_position!(Comment {
    id: sql::Id,
    task_id: sql::Id,
    org_id: sql::Id,
    author_id: sql::Nullable<sql::Id>,
    body: sql::Text,
    created_at: sql::Timestamptz,
    edited_at: sql::Nullable<sql::Timestamptz>,
});

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = recipes, check_for_backend(diesel::pg::Pg))]
pub struct Recipe {
    pub id: Uuid,
    pub org_id: Uuid,
    pub workspace_id: Option<Uuid>,
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// A dependency seen from one task: the other task and how they are linked.
#[derive(Clone, Debug)]
pub struct Dependency {
    pub task: Task,
    pub kind: crust_domain::roles::DependencyKind,
}

pub(crate) fn parse_dependency_kind(s: &str) -> crust_domain::roles::DependencyKind {
    parse(s, crust_domain::roles::DependencyKind::FinishToStart)
}
