//! Organizations and their members. An organization always keeps at least one OWNER:
//! changes that would remove the last one are refused with the owners' rows locked, so
//! two concurrent demotions cannot both pass.

use crust_domain::{decide, Action, Object, OrgId, OrgRole, UserId};
use diesel::prelude::*;
use uuid::Uuid;

use crate::actor::Actor;
use crate::error::{DalError, DalResult};
use crate::models::{parse_org_role, OrgMember, Organization, User};
use crate::need_to_know;
use crate::page::{Page, Paged};
use crate::schema::{
    memberships, organizations, project_members, projects, task_assignees, task_grants, tasks,
    users,
};

/// Organizations the actor belongs to, by name.
pub fn list(conn: &mut PgConnection, actor: &Actor, page: Page) -> DalResult<Paged<Organization>> {
    let mine = actor.orgs_with(OrgRole::Guest);
    let total = organizations::table
        .filter(organizations::id.eq_any(&mine))
        .count()
        .get_result(conn)?;
    let items = organizations::table
        .filter(organizations::id.eq_any(&mine))
        .order((organizations::name, organizations::id))
        .offset(page.offset)
        .limit(page.limit)
        .select(Organization::as_select())
        .load(conn)?;
    Ok(Paged::new(items, total, page))
}

/// One organization the actor belongs to; any other id is `NotFound`.
pub fn get(conn: &mut PgConnection, actor: &Actor, id: OrgId) -> DalResult<Organization> {
    DalError::check(
        decide(Action::ReadOrg, Object::Org(actor.org_facts(id))),
        "read this organization",
    )?;
    Ok(organizations::table
        .find(id.0)
        .select(Organization::as_select())
        .first(conn)?)
}

/// Checks `action` on the organization for the actor.
pub fn check(actor: &Actor, org: OrgId, action: Action, what: &str) -> DalResult<()> {
    DalError::check(decide(action, Object::Org(actor.org_facts(org))), what)
}

/// Creates an organization with the actor as its first OWNER.
pub fn create(conn: &mut PgConnection, actor: &Actor, name: &str) -> DalResult<Organization> {
    let name = crust_domain::validate::name("name", name)?;
    conn.transaction(|conn| {
        let org: Organization = diesel::insert_into(organizations::table)
            .values(organizations::name.eq(&name))
            .returning(Organization::as_returning())
            .get_result(conn)?;
        diesel::insert_into(memberships::table)
            .values((
                memberships::org_id.eq(org.id),
                memberships::user_id.eq(actor.uid()),
                memberships::role.eq(OrgRole::Owner.as_str()),
            ))
            .execute(conn)?;
        Ok(org)
    })
}

/// The organization's members, by name (MEMBER and above may read the directory).
pub fn members(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    page: Page,
) -> DalResult<Paged<OrgMember>> {
    check(
        actor,
        org,
        Action::ReadOrgDirectory,
        "list this organization's members",
    )?;
    let total = memberships::table
        .filter(memberships::org_id.eq(org.0))
        .count()
        .get_result(conn)?;
    let rows: Vec<(User, String)> = memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org.0))
        .order((users::name, users::id))
        .offset(page.offset)
        .limit(page.limit)
        .select((User::as_select(), memberships::role))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(user, role)| OrgMember {
            org_id: org.0,
            user,
            role: parse_org_role(&role),
        })
        .collect();
    Ok(Paged::new(items, total, page))
}

/// A user's role in an organization, if they are a member.
pub(crate) fn role_of(
    conn: &mut PgConnection,
    org: OrgId,
    user: Uuid,
) -> DalResult<Option<OrgRole>> {
    let role: Option<String> = memberships::table
        .find((org.0, user))
        .select(memberships::role)
        .first(conn)
        .optional()?;
    Ok(role.as_deref().map(parse_org_role))
}

fn member(conn: &mut PgConnection, org: OrgId, user: Uuid) -> DalResult<OrgMember> {
    let (user, role): (User, String) = memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org.0))
        .filter(memberships::user_id.eq(user))
        .select((User::as_select(), memberships::role))
        .first(conn)?;
    Ok(OrgMember {
        org_id: org.0,
        user,
        role: parse_org_role(&role),
    })
}

/// Whoever touches the OWNER role (giving it or changing an owner) must be an OWNER.
pub(crate) fn check_role_change(
    actor: &Actor,
    org: OrgId,
    from: Option<OrgRole>,
    to: Option<OrgRole>,
) -> DalResult<()> {
    check(
        actor,
        org,
        Action::ManageOrgMembers,
        "manage this organization's members",
    )?;
    if from == Some(OrgRole::Owner) || to == Some(OrgRole::Owner) {
        check(
            actor,
            org,
            Action::ManageOrgOwners,
            "change who owns this organization",
        )?;
    }
    Ok(())
}

/// The organizations a user belongs to, by name: (id, name, role).
pub(crate) fn memberships_of(
    conn: &mut PgConnection,
    user: Uuid,
) -> DalResult<Vec<(OrgId, String, OrgRole)>> {
    let rows: Vec<(Uuid, String, String)> = memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq(user))
        .order(organizations::name.asc())
        .select((organizations::id, organizations::name, memberships::role))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, name, role)| (OrgId(id), name, parse_org_role(&role)))
        .collect())
}

/// Whether `user` is the organization's last OWNER who can act.
pub(crate) fn is_last_owner(conn: &mut PgConnection, org: OrgId, user: Uuid) -> DalResult<bool> {
    match ensure_other_owner(conn, org, user) {
        Ok(()) => Ok(false),
        Err(DalError::Conflict(_)) => Ok(true),
        Err(e) => Err(e),
    }
}

/// Refuses a change that would leave the organization without an OWNER.
pub(crate) fn ensure_other_owner(
    conn: &mut PgConnection,
    org: OrgId,
    leaving: Uuid,
) -> DalResult<()> {
    // Only owners who can still act count: a deactivated or erased OWNER keeps the
    // role but could never use it.
    let owners: Vec<Uuid> = memberships::table
        .inner_join(users::table)
        .filter(memberships::org_id.eq(org.0))
        .filter(memberships::role.eq(OrgRole::Owner.as_str()))
        .filter(users::active.eq(true))
        .select(memberships::user_id)
        .for_update()
        .load(conn)?;
    if owners.iter().all(|o| *o == leaving) {
        return Err(DalError::Conflict(
            "an organization must keep at least one OWNER; make someone else OWNER first".into(),
        ));
    }
    Ok(())
}

/// Adds an existing account to an organization from the console (`crust org
/// add-member`): no invitation, no email. Recorded in the audit log as the console's.
pub fn add_member_as_operator(
    _: &crate::Operator,
    conn: &mut PgConnection,
    org: OrgId,
    user: UserId,
    role: OrgRole,
) -> DalResult<OrgMember> {
    conn.transaction(|conn| {
        organizations::table
            .find(org.0)
            .select(organizations::id)
            .first::<Uuid>(conn)?;
        if role_of(conn, org, user.0)?.is_some() {
            return Err(DalError::Conflict(
                "this user is already a member of the organization".into(),
            ));
        }
        diesel::insert_into(memberships::table)
            .values((
                memberships::org_id.eq(org.0),
                memberships::user_id.eq(user.0),
                memberships::role.eq(role.as_str()),
            ))
            .execute(conn)?;
        let mut e = crate::audit::NewEvent::new(
            "addOrganizationMember",
            crust_domain::audit::Outcome::Ok,
            crate::audit::Origin::default(),
        );
        e.reason = Some("console".into());
        e.organization = Some(org.0);
        e.subject_user = Some(user);
        e.target = Some(crate::audit::Target::new(
            crate::audit::TargetKind::User,
            user.0,
        ));
        e.variables = Some(format!("{{\"role\":\"{}\"}}", role.as_str()));
        crate::audit::append(conn, &e)?;
        member(conn, org, user.0)
    })
}

/// Every organization with its number of members, by name (`crust org list`).
pub fn list_all(
    _: &crate::Operator,
    conn: &mut PgConnection,
) -> DalResult<Vec<(Organization, i64)>> {
    let orgs: Vec<Organization> = organizations::table
        .order((organizations::name.asc(), organizations::id.asc()))
        .select(Organization::as_select())
        .load(conn)?;
    let counts: Vec<(Uuid, i64)> = memberships::table
        .group_by(memberships::org_id)
        .select((memberships::org_id, diesel::dsl::count_star()))
        .load(conn)?;
    let counts: std::collections::HashMap<Uuid, i64> = counts.into_iter().collect();
    Ok(orgs
        .into_iter()
        .map(|o| {
            let n = counts.get(&o.id).copied().unwrap_or(0);
            (o, n)
        })
        .collect())
}

/// Changes a member's role.
pub fn update_member(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    user: UserId,
    role: OrgRole,
) -> DalResult<OrgMember> {
    check(
        actor,
        org,
        Action::ManageOrgMembers,
        "manage this organization's members",
    )?;
    conn.transaction(|conn| {
        need_to_know::lock_org(conn, org)?;
        let current = role_of(conn, org, user.0)?.ok_or(DalError::NotFound)?;
        check_role_change(actor, org, Some(current), Some(role))?;
        if current == OrgRole::Owner && role != OrgRole::Owner {
            ensure_other_owner(conn, org, user.0)?;
        }
        diesel::update(memberships::table.find((org.0, user.0)))
            .set(memberships::role.eq(role.as_str()))
            .execute(conn)?;
        if role == OrgRole::Guest {
            // Guests work only through task grants: project roles would be dead weight
            // that silently came back if they were promoted again.
            remove_project_memberships(conn, org, user.0)?;
        }
        need_to_know::ensure_managed(conn, org)?;
        member(conn, org, user.0)
    })
}

/// Removes a member (any member may remove themselves) and everything that gave them
/// access inside the organization: project memberships, task grants and assignments.
pub fn remove_member(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    user: UserId,
) -> DalResult<()> {
    check(actor, org, Action::ReadOrg, "read this organization")?;
    conn.transaction(|conn| {
        need_to_know::lock_org(conn, org)?;
        let current = role_of(conn, org, user.0)?.ok_or(DalError::NotFound)?;
        if user != actor.user_id {
            check_role_change(actor, org, Some(current), None)?;
        }
        if current == OrgRole::Owner {
            ensure_other_owner(conn, org, user.0)?;
        }
        strip_access(conn, org, user.0)
    })
}

/// Takes away a member's membership and everything that gave them access inside the
/// organization: project memberships, task grants and assignments. The caller has
/// checked the right to do it and locked the organization.
pub(crate) fn strip_access(conn: &mut PgConnection, org: OrgId, user: Uuid) -> DalResult<()> {
    remove_project_memberships(conn, org, user)?;
    let org_tasks = tasks::table
        .filter(tasks::org_id.eq(org.0))
        .select(tasks::id);
    diesel::delete(
        task_grants::table
            .filter(task_grants::user_id.eq(user))
            .filter(task_grants::task_id.eq_any(org_tasks)),
    )
    .execute(conn)?;
    diesel::delete(
        task_assignees::table
            .filter(task_assignees::user_id.eq(user))
            .filter(task_assignees::task_id.eq_any(org_tasks)),
    )
    .execute(conn)?;
    diesel::delete(memberships::table.find((org.0, user))).execute(conn)?;
    need_to_know::ensure_managed(conn, org)
}

fn remove_project_memberships(conn: &mut PgConnection, org: OrgId, user: Uuid) -> DalResult<()> {
    let org_projects = projects::table
        .filter(projects::org_id.eq(org.0))
        .select(projects::id);
    diesel::delete(
        project_members::table
            .filter(project_members::user_id.eq(user))
            .filter(project_members::project_id.eq_any(org_projects)),
    )
    .execute(conn)?;
    Ok(())
}
