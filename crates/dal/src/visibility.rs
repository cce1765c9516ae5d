//! The read half of the access rules, as SQL. These filters must agree with
//! `crust_domain::access` (the end-to-end ACL tests check both sides): a row that
//! `decide` would answer `NotFound` for must not pass them.
//!
//! Each rule is written once, as SQL text fragments with a bound parameter between
//! consecutive fragments (never an interpolated value). Two renderers use them: typed
//! diesel filters (`*_visible`) and raw batched queries ([`crate::raw::Raw`]).

use crust_domain::OrgRole;
use diesel::dsl::sql;
use diesel::expression::BoxableExpression;
use diesel::pg::Pg;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use uuid::Uuid;

use crate::actor::Actor;
use crate::schema::{boxes, projects, slices, tasks};

/// Projects the actor may read: in an org where they are more than a guest, and either
/// listed as a member (the only way into a SECRET project) or, for non-SECRET projects,
/// org OWNER/ADMIN or the project is visible to the whole organization. `{p}` is the
/// projects row; the binds are the actor's MEMBER+ orgs, their id, their ADMIN+ orgs.
pub(crate) const PROJECT_RULE: [&str; 4] = [
    "({p}.org_id = ANY(",
    ") AND (EXISTS (SELECT 1 FROM project_members pm WHERE pm.project_id = {p}.id AND pm.user_id = ",
    ") OR ({p}.classification <> 'SECRET' AND ({p}.visibility = 'ORGANIZATION' OR {p}.org_id = ANY(",
    ")))))",
];

/// Tasks the actor may read: in one of their orgs, and either granted to them (the only
/// way to a SECRET task) or a non-SECRET task of a project they may read. `{t}` is the
/// tasks row; the binds are all the actor's orgs and their id, then [`PROJECT_RULE`]
/// for the task's project (aliased `tp`) follows, then [`TASK_RULE_TAIL`].
pub(crate) const TASK_RULE_HEAD: [&str; 3] = [
    "({t}.org_id = ANY(",
    ") AND (EXISTS (SELECT 1 FROM task_grants g WHERE g.task_id = {t}.id AND g.user_id = ",
    ") OR ({t}.classification <> 'SECRET' AND EXISTS (SELECT 1 FROM projects tp WHERE tp.id = {t}.project_id AND ",
];
pub(crate) const TASK_RULE_TAIL: &str = "))))";

/// The task rule for tasks known to lie in a few projects (those of the boxes, slices
/// or projects a statement asks about): the same rule, with the readability of those
/// projects decided once per statement instead of once per row. The scope is a
/// subquery of project ids; the binds are all the actor's orgs, the scope's, the
/// [`PROJECT_RULE`]'s for the scope's projects (aliased `sp`), then the actor's id.
/// It is never more permissive than [`TASK_RULE_HEAD`]: a task of a project outside
/// the scope passes only by a grant.
pub(crate) const TASK_RULE_SCOPED: [&str; 5] = [
    "({t}.org_id = ANY(",
    ") AND (({t}.classification <> 'SECRET' AND {t}.project_id = ANY(ARRAY(SELECT sp.id FROM projects sp WHERE sp.id IN (",
    ") AND ",
    "))) OR EXISTS (SELECT 1 FROM task_grants g WHERE g.task_id = {t}.id AND g.user_id = ",
    ")))",
];

/// The project alias inside the task rule.
pub(crate) const TASK_PROJECT_ALIAS: &str = "tp";

/// The binds of the project rule, in order.
pub(crate) fn project_binds(actor: &Actor) -> (Vec<Uuid>, Uuid, Vec<Uuid>) {
    (
        actor.orgs_with(OrgRole::Member),
        actor.uid(),
        actor.orgs_with(OrgRole::Admin),
    )
}

fn fill(fragment: &str, alias: &str) -> String {
    fragment.replace("{p}", alias).replace("{t}", alias)
}

pub(crate) type ProjectFilter = Box<dyn BoxableExpression<projects::table, Pg, SqlType = Bool>>;
pub(crate) type TaskFilter = Box<dyn BoxableExpression<tasks::table, Pg, SqlType = Bool>>;
pub(crate) type SliceFilter = Box<dyn BoxableExpression<slices::table, Pg, SqlType = Bool>>;
pub(crate) type BoxFilter = Box<dyn BoxableExpression<boxes::table, Pg, SqlType = Bool>>;

/// `prefix` + the project rule for `alias` + `suffix`, as a diesel expression usable
/// on any table.
fn project_rule<QS>(
    actor: &Actor,
    prefix: &str,
    alias: &str,
    suffix: &str,
) -> Box<dyn BoxableExpression<QS, Pg, SqlType = Bool>>
where
    QS: 'static,
{
    let (members, uid, admins) = project_binds(actor);
    Box::new(
        sql::<Bool>(&format!("{prefix}{}", fill(PROJECT_RULE[0], alias)))
            .bind::<Array<SqlUuid>, _>(members)
            .sql(&fill(PROJECT_RULE[1], alias))
            .bind::<SqlUuid, _>(uid)
            .sql(&fill(PROJECT_RULE[2], alias))
            .bind::<Array<SqlUuid>, _>(admins)
            .sql(&format!("{}{suffix}", fill(PROJECT_RULE[3], alias))),
    )
}

pub(crate) fn project_visible(actor: &Actor) -> ProjectFilter {
    project_rule(actor, "", "projects", "")
}

pub(crate) fn task_visible(actor: &Actor) -> TaskFilter {
    let (members, uid, admins) = project_binds(actor);
    let p = TASK_PROJECT_ALIAS;
    Box::new(
        sql::<Bool>(&fill(TASK_RULE_HEAD[0], "tasks"))
            .bind::<Array<SqlUuid>, _>(actor.orgs_with(OrgRole::Guest))
            .sql(&fill(TASK_RULE_HEAD[1], "tasks"))
            .bind::<SqlUuid, _>(uid)
            .sql(&format!(
                "{}{}",
                fill(TASK_RULE_HEAD[2], "tasks"),
                fill(PROJECT_RULE[0], p)
            ))
            .bind::<Array<SqlUuid>, _>(members)
            .sql(&fill(PROJECT_RULE[1], p))
            .bind::<SqlUuid, _>(uid)
            .sql(&fill(PROJECT_RULE[2], p))
            .bind::<Array<SqlUuid>, _>(admins)
            .sql(&format!("{}{TASK_RULE_TAIL}", fill(PROJECT_RULE[3], p))),
    )
}

/// Slices of projects the actor may read.
pub(crate) fn slice_visible(actor: &Actor) -> SliceFilter {
    project_rule(
        actor,
        "EXISTS (SELECT 1 FROM projects p WHERE p.id = slices.project_id AND ",
        "p",
        ")",
    )
}

/// Boxes of projects the actor may read.
pub(crate) fn box_visible(actor: &Actor) -> BoxFilter {
    project_rule(
        actor,
        "EXISTS (SELECT 1 FROM projects p WHERE p.id = boxes.project_id AND ",
        "p",
        ")",
    )
}
