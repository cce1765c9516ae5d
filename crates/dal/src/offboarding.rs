//! Ending someone's access: deactivating an account (every session and link ends at
//! once; memberships stay, so reactivating restores it) and offboarding it (deactivated,
//! and every membership, project role, task grant and assignment removed, with open
//! work handed to someone else or listed).
//!
//! An access token stays valid for minutes, but every authenticated request checks
//! that its session is open and its user active (`sessions::authenticate`), so a
//! deactivated account's tokens are refused on the very next request.

use chrono::{DateTime, Utc};
use crust_domain::audit::Outcome;
use crust_domain::{OrgId, OrgRole, TaskId, UserId};
use diesel::prelude::*;
use uuid::Uuid;

use crate::actor::Actor;
use crate::audit::{self, NewEvent, Origin, Target, TargetKind};
use crate::error::{DalError, DalResult};
use crate::models::parse_org_role;
use crate::need_to_know;
use crate::orgs;
use crate::schema::{
    email_tokens, memberships, organizations, projects, task_assignees, tasks, users,
};
use crate::sessions::{self, RevokeReason};

/// One account as `crust user list` shows it.
#[derive(Clone, Debug)]
pub struct Account {
    pub id: Uuid,
    pub email: String,
    pub name: String,
    pub active: bool,
    pub email_verified: bool,
    pub created_at: DateTime<Utc>,
    /// (organization id, name, role), by name.
    pub orgs: Vec<(Uuid, String, OrgRole)>,
}

/// Every account, or the members of one organization, by email.
pub fn list_users(
    _: &crate::Operator,
    conn: &mut PgConnection,
    org: Option<OrgId>,
) -> DalResult<Vec<Account>> {
    let mut query = users::table
        .select((
            users::id,
            users::email,
            users::name,
            users::active,
            users::email_verified,
            users::created_at,
        ))
        .order(users::email.asc())
        .into_boxed();
    if let Some(org) = org {
        organizations::table
            .find(org.0)
            .select(organizations::id)
            .first::<Uuid>(conn)?;
        query = query.filter(
            users::id.eq_any(
                memberships::table
                    .filter(memberships::org_id.eq(org.0))
                    .select(memberships::user_id),
            ),
        );
    }
    type Row = (Uuid, String, String, bool, bool, DateTime<Utc>);
    let rows: Vec<Row> = query.load(conn)?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let roles: Vec<(Uuid, Uuid, String, String)> = memberships::table
        .inner_join(organizations::table)
        .filter(memberships::user_id.eq_any(&ids))
        .order(organizations::name.asc())
        .select((
            memberships::user_id,
            organizations::id,
            organizations::name,
            memberships::role,
        ))
        .load(conn)?;
    let mut by_user: std::collections::HashMap<Uuid, Vec<(Uuid, String, OrgRole)>> =
        std::collections::HashMap::new();
    for (user, org, name, role) in roles {
        by_user
            .entry(user)
            .or_default()
            .push((org, name, parse_org_role(&role)));
    }
    Ok(rows
        .into_iter()
        .map(
            |(id, email, name, active, email_verified, created_at)| Account {
                orgs: by_user.remove(&id).unwrap_or_default(),
                id,
                email,
                name,
                active,
                email_verified,
                created_at,
            },
        )
        .collect())
}

/// What ending an account's access ended.
#[derive(Clone, Copy, Debug, Default)]
pub struct Ended {
    /// Sessions that were open (each with its refresh tokens).
    pub sessions: usize,
    /// Open invitations the account had sent.
    pub invitations: usize,
}

/// Makes an account unusable at once: inactive, every session ended (with its refresh
/// tokens), every pending email link spent, every open invitation it sent revoked.
fn end_access(conn: &mut PgConnection, user: UserId) -> DalResult<Ended> {
    diesel::update(users::table.find(user.0))
        .set((
            users::active.eq(false),
            users::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    diesel::update(
        email_tokens::table
            .filter(email_tokens::user_id.eq(user.0))
            .filter(email_tokens::used_at.is_null()),
    )
    .set(email_tokens::used_at.eq(diesel::dsl::now))
    .execute(conn)?;
    Ok(Ended {
        invitations: crate::invitations::revoke_pending_sent_by(conn, user)?,
        sessions: sessions::revoke_all(conn, user, RevokeReason::Deactivated)?,
    })
}

fn console_event(action: &str, user: UserId, org: Option<Uuid>) -> NewEvent {
    let mut e = NewEvent::new(action, Outcome::Ok, Origin::default());
    e.reason = Some("console".into());
    e.organization = org;
    e.subject_user = Some(user);
    e.target = Some(Target::new(TargetKind::User, user.0));
    e
}

fn is_active(conn: &mut PgConnection, user: UserId) -> DalResult<bool> {
    Ok(users::table
        .find(user.0)
        .select(users::active)
        .first(conn)?)
}

/// `crust user deactivate`: ends the account's access (see the module's docs); its
/// memberships stay for a later `reactivate`.
pub fn deactivate(_: &crate::Operator, conn: &mut PgConnection, user: UserId) -> DalResult<Ended> {
    conn.transaction(|conn| {
        if !is_active(conn, user)? {
            return Err(DalError::Conflict(
                "this account is already deactivated".into(),
            ));
        }
        let ended = end_access(conn, user)?;
        audit::append(conn, &console_event("deactivateUser", user, None))?;
        Ok(ended)
    })
}

/// `crust user reactivate`: the account may sign in again (with its old password; its
/// sessions stay ended). What offboarding removed is not given back.
pub fn reactivate(_: &crate::Operator, conn: &mut PgConnection, user: UserId) -> DalResult<()> {
    conn.transaction(|conn| {
        let erased: Option<DateTime<Utc>> = users::table
            .find(user.0)
            .select(users::erased_at)
            .first(conn)?;
        if erased.is_some() {
            return Err(DalError::Conflict(
                "this account was erased: it cannot come back".into(),
            ));
        }
        if is_active(conn, user)? {
            return Err(DalError::Conflict("this account is active already".into()));
        }
        diesel::update(users::table.find(user.0))
            .set((
                users::active.eq(true),
                users::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        audit::append(conn, &console_event("reactivateUser", user, None))?;
        Ok(())
    })
}

/// An open task, as the offboarding report names it.
#[derive(Clone, Debug)]
pub struct OpenTask {
    pub id: Uuid,
    pub title: String,
    pub project: String,
    pub organization: String,
}

#[derive(Clone, Debug, Default)]
pub struct OffboardReport {
    pub sessions_ended: usize,
    pub invitations_revoked: usize,
    /// (organization name, the role they had).
    pub memberships_removed: Vec<(String, OrgRole)>,
    /// (organization name) where the successor was made OWNER.
    pub successor_made_owner: Vec<String>,
    pub reassigned: Vec<OpenTask>,
    /// Open tasks now without this assignee, with why they were not handed over.
    pub left_unassigned: Vec<(OpenTask, String)>,
    /// BI logins of organizations this person administered: credentials they could
    /// have read, to rotate (`crust bi rotate`).
    pub bi_logins_to_rotate: Vec<(Uuid, String, String)>,
}

/// `crust user offboard`: deactivates the account, hands its open tasks to
/// `reassign_to` where that person may see them (the others are listed), and removes
/// every membership, project role, task grant and assignment. Where the account is the
/// last OWNER, `successor` becomes OWNER (made a member if need be); without one the
/// whole offboarding is refused and nothing changes.
pub fn offboard(
    _: &crate::Operator,
    conn: &mut PgConnection,
    user: UserId,
    reassign_to: Option<UserId>,
    successor: Option<UserId>,
) -> DalResult<OffboardReport> {
    conn.transaction(|conn| {
        for other in [reassign_to, successor].into_iter().flatten() {
            if other == user {
                return Err(DalError::Invalid(
                    "the successor and the new assignee must be someone else".into(),
                ));
            }
            if !is_active(conn, other)? {
                return Err(DalError::Invalid(
                    "the successor and the new assignee must be active accounts".into(),
                ));
            }
        }
        let mut report = OffboardReport::default();
        let member_of = orgs::memberships_of(conn, user.0)?;
        for (org, org_name, role) in &member_of {
            let (org, role) = (*org, *role);
            need_to_know::lock_org(conn, org)?;
            if role == OrgRole::Owner && orgs::is_last_owner(conn, org, user.0)? {
                let Some(successor) = successor else {
                    return Err(DalError::Conflict(format!(
                        "this account is the last OWNER of \"{org_name}\": name a successor \
                         (--successor EMAIL) who will own it"
                    )));
                };
                make_owner(conn, org, successor)?;
                report.successor_made_owner.push(org_name.clone());
            }
            if matches!(role, OrgRole::Owner | OrgRole::Admin) {
                let logins: Vec<BiLogin> =
                    diesel::sql_query("SELECT role_name FROM bi_logins WHERE org_id = $1")
                        .bind::<diesel::sql_types::Uuid, _>(org.0)
                        .load(conn)?;
                report.bi_logins_to_rotate.extend(
                    logins
                        .into_iter()
                        .map(|l| (org.0, org_name.clone(), l.role_name)),
                );
            }
        }
        hand_over_open_tasks(conn, user, reassign_to, &mut report)?;
        for (org, org_name, role) in member_of {
            orgs::strip_access(conn, org, user.0)?;
            let mut e = console_event("offboardUser", user, Some(org.0));
            e.variables = Some(format!("{{\"role\":\"{}\"}}", role.as_str()));
            audit::append(conn, &e)?;
            report.memberships_removed.push((org_name, role));
        }
        let ended = end_access(conn, user)?;
        report.sessions_ended = ended.sessions;
        report.invitations_revoked = ended.invitations;
        audit::append(conn, &console_event("deactivateUser", user, None))?;
        Ok(report)
    })
}

#[derive(QueryableByName)]
struct BiLogin {
    #[diesel(sql_type = diesel::sql_types::Text)]
    role_name: String,
}

fn make_owner(conn: &mut PgConnection, org: OrgId, successor: UserId) -> DalResult<()> {
    diesel::insert_into(memberships::table)
        .values((
            memberships::org_id.eq(org.0),
            memberships::user_id.eq(successor.0),
            memberships::role.eq(OrgRole::Owner.as_str()),
        ))
        .on_conflict((memberships::org_id, memberships::user_id))
        .do_update()
        .set(memberships::role.eq(OrgRole::Owner.as_str()))
        .execute(conn)?;
    let mut e = console_event("updateOrganizationMember", successor, Some(org.0));
    e.variables = Some(r#"{"role":"OWNER","reason":"successor of an offboarded owner"}"#.into());
    audit::append(conn, &e)?;
    Ok(())
}

/// Open (not DONE, not NOT_NEEDED) tasks assigned to `user`: each goes to `to` when
/// that person is a member who may see the task, otherwise it is listed.
fn hand_over_open_tasks(
    conn: &mut PgConnection,
    user: UserId,
    to: Option<UserId>,
    report: &mut OffboardReport,
) -> DalResult<()> {
    let open: Vec<(Uuid, String, String, String)> = task_assignees::table
        .inner_join(tasks::table.on(tasks::id.eq(task_assignees::task_id)))
        .inner_join(projects::table.on(projects::id.eq(tasks::project_id)))
        .inner_join(organizations::table.on(organizations::id.eq(tasks::org_id)))
        .filter(task_assignees::user_id.eq(user.0))
        .filter(tasks::status.ne_all(["DONE", "NOT_NEEDED"]))
        .order((
            organizations::name.asc(),
            projects::name.asc(),
            tasks::title.asc(),
        ))
        .select((tasks::id, tasks::title, projects::name, organizations::name))
        .load(conn)?;
    // Loaded once, after the successor change: whom the new assignee may see now.
    let heir = match to {
        Some(to) => Some(Actor::load(conn, to)?),
        None => None,
    };
    for (id, title, project, organization) in open {
        let task = OpenTask {
            id,
            title,
            project,
            organization,
        };
        let Some(heir) = &heir else {
            report
                .left_unassigned
                .push((task, "no --reassign-to given".into()));
            continue;
        };
        if crate::tasks::get(conn, heir, TaskId(id)).is_err() {
            report.left_unassigned.push((
                task,
                "the new assignee may not see this task (not a member, or not on its access list)"
                    .into(),
            ));
            continue;
        }
        diesel::insert_into(task_assignees::table)
            .values((
                task_assignees::task_id.eq(id),
                task_assignees::user_id.eq(heir.user_id().0),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        let mut e = NewEvent::new("reassignTask", Outcome::Ok, Origin::default())
            .about(conn, Some(Target::new(TargetKind::Task, id)))?;
        e.reason = Some("console: offboarding".into());
        e.subject_user = Some(heir.user_id());
        audit::append(conn, &e)?;
        report.reassigned.push(task);
    }
    Ok(())
}

/// `deactivateMember`: an OWNER or ADMIN ends the access of a member who belongs to
/// no other organization (an account shared with other organizations is not theirs to
/// close: they remove the membership instead). Memberships stay, so the operator can
/// reactivate the account.
pub fn deactivate_member(
    conn: &mut PgConnection,
    actor: &Actor,
    org: OrgId,
    user: UserId,
) -> DalResult<Ended> {
    orgs::check(
        actor,
        org,
        crust_domain::Action::ManageOrgMembers,
        "manage this organization's members",
    )?;
    conn.transaction(|conn| {
        need_to_know::lock_org(conn, org)?;
        // Two admins deactivating each other at once: the second, waiting on the lock,
        // finds its own account gone.
        if !is_active(conn, actor.user_id)? {
            return Err(DalError::NotFound);
        }
        let current = orgs::role_of(conn, org, user.0)?.ok_or(DalError::NotFound)?;
        if user == actor.user_id {
            return Err(DalError::Invalid(
                "you cannot deactivate your own account here; deleteMyAccount closes it".into(),
            ));
        }
        orgs::check_role_change(actor, org, Some(current), None)?;
        if current == OrgRole::Owner {
            orgs::ensure_other_owner(conn, org, user.0)?;
        }
        let elsewhere: i64 = memberships::table
            .filter(memberships::user_id.eq(user.0))
            .filter(memberships::org_id.ne(org.0))
            .count()
            .get_result(conn)?;
        if elsewhere > 0 {
            return Err(DalError::Conflict(
                "this account belongs to another organization too, so it is not yours to \
                 deactivate: remove it from yours with removeOrganizationMember"
                    .into(),
            ));
        }
        if !is_active(conn, user)? {
            return Err(DalError::Conflict(
                "this account is already deactivated".into(),
            ));
        }
        if need_to_know::last_active_manager(conn, org, user.0)? {
            return Err(DalError::Conflict(
                "this change would leave a SECRET item with nobody who can manage its access list; \
                 give someone else that role first"
                    .into(),
            ));
        }
        end_access(conn, user)
    })
}
