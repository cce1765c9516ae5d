//! Raw SQL for the queries diesel's DSL cannot say (window functions for per-parent
//! pages, grouped rollups), with values always bound, never interpolated, and the
//! visibility rules of [`crate::visibility`] rendered from the same fragments.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Uuid as SqlUuid};
use diesel::{PgConnection, QueryableByName, RunQueryDsl};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::DalResult;
use crate::visibility::{
    project_binds, PROJECT_RULE, TASK_PROJECT_ALIAS, TASK_RULE_HEAD, TASK_RULE_SCOPED,
    TASK_RULE_TAIL,
};

enum Bind {
    Uuid(Uuid),
    Uuids(Vec<Uuid>),
    BigInt(i64),
}

enum Part {
    Text(String),
    Bind(Bind),
}

/// A SQL statement under construction: text and the values bound between its pieces.
///
/// It runs as a prepared statement that each connection keeps (diesel's statement
/// cache, keyed by the text): the text names no value, so one text is one statement,
/// and PostgreSQL plans it once per connection instead of on every request. (diesel's
/// own `sql_query` is never cached; planning the visibility rules cost more than
/// running them.)
#[derive(Default)]
pub(crate) struct Raw {
    parts: Vec<Part>,
}

impl Raw {
    pub fn new(sql: &str) -> Self {
        Raw {
            parts: vec![Part::Text(sql.to_owned())],
        }
    }

    /// Appends another statement under construction.
    pub fn append(&mut self, other: Raw) -> &mut Self {
        self.parts.extend(other.parts);
        self
    }

    pub fn sql(&mut self, text: &str) -> &mut Self {
        match self.parts.last_mut() {
            Some(Part::Text(last)) => last.push_str(text),
            _ => self.parts.push(Part::Text(text.to_owned())),
        }
        self
    }

    fn bind(&mut self, b: Bind) -> &mut Self {
        self.parts.push(Part::Bind(b));
        self
    }

    pub fn uuid(&mut self, v: Uuid) -> &mut Self {
        self.bind(Bind::Uuid(v))
    }
    pub fn uuids(&mut self, v: Vec<Uuid>) -> &mut Self {
        self.bind(Bind::Uuids(v))
    }
    pub fn bigint(&mut self, v: i64) -> &mut Self {
        self.bind(Bind::BigInt(v))
    }

    /// Appends the project-visibility rule for the projects row aliased `alias`.
    pub fn project_rule(&mut self, actor: &Actor, alias: &str) -> &mut Self {
        let (members, uid, admins) = project_binds(actor);
        let f = |s: &str| s.replace("{p}", alias);
        self.sql(&f(PROJECT_RULE[0]))
            .uuids(members)
            .sql(&f(PROJECT_RULE[1]))
            .uuid(uid)
            .sql(&f(PROJECT_RULE[2]))
            .uuids(admins)
            .sql(&f(PROJECT_RULE[3]))
    }

    /// Appends the task-visibility rule for the tasks row aliased `alias`.
    pub fn task_rule(&mut self, actor: &Actor, alias: &str) -> &mut Self {
        let f = |s: &str| s.replace("{t}", alias);
        self.sql(&f(TASK_RULE_HEAD[0]))
            .uuids(actor.orgs_with(crust_domain::OrgRole::Guest))
            .sql(&f(TASK_RULE_HEAD[1]))
            .uuid(actor.uid())
            .sql(&f(TASK_RULE_HEAD[2]))
            .project_rule(actor, TASK_PROJECT_ALIAS)
            .sql(TASK_RULE_TAIL)
    }

    /// Appends the task-visibility rule for the tasks row aliased `alias`, for tasks of
    /// the projects `scope` selects (see [`TASK_RULE_SCOPED`]): the rule for statements
    /// that read many tasks of a few projects, such as a board column's count, page and
    /// rollups.
    pub fn task_rule_within(&mut self, actor: &Actor, alias: &str, scope: Raw) -> &mut Self {
        let f = |s: &str| s.replace("{t}", alias);
        self.sql(&f(TASK_RULE_SCOPED[0]))
            .uuids(actor.orgs_with(crust_domain::OrgRole::Guest))
            .sql(&f(TASK_RULE_SCOPED[1]))
            .append(scope)
            .sql(&f(TASK_RULE_SCOPED[2]))
            .project_rule(actor, "sp")
            .sql(&f(TASK_RULE_SCOPED[3]))
            .uuid(actor.uid())
            .sql(&f(TASK_RULE_SCOPED[4]))
    }

    pub fn load<T: QueryableByName<Pg> + 'static>(
        self,
        conn: &mut PgConnection,
    ) -> DalResult<Vec<T>> {
        Ok(RunQueryDsl::load(self, conn)?)
    }
}

impl QueryFragment<Pg> for Raw {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> diesel::QueryResult<()> {
        for part in &self.parts {
            match part {
                Part::Text(text) => out.push_sql(text),
                Part::Bind(Bind::Uuid(v)) => out.push_bind_param::<SqlUuid, _>(v)?,
                Part::Bind(Bind::Uuids(v)) => out.push_bind_param::<Array<SqlUuid>, _>(v)?,
                Part::Bind(Bind::BigInt(v)) => out.push_bind_param::<BigInt, _>(v)?,
            }
        }
        Ok(())
    }
}

/// Not a static id: diesel keys the statement cache by the text instead.
impl QueryId for Raw {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl Query for Raw {
    type SqlType = diesel::sql_types::Untyped;
}

impl RunQueryDsl<PgConnection> for Raw {}
