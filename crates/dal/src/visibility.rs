//! The read half of the access rules, as SQL. These filters must agree with
//! `crust_domain::access` (the end-to-end ACL tests check both sides): a row that
//! `decide` would answer `NotFound` for must not pass them.
//!
//! They are written as SQL fragments with bound parameters (never interpolated
//! values) because the same project rule is needed both on `projects` and inside a
//! correlated subquery for `tasks`, which diesel's typed boxed expressions cannot share.

use crust_domain::OrgRole;
use diesel::dsl::sql;
use diesel::expression::BoxableExpression;
use diesel::pg::Pg;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};

use crate::actor::Actor;
use crate::schema::{boxes, projects, slices, tasks};

pub(crate) type ProjectFilter = Box<dyn BoxableExpression<projects::table, Pg, SqlType = Bool>>;
pub(crate) type TaskFilter = Box<dyn BoxableExpression<tasks::table, Pg, SqlType = Bool>>;

/// Appends the project rule, for the `projects` row aliased `$p`, to a SQL literal chain.
macro_rules! push_project_rule {
    ($chain:expr, $p:literal, $actor:expr) => {
        $chain
            .sql(concat!("(", $p, ".org_id = ANY("))
            .bind::<Array<SqlUuid>, _>($actor.orgs_with(OrgRole::Member))
            .sql(concat!(
                ") AND (EXISTS (SELECT 1 FROM project_members pm WHERE pm.project_id = ",
                $p,
                ".id AND pm.user_id = "
            ))
            .bind::<SqlUuid, _>($actor.uid())
            .sql(concat!(
                ") OR (",
                $p,
                ".classification <> 'SECRET' AND (",
                $p,
                ".visibility = 'ORGANIZATION' OR ",
                $p,
                ".org_id = ANY("
            ))
            .bind::<Array<SqlUuid>, _>($actor.orgs_with(OrgRole::Admin))
            .sql(")))))")
    };
}

/// Projects the actor may read: in an org where they are more than a guest, and either
/// listed as a member (the only way into a SECRET project) or, for non-SECRET projects,
/// org OWNER/ADMIN or the project is visible to the whole organization.
pub(crate) fn project_visible(actor: &Actor) -> ProjectFilter {
    Box::new(push_project_rule!(sql::<Bool>(""), "projects", actor))
}

/// Tasks the actor may read: in one of their orgs, and either granted to them (the only
/// way to a SECRET task) or a non-SECRET task of a project they may read.
pub(crate) fn task_visible(actor: &Actor) -> TaskFilter {
    let head = sql::<Bool>("(tasks.org_id = ANY(")
        .bind::<Array<SqlUuid>, _>(actor.orgs_with(OrgRole::Guest))
        .sql(") AND (EXISTS (SELECT 1 FROM task_grants g WHERE g.task_id = tasks.id AND g.user_id = ")
        .bind::<SqlUuid, _>(actor.uid())
        .sql(") OR (tasks.classification <> 'SECRET' AND EXISTS (SELECT 1 FROM projects p WHERE p.id = tasks.project_id AND ");
    Box::new(push_project_rule!(head, "p", actor).sql("))))"))
}

/// Rows of `$table` (with a `project_id` column) whose project the actor may read.
macro_rules! in_visible_project {
    ($table:literal, $actor:expr) => {{
        let head = sql::<Bool>(concat!(
            "EXISTS (SELECT 1 FROM projects p WHERE p.id = ",
            $table,
            ".project_id AND "
        ));
        push_project_rule!(head, "p", $actor).sql(")")
    }};
}

pub(crate) type SliceFilter = Box<dyn BoxableExpression<slices::table, Pg, SqlType = Bool>>;
pub(crate) type BoxFilter = Box<dyn BoxableExpression<boxes::table, Pg, SqlType = Bool>>;

/// Slices of projects the actor may read.
pub(crate) fn slice_visible(actor: &Actor) -> SliceFilter {
    Box::new(in_visible_project!("slices", actor))
}

/// Boxes of projects the actor may read.
pub(crate) fn box_visible(actor: &Actor) -> BoxFilter {
    Box::new(in_visible_project!("boxes", actor))
}
