//! Raw SQL for the queries diesel's DSL cannot say (window functions for per-parent
//! pages, grouped rollups), with values always bound, never interpolated, and the
//! visibility rules of [`crate::visibility`] rendered from the same fragments.

use diesel::pg::Pg;
use diesel::query_builder::BoxedSqlQuery;
use diesel::query_builder::SqlQuery;
use diesel::sql_types::{Array, BigInt, Uuid as SqlUuid};
use diesel::{PgConnection, QueryableByName, RunQueryDsl};
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::DalResult;
use crate::visibility::{
    project_binds, PROJECT_RULE, TASK_PROJECT_ALIAS, TASK_RULE_HEAD, TASK_RULE_TAIL,
};

enum Bind {
    Uuid(Uuid),
    Uuids(Vec<Uuid>),
    BigInt(i64),
}

/// A SQL statement under construction: text with `$n` placeholders and their values.
#[derive(Default)]
pub(crate) struct Raw {
    sql: String,
    binds: Vec<Bind>,
}

impl Raw {
    pub fn new(sql: &str) -> Self {
        Raw {
            sql: sql.to_owned(),
            binds: Vec::new(),
        }
    }

    /// Appends another statement under construction (its placeholders renumbered).
    pub fn append(&mut self, other: Raw) -> &mut Self {
        let offset = self.binds.len();
        let mut text = String::with_capacity(other.sql.len());
        let mut chars = other.sql.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
                let mut n = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    n.push(d);
                    chars.next();
                }
                let n: usize = n.parse().unwrap_or(0);
                text.push_str(&format!("${}", n + offset));
            } else {
                text.push(c);
            }
        }
        self.sql.push_str(&text);
        self.binds.extend(other.binds);
        self
    }

    pub fn sql(&mut self, text: &str) -> &mut Self {
        self.sql.push_str(text);
        self
    }

    fn bind(&mut self, b: Bind) -> &mut Self {
        self.binds.push(b);
        self.sql.push_str(&format!("${}", self.binds.len()));
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

    fn query(&self) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
        let mut q = diesel::sql_query(self.sql.clone()).into_boxed::<Pg>();
        for b in &self.binds {
            q = match b {
                Bind::Uuid(v) => q.bind::<SqlUuid, _>(*v),
                Bind::Uuids(v) => q.bind::<Array<SqlUuid>, _>(v.clone()),
                Bind::BigInt(v) => q.bind::<BigInt, _>(*v),
            };
        }
        q
    }

    pub fn load<T: QueryableByName<Pg> + 'static>(
        &self,
        conn: &mut PgConnection,
    ) -> DalResult<Vec<T>> {
        Ok(self.query().load(conn)?)
    }
}
